"""Drawing helpers of the house figure style: spread over replicates without stacked bands,
marked clipping, and diverging colour scales that cover the data.

Re-exported by :mod:`bayes_w2s.harness.style` (use them from there); see its docstring for the
rules they implement. Imported lazily (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd

GREY = "#7F7F7F"  # the style's grey (``bayes_w2s.harness.style.GREY``)


def rule_style(name: str) -> dict:
    """:func:`bayes_w2s.harness.style.rule_style`, imported at call time (style re-exports this module)."""
    from bayes_w2s.harness.style import rule_style as _rule_style

    return _rule_style(name)

__all__ = ["line_with_band", "small_multiples", "near_decades", "lines_with_whiskers", "clip_note", "clip_y",
           "diverging_norm", "diverging_colorbar", "diverging_heatmap"]


def _stats(sub: pd.DataFrame, x: str, y: str, band) -> pd.DataFrame:
    g = sub.dropna(subset=[y]).groupby(x)[y]
    return pd.DataFrame({"mean": g.mean(), "median": g.median(), "lo": g.quantile(band[0]),
                         "hi": g.quantile(band[1]), "count": g.count()})


def line_with_band(ax, df: pd.DataFrame, x: str, y: str, group: str, *, center: str = "mean",
                   band: tuple[float, float] = (0.1, 0.9), label_fmt: str = "{}", styles: dict | None = None,
                   alpha: float = 0.12, median: bool = False, markers: bool = True):
    """Draw the ``center`` (mean or median) of ``y`` against ``x`` per ``group`` in its fixed
    :func:`rule_style` (``styles`` overrides per group), a light band between the ``band``
    quantiles over the rows sharing ``(group, x)`` (the replicates) and, with ``median=True``,
    the median as a thin dashed line. Meant for a few well separated groups; for many
    overlapping groups use :func:`small_multiples` or :func:`lines_with_whiskers`.
    """
    if center not in ("mean", "median"):
        raise ValueError(f"center must be 'mean' or 'median', got {center!r}")
    for key, sub in df.groupby(group, sort=False):
        st = _stats(sub, x, y, band)
        kw = {**rule_style(key), **(styles or {}).get(key, {})}
        if not markers:
            kw["marker"] = ""
        (line,) = ax.plot(st.index, st[center].to_numpy(), label=label_fmt.format(key),
                          markevery=_markevery(len(st)), **kw)
        if median:
            ax.plot(st.index, st["median"].to_numpy(), color=line.get_color(), ls="--",
                    lw=max(line.get_linewidth() * 0.6, 0.7))
        ax.fill_between(st.index, st.lo.to_numpy(), st.hi.to_numpy(), color=line.get_color(), alpha=alpha, lw=0)
    return ax


def _markevery(n_points: int):
    return max(1, n_points // 8)


def small_multiples(axes: Sequence, df: pd.DataFrame, x: str, y: str, group: str, *, order=None,
                    band: tuple[float, float] = (0.1, 0.9), center: str = "mean", median: bool = True,
                    context_lines: bool = True, title_fmt: str = "{}"):
    """One panel per group: its ``band`` (quantiles over the replicates at each ``x``) filled,
    its ``center`` solid with markers, its median dashed, and — as thin grey context — the
    other groups' centres. Panels are titled with the group in its colour.

    Returns the legend handles explaining the line kinds (for :func:`legend_outside`).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    groups = list(order) if order is not None else list(dict.fromkeys(df[group]))
    axes = list(np.asarray(axes, dtype=object).reshape(-1))
    if len(axes) < len(groups):
        raise ValueError(f"need {len(groups)} axes for the groups {groups}, got {len(axes)}")
    stats = {g: _stats(df[df[group] == g], x, y, band) for g in groups}
    for a, g in zip(axes, groups):
        st = stats[g]
        st_style = rule_style(g)
        if context_lines:
            for other in groups:
                if other != g and len(stats[other]):
                    a.plot(stats[other].index, stats[other][center].to_numpy(), color="#BBBBBB", lw=0.7, zorder=1)
        a.fill_between(st.index, st.lo.to_numpy(), st.hi.to_numpy(), color=st_style["color"], alpha=0.22, lw=0,
                       zorder=2)
        a.plot(st.index, st[center].to_numpy(), color=st_style["color"], marker=st_style["marker"],
               markevery=_markevery(len(st)), zorder=3)
        if median and center == "mean":
            a.plot(st.index, st["median"].to_numpy(), color=st_style["color"], ls="--", lw=0.8, zorder=3)
        a.set_title(title_fmt.format(g), color=st_style["color"] if st_style["color"] != GREY else "black")
    for a in axes[len(groups):]:
        a.set_visible(False)
    handles = [Line2D([], [], color="black", marker="o", label=f"{center} over replicates")]
    if median and center == "mean":
        handles.append(Line2D([], [], color="black", ls="--", lw=0.8, label="median"))
    handles.append(Patch(color="black", alpha=0.22, label=f"{band[0]:.0%}–{band[1]:.0%} of replicates"))
    if context_lines and len(groups) > 1:
        handles.append(Line2D([], [], color="#BBBBBB", lw=0.7, label=f"other rules' {center}s"))
    return handles


