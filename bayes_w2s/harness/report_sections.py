"""The README's simulation tables: which experiment each comes from, how its summary is
made and how it is rendered (used by :mod:`bayes_w2s.harness.report`).

A :class:`Section` names an experiment (run on its defaults), the keys its summary is
grouped by, whether ``report --check`` reruns it fresh (``fast``: seconds on 2 cores) and
its README regions, each a function ``summary -> markdown``. Every rendered table starts
with a line saying which statistic it shows (mean, median, 10% and 90% quantiles over
worlds), where (the largest N) and how it is rounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayes_w2s.harness.report import summarize_runs

__all__ = ["Section", "SECTIONS", "SECTIONS_BY_REGION", "fmt_cell", "table"]

STAT_WORDS = {
    "mean": "mean",
    "median": "median",
    "mean_q": "mean [10%, 90%]",
    "median_q": "median [10%, 90%]",
    "mean_median_q": "mean, median [10%, 90%]",
    "range": "[minimum, maximum]",
}


def _num(v: float, digits: int) -> str:
    if np.isposinf(v):
        return "∞"
    if np.isnan(v):
        return "—"
    text = f"{v:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # -0.00 reads as 0.00
    return text.replace("-", "−")


def fmt_cell(row: pd.Series, fmt: str, digits: int) -> str:
    """One summary row as text: ``fmt`` in :data:`STAT_WORDS`; ``(k/R)`` appended when the
    value is defined in only ``k`` of ``R`` worlds, ``undefined`` when in none."""
    if row["count"] == 0 and not np.isposinf(row["mean"]):
        return f"undefined (0/{row['n_worlds']})"
    n = lambda s: _num(float(row[s]), digits)  # noqa: E731
    q = f"[{n('q10')}, {n('q90')}]"
    text = {"mean": n("mean"), "median": n("median"), "range": f"[{n('min')}, {n('max')}]", "mean_q": f"{n('mean')} {q}",
            "median_q": f"{n('median')} {q}", "mean_median_q": f"{n('mean')}, {n('median')} {q}"}[fmt]
    if 0 < row["count"] < row["n_worlds"]:
        text += f" ({row['count']}/{row['n_worlds']})"
    return text


def _pick(summary: pd.DataFrame, where: Mapping) -> pd.DataFrame:
    mask = np.ones(len(summary), bool)
    for key, value in where.items():
        col = summary[key]
        mask &= np.isclose(col.astype(float), float(value)) if isinstance(value, (int, float)) and not isinstance(
            value, bool) else (col.astype(str) == str(value)).to_numpy()
    return summary[mask]


def table(summary: pd.DataFrame, row_keys: list[str], columns: list[tuple[str, dict]], *, fmt: str,
          digits: int, caption: str, where: Mapping | None = None, row_header: str | None = None) -> str:
    """Markdown table: one row per distinct ``row_keys`` value (order of appearance), one
    column per ``(header, filter)``; each cell is the single summary row matching the row,
    the column filter and ``where``, formatted by :func:`fmt_cell`."""
    base = _pick(summary, where or {})
    labels = base[row_keys].drop_duplicates()
    head = "| " + (row_header or ", ".join(row_keys)) + " | " + " | ".join(h for h, _ in columns) + " |"
    lines = [f"*{caption}*", "", head, "|---" * (len(columns) + 1) + "|"]
    for _, lab in labels.iterrows():
        cells = []
        for _, col in columns:
            col = dict(col)
            places = col.pop("digits", digits)
            hit = _pick(base, {**dict(zip(row_keys, lab)), **col})
            if len(hit) > 1:
                raise ValueError(f"ambiguous cell {dict(lab)} {col}: {len(hit)} rows")
            cells.append(fmt_cell(hit.iloc[0], fmt, places) if len(hit) else "—")
        lines.append("| " + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in lab)
                     + " | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _values(summary: pd.DataFrame, key: str, **where) -> list:
    return list(dict.fromkeys(_pick(summary, where)[key]))


def _worlds(summary: pd.DataFrame) -> int:
    return int(summary["n_worlds"].max())


def _caption(what: str, fmt: str, summary: pd.DataFrame, digits: int, extra: str = "") -> str:
    at = f" at N = {int(summary['n'].max()):,}" if "n" in summary else ""
    return (f"{what}: {STAT_WORDS[fmt]} over {_worlds(summary)} worlds{at}; rounded to {digits} decimals"
            f"{extra}. (k/R): defined in only k of R worlds.")


@dataclass(frozen=True)
class Section:
    """One experiment's summary and the README regions drawn from it."""

    experiment: str
    keys: tuple[str, ...]
    fast: bool
    regions: Mapping[str, Callable[[pd.DataFrame], str]]
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    last_n: bool = True
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = field(default=None)
    metrics: tuple[str, ...] | None = None  # keep only these metrics in the summary

    def summarize(self, df: pd.DataFrame) -> pd.DataFrame:
        """The stored summary of one run's table (:func:`~bayes_w2s.harness.report.summarize_runs`)."""
        if self.prepare is not None:
            df = self.prepare(df)
        if self.derive is not None:
            df = pd.concat([df, self.derive(df)], ignore_index=True)
        if self.metrics is not None:
            df = df[df.metric.isin(self.metrics)]
        return summarize_runs(df, self.keys, last_n=self.last_n)


