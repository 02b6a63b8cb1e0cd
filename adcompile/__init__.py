"""adcompile: source-to-source automatic differentiation of numpy code (reverse and
forward mode)."""

from .api import GradientFunction, grad, value_and_grad, vjp
from .checking import check_grad
from .errors import AdCompileError
from .forward import JvpFunction, jacobian, jvp, stop_gradient
from .higher import hessian, hvp
from .rules.registry import adjoint
from .rules.tangents import tangent

__all__ = [
    "AdCompileError",
    "GradientFunction",
    "JvpFunction",
    "adjoint",
    "check_grad",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "stop_gradient",
    "tangent",
    "value_and_grad",
    "vjp",
]
__version__ = "0.1.0"
