"""One figure style for every experiment: rc settings, fixed colours per rule, drawing helpers.

Imported lazily (it imports matplotlib); the library core never imports it at module level.
Plot functions take ``ax=`` and only read tidy tables (and the run's config, which
:func:`bayes_w2s.harness.runs.draw_figures` attaches as ``df.attrs["config"]``); the helpers
here aggregate the replicates stored in the table, they never simulate.

The rules a figure follows (issue 17, item 6):

* **Colour-blind-safe colours, fixed per name.** The Okabe–Ito palette (Okabe & Ito 2008)
  without its yellow, plus grey; :func:`rule_style` gives every update rule / neural method
  family one colour and one marker everywhere (hard Bayes and xent black, tempered orange,
  constant VE sky blue, budget VE blue, p-series VE vermillion, geometric VE green, ...).
* **Readable at column width.** Fonts of 7–8 pt on figures 3.5 in wide (one column) or at
  most 7.2 in (two columns), so a figure printed at its size needs no zoom.
* **Vector output.** ``save_figure`` writes PDF next to PNG.
* **Legends off the data**: :func:`legend_outside` puts one legend for the whole figure outside
  the axes (constrained layout reserves the room).
* **Spread without mud**: never several translucent 10–90% bands stacked on one axes. Either
  :func:`small_multiples` (one panel per rule: its band, mean and median; the other rules'
  means as thin grey context), or :func:`lines_with_whiskers` (distinct lines with markers, 10–90%
  whiskers at a few x positions, dodged).
* **No silent clipping**: :func:`clip_y` sets limits and marks every point outside them with a
  triangle at the edge, with a note on the axes saying how many points and where.
* **Heatmaps**: :func:`diverging_heatmap` centres a diverging map at 0 with symmetric limits
  covering the data, and sizes / colours the cell text to stay inside its cell and readable.
* **Titles name the setting**: :func:`setting_title` joins N, worlds, κ, prior, pair, dataset
  as they are known from the table and its config.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = [
    "OKABE_ITO", "PALETTE", "RC", "COLUMN_WIDTH", "PAGE_WIDTH", "context", "new_axes", "new_grid",
    "rule_style", "color_of", "category_colors", "ordinal_styles", "line_with_band", "small_multiples",
    "lines_with_whiskers", "near_decades", "clip_note", "legend_outside", "clip_y", "diverging_norm", "diverging_colorbar", "diverging_heatmap", "setting_title", "neural_title",
    "config_of", "reference_lines",
]

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Yellow (#F0E442) is left out of lines: too pale on white.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}
GREY = "#7F7F7F"
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", GREY)

COLUMN_WIDTH = 3.5  # inches: one column of a two-column paper
PAGE_WIDTH = 7.2  # inches: the full text width

RC = {
    "figure.figsize": (COLUMN_WIDTH, 2.6),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "axes.titlepad": 4,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 7,
    "legend.handlelength": 2.2,
    "font.size": 8,
    "figure.titlesize": 8.5,
    "lines.linewidth": 1.3,
    "lines.markersize": 3.5,
    "errorbar.capsize": 1.5,
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by publishers
    "svg.fonttype": "none",
    "mathtext.default": "regular",
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
}

# Families of rules / methods, matched by label prefix (case-insensitive), most specific first.
_FAMILIES: tuple[tuple[str, dict], ...] = (
    ("predicted", dict(color=GREY, marker="", ls=(0, (4, 2)))),
    ("ceiling", dict(color=GREY, marker="", ls=":")),
    ("hard bayes", dict(color="#000000", marker="o")),
    ("hard", dict(color="#000000", marker="o")),
    ("bayes", dict(color="#000000", marker="o")),
    ("xent", dict(color="#000000", marker="o")),
    ("tempered", dict(color="#E69F00", marker="s")),
    ("ve const", dict(color="#56B4E9", marker="^")),
    ("ve constant", dict(color="#56B4E9", marker="^")),
    ("ve budget", dict(color="#0072B2", marker="D")),
    ("ve+budget", dict(color="#0072B2", marker="D")),
    ("ve pseries", dict(color="#D55E00", marker="v")),
    ("ve+pseries", dict(color="#D55E00", marker="v")),
    ("ve geometric", dict(color="#009E73", marker="P")),
    ("ve+geometric", dict(color="#009E73", marker="P")),
    ("ve coarsened", dict(color="#CC79A7", marker="X")),
    ("ve+coarsened", dict(color="#CC79A7", marker="X")),
    ("ve confidence", dict(color="#882255", marker="*")),
    ("ve+confidence", dict(color="#882255", marker="*")),
    ("logconf", dict(color="#E69F00", marker="s")),
    ("product", dict(color="#56B4E9", marker="^")),
    ("centroid", dict(color="#009E73", marker="P")),
    ("weak", dict(color=GREY, marker="x")),
    ("prior", dict(color="#BBBBBB", marker="+")),
)
_FALLBACK = ("#332288", "#117733", "#44AA99", "#88CCEE", "#AA4499", "#661100", "#999933", "#6699CC")
_FALLBACK_MARKERS = ("h", "p", "<", ">", "d", "8", "H", "1")


def rule_style(name: str) -> dict:
    """``{"color", "marker", "ls"}`` of a rule or method label, the same in every figure.

    Known families are matched by prefix (``"VE budget(budget=100)"`` -> budget VE blue);
    VE rules of one family differing only in parameters share the colour. Any other name gets
    a colour and marker from Paul Tol's muted palette keyed by a hash of the name, so it is
    stable across figures and runs.
    """
    key = str(name).strip().lower()
    for prefix, style in _FAMILIES:
        if key.startswith(prefix):
            return {"ls": "-", **style}
    h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return {"color": _FALLBACK[h % len(_FALLBACK)], "marker": _FALLBACK_MARKERS[(h // 8) % 8], "ls": "-"}


def color_of(name: str) -> str:
    """The colour of a rule or method label (:func:`rule_style`)."""
    return rule_style(name)["color"]


def ordinal_styles(values: Iterable) -> dict:
    """``{value: {"color", "marker", "ls"}}`` for an ordered variable (kappa, a rate): viridis
    from dark to light-green (yellow left out), one marker each."""
    values = list(dict.fromkeys(values))
    cmap = mpl.colormaps["viridis"]
    markers = ("o", "s", "^", "D", "v", "P", "X", "*")
    return {v: {"color": mpl.colors.to_hex(cmap(0.85 * i / max(len(values) - 1, 1))), "marker": markers[i % 8],
                "ls": "-"} for i, v in enumerate(values)}


def category_colors(names: Iterable) -> dict:
    """Colours for a categorical variable that is not a rule (reads, paths, strong spaces):
    :data:`PALETTE` in order of first appearance."""
    names = list(dict.fromkeys(names))
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def context():
    """``with style.context(): ...`` applies the house rc settings."""
    return mpl.rc_context(RC)


def new_axes(ax=None, **subplots_kw):
    """Return ``(fig, ax)``: the given axes and its figure, or a fresh figure in house style
    (constrained layout; default size one column, 3.5 x 2.6 in)."""
    if ax is not None:
        return (np.atleast_1d(ax).flat[0].figure, ax)
    with context():
        fig, ax = plt.subplots(**{"layout": "constrained", **subplots_kw})
    return fig, ax


def new_grid(ax, nrows: int, ncols: int, *, width: float | None = None, height: float = 1.9, **kw):
    """``(fig, axes)`` with ``axes`` a ``(nrows, ncols)`` array: the given axes (any shape with
    that many) or a fresh figure ``width`` (default: page width for more than one column)
    by ``height`` inches per row."""
    if ax is not None:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size != nrows * ncols:
            raise ValueError(f"pass {nrows * ncols} axes ({nrows} x {ncols}), got {axes.size}")
        return axes[0].figure, axes.reshape(nrows, ncols)
    width = width or (COLUMN_WIDTH if ncols == 1 else PAGE_WIDTH)
    with context():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows + 0.5), squeeze=False,
                                 **{"layout": "constrained", **kw})
    return fig, axes


def config_of(df: pd.DataFrame) -> dict:
    """The run's config attached by ``draw_figures`` (``df.attrs["config"]``), or ``{}``."""
    cfg = getattr(df, "attrs", {}).get("config")
    return dict(cfg) if isinstance(cfg, Mapping) else {}


