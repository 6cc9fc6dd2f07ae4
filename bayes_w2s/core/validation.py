"""One validation layer for the numerical core's public boundaries.

Every public entry of the core (``condition``, ``run_trajectories``, the update rules,
``jeffrey_update``, schedules, label samplers, metrics) checks its inputs here, so one
input gets one verdict everywhere. Each error names the argument and the first bad value,
e.g. ``log_prior[2] = nan: must be finite or -inf``.

What is accepted:

* probabilities: finite, ``0 <= p <= 1``;
* log-probabilities: ``-inf <= log p <= 0`` (``log p <= LOG_PROB_TOL`` for rounding), no NaN;
* a log prior ``(..., H)``: no NaN, no ``+inf``, and not every entry ``-inf``
  (:class:`ImpossiblePriorError`);
* strengths (``log r`` or a tempering weight ``w``): ``s >= 0``, no NaN, finite unless the
  caller allows ``+inf`` (virtual evidence: ``s = inf`` is the hard update);
* labels / indices: non-empty where required, integer-valued, in ``[0, size)``.

Error classes:

* :class:`ValidationError` (a ``ValueError``): an argument is malformed;
* :class:`ImpossiblePriorError` (a ``ValidationError``): the prior gives every hypothesis
  probability 0, so no data can be to blame;
* :class:`NumericalOverflowError` (``OverflowError`` and ``ValueError``): a finite input
  overflowed float64, e.g. a tempering term ``w log P`` below ``-1.8e308``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "check_log_weights",
    "LOG_PROB_TOL",
    "ValidationError",
    "ImpossiblePriorError",
    "NumericalOverflowError",
    "describe",
    "as_float_array",
    "as_probs",
    "as_prob_vector",
    "as_log_probs",
    "as_log_prior",
    "as_log_distribution",
    "as_strengths",
    "as_index_array",
    "as_labels",
    "as_count",
]

LOG_PROB_TOL = 1e-9  # log p may exceed 0 by this much (rounding of normalized tables)
_PROB_TOL = 1e-9


class ValidationError(ValueError):
    """An argument of a public function is malformed; ``argument`` names it.

    The message names the argument and its first bad value. A subclass of ``ValueError``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> try:
    ...     bw.hard_update([0.0, float("nan")], [0.0, 0.0])
    ... except bw.ValidationError as err:
    ...     print(err.argument)
    log_prior
    """

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class ImpossiblePriorError(ValidationError):
    """The prior assigns probability 0 to every hypothesis (all ``log_prior`` are ``-inf``).

    Raised instead of blaming the data for a posterior that can not exist.

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> try:
    ...     bw.hard_update([-np.inf, -np.inf], [0.0, 0.0])
    ... except bw.ImpossiblePriorError:
    ...     print("impossible prior")
    impossible prior
    """


class NumericalOverflowError(OverflowError, ValueError):
    """A computation on valid, finite inputs left the float64 range (e.g. a tempered sum ``w log P``).

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> try:
    ...     bw.tempered_update(np.log([0.5, 0.5]), np.log([0.5, 1e-300]), 1e308)
    ... except bw.NumericalOverflowError:
    ...     print("overflow")
    overflow
    """


def describe(value) -> str:
    """A short repr of a bad value for messages (arrays abbreviated)."""
    if isinstance(value, np.ndarray):
        if value.size > 6:
            return f"array of shape {value.shape}"
        return np.array2string(value, precision=6, separator=", ")
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return repr(int(value))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(name: str, arr: NDArray, bad: NDArray[np.bool_], rule: str, cls=ValidationError):
    """Raise ``cls`` naming the first element of ``arr`` where ``bad`` holds."""
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f"{name}[{', '.join(map(str, idx))}]" if arr.ndim else name
    raise cls(f"{where} = {describe(arr[idx] if arr.ndim else arr[()])}: {rule}", name)


def as_float_array(
    value: ArrayLike,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    allow_empty: bool = False,
) -> NDArray[np.float64]:
    """``value`` as a float array; rejects non-numeric, wrong ``ndim``, empty (unless allowed)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValidationError(f"{name} must be a numeric array, got {describe(value)}", name)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a numeric array, got {describe(value)}", name) from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValidationError(f"{name} must be {want}, got shape {arr.shape}", name)
    if arr.size == 0 and not allow_empty:
        raise ValidationError(f"{name} is empty (shape {arr.shape})", name)
    return arr


