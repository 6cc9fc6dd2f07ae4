"""Weak labels as data for a student: the labels, the rule they enter by, their strengths.

:class:`WeakData` holds weak labels ``y_i`` in {0, 1}, the rule (``"bayes"``, ``"tempered"``
or ``"ve"``, DESIGN.md section 2) and the strengths ``s_i >= 0`` (the tempering weight
``w_i`` or the virtual-evidence log likelihood ratio ``log r_i``) that a
:class:`~bayes_w2s.core.schedules.Schedule` assigns. Under virtual evidence the whole update
moves any posterior odds by at most ``exp(sum_i s_i)`` (Chan & Darwiche 2005), which
:attr:`WeakData.total_influence` reports. numpy only: the PyMC students in
:mod:`bayes_w2s.ppl.pymc_models` consume it, and so can any other student.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bayes_w2s.core.schedules import Schedule, make_schedule

__all__ = ["RULES", "MAX_VE_STRENGTH", "WeakData", "weak_data"]

RULES = ("bayes", "tempered", "ve")
#: ``exp(s)`` overflows float64 beyond ~709; use ``rule="bayes"`` for the hard limit.
MAX_VE_STRENGTH = 700.0


def _labels01(labels: ArrayLike) -> NDArray[np.int64]:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number) or not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0/1 (binary weak labels)")
    return y.astype(np.int64)


@dataclass(frozen=True, eq=False)
class WeakData:
    """Weak labels, the inputs they were given at, and how strongly each one counts.

    Parameters
    ----------
    labels : (N,) int
        Weak labels in {0, 1}.
    rule : {"bayes", "tempered", "ve"}
        How the labels enter (module docstring).
    strengths : (N,) float or None
        ``s_i >= 0``: the tempering weight ``w_i`` or the log likelihood ratio ``log r_i``.
        Must be None for ``"bayes"`` (hard conditioning has no strength).
    features : (N, D) float or None
        Inputs ``x_i`` (logistic student only).
    feature_names : tuple of str, optional
        Coordinate labels of the ``feature`` dim; ``x0 .. x{D-1}`` by default.
    schedule : str
        Description of the schedule that produced ``strengths`` (recorded in results).
    """

    labels: NDArray[np.int64]
    rule: str = "bayes"
    strengths: NDArray[np.float64] | None = None
    features: NDArray[np.float64] | None = None
    feature_names: tuple[str, ...] | None = None
    schedule: str = "hard"

    def __post_init__(self) -> None:
        y = _labels01(self.labels)
        object.__setattr__(self, "labels", y)
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; known: {', '.join(RULES)}")
        if self.rule == "bayes":
            if self.strengths is not None:
                raise ValueError("rule='bayes' conditions hard and takes no strengths")
        else:
            if self.strengths is None:
                raise ValueError(f"rule={self.rule!r} needs strengths (one per label)")
            s = np.asarray(self.strengths, dtype=float)
            if s.shape != y.shape:
                raise ValueError(
                    f"strengths must have shape {y.shape} (one per label), got {s.shape}"
                )
            if not np.all(np.isfinite(s)) or np.any(s < 0):
                raise ValueError("strengths must be finite and non-negative")
            if self.rule == "ve" and np.any(s > MAX_VE_STRENGTH):
                raise ValueError(
                    f"virtual-evidence strengths log r above {MAX_VE_STRENGTH:g} overflow; "
                    "use rule='bayes' for the hard limit"
                )
            object.__setattr__(self, "strengths", s)
        if self.features is not None:
            x = np.asarray(self.features, dtype=float)
            if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[1] == 0:
                raise ValueError(f"features must be (N={y.shape[0]}, D>=1), got shape {x.shape}")
            if not np.all(np.isfinite(x)):
                raise ValueError("features must be finite")
            object.__setattr__(self, "features", x)
            names = self.feature_names or tuple(f"x{j}" for j in range(x.shape[1]))
            names = tuple(str(n) for n in names)
            if len(names) != x.shape[1] or len(set(names)) != len(names):
                raise ValueError(f"need {x.shape[1]} unique feature names, got {names!r}")
            object.__setattr__(self, "feature_names", names)
        elif self.feature_names is not None:
            raise ValueError("feature_names given without features")

    @property
    def n_obs(self) -> int:
        return int(self.labels.shape[0])

    @property
    def total_influence(self) -> float:
        """``sum_i s_i`` (``inf`` for hard Bayes): the bound on log odds change under VE."""
        return float("inf") if self.strengths is None else float(self.strengths.sum())


def weak_data(
    labels: ArrayLike,
    schedule: str | dict | Schedule | None,
    *,
    rule: str = "ve",
    features: ArrayLike | None = None,
    feature_names: tuple[str, ...] | None = None,
    confidence: ArrayLike | None = None,
) -> WeakData:
    """:class:`WeakData` with strengths ``schedule.strengths(N, confidence=confidence)``.

    ``schedule=None`` (or ``"hard"``) means hard Bayes; ``rule`` is then ignored.
    """
    y = _labels01(labels)
    if schedule is None or schedule == "hard" or rule == "bayes":
        if schedule not in (None, "hard"):
            raise ValueError("rule='bayes' takes no schedule (pass schedule=None)")
        return WeakData(y, "bayes", None, features, feature_names, "hard")
    sched = make_schedule(schedule)
    s = sched.strengths(y.shape[0], confidence=confidence)
    return WeakData(y, rule, s, features, feature_names, sched.describe())
