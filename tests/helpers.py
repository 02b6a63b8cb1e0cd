"""Shared test helpers: central finite differences in float64, and a gradient check."""

from __future__ import annotations

import numpy as np

import adcompile as ad
from adcompile.api import numeric_grad


def assert_grad_matches_fd(f, *args, wrt=0, rtol=1e-6, atol=1e-8, eps=1e-6):
    """Compile ``grad(f, wrt)``, call it on ``args`` and compare with central differences.

    Also checks that each gradient has the type, shape and dtype of its input.
    Returns the gradients (a tuple when ``wrt`` is a tuple).
    """
    import inspect

    params = list(inspect.signature(f).parameters)
    single = isinstance(wrt, int | str)
    items = [wrt] if single else list(wrt)
    idx = [w if isinstance(w, int) else params.index(w) for w in items]
    before = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    g = ad.grad(f, wrt=wrt)(*args)
    for a, b in zip(args, before, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg="the gradient mutated an input")
    grads = [g] if single else list(g)
    for gi, i in zip(grads, idx, strict=True):
        x = args[i]
        if isinstance(x, np.ndarray):
            assert isinstance(gi, np.ndarray), f"gradient of {params[i]} is {type(gi)}"
            assert gi.shape == x.shape, (gi.shape, x.shape)
            assert gi.dtype == x.dtype, (gi.dtype, x.dtype)
        elif isinstance(x, float):
            assert type(gi) is float, f"gradient of float {params[i]} is {type(gi)}"
        fd = numeric_grad(f, list(args), i, eps)
        np.testing.assert_allclose(
            np.asarray(gi, dtype=float),
            fd,
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of {params[i]} disagrees with finite differences",
        )
    return g
