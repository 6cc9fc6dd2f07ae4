"""README regions drawn from the stored neural compare summaries (``docs/results/neural_*.csv``).

The neural runs take minutes to hours, so ``report --check`` does not rerun them; it checks
their stored summaries' checksums (registered in ``docs/results/manifest.json``) and that the
README regions equal what these renderers make of them. Every number shown is a mean over
seeds (PGR of the seed-mean accuracies) with a percentile-bootstrap 95% CI over 10 seeds,
paired by seed for differences, rounded to 2 decimals.
"""

from __future__ import annotations

import math

import pandas as pd

from bayes_w2s.harness.report_sections import _num as _section_num

__all__ = ["NEURAL_REGIONS", "ci", "render_headline", "render_compare"]


def _num(v: float, digits: int = 2, sign: bool = True) -> str:
    """:func:`~bayes_w2s.harness.report_sections` number format (``−``, ``—`` for NaN, no
    ``−0.00``), with an explicit ``+`` on non-negative values when ``sign``."""
    text = _section_num(float(v), digits)
    return "+" + text if sign and text[0].isdigit() else text


def ci(est: float, lo: float, hi: float) -> str:
    """``+0.02 [−0.01, +0.04]``; bold when the interval excludes 0."""
    text = f"{_num(est)} [{_num(lo)}, {_num(hi)}]"
    return f"**{text}**" if (lo > 0 or hi < 0) else text


def _sel(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):g}"


def render_headline(table: pd.DataFrame, source: str) -> str:
    """Per pair: VE (budget selected on the weak-labelled split) against the best selected
    regularized baseline and against xent (paired differences)."""
    lines = [f"*Rendered from `{source}`: means over 10 seeds, paired 95% bootstrap CIs, 2 decimals; "
             "**bold**: the CI excludes 0.*", "",
             "| pair | weak / ceiling | VE budget: median {per seed} | best selected regularized baseline (PGR) "
             "| VE − best reg. | VE − xent |", "|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.pair} | {r.acc_weak:.3f} / {r.acc_ceiling:.3f} | {_sel(r.ve_selected_median)} "
            f"{r.ve_selected_set} | `{r.best_reg}` ({_num(r.best_reg_pgr, sign=False)}) "
            f"| {ci(r.ve_minus_best_reg, r.lo, r.hi)} | {ci(r.ve_minus_xent, r.xent_lo, r.xent_hi)} |")
    return "\n".join(lines)


def render_compare(table: pd.DataFrame, source: str) -> str:
    """One pair's compare summary (``pgr.csv``): every recipe, its selected value, PGR and its
    paired differences from xent and from the best regularized baseline."""
    lines = [f"*Rendered from `{source}`: PGR of seed-mean accuracies over 10 seeds, 95% bootstrap CIs "
             "(paired by seed for differences), 2 decimals; ORACLE = best grid value on test, not a result.*",
             "", "| recipe | selected: median {per seed} | PGR | − xent | − best reg. | ORACLE |",
             "|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        d = getattr(r, "pgr_diff", float("nan"))
        lines.append(
            f"| `{r.method}` | {_sel(r.selected_median)} {r.selected_set if isinstance(r.selected_set, str) else ''} "
            f"| {ci(r.pgr, r.pgr_lo, r.pgr_hi)} "
            f"| {'—' if r.method == 'xent' else ci(d, r.diff_lo, r.diff_hi)} "
            f"| {'(best)' if r.method == r.best_reg else ci(r.pgr_diff_reg, r.diff_reg_lo, r.diff_reg_hi)} "
            f"| {_num(r.pgr_oracle)} |")
    return "\n".join(lines)


NEURAL_REGIONS = {
    "headline": ("neural_recipes_headline", render_headline),
    "l1_mpnet": ("neural_recipes_l1_mpnet", render_compare),
}
