"""``neural mimicry``: does the student drift toward the weak model's errors as data or steps grow?

The Bayesian reading (DESIGN.md §1): hard conditioning on N weak labels concentrates on the
KL projection of the weak labeller onto the strong class (Berk 1966) — mimicry, if the strong
model can represent it — while a bounded total influence (``T(N) = sum s_n < inf``) cannot
be driven there by more weak data. Two sweeps per method and seed:

* ``axis="n"``: weak-labelled examples ``N`` in ``n_grid`` (nested sets, fixed test set,
  epochs fixed so steps grow with N);
* ``axis="steps"``: ``N = max(n_grid)`` fixed, optimizer steps in ``steps_grid``.

Measured: PGR, test accuracy, and agreement with the weak model on its own test errors
(``agree_on_weak_errors``: 1 = copies every weak mistake). Whatever comes out is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_w2s.runs import atomic_write_text, write_run

from .cache import ArrayCache
from .compare import folder_name, save_figure
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
    "ve+constant:value=3",
    "ve+budget:budget=40",
    "tempered+budget:budget=1000",
    "ve+geometric:first=3,ratio=0.995@steps",
)


@dataclass(frozen=True)
class MimicryConfig:
    base: W2SConfig = field(default_factory=W2SConfig)
    methods: tuple[str, ...] = DEFAULT_MIMICRY_METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    n_grid: tuple[int, ...] = (250, 500, 1000, 2000, 4700)
    steps_grid: tuple[int, ...] = (25, 100, 400, 1600, 6400)


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
    cols = ["pgr", "acc_w2s", "agree_on_weak_errors", "agree_weak", "influence"]
    return rows.groupby(["axis", "method", "x"], sort=False)[cols].mean().reset_index()


def plot_mimicry(rows: pd.DataFrame, ax=None):
    """2x2 panel: PGR and agreement-on-weak-errors against N and against steps (table only)."""
    import matplotlib.pyplot as plt

    from bayes_w2s import style

    with style.context():
        if ax is None:
            fig, axes = plt.subplots(2, 2, figsize=(10, 7))
        else:
            axes = np.asarray(ax).reshape(2, 2)
            fig = axes[0, 0].figure
        for j, axis in enumerate(("n", "steps")):
            sub = rows[rows["axis"] == axis]
            for i, col in enumerate(("pgr", "agree_on_weak_errors")):
                a = axes[i, j]
                style.line_with_band(a, sub, "x", col, "method")
                a.set_xscale("log")
                ticks = sorted(sub["x"].unique())
                a.set_xticks(ticks, [str(t) for t in ticks])
                a.minorticks_off()
                a.set_xlabel(
                    "weak-labelled examples N" if axis == "n" else "student optimizer steps"
                )
                a.set_ylabel("PGR" if col == "pgr" else "agreement with weak on its errors")
        axes[0, 0].legend(fontsize=7, title="methods (identical lines overlap)", title_fontsize=7)
        fig.tight_layout()
    return fig


def write_mimicry(
    root: str | os.PathLike, cfg: MimicryConfig, rows: pd.DataFrame, *, extra: dict | None = None
):
    """Write config.json, results.csv, summary.csv/.txt and mimicry.png; returns (folder, text)."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(root) / folder_name("neural_mimicry", cfg)
    write_run(folder, "neural_mimicry", cfg, rows, extra=extra)
    summary = summarize_mimicry(rows)
    text = summary.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    atomic_write_text(folder / "summary.txt", text + "\n")
    save_figure(plot_mimicry(rows), folder / "mimicry")
    return folder, text
