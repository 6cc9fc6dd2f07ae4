"""One figure style for every experiment: rc settings, colours and a band helper.

Imported lazily (it imports matplotlib); the library core never imports it at module level.
Plot functions take ``ax=`` and only read tidy tables; the band helper aggregates the
replicates stored in the table (mean and a percentile band), it never simulates.
"""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["RC", "context", "new_axes", "line_with_band"]

RC = {
    "figure.figsize": (6.0, 4.0),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "font.size": 10,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": mpl.cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
    ),
}


def context():
    """``with style.context(): ...`` applies the house rc settings."""
    return mpl.rc_context(RC)


def new_axes(ax=None, **subplots_kw):
    """Return ``(fig, ax)``: the given axes and its figure, or a fresh figure in house style."""
    if ax is not None:
        return ax.figure, ax
    with context():
        fig, ax = plt.subplots(**subplots_kw)
    return fig, ax


def line_with_band(
    ax,
    df: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    *,
    band: tuple[float, float] = (0.1, 0.9),
    label_fmt: str = "{}",
):
    """Draw the mean of ``y`` against ``x`` per ``group`` with a percentile band over rows.

    Rows sharing ``(group, x)`` are replicates (seeds); the band spans the ``band``
    quantiles of ``y`` across them.
    """
    with contextlib.ExitStack():
        for key, sub in df.groupby(group, sort=False):
            stats = sub.groupby(x)[y].agg(
                mean="mean",
                lo=lambda v: np.quantile(v, band[0]),
                hi=lambda v: np.quantile(v, band[1]),
            )
            (line,) = ax.plot(stats.index, stats["mean"], label=label_fmt.format(key))
            ax.fill_between(stats.index, stats["lo"], stats["hi"], color=line.get_color(), alpha=0.2, lw=0)
    return ax