def near_decades(xs) -> np.ndarray:
    """The values of ``xs`` (positive) nearest, in log distance, to each power of ten in their range."""
    xs = np.asarray(sorted(set(float(v) for v in xs if v > 0)))
    if not xs.size:
        return xs
    logs = np.log10(xs)
    picks = {xs[np.argmin(np.abs(logs - k))] for k in range(int(np.ceil(logs[0] - 0.3)), int(np.round(logs[-1])) + 1)}
    return np.array(sorted(picks))


def lines_with_whiskers(ax, df: pd.DataFrame, x: str, y: str, group: str, *, center: str = "mean",
                        band: tuple[float, float] = (0.1, 0.9), at=None, logx: bool = False,
                        order=None, floor: float | None = None, clip: tuple | None = None,
                        label_fmt: str = "{}", dodge: float = 0.06, note: bool = True, styles: dict | None = None):
    """Distinct lines (fixed colour and marker per group) for the ``center`` of ``y``, and
    ``band`` whiskers (quantiles over the replicates) at the ``x`` values ``at`` (default:
    about five spread over the range; ``"all"``: every x; ``"decades"``: the x nearest each power
    of ten, :func:`near_decades`), dodged sideways by ``dodge`` (in
    decades with ``logx``, else a fraction of the x range) so groups do not hide each other.
    ``styles`` maps a group to ``color`` / ``marker`` / ``ls`` overrides (groups that are not
    rules, e.g. values of kappa).

    ``clip=(lo, hi)`` sets the y limits (``floor`` is ``clip=(floor, None)`` for a log axis):
    a whisker or centre beyond a limit stops at it and ends in a triangle (▼ / ▲), and a
    note on the axes counts them, so nothing is clipped silently. Returns that count.
    """
    if floor is not None:
        clip = (floor, None if clip is None else clip[1])
    lo_lim, hi_lim = clip if clip is not None else (None, None)
    groups = list(order) if order is not None else list(dict.fromkeys(df[group]))
    xs = np.array(sorted(df[x].dropna().unique()), dtype=float)
    if at is None:
        pick = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), 5)).round().astype(int))
        at = xs[pick]
    elif isinstance(at, str) and at == "all":
        at = xs
    elif isinstance(at, str) and at == "decades":
        at = near_decades(xs)
    at = np.asarray(at, dtype=float)
    width = len(groups)
    n_clipped = 0
    for i, g in enumerate(groups):
        st = _stats(df[df[group] == g], x, y, band)
        if not len(st):
            continue
        s = {**rule_style(g), **(styles or {}).get(g, {})}
        xi = st.index.to_numpy(float)
        marks = np.flatnonzero(np.isin(xi, at))
        mid_all = st[center].to_numpy(float)
        shown = mid_all.copy()
        if lo_lim is not None:
            shown[shown < lo_lim] = np.nan
        if hi_lim is not None:
            shown[shown > hi_lim] = np.nan
        ax.plot(xi, shown, color=s["color"], ls=s["ls"], marker=s["marker"],
                markevery=list(marks) if len(marks) else _markevery(len(st)), label=label_fmt.format(g), zorder=3)
        shift = (i - (width - 1) / 2) * dodge
        span = np.ptp(xs) if len(xs) > 1 else 1.0
        # centres beyond the limits: a triangle on the edge at their own x
        for mask, edge, marker in ((lo_lim is not None) and (mid_all < lo_lim), lo_lim, "v"), \
                                  ((hi_lim is not None) and (mid_all > hi_lim), hi_lim, "^"):
            if np.any(mask):
                ax.plot(xi[mask], np.full(int(np.sum(mask)), edge), ls="", marker=marker, color=s["color"], ms=4,
                        zorder=4, clip_on=False)
                n_clipped += int(np.sum(mask))
        sel = st.loc[st.index.isin(at)]
        if not len(sel):
            continue
        xw = sel.index.to_numpy(float) * (10 ** shift if logx else 1) + (0 if logx else shift * span)
        lo, hi = sel.lo.to_numpy(float), sel.hi.to_numpy(float)
        for values, edge, marker, beyond in ((lo, lo_lim, "v", np.less), (hi, hi_lim, "^", np.greater)):
            if edge is None:
                continue
            out = beyond(values, edge)
            if out.any():
                ax.plot(xw[out], np.full(out.sum(), edge), ls="", marker=marker, color=s["color"], ms=3.5, zorder=4,
                        clip_on=False)
                n_clipped += int(out.sum())
        lo = lo if lo_lim is None else np.maximum(lo, lo_lim)
        hi = hi if hi_lim is None else np.minimum(hi, hi_lim)
        ax.vlines(xw, lo, hi, color=s["color"], lw=0.9, zorder=2)  # the mean may lie outside [lo, hi]
    if clip is not None:
        cur = ax.get_ylim()
        ax.set_ylim(cur[0] if lo_lim is None else lo_lim, cur[1] if hi_lim is None else hi_lim)
        if n_clipped and note:
            ax.text(0.99, 0.01, f"axis clipped: {n_clipped} whisker ends / means beyond it (▼▲)",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=5.5, color="#444444")
    return n_clipped


