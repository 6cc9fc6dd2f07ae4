"""``neural compare``: every method on one weak/strong pair; PGR table and bar figure with CIs.

Rows: one per (recipe, seed) from :func:`bayes_w2s.neural.pipeline.run` (weak model and
ceiling cached and shared). Summary (:func:`compare_summary`): per recipe, PGR of the
seed-mean accuracies with a percentile bootstrap CI over seeds; its difference from ``xent``
and from the *best regularized baseline* with *paired* bootstrap CIs over the same seeds; the
selected hyperparameter (median and the set of per-seed values); the ORACLE PGR (best grid
value on test, never a headline); and the movement certificate.

The best regularized baseline is the non-VE regularized row (:meth:`~.recipes.Recipe.
is_regularized_baseline`: centroid, weight decay, anchor, cap, early stopping, a chosen lr)
of highest mean test PGR. Picking it on test makes it a *conservative* comparator for VE: the
VE row must beat the luckiest of several baselines.

Default: 10 seeds, the peer baselines, VE with its budget selected on the weak-labelled
validation split, and the regularized baselines with their knobs selected the same way
(every knob value is one head: ~20 heads per seed, ~2-3 s each on one thread).

Folder: ``config.json`` (config, package version, git revision), ``results.csv`` (per seed),
``pgr.csv`` (summary), ``pgr.png/.pdf`` and ``movement.png/.pdf`` (:mod:`.figures`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_w2s.harness.runs import save_figure, write_run

from .cache import ArrayCache
from .evaluate import pgr_summary
from .figures import plot_pgr, redraw
from .folders import folder_name
from .pipeline import W2SConfig, run
from .recipes import parse_recipe
from .stats import paired_pgr_diff

__all__ = [
    "DEFAULT_METHODS",
    "CompareConfig",
    "compare_summary",
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
    "ve+budget(select:weak-val)",
    "xent+wd(select:weak-val)",
    "xent@lr=select:weak-val",
    "xent+cap(select:weak-val)",
    "centroid",
    "xent+stop(weak-val)",
)


@dataclass(frozen=True)
class CompareConfig:
    """The base pipeline config, the methods to compare and the seeds."""

    base: W2SConfig = field(default_factory=W2SConfig)
    methods: tuple[str, ...] = DEFAULT_METHODS
    seeds: tuple[int, ...] = tuple(range(10))
    n_boot: int = 2000


def run_compare(
    cfg: CompareConfig,
    *,
    cache: ArrayCache | None = None,
    progress: bool = False,
    show_progress: bool | str | None = False,
):
    """``(rows, summary)``: per-seed rows and the per-recipe PGR table."""
    rows = run(
        cfg.base, cfg.seeds, cache=cache, progress=progress, methods=cfg.methods,
        show_progress=show_progress,
    )
    return rows, compare_summary(rows, n_boot=cfg.n_boot)


def _selected(g: pd.DataFrame) -> tuple[float, str]:
    v = g["selected"].dropna() if "selected" in g else pd.Series(dtype=float)
    if v.empty:
        return float("nan"), ""
    return float(np.median(v)), "{" + ",".join(f"{x:g}" for x in sorted(set(v))) + "}"


def compare_summary(rows: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """:func:`~.evaluate.pgr_summary` plus the selection and the best-regularized comparison.

    Added columns: ``selected_median``, ``selected_set`` (per-seed selected values),
    ``select_rule``, ``n_val``, ``n_gt_val``; ``pgr_oracle`` (ORACLE: PGR of the seed means of
    the best grid value *on test*); ``best_reg`` (the best regularized baseline's label) and
    ``pgr_diff_reg, diff_reg_lo, diff_reg_hi`` (paired bootstrap over seeds, this row minus it).
    """
    summary = pgr_summary(rows, n_boot=n_boot, seed=seed)
    reg = [m for m in summary["method"] if parse_recipe(m).is_regularized_baseline()]
    best = (
        summary.set_index("method").loc[reg, "pgr"].astype(float).idxmax()
        if reg and summary.set_index("method").loc[reg, "pgr"].notna().any()
        else None
    )
    ref = rows[rows["method"] == best].drop_duplicates("seed").set_index("seed") if best else None
    extra = []
    for m in summary["method"]:
        g = rows[rows["method"] == m]
        med, vals = _selected(g)
        out = {
            "selected_median": med,
            "selected_set": vals,
            "select_rule": g["select_rule"].iloc[0] if "select_rule" in g else "",
            "n_val": int(g["n_val"].iloc[0]) if "n_val" in g else 0,
            "n_gt_val": int(g["n_gt_val"].iloc[0]) if "n_gt_val" in g else 0,
            "pgr_oracle": float("nan"),
            "best_reg": best or "",
            "pgr_diff_reg": float("nan"),
            "diff_reg_lo": float("nan"),
            "diff_reg_hi": float("nan"),
        }
        gap = g.acc_ceiling.mean() - g.acc_weak.mean()
        if "acc_w2s_oracle" in g and gap > 0:
            out["pgr_oracle"] = (g.acc_w2s_oracle.mean() - g.acc_weak.mean()) / gap
        if ref is not None:
            gg = g.drop_duplicates("seed").set_index("seed")
            common = gg.index.intersection(ref.index)
            if len(common):
                a, r = gg.loc[common], ref.loc[common]
                d, lo, hi = paired_pgr_diff(
                    a.acc_weak, a.acc_ceiling, a.acc_w2s, r.acc_w2s, n_boot=n_boot, seed=seed
                )
                out.update(pgr_diff_reg=d, diff_reg_lo=lo, diff_reg_hi=hi)
        extra.append(out)
    return pd.concat([summary, pd.DataFrame(extra, index=summary.index)], axis=1)


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
        "| method | selected (median; set) | acc_w2s | PGR [95% CI] | PGR - xent [paired 95% CI] "
        "| PGR - best reg. [paired 95% CI] | ORACLE PGR "
        "| influence (max) / limit | ||θ-θ0|| / bound | KL(p‖p0) / bound |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for _, r in summary.iterrows():
        infl = "inf" if not pd.notna(r.get("influence_max")) or r.get("influence_max") == float(
            "inf"
        ) else f"{r['influence_max']:.4g} / {r['influence_limit']:.4g}"
        sel = (
            f"{f(r.get('selected_median'), '{:g}')}; {r.get('selected_set', '')}"
            if pd.notna(r.get("selected_median"))
            else ""
        )
        lines.append(
            f"| {r['method']} | {sel} | {f(r['acc_w2s'])} | {f(r['pgr'], '{:+.3f}')} "
            f"[{f(r['pgr_lo'], '{:+.3f}')}, {f(r['pgr_hi'], '{:+.3f}')}] "
            f"| {f(r.get('pgr_diff'), '{:+.3f}')} [{f(r.get('diff_lo'), '{:+.3f}')}, "
            f"{f(r.get('diff_hi'), '{:+.3f}')}] "
            f"| {f(r.get('pgr_diff_reg'), '{:+.3f}')} [{f(r.get('diff_reg_lo'), '{:+.3f}')}, "
            f"{f(r.get('diff_reg_hi'), '{:+.3f}')}] | {f(r.get('pgr_oracle'), '{:+.3f}')} "
            f"| {infl} | {f(r.get('param_distance'), '{:.3g}')} / "
            f"{f(r.get('distance_bound'), '{:.3g}')} | {f(r.get('kl_from_init'), '{:.3g}')} / "
            f"{f(r.get('kl_bound'), '{:.3g}')} |"
        )
    return head + "\n".join(lines) + "\n"