def _fmt_number(v) -> str:
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
        v = int(v)
        if v >= 10_000 and v == 10 ** round(math.log10(v)):
            return f"$10^{{{round(math.log10(v))}}}$"
        return f"{v:,}".replace(",", "\u2009")  # thin space as thousands separator
    return f"{v:g}"


def setting_title(*parts, wrap: bool = False, **named) -> str:
    """Join the known parts of a setting, skipping ``None``: ``setting_title("misspecification",
    N=10000, worlds=20, kappa=400)`` -> ``misspecification: N = 10⁴, 20 worlds, κ = 400``.

    Named parts: ``N``/``n`` (number of weak labels), ``worlds``, ``replicates``, ``kappa``,
    ``eps`` and anything else as ``key = value``. ``wrap=True`` breaks the line after the
    colon (single-column figures).
    """
    bits = []
    symbols = {"kappa": r"$\kappa$", "beta": r"$\beta$", "eps": r"$\varepsilon$", "eps_weak": r"$\varepsilon_w$", "n": "n", "N": "N"}
    for key, value in named.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            text = ", ".join(_fmt_number(v) if isinstance(v, (int, float, np.number)) else str(v) for v in value)
        else:
            text = _fmt_number(value) if isinstance(value, (int, float, np.number)) else str(value)
        if key in ("worlds", "replicates", "seeds"):
            bits.append(f"{text} {key}")
        else:
            bits.append(f"{symbols.get(key, key)} = {text}")
    head = ", ".join(str(p) for p in parts if p)
    tail = ", ".join(bits)
    return f"{head}:{chr(10) if wrap else ' '}{tail}" if head and tail else head or tail