def clip_note(n_clipped: int, limits: str) -> str:
    """``"▼▲: 12 whisker ends / means beyond the axis (limits)"``, or ``""`` when none is."""
    if not n_clipped:
        return ""
    return f"▼▲: {n_clipped} whisker end{'s' * (n_clipped > 1)} / means cut at the axis ({limits})"


def clip_y(ax, x, y, lo: float | None, hi: float | None, *, color=None, note: bool = True, where: str = "lower right"):
    """Set the y limits to ``(lo, hi)`` and mark each point of ``(x, y)`` beyond them with a
    triangle on the edge (▼ below, ▲ above). Returns the number clipped; ``note=True`` writes
    ``k points beyond the axis (▼/▲)`` on the axes. Call once per plotted series; the note
    counts all calls on the axes."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    cur_lo, cur_hi = ax.get_ylim()
    lo_, hi_ = (cur_lo if lo is None else lo), (cur_hi if hi is None else hi)
    ax.set_ylim(lo_, hi_)
    n = 0
    for mask, edge, marker in ((y < lo_, lo_, "v"), (y > hi_, hi_, "^")):
        mask &= np.isfinite(y)
        if mask.any():
            ax.plot(x[mask], np.full(mask.sum(), edge), ls="", marker=marker, ms=4, color=color or "black",
                    clip_on=False, zorder=5)
            n += int(mask.sum())
    total = getattr(ax, "_clipped_count", 0) + n
    ax._clipped_count = total
    if note and total:
        old = getattr(ax, "_clipped_note", None)
        if old is not None:
            old.remove()
        xy = {"lower right": (0.98, 0.02, "right", "bottom"), "upper right": (0.98, 0.98, "right", "top"),
              "lower left": (0.02, 0.02, "left", "bottom"), "upper left": (0.02, 0.98, "left", "top")}[where]
        ax._clipped_note = ax.text(xy[0], xy[1], f"axis clipped: {total} point{'s' * (total > 1)} beyond (▼/▲)",
                                   transform=ax.transAxes, ha=xy[2], va=xy[3], fontsize=6, color="#444444")
    return n


def diverging_norm(values, *, limit: float | None = None, max_ratio: float = 2.0):
    """A colour normalization centred at 0 that covers ``values``: symmetric ``±max|v|`` (or
    ``±limit``), unless one side reaches more than ``max_ratio`` times further than the other
    — then each side gets its own extent (``TwoSlopeNorm``), so a map whose values run from
    -4.9 to +1 does not wash out its positive half; the colour bar shows the two scales."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if limit is not None or not v.size:
        lim = limit if limit is not None else 1.0
        return mpl.colors.Normalize(-lim, lim)
    lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
    neg, pos = -lo, hi
    top = max(neg, pos) or 1.0
    if min(neg, pos) > 0 and top / min(neg, pos) > max_ratio:
        return mpl.colors.TwoSlopeNorm(vcenter=0.0, vmin=-neg, vmax=pos)
    return mpl.colors.Normalize(-top, top)


