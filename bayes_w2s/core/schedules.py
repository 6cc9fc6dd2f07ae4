"""Strength schedules: how much each weak datapoint is allowed to move the learner.

A schedule maps the 1-based index ``n`` of a datapoint (or its weak confidence) to a
non-negative *strength* ``s_n``. The same number has two readings:

* virtual evidence: ``s_n = log r_n``, the log likelihood ratio of the weak label, so the
  Chan–Darwiche distance of the update is at most ``s_n`` (Chan & Darwiche 2005);
* tempering: ``s_n = w_n``, the power of the likelihood ``P(y|z,h)^{w_n}``.

Either way the *total influence* of N datapoints is ``T(N) = sum_{n=1}^N s_n``; a schedule
is *bounded* iff ``lim_{N->inf} T(N) < inf``. Under virtual evidence every posterior odds
ratio after N updates is within ``exp(±T(N))`` of the prior odds. Under tempering the same
sum is only an effective sample size: it bounds nothing when a likelihood can be 0.

The objects are the seam between the Bayesian core and ``bayes_w2s.neural``: a training
loop asks ``schedule.strengths(N, confidence=c)`` once for its N weak examples and reads
per-example strengths from the returned ``(N,)`` array.

References
----------
Chan, H. & Darwiche, A. (2005). On the revision of probabilistic beliefs using uncertain
evidence. Artificial Intelligence 163.
Miller, J. W. & Dunson, D. B. (2019). Robust Bayesian inference via coarsening. JASA 114.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bayes_w2s.core.validation import ValidationError, as_count, as_float_array, as_probs, describe

__all__ = [
    "Schedule",
    "Constant",
    "Geometric",
    "PSeries",
    "Budget",
    "Coarsened",
    "ConfidenceWeighted",
    "SCHEDULES",
    "make_schedule",
]


def _as_number(obj, name: str) -> float:
    """Parameter ``name`` of a schedule as a float (the field is left as given), or a clear error."""
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValidationError(f"{obj.name} parameter {name} must be a number, got {describe(value)}", name)
    return float(value)


def _check_nonneg(obj, name: str, *, positive: bool = False) -> float:
    value = _as_number(obj, name)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValidationError(f"{obj.name} parameter {name} must be a finite {kind} number, got {value!r}", name)
    return value


def _check_indices(n: ArrayLike) -> NDArray[np.float64]:
    """1-based datapoint indices as floats (finite integers ``n >= 1``), or a clear error."""
    if isinstance(n, np.ndarray) and n.dtype.kind in "iu" and (n.size == 0 or n.min() >= 1):
        return n.astype(float)  # integers are finite and integral: only the lower end to check
    idx = as_float_array(n, "n", allow_empty=True)
    bad = ~np.isfinite(idx) | (idx < 1) | (idx != np.floor(idx))
    if np.any(bad):
        raise ValidationError(
            f"n = {describe(idx[bad][0])}: datapoint indices n are finite 1-based integers (n >= 1)", "n"
        )
    return idx


def _check_n_total(n_total: int) -> int:
    return as_count(n_total, "n_total", minimum=0)


@dataclass(frozen=True)
class Schedule(ABC):
    """A per-datapoint strength ``s_n >= 0`` with its total ``T(N) = sum_{n<=N} s_n``.

    Under virtual evidence ``s_n = log r_n`` and, after ``N`` weak labels, every posterior odds
    ratio is within ``exp(±T(N))`` of the prior's (Chan & Darwiche 2005); under tempering
    ``s_n = w_n`` is a power and bounds nothing where a likelihood can be 0. A schedule is
    *bounded* iff ``lim T(N) < inf``.

    Subclasses implement :meth:`strength` (vectorized over 1-based indices) and
    :meth:`limit` (``lim_{N->inf} T(N)``, ``inf`` when unbounded); :meth:`strengths` gives
    the ``(N,)`` array a learner uses and :meth:`total` its sum.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> sched = bw.PSeries(c=1, p=2)
    >>> sched.strengths(3)
    array([1.        , 0.25      , 0.11111111])
    >>> round(sched.total(3), 4), round(sched.limit(), 4), sched.bounded
    (1.3611, 1.6449, True)
    """

    name: ClassVar[str] = "schedule"
    needs_n_total: ClassVar[bool] = False
    needs_confidence: ClassVar[bool] = False

    @abstractmethod
    def strength(
        self, n: ArrayLike, *, n_total: int | None = None, confidence: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Strength ``s_n`` of the datapoints with 1-based indices ``n``; shape of ``n``."""

    @abstractmethod
    def limit(self) -> float:
        """``lim_{N->inf} T(N)``; ``math.inf`` for an unbounded schedule."""

    def strengths(
        self, n_total: int, *, confidence: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Strengths of datapoints ``1..n_total`` as a ``(n_total,)`` array."""
        n_total = _check_n_total(n_total)
        return self.strength(
            np.arange(1, n_total + 1), n_total=n_total, confidence=confidence
        )

    def total(self, n_total: int, *, confidence: ArrayLike | None = None) -> float:
        """Total influence ``T(N) = sum_{n=1}^{N} s_n``."""
        return float(np.sum(self.strengths(n_total, confidence=confidence)))

    @property
    def bounded(self) -> bool:
        """True iff the total influence converges as N -> infinity."""
        return math.isfinite(self.limit())

    def describe(self) -> str:
        """A short label such as ``pseries(c=1, p=2)`` for tables and legends."""
        params = ", ".join(f"{k}={v:g}" for k, v in asdict(self).items())
        return f"{self.name}({params})"

    def to_dict(self) -> dict:
        """JSON-ready ``{"name": ..., **params}``; inverse of :func:`make_schedule`."""
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class Constant(Schedule):
    """Constant strength ``s_n = value``: unbounded, ``T(N) = N * value`` (unless ``value == 0``).

    The plain tempered posterior (``value = w``) or a fixed-ratio virtual evidence
    (``value = log r``): with enough weak data it ends where hard Bayes does.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.Constant(0.5).total(1000), bw.Constant(0.5).limit()
    (500.0, inf)
    """

    value: float = 1.0
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _check_nonneg(self, "value")

    def strength(self, n, *, n_total=None, confidence=None):
        idx = _check_indices(n)
        return np.full(idx.shape, float(self.value))

    def limit(self) -> float:
        return 0.0 if self.value == 0 else math.inf


@dataclass(frozen=True)
class Geometric(Schedule):
    r"""Geometric strength ``s_n = first * ratio^(n-1)``, ``0 <= ratio < 1``; bounded:

    .. math:: T(N) = \mathrm{first} \, \frac{1 - \mathrm{ratio}^N}{1 - \mathrm{ratio}}, \qquad T(\infty) = \frac{\mathrm{first}}{1 - \mathrm{ratio}}

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> sched = bw.Geometric(first=1.0, ratio=0.99)
    >>> round(sched.total(100), 3), round(sched.limit(), 3)
    (63.397, 100.0)
    """

    first: float = 1.0
    ratio: float = 0.5
    name: ClassVar[str] = "geometric"

    def __post_init__(self) -> None:
        _check_nonneg(self, "first")
        if not 0 <= _as_number(self, "ratio") < 1:
            raise ValidationError(f"geometric ratio must lie in [0, 1), got {self.ratio!r}", "ratio")

    def strength(self, n, *, n_total=None, confidence=None):
        idx = _check_indices(n)
        return self.first * np.power(self.ratio, idx - 1)

    def total(self, n_total, *, confidence=None):
        n_total = _check_n_total(n_total)
        return float(self.first * (1 - self.ratio**n_total) / (1 - self.ratio))

    def limit(self) -> float:
        return self.first / (1 - self.ratio)


@dataclass(frozen=True)
class PSeries(Schedule):
    """p-series strength ``s_n = c / n^p`` with ``p > 1``; bounded, ``T(inf) = c * zeta(p)``.

    With ``c = 1, p = 2`` the total is ``pi^2 / 6 = 1.645``: the learner's odds can move by at
    most ``e^1.645 = 5.2x`` however many weak labels arrive. Most of the total is spent on the
    first labels.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> round(bw.PSeries(c=1, p=2).limit(), 6)
    1.644934
    """

    c: float = 1.0
    p: float = 2.0
    name: ClassVar[str] = "pseries"

    def __post_init__(self) -> None:
        _check_nonneg(self, "c")
        if not (math.isfinite(_as_number(self, "p")) and self.p > 1):
            raise ValidationError(f"p-series exponent p must be > 1 (and finite) to be bounded, got {self.p!r}", "p")

    def strength(self, n, *, n_total=None, confidence=None):
        idx = _check_indices(n)
        return self.c / np.power(idx, self.p)

    def limit(self) -> float:
        from scipy.special import zeta

        return float(self.c * zeta(self.p))


@dataclass(frozen=True)
class Budget(Schedule):
    """A fixed budget spread evenly: ``s_n = B / N`` for a dataset of N datapoints; ``T(N) = B``.

    Every datapoint counts the same and the total influence is ``B`` whatever N is. Needs the
    dataset size: ``strength(n, n_total=N)`` or ``strengths(N)``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.Budget(100.0).strengths(4), round(bw.Budget(100.0).total(10 ** 6), 9)
    (array([25., 25., 25., 25.]), 100.0)
    """

    budget: float = 1.0
    name: ClassVar[str] = "budget"
    needs_n_total: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_nonneg(self, "budget")

    def strength(self, n, *, n_total=None, confidence=None):
        """``B / N`` for each index; no indices (``N = 0``) gives an empty array."""
        idx = _check_indices(n)
        if n_total is None:
            raise ValidationError("the budget schedule B/N needs n_total (the dataset size N)", "n_total")
        n_total = _check_n_total(n_total)
        if np.any(idx > n_total):
            raise ValidationError(f"index n = {idx.max():g} exceeds n_total={n_total}", "n")
        if idx.size == 0:
            return np.zeros(idx.shape)
        return np.full(idx.shape, self.budget / n_total)

    def limit(self) -> float:
        return float(self.budget)


@dataclass(frozen=True)
class Coarsened(Schedule):
    """``s_n = alpha / (alpha + n)``: unbounded, ``T(N) ~ alpha * ln(N / alpha)``.

    Per-index analogue of the coarsened posterior (Miller & Dunson 2019), whose power
    ``alpha / (alpha + N)`` applied to all N points keeps the effective sample size below
    ``alpha``; that fixed-N form is :class:`Budget` with ``B = alpha * N / (alpha + N)``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> sched = bw.Coarsened(alpha=10.0)
    >>> sched.strengths(3).round(3), sched.bounded
    (array([0.909, 0.833, 0.769]), False)
    """

    alpha: float = 10.0
    name: ClassVar[str] = "coarsened"

    def __post_init__(self) -> None:
        _check_nonneg(self, "alpha", positive=True)

    def strength(self, n, *, n_total=None, confidence=None):
        idx = _check_indices(n)
        return self.alpha / (self.alpha + idx)

    def limit(self) -> float:
        return math.inf


@dataclass(frozen=True)
class ConfidenceWeighted(Schedule):
    """``s_i = B * c_i / sum_j c_j``: strength proportional to weak confidence ``c_i``.

    ``T(N) = B`` for every N. Confidences must lie in [0, 1] and not all be zero; for a
    binary weak model a natural choice is ``c = |2 p - 1|``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.ConfidenceWeighted(budget=10.0).strengths(4, confidence=[1.0, 0.5, 0.5, 0.0])
    array([5. , 2.5, 2.5, 0. ])
    """

    budget: float = 1.0
    name: ClassVar[str] = "confidence"
    needs_n_total: ClassVar[bool] = True
    needs_confidence: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_nonneg(self, "budget")

    def strength(self, n, *, n_total=None, confidence=None):
        idx = _check_indices(n).astype(int)
        if confidence is None:
            raise ValidationError("the confidence-weighted schedule needs confidence=(N,) array", "confidence")
        conf = as_probs(confidence, "confidence", ndim=1)
        if n_total is not None and _check_n_total(n_total) != conf.size:
            raise ValidationError(f"confidence has {conf.size} entries but n_total={n_total}", "confidence")
        if np.any(idx > conf.size):
            raise ValidationError(f"index n exceeds the {conf.size} confidences given", "n")
        norm = conf.sum()
        if norm == 0:
            raise ValidationError("all confidences are zero: nothing to weight the budget by", "confidence")
        return self.budget * conf[idx - 1] / norm

    def limit(self) -> float:
        return float(self.budget)


#: Every schedule class by its name, as :func:`make_schedule` reads it:
#: ``{"constant": Constant, "geometric": Geometric, "pseries": PSeries, "budget": Budget,
#: "coarsened": Coarsened, "confidence": ConfidenceWeighted}``. One parametrized test runs
#: each through the same invariants (non-negative strengths, ``total`` = sum of strengths,
#: ``limit`` finite iff bounded).
SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (Constant, Geometric, PSeries, Budget, Coarsened, ConfidenceWeighted)
}


def make_schedule(spec: str | dict | Schedule) -> Schedule:
    """Build a schedule from ``"name:key=value,..."``, ``{"name": ..., key: value}`` or a schedule.

    Names are the keys of :data:`SCHEDULES` (``constant``, ``geometric``, ``pseries``,
    ``budget``, ``coarsened``, ``confidence``); the keys are the fields of the class. The
    same text form names schedules on the command line and in neural method labels
    (``ve+budget:budget=40``).

    Examples
    --------
    >>> from bayes_w2s import make_schedule
    >>> make_schedule("geometric:first=0.5,ratio=0.9").limit()
    5.000000000000001
    >>> make_schedule({"name": "pseries", "c": 100, "p": 2}).describe()
    'pseries(c=100, p=2)'
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        name, _, rest = spec.partition(":")
        name = name.strip()
        params: dict = {}
        for item in filter(None, (s.strip() for s in rest.split(","))):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or not key:
                raise ValidationError(f"schedule parameter {item!r} is not key=value in {spec!r}", "spec")
            if key in params:
                raise ValidationError(f"schedule parameter {key!r} given twice in {spec!r}", "spec")
            try:
                params[key] = float(value)
            except ValueError:
                raise ValidationError(f"schedule parameter {key!r} is not a number: {value!r}", "spec") from None
    elif isinstance(spec, dict):
        params = dict(spec)
        name = params.pop("name", None)
    else:
        raise TypeError(f"cannot build a schedule from {type(spec).__name__}")
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ValidationError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}", "spec")
    try:
        return SCHEDULES[name](**params)
    except TypeError as err:
        raise ValidationError(f"bad parameters for schedule {name!r}: {err}", "spec") from None
