"""Primitive records and their adjoint rules, one module per family. Importing this
package fills the registry (see record.py for what a record holds)."""

import importlib
import sys

from . import (  # noqa: F401
    arrays,
    bodies,
    complex_values,
    contractions,
    elementwise,
    fft,
    linalg,
    operators,
    reductions,
    runtime_rules,
    selections,
    shapes,
    signal_like,
)
from .record import Primitive
from .registry import (
    NONDIFF,
    RULES,
    Rule,
    adjoint,
    instantiate,
    is_nondiff,
    lookup,
    primitives,
    record_of,
)

# Rules for the functions of optional libraries, by the module they need. Such a
# module of rules is loaded once its library has been imported (by the user's code,
# which must import it to call it), so that `import adcompile` neither needs nor
# imports scipy; load_optional(import_libraries=True) imports the libraries that
# are installed (for the language reference, and the tests).
OPTIONAL = {
    "scipy.special": "scipy_special",
    "scipy.stats": "scipy_stats",
    "scipy.linalg": "scipy_linalg",
    "scipy.signal": "scipy_signal",
}
_LOADED: set[str] = set()


def load_optional(import_libraries: bool = False) -> None:
    """Load the rules of every optional library already imported (or, with
    ``import_libraries``, installed). Cheap when there is nothing new to load."""
    if len(_LOADED) == len(OPTIONAL):
        return
    for library, module in OPTIONAL.items():
        if module in _LOADED:
            continue
        if library not in sys.modules:
            if not import_libraries:
                continue
            try:
                importlib.import_module(library)
            except ImportError:
                continue
        _LOADED.add(module)
        importlib.import_module(f"{__name__}.{module}")


__all__ = [
    "OPTIONAL",
    "load_optional",
    "NONDIFF",
    "RULES",
    "Primitive",
    "Rule",
    "adjoint",
    "instantiate",
    "is_nondiff",
    "lookup",
    "primitives",
    "record_of",
]
