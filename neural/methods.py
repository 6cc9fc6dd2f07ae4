"""Training methods: a loss name plus, for VE and tempering, a schedule of strengths.

``MethodSpec.parse("ve+budget:budget=40")`` -> the virtual-evidence loss with per-example
strengths ``s_i = 40 / N`` from :class:`bayes_w2s.schedules.Budget`; ``@steps`` indexes the
schedule by optimizer step. Also here: the weak confidence used by confidence-weighted
schedules and temperature scaling of weak labels (Guo et al. 2017, "On calibration of
modern neural networks").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayes_w2s.schedules import Schedule, make_schedule

from .losses import NEEDS_STRENGTHS, get_loss

__all__ = [
    "DEFAULT_SCHEDULES",
    "MethodSpec",
    "fit_temperature",
    "method_strengths",
    "softmax",
    "weak_confidence",
]

DEFAULT_SCHEDULES = {"ve": "constant:value=3", "tempered": "constant:value=1"}


@dataclass(frozen=True)
class MethodSpec:
    """A training method: loss name, optional schedule, and what the schedule indexes.

    ``parse("ve+budget:budget=20")`` -> loss ``ve``, schedule Budget(20) over examples;
    ``"@steps"`` at the end indexes the schedule by optimizer step instead (each example of
    step t gets ``s_t``). ``ve`` and ``tempered`` get :data:`DEFAULT_SCHEDULES` if none given.
    """

    loss: str
    schedule: Schedule | None = None
    over: str = "examples"

    @classmethod
    def parse(cls, text: str) -> MethodSpec:
        body, _, over = text.partition("@")
        name, _, sched = body.partition("+")
        get_loss(name)  # validates the name
        over = over or "examples"
        if over not in ("examples", "steps"):
            raise ValueError(f"schedule index must be @examples or @steps, got @{over}")
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
            "@steps" if self.over == "steps" else ""
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


def method_strengths(method: MethodSpec, q: np.ndarray, n_steps: int) -> np.ndarray | None:
    """Strengths ``(N,)`` over weak examples or ``(n_steps,)`` over steps; None for xent-type."""
    if method.schedule is None:
        return None
    n = len(q) if method.over == "examples" else n_steps
    conf = weak_confidence(q) if method.schedule.needs_confidence else None
    if conf is not None and method.over == "steps":
        raise ValueError("a confidence-weighted schedule indexes examples, not steps")
    return method.schedule.strengths(n, confidence=conf)
