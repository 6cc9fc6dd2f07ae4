"""``neural compare``: every method on one weak/strong pair; PGR table and bar figure with CIs.

Rows: one per (method, seed) from :func:`bayes_w2s.neural.pipeline.run` (weak model and
ceiling cached and shared). Summary: per method, PGR of the seed-mean accuracies with a
percentile bootstrap CI over seeds, and its difference from ``xent`` with a *paired* bootstrap
CI over the same seeds (:func:`~bayes_w2s.neural.evaluate.pgr_summary`), plus the movement
certificate (measured parameter distance and prediction KL next to their bounds).

Default: 10 seeds (a features-mode compare is cheap: ~2 s per student on one thread), the peer
baselines and run-bounded VE / tempering schedules, SGD students (certified movement).

Folder: ``config.json`` (config, package version, git revision), ``results.csv`` (per seed),
``pgr.csv`` (summary), ``pgr.png/.pdf`` and ``movement.png/.pdf`` (:mod:`.figures`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayes_w2s.harness.runs import run_folder_name, save_figure, write_run

from .cache import ArrayCache
from .evaluate import pgr_summary
from .figures import plot_pgr, redraw
from .pipeline import W2SConfig, run

__all__ = [
    "DEFAULT_METHODS",
    "CompareConfig",
    "plot_pgr",
    "run_compare",
    "save_figure",
    "summary_markdown",
    "write_compare",
]

DEFAULT_METHODS = (
    "xent",
    "logconf",
    "product",
    "ve+budget:budget=40",
    "ve+confidence:budget=40",
    "ve+geometric:first=3,ratio=0.995@steps",
    "ve+constant:value=3",
    "tempered+confidence:budget=4000",
)


@dataclass(frozen=True)
class CompareConfig:
    """The base pipeline config, the methods to compare and the seeds."""

    base: W2SConfig = field(default_factory=W2SConfig)
    methods: tuple[str, ...] = DEFAULT_METHODS
    seeds: tuple[int, ...] = tuple(range(10))
    n_boot: int = 2000


def run_compare(cfg: CompareConfig, *, cache: ArrayCache | None = None, progress: bool = False):
    """``(rows, summary)``: per-seed rows and the per-method PGR table."""
    rows = run(cfg.base, cfg.seeds, cache=cache, progress=progress, methods=cfg.methods)
    return rows, pgr_summary(rows, n_boot=cfg.n_boot)


def folder_name(kind: str, cfg, tag: str | None = None) -> str:
    """The run folder's name: :func:`bayes_w2s.harness.runs.run_folder_name`, the one scheme of
    every command (``<kind>`` plus ``__field=value`` for fields that differ from the
    defaults). ``tag`` is accepted for old callers and ignored."""
    return run_folder_name(kind, cfg)


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
    """Write the run folder ``root/<folder_name(kind, cfg)>``; returns it."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(root) / folder_name(kind, cfg)
    write_run(folder, kind, cfg, rows, extra=extra, tables={"pgr.csv": summary})
    if figure:
        redraw(folder)
    return folder


def summary_markdown(summary: pd.DataFrame) -> str:
    """The compare table as Markdown: PGR, paired difference from xent, movement vs bound."""

    def f(v, fmt="{:.3f}"):
        return "" if pd.isna(v) else fmt.format(v)

    head = (
        "| method | acc_w2s | PGR [95% CI] | PGR - xent [paired 95% CI] | excludes 0 "
        "| influence (max) / limit | ||θ-θ0|| / bound | KL(p‖p0) / bound |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for _, r in summary.iterrows():
        infl = "inf" if not pd.notna(r.get("influence_max")) or r.get("influence_max") == float(
            "inf"
        ) else f"{r['influence_max']:.4g} / {r['influence_limit']:.4g}"
        lines.append(
            f"| {r['method']} | {f(r['acc_w2s'])} | {f(r['pgr'], '{:+.3f}')} "
            f"[{f(r['pgr_lo'], '{:+.3f}')}, {f(r['pgr_hi'], '{:+.3f}')}] "
            f"| {f(r.get('pgr_diff'), '{:+.3f}')} [{f(r.get('diff_lo'), '{:+.3f}')}, "
            f"{f(r.get('diff_hi'), '{:+.3f}')}] | {'yes' if r.get('diff_excludes_0') else 'no'} "
            f"| {infl} | {f(r.get('param_distance'), '{:.3g}')} / "
            f"{f(r.get('distance_bound'), '{:.3g}')} | {f(r.get('kl_from_init'), '{:.3g}')} / "
            f"{f(r.get('kl_bound'), '{:.3g}')} |"
        )
    return head + "\n".join(lines) + "\n"