# --------------------------------------------------------------------------- coinflip


def _coinflip_derive(df: pd.DataFrame) -> pd.DataFrame:
    from bayes_w2s.simulations.coinflip import lead_changes

    last = df.n.max()
    swings = lead_changes(df).rename("value").reset_index()
    sd = df[(df.strong == "B") & (df.metric == "post_sd") & (df.n == last)]
    return pd.concat([
        swings.assign(strong="A", n=last, metric="lead_changes"),
        sd.assign(metric="sd_x_2sqrtn", value=sd.value * 2 * np.sqrt(last)),
    ], ignore_index=True)


def _coinflip(s: pd.DataFrame) -> str:
    cols = [("A: lead changes after n = 100", dict(strong="A", metric="lead_changes", digits=1)),
            ("A: mass on the heads coin", dict(strong="A", metric="mass_heads")),
            ("B: mass within 0.02 of the fair coin", dict(strong="B", metric="mass_fair")),
            ("B: posterior sd × 2√n", dict(strong="B", metric="sd_x_2sqrtn", digits=2))]
    table_ = table(s, ["rule"], cols, fmt="mean_median_q", digits=3, row_header="rule",
                   caption=_caption("Coin flips", "mean_median_q", s, 3, " (lead changes: 1 decimal, a count "
                                    "of log-spaced checkpoints at which the favoured coin changed; sd: 2)"))
    bounded = [r for r in _values(s, "rule") if "pseries" in r or "budget" in r or "geometric" in r]
    totals = "; ".join(f"{r}: T = {_num(float(_pick(s, dict(rule=r, strong='B', metric='bound')).iloc[0]['max']), 3)}"
                       for r in bounded)
    return table_ + f"\n\nCertified total strength of the bounded rule ({totals}; 3 decimals)."


# --------------------------------------------------------------------------- worlds


def _by(key: str, metric: str, **where):
    """Columns: one per value of ``key`` (order of appearance), metric fixed."""
    def make(s):
        return [(str(v), {key: v, "metric": metric, **where}) for v in _values(s, key, metric=metric, **where)]
    return make


def _misspecification(s: pd.DataFrame) -> str:
    cols = _by("prior", "pgr")(s)
    return table(s, ["rule"], cols, fmt="mean_q", digits=2, row_header="rule \\ prior's truth-like concept",
                 caption=_caption("PGR", "mean_q", s, 2))


def _mimicry_limit(s: pd.DataFrame) -> str:
    cols = _by("strong", "pgr")(s)
    return table(s, ["rule"], cols, fmt="mean_median_q", digits=2, row_header="rule \\ strong space",
                 caption=_caption("PGR", "mean_median_q", s, 2))


def _typos(s: pd.DataFrame) -> str:
    cols = [(f"rate {v:g}", {"rate": v, "metric": "pgr"}) for v in _values(s, "rate")]
    return table(s, ["case", "rule"], cols, fmt="median_q", digits=2, row_header="case, rule",
                 caption=_caption("PGR", "median_q", s, 2))


def _deception(s: pd.DataFrame) -> str:
    cols = [(f"f = {v:g}", {"audited_fraction": v, "metric": "deceptive_mass"})
            for v in _values(s, "audited_fraction")]
    prior = 0.1
    return table(s, ["rule"], cols, fmt="mean_q", digits=2, where={"prior_deceptive": prior},
                 row_header=f"rule \\ audited fraction (π_d = {prior:g})",
                 caption=_caption("Deceptive posterior mass", "mean_q", s, 2))


def _reward_model(s: pd.DataFrame) -> str:
    cols = [("PGR, preferences", dict(read="preference", metric="pgr")),
            ("PGR, classification", dict(read="classification", metric="pgr")),
            ("mass on weak hypotheses, preferences", dict(read="preference", metric="mimic_mass"))]
    return table(s, ["strong", "rule"], cols, fmt="mean_median_q", digits=2, row_header="strong space, rule",
                 caption=_caption("Reward models", "mean_median_q", s, 2))


def _bootstrap(s: pd.DataFrame) -> str:
    cols = [(str(r), {"rule": r, "metric": "pgr"}) for r in _values(s, "rule")]
    return table(s, ["strong", "path"], cols, fmt="mean_median_q", digits=2, row_header="strong class, path",
                 caption=_caption("PGR", "mean_median_q", s, 2))


