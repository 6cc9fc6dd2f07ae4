"""One figure style for every experiment: rc settings, colours and a band helper.

Imported lazily (it imports matplotlib); the library core never imports it at module level.
Plot functions take ``ax=`` and only read tidy tables; the band helper aggregates the
replicates stored in the table (mean and a percentile band), it never simulates.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
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
    center: str = "mean",
    band: tuple[float, float] = (0.1, 0.9),
    label_fmt: str = "{}",
    styles: dict | None = None,
    alpha: float = 0.2,
    median: bool = False,
):
    """Draw the ``center`` (mean or median) of ``y`` against ``x`` per ``group``, with a
    band between the ``band`` quantiles of ``y`` over the rows sharing ``(group, x)`` — the
    replicates (seeds). ``styles`` maps a group to extra ``ax.plot`` keywords; ``alpha`` is
    the band's opacity; ``median=True`` overlays the median as a thinner dashed line of the
    same colour.
    """
    if center not in ("mean", "median"):
        raise ValueError(f"center must be 'mean' or 'median', got {center!r}")
    for key, sub in df.groupby(group, sort=False):
        values = sub.groupby(x)[y]
        mid = values.mean() if center == "mean" else values.median()
        lo, hi = values.quantile(band[0]), values.quantile(band[1])
        (line,) = ax.plot(mid.index, mid.to_numpy(), label=label_fmt.format(key), **(styles or {}).get(key, {}))
        if median:
            med = values.median()
            ax.plot(med.index, med.to_numpy(), color=line.get_color(), ls="--", lw=max(line.get_linewidth() * 0.6, 0.8))
        ax.fill_between(mid.index, lo.to_numpy(), hi.to_numpy(), color=line.get_color(), alpha=alpha, lw=0)
    return ax
