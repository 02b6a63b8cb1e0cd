"""The helpers that generated code may call.

Everything here is plain numpy, so a generated gradient can be pasted into a
file together with the helpers it names and run with nothing but numpy
(``adcompile.export`` copies their source, and what they use in turn).

Generated code, rules and ``adcompile.export`` name a helper as
``adcompile.runtime.X``; it is defined in the submodule named for what it does:

- ``broadcasting``: ``unbroadcast``, ``unreduce`` and the adjoints of reductions;
- ``elementwise``: ``scalar_*`` arithmetic of Python numbers and ``clip_*`` masks;
- ``arrays``: adjoints of array construction, indexing, stacking, transposition,
  ``np.prod``, ``@`` and ``np.dot``;
- ``rearranging``: adjoints of cumulative sums, running maxima, sorting, diagonals,
  repetition, padding;
- ``selecting``: adjoints of functions that pick elements (``np.take``, ``np.insert``,
  quantiles, ``np.interp``) along the flat positions they pick;
- ``signals``: the shapes, degrees and weights of the adjoints of ``np.convolve``,
  ``np.polyval``, ``np.trapezoid``, ``cumulative_*``;
- ``contractions``: adjoints of ``np.einsum``, ``np.tensordot``, ``np.kron``, ``np.cross``;
- ``results``: the seed of the reverse sweep, the cotangent check, ``grad_like``;
- ``containers``: adjoints of lists, tuples and dicts, ``zero_like``;
- ``checkpointing``: the schedules of checkpointed loops (a stride, revolve);
- ``linalg``: adjoints of ``numpy.linalg``;
- ``fourier``: adjoints of ``numpy.fft`` and of the parts of complex values;
- ``stats``: adjoints of ``scipy.stats`` functions;
- ``integrate``: the adjoint of ``scipy.integrate.odeint`` (solved with odeint);
- ``tangents``: the helpers of forward mode's generated code.

A new helper goes in the submodule it belongs to and is imported here; ``HELPERS``
picks it up.
"""

from __future__ import annotations

from . import (
    arrays,
    broadcasting,
    checkpointing,
    containers,
    contractions,
    elementwise,
    fourier,
    integrate,
    linalg,
    rearranging,
    results,
    selecting,
    signals,
    stats,
    tangents,
)
from .arrays import (
    add_into,
    arange_adjoint,
    assigned_part,
    check_writable,
    copy_array,
    dot_adjoint_lhs,
    dot_adjoint_rhs,
    fill_adjoint,
    inexact_result,
    linspace_adjoint,
    linspace_plan,
    matmul_adjoint_lhs,
    matmul_adjoint_rhs,
    prod_adjoint,
    real_cotangent,
    reconcatenate,
    restack,
    set_elements,
    unconcatenate,
    unindex,
    unstack,
    untranspose,
    writable_adjoint,
)
from .broadcasting import (
    average_weights_shape,
    exp_minus_logsumexp,
    expand_reduced,
    extremum_mask,
    real_part_of,
    reduced_count,
    tie_share,
    unbroadcast,
    unreduce,
)
from .checkpointing import (
    checkpoint_stride,
    keep_snapshot,
    keep_spaced,
    revolve,
    revolve_cost,
    revolve_snapshots,
)
from .containers import (
    add_adjoint,
    add_at,
    as_list,
    check_unpacking,
    copy_adjoint,
    part,
    parts,
    set_at,
    spread,
    zero_like,
    zeros_adjoint,
)
from .contractions import (
    convolution_padding,
    einsum_adjoint,
    einsum_adjoint_plan,
    einsum_sublists,
    inner_adjoint,
    inner_subscripts,
    kron_adjoint,
    kron_plan,
    tensordot_adjoint,
    tensordot_subscripts,
    three_vectors,
    uncross,
)
from .elementwise import (
    abs_sign,
    clip_high,
    clip_low,
    clip_passes,
    mask_like,
    scalar_divide,
    scalar_floor_divide,
    scalar_mod,
    scalar_power,
)
from .fourier import (
    abs_complex_adjoint,
    angle_complex_adjoint,
    angle_complex_tangent,
    fft_axes,
    fit_axes,
    irfft_adjoint,
    irfft_lengths,
    rfft_adjoint,
    rfft_lengths,
)
from .integrate import odeint_adjoint
from .linalg import (
    cholesky_adjoint,
    cond_exponent,
    det_adjoint,
    eig_adjoint,
    eigh_adjoint,
    lstsq_adjoint,
    matrix_norm_grad,
    matrix_part,
    matrix_power_adjoint,
    mT,
    multi_dot_adjoint,
    norm_adjoint,
    norm_axes,
    norm_gradient,
    pinv_adjoint,
    qr_adjoint,
    qr_shapes,
    qr_square_adjoint,
    reduction_plan,
    scipy_qr_mode,
    shared_inverse,
    singular_refused,
    slogdet_adjoint,
    solve_adjoint_lhs,
    solve_transposed,
    standard_eigh,
    sum_to,
    svd_adjoint,
    svd_shapes,
    svd_vectors_adjoint,
    tensor_matrix_shape,
    tensorsolve_matrix_shape,
    vector_norm_adjoint,
    vector_norm_grad,
    vector_norm_gradient,
)
from .rearranging import (
    outer_shape,
    rearray,
    running_max,
    running_min,
    running_tangent,
    split_count,
    unarray,
    uncast,
    uncumprod,
    uncumsum,
    undiag,
    undiagonal,
    undiff,
    ungradient,
    unpad,
    unpartition,
    unrepeat,
    unrollaxis,
    unrunning,
    unsort,
    unsplit,
    untile,
    untrace,
)
from .results import (
    GradientShape,
    NonScalarResult,
    check_cotangent,
    grad_like,
    unit_cotangent,
)
from .selecting import (
    append_positions,
    insert_positions,
    interp_inverse_width,
    interp_positions,
    interp_weight,
    placed,
    quantile_fraction,
    quantile_positions,
    take_along_axis_positions,
    take_positions,
    unplaced,
)
from .signals import (
    convolve_padding,
    cumulative_axis,
    initial_padding,
    polyval_degrees,
    trapezoid_weights,
)
from .stats import (
    mvn_cov_part,
    mvn_covariance,
    mvn_logpdf_adjoint,
)
from .tangents import (
    add_at_tangent,
    arange_tangent,
    broadcast_like,
    cholesky_tangent,
    cumprod_tangent,
    eig_tangent,
    eigh_tangent,
    eigvals_tangent,
    eigvalsh_tangent,
    einsum_term,
    fill_tangent,
    gradient_tangent,
    linspace_tangent,
    lstsq_tangent,
    matrix_power_tangent,
    multi_dot_tangent,
    mvn_logpdf_tangent,
    pad_tangent,
    partition_tangent,
    pinv_tangent,
    prod_tangent,
    qr_tangent,
    set_at_tangent,
    set_elements_tangent,
    solve_like,
    solve_product,
    sort_tangent,
    svd_tangent,
    zeros_tangent,
)

# The submodules in the order their helpers are listed (and copied by export).
MODULES = (
    broadcasting,
    elementwise,
    arrays,
    rearranging,
    selecting,
    signals,
    contractions,
    results,
    containers,
    checkpointing,
    linalg,
    fourier,
    stats,
    integrate,
    tangents,
)

# Every public helper of the submodules, by name.
HELPERS = {
    name: obj
    for module in MODULES
    for name, obj in vars(module).items()
    if callable(obj)
    and not name.startswith("_")
    and getattr(obj, "__module__", None) == module.__name__
}
