"""``neural mimicry``: does the student drift toward the weak model's errors as data or steps grow?

The Bayesian reading (DESIGN.md §1): hard conditioning on N weak labels concentrates on the
KL projection of the weak labeller onto the strong class (Berk 1966) — mimicry, if the strong
model can represent it — while a bounded total influence (``T(N) = sum s_n < inf``) cannot
be driven there by more weak data. Two sweeps per method and seed:

* ``axis="n"``: weak-labelled examples ``N`` in ``n_grid`` (nested sets, fixed test set,
  epochs fixed so steps grow with N);
* ``axis="steps"``: ``N = max(n_grid)`` fixed, optimizer steps in ``steps_grid``.

Default grid: 1x, 10x, 100x — ``N = 40, 400, 4000`` weak labels at 10 epochs (13, 125, 1,250
SGD steps), and ``N = 4000`` at 40, 400, 4,000 steps — on the cached MiniLM features of
Rotten Tomatoes (the data holds 4,000 weak labels next to 4,000 weak-train and 4,000 test).
Methods: xent and the run-bounded VE schedules (a visit-indexed budget and confidence budget,
a geometric schedule over steps), all students under SGD so their movement is certified.

Measured: PGR, test accuracy, agreement with the weak model on its own test errors
(``agree_on_weak_errors``: 1 = copies every weak mistake), influence spent and parameter
distance from init. Whatever comes out is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from bayes_w2s.harness.runs import atomic_write_text, write_run

from .cache import ArrayCache
from bayes_w2s.harness.runs import save_figure

from .folders import folder_name
from .figures import plot_mimicry
from .pipeline import W2SConfig, run

__all__ = [
    "DEFAULT_MIMICRY_METHODS",
    "MimicryConfig",
    "plot_mimicry",
    "run_mimicry",
    "summarize_mimicry",
    "write_mimicry",
]

DEFAULT_MIMICRY_METHODS = (
    "xent",
    "ve+budget:budget=40",
    "ve+confidence:budget=40",
    "ve+geometric:first=3,ratio=0.995@steps",
)


@dataclass(frozen=True)
class MimicryConfig:
    base: W2SConfig = field(default_factory=W2SConfig)
    methods: tuple[str, ...] = DEFAULT_MIMICRY_METHODS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_grid: tuple[int, ...] = (40, 400, 4000)
    steps_grid: tuple[int, ...] = (40, 400, 4000)


def run_mimicry(
    cfg: MimicryConfig, *, cache: ArrayCache | None = None, progress: bool = False
) -> pd.DataFrame:
    """Tidy rows: one per (axis, x, method, seed)."""
    cache = cache if cache is not None else ArrayCache()
    parts = []
    for n in cfg.n_grid:
        df = run(
            replace(cfg.base, n_weak_label=int(n), steps=None),
            cfg.seeds,
            cache=cache,
            progress=progress,
            methods=cfg.methods,
        )
        parts.append(df.assign(axis="n", x=int(n)))
    n_max = int(max(cfg.n_grid))
    for s in cfg.steps_grid:
        df = run(
            replace(cfg.base, n_weak_label=n_max, steps=int(s)),
            cfg.seeds,
            cache=cache,
            progress=progress,
            methods=cfg.methods,
        )
        parts.append(df.assign(axis="steps", x=int(s)))
    return pd.concat(parts, ignore_index=True)


def summarize_mimicry(rows: pd.DataFrame) -> pd.DataFrame:
    """Seed means per (axis, x, method) of PGR, accuracy and agreement on weak errors."""
    cols = ["pgr", "acc_w2s", "agree_on_weak_errors", "agree_weak", "influence", "steps"]
    cols += [c for c in ("param_distance", "distance_bound", "kl_from_init") if c in rows]
    return rows.groupby(["axis", "method", "x"], sort=False)[cols].mean().reset_index()


def write_mimicry(
    root: str | os.PathLike, cfg: MimicryConfig, rows: pd.DataFrame, *, extra: dict | None = None
):
    """Write config.json, results.csv, summary.csv/.txt and mimicry.png; returns (folder, text)."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(root) / folder_name("neural_mimicry", cfg)
    summary = summarize_mimicry(rows)
    write_run(folder, "neural_mimicry", cfg, rows, extra=extra, tables={"summary.csv": summary})
    text = summary.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    atomic_write_text(folder / "summary.txt", text + "\n")
    fig = plot_mimicry(rows)
    save_figure(fig, folder / "mimicry")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return folder, text
