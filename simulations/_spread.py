"""Spread over randomised worlds: mean, median and the 10-90% range of a value per group.

Every world experiment draws a new world (truth angle, pool, distractors) per replicate, so a
finding is a *distribution* over worlds. These helpers report it as

    mean, median, [q10, q90], n_defined / n

(NaN values, e.g. an undefined PGR where weak >= ceiling, are counted and left out of the
statistics, never silently averaged), and fit the least-squares line ``y = a + b x`` with its
Pearson ``r`` used to ask what a per-world quantity depends on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SPREAD_COLUMNS", "spread", "spread_table", "fmt_spread", "line_fit"]

SPREAD_COLUMNS = ("mean", "median", "q10", "q90", "n_defined", "n")


def spread(values) -> dict:
    """``{mean, median, q10, q90, n_defined, n}`` of the finite entries of ``values``."""
    v = np.asarray(values, dtype=float).ravel()
    ok = v[np.isfinite(v)]
    if ok.size == 0:
        return dict(mean=np.nan, median=np.nan, q10=np.nan, q90=np.nan, n_defined=0, n=int(v.size))
    q10, med, q90 = np.quantile(ok, [0.1, 0.5, 0.9])
    return dict(mean=float(ok.mean()), median=float(med), q10=float(q10), q90=float(q90),
                n_defined=int(ok.size), n=int(v.size))


def spread_table(df: pd.DataFrame, by, value: str = "value") -> pd.DataFrame:
    """:func:`spread` of ``df[value]`` per group ``by`` (groups in order of appearance)."""
    if value not in df:
        raise KeyError(f"value column {value!r} not in the table; columns: {list(df.columns)}")
    rows = {key: spread(sub[value]) for key, sub in df.groupby(by, sort=False)}
    out = pd.DataFrame.from_dict(rows, orient="index")[list(SPREAD_COLUMNS)]
    out.index = pd.MultiIndex.from_tuples(out.index, names=by) if isinstance(by, (list, tuple)) and len(by) > 1 \
        else pd.Index(out.index, name=by if isinstance(by, str) else by[0])
    return out


def fmt_spread(s: dict, digits: int = 2) -> str:
    """``mean +0.40, median +0.86, 10-90% [-0.56, +0.95] (n=10)``; undefined values counted."""
    if s["n_defined"] == 0:
        return f"undefined in all {s['n']} worlds"
    f = f"{{:+.{digits}f}}"
    text = (f"mean {f.format(s['mean'])}, median {f.format(s['median'])}, "
            f"10-90% [{f.format(s['q10'])}, {f.format(s['q90'])}]")
    n, n_defined = int(s["n"]), int(s["n_defined"])
    if n_defined < n:
        return text + f" (n={n_defined}; undefined in {n - n_defined} of {n})"
    return text + f" (n={n})"


def line_fit(x, y) -> dict:
    """Least squares ``y = intercept + slope x`` over finite pairs, with Pearson ``r`` and ``n``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0:
        return dict(slope=np.nan, intercept=np.nan, r=np.nan, n=int(x.size))
    slope, intercept = np.polyfit(x, y, 1)
    r = float(np.corrcoef(x, y)[0, 1]) if np.ptp(y) > 0 else np.nan
    return dict(slope=float(slope), intercept=float(intercept), r=r, n=int(x.size))
