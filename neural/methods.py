"""Training methods: a loss name plus, for VE and tempering, a schedule of strengths.

``MethodSpec.parse("ve+budget:budget=40")`` -> the virtual-evidence loss whose schedule indexes
every *visit* of a weak example over the whole run (``v = epoch * N + i``): Budget(40) gives
``s_v = 40 / (epochs * N)``, so the run spends at most 40 whatever the epochs. ``@steps``
indexes the schedule by optimizer step (each of the B examples of step t gets ``s_t``: the
run spends at most ``B * limit``); ``@per_pass`` is the per-epoch reading (the same ``(N,)``
strengths every epoch: ``epochs * limit``), kept only under that explicit name.

Also here: the weak confidence used by confidence-weighted
schedules and temperature scaling of weak labels (Guo et al. 2017, "On calibration of
modern neural networks").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bayes_w2s.core.schedules import Schedule, make_schedule

from .losses import NEEDS_STRENGTHS, get_loss
from .train import OVER, n_epochs_touched, strengths_length

__all__ = [
    "DEFAULT_SCHEDULES",
    "MethodSpec",
    "fit_temperature",
    "method_strengths",
    "run_limit",
    "softmax",
    "weak_confidence",
]

DEFAULT_SCHEDULES = {"ve": "constant:value=3", "tempered": "constant:value=1"}


@dataclass(frozen=True)
class MethodSpec:
    """A training method: loss name, optional schedule, and what the schedule indexes.

    ``parse("ve+budget:budget=20")`` -> loss ``ve``, schedule Budget(20) over every visit of a
    weak example in the run (``over="visits"``); ``"@steps"`` indexes it by optimizer step
    (each example of step t gets ``s_t``), ``"@per_pass"`` restarts it every epoch. ``ve`` and
    ``tempered`` get :data:`DEFAULT_SCHEDULES` if none given.
    """

    loss: str
    schedule: Schedule | None = None
    over: str = "visits"

    @classmethod
    def parse(cls, text: str) -> MethodSpec:
        body, _, over = text.partition("@")
        name, _, sched = body.partition("+")
        get_loss(name)  # validates the name
        over = over or "visits"
        if over not in OVER:
            raise ValueError(
                f"schedule index must be @visits (default), @steps or @per_pass, got @{over}"
            )
        if name not in NEEDS_STRENGTHS:
            if sched:
                raise ValueError(
                    f"method {name!r} takes no schedule (only {sorted(NEEDS_STRENGTHS)} do)"
                )
            return cls(name)
        return cls(name, make_schedule(sched or DEFAULT_SCHEDULES[name]), over)

    def label(self) -> str:
        if self.schedule is None:
            return self.loss
        params = ",".join(
            f"{v:g}" for v in self.schedule.to_dict().values() if not isinstance(v, str)
        )
        return f"{self.loss}+{self.schedule.name}({params})" + (
            "" if self.over == "visits" else f"@{self.over}"
        )


def weak_confidence(q: np.ndarray) -> np.ndarray:
    """Confidence ``(max_y q(y) - 1/C) / (1 - 1/C)`` in [0, 1]; ``|2q - 1|`` for two classes."""
    c = q.shape[1]
    return np.clip((q.max(1) - 1 / c) / (1 - 1 / c), 0.0, 1.0)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """NLL-optimal temperature ``T`` (grid in log T, then golden refinement-free: 241 points)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))
    nll = [
        -np.log(softmax(logits / t)[np.arange(len(labels)), labels] + 1e-12).mean() for t in grid
    ]
    return float(grid[int(np.argmin(nll))])


def method_strengths(
    method: MethodSpec, q: np.ndarray, n_steps: int, batch_size: int = 32
) -> np.ndarray | None:
    """Strengths for :func:`~.train.train`; None for xent-type methods.

    ``over="visits"``: ``(E * N,)`` with ``E = n_epochs_touched(N, n_steps, batch_size)``, entry
    ``e * N + i`` the strength of example i's visit in epoch e (confidences tiled E times);
    ``"per_pass"``: ``(N,)``; ``"steps"``: ``(n_steps,)``.
    """
    if method.schedule is None:
        return None
    n = len(q)
    length = strengths_length(method.over, n, n_steps, batch_size)
    conf = weak_confidence(q) if method.schedule.needs_confidence else None
    if conf is not None and method.over == "steps":
        raise ValueError("a confidence-weighted schedule indexes examples, not steps")
    if conf is not None:
        conf = np.tile(conf, length // n)  # (length,): one copy per epoch touched (visits)
    return method.schedule.strengths(length, confidence=conf)


def run_limit(method: MethodSpec, n: int, n_steps: int, batch_size: int = 32) -> float:
    """The most influence (sum of per-visit strengths) a whole run can spend; ``inf`` if none.

    ``visits``: the schedule's limit; ``steps``: ``batch_size * limit``; ``per_pass``:
    ``epochs touched * limit``.
    """
    if method.schedule is None:
        return math.inf
    lim = method.schedule.limit()
    if method.over == "steps":
        return batch_size * lim
    if method.over == "per_pass":
        return n_epochs_touched(n, n_steps, batch_size) * lim
    return lim
