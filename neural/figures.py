"""Figures of neural run folders, drawn from their stored tables only.

``redraw(run_dir)`` reads ``config.json`` + ``results.csv`` (and ``pgr.csv`` when present) and
redraws every figure of the folder:

* compare folders (``neural_compare*``): ``pgr.png/.pdf`` — left, each method's PGR of the
  seed means with its percentile bootstrap CI over seeds; then its PGR difference from
  ``xent`` and from the best regularized baseline with *paired* bootstrap CIs (:mod:`.stats`),
  filled where the CI excludes 0;
  ``movement.png/.pdf`` — measured parameter distance from init against the certified bound
  (:mod:`.certificate`), per run, on log axes with the line ``measured = bound``;
* mimicry folders (``neural_mimicry*``, rows with an ``axis`` column): ``mimicry.png/.pdf`` —
  PGR and agreement with the weak model on its own errors against weak data N and against
  optimizer steps, one line per method (seed mean, 10-90% band).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_w2s.harness.runs import read_run, save_figure

__all__ = ["plot_mimicry", "plot_movement", "plot_pgr", "redraw"]


def plot_pgr(summary: pd.DataFrame, ax=None):
    """PGR per method with bootstrap CIs; paired differences from xent and (when the summary
    has them, :func:`~.compare.compare_summary`) from the best regularized baseline."""
    import matplotlib.pyplot as plt

    from bayes_w2s.harness import style

    with style.context():
        if ax is None:
            three = "pgr_diff_reg" in summary and summary["pgr_diff_reg"].notna().any()
            fig, axes = plt.subplots(1, 3 if three else 2, figsize=(16.0 if three else 11.0, 4.3))
        else:
            axes = np.atleast_1d(ax)
            fig = axes[0].figure
    x = np.arange(len(summary))
    pgr = summary["pgr"].to_numpy(float)
    lo = np.nan_to_num(pgr - summary["pgr_lo"].to_numpy(float))
    hi = np.nan_to_num(summary["pgr_hi"].to_numpy(float) - pgr)
    level = float(summary["level"].iloc[0]) if len(summary) and "level" in summary else 0.95
    n = int(summary["n_seeds"].max()) if len(summary) else 0
    a = axes[0]
    a.bar(x, pgr, yerr=np.vstack([lo, hi]), capsize=4, color="#0072B2", alpha=0.85)
    a.axhline(0, color="k", lw=0.8)
    a.set_xticks(x, summary["method"], rotation=25, ha="right", fontsize=8)
    a.set_ylabel(f"PGR ({level:.0%} bootstrap CI, {n} seeds)")
    a.set_title("performance gap recovered", fontsize=10)
    refs = [("pgr_diff", "diff_lo", "diff_hi", "xent")]
    if "pgr_diff_reg" in summary and summary["pgr_diff_reg"].notna().any():
        refs.append(("pgr_diff_reg", "diff_reg_lo", "diff_reg_hi", str(summary["best_reg"].iloc[0])))
    for b, (col, lo_c, hi_c, ref) in zip(axes[1:], [r for r in refs if r[0] in summary]):
        d = summary[col].to_numpy(float)
        dlo = np.nan_to_num(d - summary[lo_c].to_numpy(float))
        dhi = np.nan_to_num(summary[hi_c].to_numpy(float) - d)
        sig = (summary[lo_c].to_numpy(float) > 0) | (summary[hi_c].to_numpy(float) < 0)
        b.errorbar(x, d, yerr=np.vstack([dlo, dhi]), fmt="none", ecolor="#333333", capsize=4)
        b.scatter(x[sig], d[sig], color="#D55E00", zorder=3, label="CI excludes 0")
        b.scatter(x[~sig], d[~sig], facecolor="white", edgecolor="#D55E00", zorder=3,
                  label="CI covers 0")
        b.axhline(0, color="k", lw=0.8)
        b.set_xticks(x, summary["method"], rotation=25, ha="right", fontsize=8)
        b.set_ylabel(f"PGR difference (paired {level:.0%} CI)")
        title = "minus xent" if ref == "xent" else f"minus best regularized: {ref}"
        b.set_title(f"{title}\n(same seeds and splits)", fontsize=9)
        b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_movement(rows: pd.DataFrame, ax=None):
    """Measured ``||theta_T - theta_0||`` against its certified bound, one point per run."""
    from bayes_w2s.harness import style

    fig, ax = style.new_axes(ax, figsize=(style.COLUMN_WIDTH, 3.4))
    ok = rows.dropna(subset=["param_distance", "distance_bound"])
    ok = ok[(ok["param_distance"] > 0) & (ok["distance_bound"] > 0)]
    for method, g in ok.groupby("method", sort=False):
        s = style.rule_style(method)  # fixed colour and marker per method, no pale yellow
        ax.scatter(g["distance_bound"], g["param_distance"], s=12, label=method, alpha=0.8,
                   color=s["color"], marker=s["marker"] or "o", linewidths=0)
    if len(ok):
        lo = min(ok["param_distance"].min(), ok["distance_bound"].min()) / 2
        hi = max(ok["param_distance"].max(), ok["distance_bound"].max()) * 2
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--", label="measured = bound")
        ax.set_xscale("log")
        ax.set_yscale("log")
        style.legend_outside(fig, loc="outside lower center", ncols=3)
    ax.set_xlabel(r"certified bound  $\sum_t \eta_t\, \overline{g(s_i)}\, X$")
    ax.set_ylabel(r"measured $\|\theta_T - \theta_0\|$")
    ax.set_title("movement certificate (SGD students)", fontsize=10)
    return fig


def plot_mimicry(rows: pd.DataFrame, ax=None):
    """2x2 panel: PGR and agreement-on-weak-errors against N and against steps (table only)."""
    import matplotlib.pyplot as plt

    from bayes_w2s.harness import style

    axes_present = [a for a in ("n", "steps") if a in set(rows["axis"])]
    with style.context():
        if ax is None:
            fig, axes = plt.subplots(2, len(axes_present), figsize=(5 * len(axes_present), 7),
                                     squeeze=False)
        else:
            axes = np.asarray(ax).reshape(2, -1)
            fig = axes[0, 0].figure
        for j, axis in enumerate(axes_present):
            sub = rows[rows["axis"] == axis]
            for i, col in enumerate(("pgr", "agree_on_weak_errors")):
                a = axes[i, j]
                style.line_with_band(a, sub, "x", col, "method")
                a.set_xscale("log")
                ticks = sorted(sub["x"].unique())
                a.set_xticks(ticks, [str(int(t)) for t in ticks])
                a.minorticks_off()
                a.set_xlabel(
                    "weak-labelled examples N (epochs fixed: steps grow too)"
                    if axis == "n"
                    else "student optimizer steps (N fixed)"
                )
                a.set_ylabel("PGR" if col == "pgr" else "agreement with weak on its errors")
        axes[0, 0].legend(fontsize=7, title="methods", title_fontsize=7)
        fig.tight_layout()
    return fig


def redraw(run_dir: str | os.PathLike) -> list[Path]:
    """Redraw every figure of a neural run folder from its stored tables; the files written.

    Raises ``FileNotFoundError`` if ``run_dir`` is not a run folder and ``ValueError`` if it
    is not a neural compare or mimicry folder.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .evaluate import pgr_summary

    folder = Path(run_dir)
    meta, rows = read_run(folder)
    kind = str(meta.get("experiment", ""))
    written: list[Path] = []
    if "axis" in rows.columns and kind.startswith("neural_mimicry"):
        fig = plot_mimicry(rows)
        written += save_figure(fig, folder / "mimicry")
        plt.close(fig)
        return written
    if kind.startswith("neural_ladder") and "pair" in rows.columns:  # ladder / ladder sweep
        from .ladder import ladder_summary, plot_ladder

        fig = plot_ladder(ladder_summary(rows))
        written += save_figure(fig, folder / "ladder")
        plt.close(fig)
        return written
    if not kind.startswith("neural") or "acc_w2s" not in rows.columns:
        raise ValueError(
            f"run_dir {str(folder)!r} is not a neural compare or mimicry folder "
            f"(experiment {kind!r})"
        )
    summary_path = folder / "pgr.csv"
    if summary_path.is_file():
        summary = pd.read_csv(summary_path)
    else:
        n_boot = int(meta.get("config", {}).get("n_boot", 2000))
        summary = pgr_summary(rows, n_boot=n_boot)
    from bayes_w2s.harness.style import neural_title

    n_seeds = int(rows["seed"].nunique()) if "seed" in rows.columns else None
    fig = plot_pgr(summary)
    fig.suptitle(neural_title(kind, meta.get("config", {}), n_seeds), fontsize=9)
    fig.tight_layout()
    written += save_figure(fig, folder / "pgr")
    plt.close(fig)
    if {"param_distance", "distance_bound"} <= set(rows.columns):
        fig = plot_movement(rows)
        fig.suptitle(neural_title(kind, meta.get("config", {}), n_seeds, wrap=True), fontsize=8.5)
        written += save_figure(fig, folder / "movement")
        plt.close(fig)
    return written