def as_probs(value: ArrayLike, name: str, *, ndim=None, allow_empty: bool = False) -> NDArray[np.float64]:
    """Probabilities: finite and in ``[0, 1]``."""
    p = as_float_array(value, name, ndim=ndim, allow_empty=allow_empty)
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        _fail(name, p, bad, "probabilities must lie in [0, 1]")
    return p


def as_prob_vector(value: ArrayLike, name: str, *, size: int | None = None) -> NDArray[np.float64]:
    """A 1-D probability vector summing to 1 (within 1e-9), of length ``size`` if given."""
    p = as_probs(value, name, ndim=1)
    if size is not None and p.shape != (size,):
        raise ValidationError(f"{name} must have {size} entries, got {p.shape[0]}", name)
    total = float(p.sum())
    if abs(total - 1) > _PROB_TOL:
        raise ValidationError(f"{name} sums to {total:.12g}, not 1: not a probability vector", name)
    return p


def as_log_probs(
    value: ArrayLike, name: str = "log_probs", *, ndim=None, allow_empty: bool = False, clip: bool = False
) -> NDArray[np.float64]:
    """Log-probabilities: no NaN, ``log p <= LOG_PROB_TOL`` (no ``+inf``, no probability above 1).

    Returned unchanged, or with ``clip`` as ``min(log p, 0)`` (a copy only when some entry
    is above 0) for callers that need ``log p <= 0`` exactly.
    """
    lp = as_float_array(value, name, ndim=ndim, allow_empty=allow_empty)
    top = lp.max() if lp.size else -np.inf  # one pass: NaN propagates into the max
    if top > LOG_PROB_TOL or top != top:  # NaN compares unequal to itself
        if np.isnan(top):
            _fail(name, lp, np.isnan(lp), "log-probabilities must not be NaN")
        _fail(name, lp, lp > LOG_PROB_TOL, "a log-probability must be <= 0 (probability <= 1)")
    return np.minimum(lp, 0.0) if clip and top > 0 else lp