def _gap_sweep(s: pd.DataFrame) -> str:
    angles = _values(s, "weak_angles")
    acc = table(s, ["metric"], [(f"{a} angles", {"weak_angles": a}) for a in angles], fmt="mean_q", digits=2,
                where={"metric": "acc_weak", "rule": "hard Bayes", "strong": _values(s, "strong")[0]},
                row_header="weak model's capability (angles)", caption=_caption("Weak accuracy", "mean_q", s, 2))
    out = [acc]
    for contained, what in ((True, "representable by the strong class"), (False, "not representable")):
        present = _values(s, "weak_angles", contained=contained, metric="pgr")
        cols = [(f"{a} angles", {"weak_angles": a, "metric": "pgr"}) for a in present]
        out.append(table(s, ["strong", "rule"], cols, fmt="median_q", digits=2, where={"contained": contained},
                         row_header="strong space, rule", caption=_caption(f"PGR, weak model {what}", "median_q", s, 2)))
    return "\n\n".join(out)


def _budget_tradeoff(s: pd.DataFrame) -> str:
    kappas = [k for k in _values(s, "kappa") if any(np.isclose(k, (100, 316.23, 1000), rtol=1e-3))]
    cols = [(f"{p}, κ = {k:g}", {"prior": p, "kappa": k, "metric": "pgr"})
            for p in _values(s, "prior") for k in kappas]
    return table(s, ["budget"], cols, fmt="mean", digits=2, where={"kind": "ve"},
                 row_header="VE budget B \\ truth in prior, κ",
                 caption=_caption("PGR of budget VE", "mean", s, 2))


def _misfit_prepare(df: pd.DataFrame) -> pd.DataFrame:
    kind = df.class_kind + np.where(df.radius_factor.notna(), " r×" + df.radius_factor.astype(str), "")
    out = pd.DataFrame({"class": kind, "replicate": df.replicate})
    metrics = {"gain − misfit (train)": df.gain - df.misfit,
               "held-out gain − misfit": df.gain_test - df.misfit}
    return pd.concat([out.assign(metric=k, value=v.to_numpy()) for k, v in metrics.items()], ignore_index=True)


def _misfit(s: pd.DataFrame) -> str:
    cols = [("gain − misfit on the training points", {"metric": "gain − misfit (train)"})]
    left = table(s, ["class"], cols, fmt="range", digits=4, row_header="strong class",
                 caption=f"Misfit: [minimum, maximum] over {_worlds(s)} (replicate, weak dimension) pairs; "
                         "rounded to 4 decimals.")
    right = table(s, ["class"], [("held-out gain − misfit", {"metric": "held-out gain − misfit"})],
                  fmt="mean_median_q", digits=4, row_header="strong class",
                  caption=_caption("Held-out", "mean_median_q", s, 4).replace("worlds", "(replicate, weak "
                                                                               "dimension) pairs"))
    return left + "\n\n" + right


def _pymc_prepare(df: pd.DataFrame) -> pd.DataFrame:
    m = df[df.row_type == "metric"]
    return pd.DataFrame({"schedule": m.schedule, "replicate": m.seed, "metric": m.metric, "value": m.value})


def _pymc_student(s: pd.DataFrame) -> str:
    cols = [("accuracy", {"metric": "accuracy"}), ("PGR", {"metric": "pgr"}),
            ("agreement with weak", {"metric": "agree_weak"}),
            ("agreement with weak where it is wrong", {"metric": "agree_weak_when_wrong"}),
            ("max R-hat", {"metric": "chain_max_rhat"})]
    return table(s, ["schedule"], cols, fmt="mean", digits=3, row_header="student (NUTS) or reference",
                 caption="PyMC student: ONE world (seed 0), no spread over worlds; posterior-predictive metrics "
                         "on fresh test inputs; rounded to 3 decimals. — : undefined (PGR of the references).")


SECTIONS: tuple[Section, ...] = (
    Section("coinflip", ("strong", "rule"), True, {"coinflip": _coinflip}, derive=_coinflip_derive),
    Section("misspecification", ("prior", "rule"), True, {"misspecification": _misspecification}),
    Section("mimicry_limit", ("strong", "rule"), False, {"mimicry_limit": _mimicry_limit}),
    Section("budget_tradeoff", ("prior", "kind", "budget", "kappa"), False, {"budget_tradeoff": _budget_tradeoff},
            metrics=("pgr",)),
    Section("bootstrap", ("strong", "path", "rule"), False, {"bootstrap": _bootstrap}),
    Section("gap_sweep", ("weak_angles", "strong", "contained", "rule"), False, {"gap_sweep": _gap_sweep}),
    Section("typos", ("case", "rate", "rule"), False, {"typos": _typos}),
    Section("misfit", ("class",), True, {"misfit": _misfit}, prepare=_misfit_prepare, last_n=False),
    Section("reward_model", ("read", "strong", "rule"), True, {"reward_model": _reward_model}),
    Section("pymc_student", ("schedule",), False, {"pymc_student": _pymc_student}, prepare=_pymc_prepare,
            last_n=False, metrics=("accuracy", "pgr", "agree_weak", "agree_weak_when_wrong", "chain_max_rhat")),
    Section("deception", ("audited_fraction", "prior_deceptive", "rule"), True, {"deception": _deception},
            metrics=("deceptive_mass", "truth_mass", "pgr")),
)
SECTIONS_BY_REGION = {region: (s, fn) for s in SECTIONS for region, fn in s.regions.items()}
