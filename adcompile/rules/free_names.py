"""The names the templates of adcompile's own adjoint rules read besides their
parameters (``rule.free``: ``np``, ``unbroadcast``...), which generated code must not
use for its own values. Kept here so that a gradient's names are chosen without
reading every template (they are read on first use); ``tests/test_rules.py`` checks
this set against the templates, with scipy's rules registered, and says how to
remake it: ``python -m adcompile.rules.free_names``."""

from __future__ import annotations

BUILTIN_FREE = frozenset(
    {
        "_nonzero",
        "abs_sign",
        "add_at",
        "append_positions",
        "arange_adjoint",
        "assigned_part",
        "average_weights_shape",
        "broadcast_like",
        "cholesky_adjoint",
        "clip_high",
        "clip_low",
        "clip_passes",
        "cond_exponent",
        "convolve_padding",
        "copy_adjoint",
        "cumulative_axis",
        "det_adjoint",
        "dot_adjoint_lhs",
        "dot_adjoint_rhs",
        "eig_adjoint",
        "eigh_adjoint",
        "einsum_adjoint",
        "einsum_sublists",
        "expand_reduced",
        "extremum_mask",
        "fft_axes",
        "fill_adjoint",
        "fit_axes",
        "inexact_result",
        "inner_adjoint",
        "insert_positions",
        "interp_inverse_width",
        "interp_positions",
        "interp_weight",
        "irfft_adjoint",
        "irfft_lengths",
        "kron_adjoint",
        "linspace_adjoint",
        "lstsq_adjoint",
        "mT",
        "math",
        "matmul_adjoint_lhs",
        "matmul_adjoint_rhs",
        "matrix_part",
        "matrix_power_adjoint",
        "multi_dot_adjoint",
        "norm_adjoint",
        "np",
        "part",
        "partition_tangent",
        "pinv_adjoint",
        "placed",
        "polyval_degrees",
        "prod_adjoint",
        "qr_adjoint",
        "quantile_fraction",
        "quantile_positions",
        "real_cotangent",
        "rearray",
        "reconcatenate",
        "reduced_count",
        "restack",
        "rfft_adjoint",
        "rfft_lengths",
        "running_tangent",
        "scalar_divide",
        "scalar_power",
        "set_at",
        "set_elements",
        "slogdet_adjoint",
        "solve_adjoint_lhs",
        "solve_transposed",
        "sort_tangent",
        "sum_to",
        "svd_adjoint",
        "take_along_axis_positions",
        "take_positions",
        "tensor_matrix_shape",
        "tensordot_adjoint",
        "tensorsolve_matrix_shape",
        "tie_share",
        "trapezoid_weights",
        "unarray",
        "unbroadcast",
        "uncast",
        "unconcatenate",
        "uncross",
        "uncumprod",
        "uncumsum",
        "undiag",
        "undiagonal",
        "undiff",
        "ungradient",
        "unindex",
        "unpad",
        "unpartition",
        "unplaced",
        "unreduce",
        "unrepeat",
        "unrollaxis",
        "unrunning",
        "unsort",
        "unsplit",
        "unstack",
        "untile",
        "untrace",
        "untranspose",
        "vector_norm_adjoint",
        "writable_adjoint",
        "zero_like",
        "zeros_adjoint",
    }
)


def computed() -> set[str]:
    """The same set, from every registered template (reading them all)."""
    from . import RULES

    names: set[str] = set()
    for rule in RULES.values():
        names |= set(rule.free)
    return names


if __name__ == "__main__":  # pragma: no cover - a tool for who changes a rule
    print(sorted(computed()))