def check_log_weights(arr: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    """``arr`` if it holds log weights (normalized or not): no NaN, no ``+inf``; ``-inf`` allowed."""
    bad = np.isnan(arr) | (arr == np.inf)
    if bad.any():
        _fail(name, arr, bad, "must be finite or -inf")
    return arr


def as_log_prior(
    value: ArrayLike, name: str = "log_prior", *, n_hypotheses: int | None = None, other: str = "log_probs"
) -> NDArray[np.float64]:
    """A log prior ``(..., H)``: finite or ``-inf``, not all ``-inf`` along the last axis.

    Need not be normalized (only ratios matter); ``H`` must equal ``n_hypotheses`` (the
    hypothesis count of the argument called ``other``) if given.
    """
    lp = as_float_array(value, name)
    if lp.ndim == 0:
        raise ValidationError(f"{name} must be an array (..., H), got the scalar {describe(lp[()])}", name)
    if n_hypotheses is not None and lp.shape[-1] != n_hypotheses:
        raise ValidationError(
            f"{name} and {other} disagree: {name} has {lp.shape[-1]} hypotheses, {other} {n_hypotheses}",
            name,
        )
    # one pass for the common case: the row maxima are all finite exactly when no entry is
    # NaN or +inf (both propagate into the max) and no row is all -inf
    if np.isfinite(lp.max(axis=-1)).all():
        return lp
    check_log_weights(lp, name)
    dead = np.all(np.isneginf(lp), axis=-1)
    if np.any(dead):
        raise ImpossiblePriorError(
            f"{name} is -inf for every hypothesis: the prior gives every hypothesis probability 0 "
            "(no evidence can be conditioned on)",
            name,
        )
    return lp


def as_log_distribution(value: ArrayLike, name: str, *, ndim=None, tol: float = 1e-9) -> NDArray[np.float64]:
    """A normalized log distribution ``(..., H)``: log-probabilities (no NaN, no ``+inf``)
    whose exponentials sum to 1 along the last axis within ``tol``.

    An unnormalized or NaN posterior would silently scale every expectation taken under it
    (``sum_h e^{lp_h} f_h``), so it is refused with the sum it has.
    """
    lp = as_log_probs(value, name, ndim=ndim)
    if lp.ndim == 0:
        raise ValidationError(f"{name} must be an array (..., H), got the scalar {describe(lp[()])}", name)
    with np.errstate(over="ignore"):
        totals = np.exp(lp).sum(axis=-1)
    bad = np.abs(totals - 1.0) > tol
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
        where = f"{name}[{', '.join(map(str, idx))}, :]" if totals.ndim else name
        total = float(np.atleast_1d(totals)[idx])
        raise ValidationError(
            f"{where} sums to {total:.12g} in probability, not 1: pass a normalized log distribution", name
        )
    return lp


def as_strengths(value: ArrayLike, name: str, *, allow_inf: bool = False) -> NDArray[np.float64]:
    """Strengths ``s >= 0`` (``log r`` or a tempering weight): no NaN; ``+inf`` only if allowed."""
    s = as_float_array(value, name, allow_empty=True)
    if np.isnan(s).any():
        _fail(name, s, np.isnan(s), "a strength must be a number >= 0, not NaN")
    if (s < 0).any():
        _fail(name, s, s < 0, "a strength must be non-negative")
    if not allow_inf and np.isinf(s).any():
        _fail(name, s, np.isinf(s), "a strength must be finite here")
    return s


def as_index_array(value: ArrayLike, name: str, size: int, *, what: str = "index", allow_empty: bool = True) -> NDArray[np.int64]:
    """A 1-D array of integer indices in ``[0, size)``; integral floats are accepted."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValidationError(f"{name} must be a 1-D array of {what} indices, got {describe(value)}", name)
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be a 1-D array of {what} indices, got shape {arr.shape}", name)
    if arr.size == 0:
        if not allow_empty:
            raise ValidationError(f"{name} is empty: need at least one {what}", name)
        return arr.astype(np.int64)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValidationError(f"{name} must hold integer {what} indices, got dtype {arr.dtype}", name)
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            _fail(name, arr, bad, f"must be integer {what} indices")
    if (arr < 0).any():
        _fail(name, arr, arr < 0, f"must be non-negative integer {what} indices (in [0, {size}))")
    if (arr >= size).any():
        _fail(name, arr, arr >= size, f"must be {what} indices in [0, {size})")
    return arr.astype(np.int64)


def as_labels(value: ArrayLike, name: str = "labels", *, n_classes: int | None = None) -> NDArray[np.int64]:
    """Non-empty class labels: integer-valued, ``>= 0`` (and ``< n_classes`` if given)."""
    size = np.iinfo(np.int64).max if n_classes is None else n_classes
    return as_index_array(value, name, size, what="class", allow_empty=False)


def as_count(value, name: str, *, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (bools and non-integral floats are rejected)."""
    if type(value) is int and value >= minimum:  # the common case, without the ABC checks below
        return value
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, "an integer")
    need = f"{name} must be {kind} (>= {minimum})"
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, numbers.Real)):
        raise ValidationError(f"{need}, got {describe(value)}", name)
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != int(value):
            raise ValidationError(f"{need}, got {describe(value)}", name)
    if int(value) < minimum:
        raise ValidationError(f"{need}, got {int(value)}", name)
    return int(value)
