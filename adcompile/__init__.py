"""adcompile: source-to-source reverse-mode automatic differentiation for numpy code."""

from .api import GradientFunction, grad, value_and_grad, vjp
from .checking import check_grad
from .errors import AdCompileError
from .rules.registry import adjoint

__all__ = [
    "AdCompileError",
    "GradientFunction",
    "adjoint",
    "check_grad",
    "grad",
    "value_and_grad",
    "vjp",
]
__version__ = "0.1.0"