def neural_title(what: str, config: Mapping, n_seeds: int | None = None, wrap: bool = False) -> str:
    """Title of a neural figure naming the setting: ``what: minilm-l0 → minilm, rotten_tomatoes,
    N_weak-label = 4 000, 10 seeds`` from a run's ``config.json`` config (missing keys are skipped)."""
    cfg = dict(config or {})
    if isinstance(cfg.get("base"), Mapping):  # a compare / sweep config wraps the pipeline config
        cfg = {**cfg, **cfg["base"]}
    pair = f"{cfg['weak']} → {cfg['strong']}" if cfg.get("weak") and cfg.get("strong") else None
    bits = [b for b in (pair, cfg.get("dataset")) if b]
    if cfg.get("n_weak_label"):
        bits.append(f"{_fmt_number(cfg['n_weak_label'])} weak labels")
    if n_seeds:
        bits.append(f"{n_seeds} seed{'s' * (n_seeds > 1)}")
    return f"{what}:{chr(10) if wrap else ' '}{', '.join(bits)}" if bits else what


def reference_lines(ax, ys=(0.0, 1.0)) -> None:
    """Thin dotted grey horizontal lines (PGR 0 = mimicry, 1 = gap recovered)."""
    for y in ys:
        ax.axhline(y, color=GREY, lw=0.6, ls=":", zorder=0)


def legend_outside(fig, handles=None, labels=None, *, loc: str = "outside right upper", ncols: int = 1,
                   title: str | None = None, axes=None):
    """One legend for the figure, outside every axes (constrained layout makes room).

    ``handles`` default to the unique labelled artists of ``axes`` (default: all axes).
    ``loc`` is one of matplotlib's ``"outside ..."`` locations.
    """
    if handles is None:
        seen: dict = {}
        for a in (axes if axes is not None else fig.axes):
            for h, lab in zip(*a.get_legend_handles_labels()):
                if not lab.startswith("_"):
                    seen.setdefault(lab, h)
        handles, labels = list(seen.values()), list(seen)
    elif labels is None:
        labels = [h.get_label() for h in handles]
    if not handles:
        return None
    return fig.legend(handles, labels, loc=loc, ncols=ncols, title=title, title_fontsize=7, fontsize=7,
                      frameon=False)


# the drawing helpers live in their own module (one concept per module); imported last, since
# they use the colours defined above
from bayes_w2s.harness.drawing import (  # noqa: E402
    clip_note,
    clip_y,
    diverging_colorbar,
    diverging_heatmap,
    diverging_norm,
    line_with_band,
    lines_with_whiskers,
    near_decades,
    small_multiples,
)
