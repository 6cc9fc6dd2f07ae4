"""``neural compare``: every method on one weak/strong pair; PGR table and bar figure with CIs.

Rows: one per (method, seed) from :func:`bayes_w2s.neural.pipeline.run` (weak model and
ceiling cached and shared). Summary: per method, PGR of the seed-mean accuracies with a
percentile bootstrap CI over seeds (:func:`~bayes_w2s.neural.evaluate.pgr_summary`).

Folder: ``config.json`` (config, package version, git revision), ``results.csv`` (per seed),
``pgr.csv`` (summary), ``pgr.png`` / ``pgr.pdf``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayes_w2s.runs import atomic_write_csv, config_to_dict, save_figure, write_run

from .cache import ArrayCache, cache_key
from .evaluate import pgr_summary
from .pipeline import W2SConfig, run

__all__ = [
    "DEFAULT_METHODS",
    "CompareConfig",
    "plot_pgr",
    "run_compare",
    "save_figure",
    "write_compare",
]

DEFAULT_METHODS = (
    "xent",
    "logconf",
    "product",
    "ve+budget:budget=40",
    "tempered+confidence:budget=4000",
)


@dataclass(frozen=True)
class CompareConfig:
    """The base pipeline config, the methods to compare and the seeds."""

    base: W2SConfig = field(default_factory=W2SConfig)
    methods: tuple[str, ...] = DEFAULT_METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    n_boot: int = 2000


def run_compare(cfg: CompareConfig, *, cache: ArrayCache | None = None, progress: bool = False):
    """``(rows, summary)``: per-seed rows and the per-method PGR table."""
    rows = run(cfg.base, cfg.seeds, cache=cache, progress=progress, methods=cfg.methods)
    return rows, pgr_summary(rows, n_boot=cfg.n_boot)


def plot_pgr(summary: pd.DataFrame, ax=None):
    """Bar chart of PGR per method with its bootstrap CI; reads the summary table only."""
    import numpy as np

    from bayes_w2s import style

    fig, ax = style.new_axes(ax, figsize=(7.0, 3.8))
    x = np.arange(len(summary))
    pgr = summary["pgr"].to_numpy(float)
    lo = np.nan_to_num(pgr - summary["pgr_lo"].to_numpy(float))
    hi = np.nan_to_num(summary["pgr_hi"].to_numpy(float) - pgr)
    ax.bar(x, pgr, yerr=np.vstack([lo, hi]), capsize=4, color="#0072B2", alpha=0.85)
    ax.axhline(0, color="k", lw=0.8)
    ax.axhline(1, color="k", lw=0.8, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(summary["method"], rotation=20, ha="right", fontsize=8)
    level = summary["level"].iloc[0] if len(summary) else 0.95
    n = int(summary["n_seeds"].max()) if len(summary) else 0
    ax.set_ylabel(f"PGR ({level:.0%} bootstrap CI, {n} seeds)")
    ax.set_title("weak-to-strong: performance gap recovered", fontsize=10)
    return fig


def folder_name(kind: str, cfg) -> str:
    b = cfg.base
    tag = f"{b.weak}_to_{b.strong}".replace("/", "-").replace(":", "-")
    return f"{kind}__{tag}__{b.mode}__{cache_key(config_to_dict(cfg))[:8]}"


def write_compare(
    root: str | os.PathLike,
    cfg: CompareConfig,
    rows: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    extra: dict | None = None,
    figure: bool = True,
    kind: str = "neural_compare",
) -> Path:
    """Write the run folder ``root/<kind>__<weak>_to_<strong>__<mode>__<hash>``; returns it."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(root) / folder_name(kind, cfg)
    write_run(folder, kind, cfg, rows, extra=extra)
    atomic_write_csv(summary, folder / "pgr.csv")
    if figure:
        save_figure(plot_pgr(summary), folder / "pgr")
    return folder