def diverging_colorbar(fig, mappable, ax, label: str, **kw):
    """A colour bar whose ticks cover both sides of a :func:`diverging_norm` (a two-slope norm
    would otherwise tick one side only)."""
    bar = fig.colorbar(mappable, ax=ax, label=label, **kw)
    norm = mappable.norm
    if isinstance(norm, mpl.colors.TwoSlopeNorm):
        # ticks at the exact ends: a tick rounded past vmin/vmax blanks the whole bar
        ticks = np.unique(np.concatenate([np.linspace(norm.vmin, 0, 4), np.linspace(0, norm.vmax, 3)]))
        bar.set_ticks(ticks, labels=[f"{t:.2f}".replace("-", "\u2212") for t in ticks])
    return bar


def diverging_heatmap(ax, values, *, text=None, cmap: str = "RdBu", limit: float | None = None,
                      fontsize: float | None = None):
    """Draw a matrix with a diverging colour map centred at 0 whose limits cover the data
    (:func:`diverging_norm`: symmetric ``±max|v|``, or ``±limit``); ``text`` (a
    matrix of strings, or None) is written in each cell in black or white by the cell's
    luminance, at a size that fits the cell. NaN cells are left white with "n/a".
    Returns the image (for a colour bar)."""
    values = np.asarray(values, dtype=float)
    norm = diverging_norm(values, limit=limit)
    colormap = mpl.colormaps[cmap]
    image = ax.imshow(values, cmap=colormap, norm=norm, aspect="auto", interpolation="nearest")
    ax.grid(False)
    if text is not None:
        rows, cols = values.shape
        if fontsize is None:
            fig_w, fig_h = ax.figure.get_size_inches()
            pos = ax.get_position()
            cell_w = fig_w * pos.width / cols * 72  # points
            longest = max((max(len(s) for s in str(t).split("\n")) for t in np.ravel(text) if t), default=4)
            fontsize = float(np.clip(cell_w / (0.62 * longest), 4.5, 8))
        for i in range(rows):
            for j in range(cols):
                v = values[i, j]
                if not np.isfinite(v):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=fontsize, color=GREY)
                    continue
                r, g, b, _ = colormap(norm(v))
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=fontsize,
                        color="white" if dark else "black", linespacing=1.1)
    return image
