"""Misspecification map: PGR per update rule as the pretrained prior moves away from the truth.

Same world as :mod:`~bayes_w2s.simulations.mimicry_limit`, strong space *containing* the weak
model's hypotheses (halfspaces plus every grid labeler, so the weak errors can be mimicked),
the truth's angle drawn at random per world. The pretrained prior
``log pi(h) = -kappa * min_j (rho(h, c_j) - rho_j)`` is centred on the distractor concepts
and one *truth-like* concept: the truth rotated by ``d`` degrees for each ``d`` in
``misspec_degs`` (``d = 0``: the prior already holds the answer), and, with
``include_absent``, no truth-like concept at all (``truth absent``). Within a replicate the
pool, the truth, the distractors, the weak model and the weak labels are shared by every
condition, so conditions and rules are compared on paired worlds.

What the model predicts (the Gibbs form of every rule, :mod:`bayes_w2s.toys.w2s`):
``log post(h) = log pi(h) + G agree(h)`` with ``G`` the summed match weight. A bounded rule
with a small total (``G`` well below ``kappa``) can only *select* among the prior's
concepts, so it recovers the gap exactly when the best concept is the truth: as ``d`` grows
its PGR falls towards that of the rotated concept's accuracy, below 0 once that concept is
worse than the weak model. Hard Bayes does not depend on the prior for large N (it reaches
the weak model's mimic, PGR ~ 0, past ``N* = kappa / ((1 - 2 eps_w) log 9)``) and for small
N it inherits the prior. The map measures where each rule wins and loses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import RulesConfig, rules_for, spread_stats, with_prior

from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr
from bayes_w2s.toys.w2s import selected_concept, train_weak, weak_to_strong
from bayes_w2s.toys.worlds import grid_labelers, halfspaces
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "summarize", "FIGURES", "conditions", "ABSENT", "SELECTION"]

ABSENT = "truth absent"
SELECTION = "predicted: concept selection"
METRICS = ("pgr", "acc_w2s", "acc_weak", "acc_ceiling", "agree_weak_err")


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run misspecification --field value``.

    ``prior_misspec_deg`` and ``truth_in_prior`` of the world are swept here (``misspec_degs``,
    ``include_absent``) and must keep their defaults.
    """

    replicates: int = 20
    ns: tuple[int, ...] = (100, 1_000, 10_000)
    misspec_degs: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, 45.0, 60.0)
    include_absent: bool = True
    grid_cells: int = 3
    strong_angles: int = 72
    kappa: float = 400.0
    bounded_schedules: str = "budget:budget=100;pseries:c=100,p=2"
    min_gap: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.prior_misspec_deg != 0.0 or not self.truth_in_prior:
            raise ValueError("misspecification sweeps the prior itself: set misspec_degs / include_absent, "
                             f"not prior_misspec_deg={self.prior_misspec_deg!r} / truth_in_prior={self.truth_in_prior!r}")
        ns = tuple(self.ns)
        if not ns or any(isinstance(n, bool) or int(n) != n or n < 1 for n in ns) or len(set(ns)) != len(ns):
            raise ValueError(f"ns must be distinct positive integers, got {self.ns!r}")
        degs = tuple(self.misspec_degs)
        if not degs and not self.include_absent:
            raise ValueError("nothing to sweep: give misspec_degs or include_absent=True")
        if any(not np.isfinite(d) or d < 0 for d in degs) or len(set(degs)) != len(degs):
            raise ValueError(f"misspec_degs must be distinct finite angles >= 0, got {self.misspec_degs!r}")
        if self.include_absent and self.n_distractors < 1:
            raise ValueError("include_absent needs n_distractors >= 1 (the prior needs some concept)")
        if not 1 <= self.grid_cells <= 3:
            raise ValueError(f"grid_cells must be 1, 2 or 3, got {self.grid_cells}")
        if self.strong_angles < 1:
            raise ValueError(f"strong_angles must be >= 1, got {self.strong_angles}")
        if not 0 <= self.min_gap < 1:
            raise ValueError(f"min_gap must lie in [0, 1), got {self.min_gap!r}")
        if not np.isfinite(self.kappa) or self.kappa < 0:
            raise ValueError(f"kappa must be finite and >= 0, got {self.kappa}")


def conditions(cfg: Config) -> list[tuple[str, float, bool]]:
    """``(name, misspec_deg, truth_in_prior)`` per prior: each rotation, then the truth absent (deg NaN)."""
    out = [(f"{d:g} deg", float(d), True) for d in sorted(cfg.misspec_degs)]
    if cfg.include_absent:
        out.append((ABSENT, float("nan"), False))
    return out


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(prior, misspec_deg, truth_in_prior, rule, replicate, n, metric, value)``.

    ``prior`` names the condition (``"25 deg"`` or ``"truth absent"``; ``misspec_deg`` is NaN
    for the latter). Metrics: ``pgr``, ``acc_w2s``, ``acc_weak``, ``acc_ceiling`` (hard Bayes
    on ground truth under the same prior), ``agree_weak_err`` (see :func:`bayes_w2s.toys.w2s.score_fit`).
    PGR is NaN in a world where the ceiling beats the weak model by less than ``min_gap``
    (a misspecified prior can hold the ceiling itself below the weak model at small N; PGR
    would then divide by almost nothing).
    """
    rules = rules_for(cfg)
    frames = []
    for rep in progress(range(cfg.replicates), desc="misspecification", unit="world"):
        grid = weak = strong = None
        for name, deg, inside in conditions(cfg):
            world = with_prior(cfg, deg, inside).world(rep)  # same pool, truth and distractors for every condition
            if weak is None:  # the pool and truth, hence these, are the same in every condition: build them once
                grid = grid_labelers(world.pool.points, cfg.grid_cells)
                weak = train_weak(world, grid, cfg.eps_weak)
                strong = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets).union(grid)
            stream_rng = np.random.default_rng([cfg.seed, rep, 1])  # same weak labels in every condition
            log_prior = world.strong_prior(strong, cfg.kappa)
            df, _ = weak_to_strong(world, weak, strong, log_prior, cfg.eps_strong,
                                   rules, list(cfg.ns), stream_rng, mode=cfg.weak_labels)
            df = df[df.metric.isin(METRICS)]
            ref = df[df.rule == rules[0].label].pivot_table(index="n", columns="metric", values="value")
            df = pd.concat([df, _selection_rows(ref, world, weak, strong, log_prior)], ignore_index=True)
            small = ref.index[(ref.acc_ceiling - ref.acc_weak < cfg.min_gap).to_numpy()]
            df.loc[(df.metric == "pgr") & df.n.isin(small), "value"] = np.nan
            frames.append(df.assign(prior=name, misspec_deg=deg, truth_in_prior=inside, replicate=rep))
    cols = ["prior", "misspec_deg", "truth_in_prior", "rule", "replicate", "n", "metric", "value"]
    return pd.concat(frames, ignore_index=True)[cols]


def _selection_rows(ref, world, weak, strong, log_prior) -> pd.DataFrame:
    """Rows of the rule ``SELECTION``: the test accuracy and PGR of the hypothesis a small
    budget is predicted to pick (:func:`bayes_w2s.toys.w2s.selected_concept`, agreement with the
    weak predictive on the ``train`` inputs), against the same weak model and ceiling.
    ``ref``: the first rule's metrics pivoted to one row per N; ``log_prior``: the strong prior."""
    h = selected_concept(strong, log_prior, weak, world.pool["train"])
    test = world.pool["test"]
    acc = float(np.mean(strong.labels[h, test] == world.truth[test]))
    with warnings.catch_warnings():  # NaN where the ceiling does not beat the weak model, as in score_fit
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        gain = pgr(ref.acc_weak.to_numpy(), acc, ref.acc_ceiling.to_numpy())
    rows = [{"rule": SELECTION, "n": n, "metric": "acc_w2s", "value": acc} for n in ref.index]
    rows += [{"rule": SELECTION, "n": n, "metric": "pgr", "value": float(g)} for n, g in zip(ref.index, gain)]
    return pd.DataFrame(rows)


def _order(df: pd.DataFrame) -> list[str]:
    """Condition names in sweep order: rotations by angle, then the truth absent."""
    rot = df[df.truth_in_prior.astype(bool)].drop_duplicates("prior").sort_values("misspec_deg").prior.tolist()
    return rot + ([ABSENT] if (~df.truth_in_prior.astype(bool)).any() else [])


def spread_table(df: pd.DataFrame, metric: str = "pgr") -> pd.DataFrame:
    """Mean, median, 10% and 90% quantiles over worlds of ``metric`` per (n, prior, rule)."""
    sub = df[df.metric == metric]
    rows = []
    for (n, prior, rule), g in sub.groupby(["n", "prior", "rule"], sort=False):
        rows.append({"n": n, "prior": prior, "rule": rule, **spread_stats(g.value)})
    return pd.DataFrame(rows)


def winners(df: pd.DataFrame, tie: float = 0.02) -> pd.DataFrame:
    """Per (n, prior): the rules whose mean PGR is within ``tie`` of the highest (``;``-joined),
    that mean, and the rule with the lowest; the reference row ``SELECTION`` is left out."""
    tab = spread_table(df[df.rule != SELECTION])
    tab = tab[np.isfinite(tab["mean"])]
    rows = []
    for (n, prior), g in tab.groupby(["n", "prior"], sort=False):
        top = g["mean"].max()
        worst = g.loc[g["mean"].idxmin()]
        rows.append({"n": n, "prior": prior, "rule_best": "; ".join(g.rule[g["mean"] >= top - tie]),
                     "mean_best": top, "rule_worst": worst.rule, "mean_worst": worst["mean"]})
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """PGR mean, median [10%, 90%] over worlds per N, prior and rule; the best and worst rule per cell."""
    from bayes_w2s.simulations.mimicry_limit import crossing_n

    tab = spread_table(df)
    order = _order(df)
    lines = [
        f"misspecification: {cfg.replicates} worlds (random truth angle), kappa={cfg.kappa:g}, strong space "
        f"contains the weak model; hard-Bayes mimicry predicted past N* = {crossing_n(cfg):.0f}",
        "PGR per prior (truth-like concept rotated by d degrees, or absent): mean, median [10%, 90%] over worlds",
        f"((k/R): PGR defined in only k of R worlds; elsewhere the ceiling beat the weak model by < {cfg.min_gap:g})",
    ]
    for n in sorted(tab.n.unique()):
        sub = tab[tab.n == n]
        cell = (sub["mean"].map("{:+.2f}".format) + " " + sub["median"].map("{:+.2f}".format) + " ["
                + sub.q10.map("{:+.2f}".format) + "," + sub.q90.map("{:+.2f}".format) + "]"
                + sub["count"].map(lambda c: "" if c == cfg.replicates else f" ({c}/{cfg.replicates})"))
        wide = sub.assign(cell=cell).pivot(index="rule", columns="prior", values="cell")[order]
        lines += [f"N = {n}:", wide.to_string()]
    win = winners(df)
    lines.append("best (ties within 0.02) / worst rule by mean PGR:")
    for _, r in win.iterrows():
        lines.append(f"  N={r.n:>6} {r.prior:>12}: best {r.rule_best} ({r.mean_best:+.2f}), "
                     f"worst {r.rule_worst} ({r.mean_worst:+.2f})")
    lines.append("Conditions: bounded VE selects among the prior's concepts (its total << kappa), so it recovers the gap "
                 "only while the prior's truth-like concept is close to the truth; hard Bayes ends at the weak "
                 "model's mimic past N* whatever the prior.")
    return "\n".join(lines)


def _positions(df: pd.DataFrame) -> tuple[pd.Series, list[float], list[str]]:
    """x position per row: the rotation in degrees, the truth absent one step right of the largest."""
    rot = df.loc[df.truth_in_prior.astype(bool), "misspec_deg"]
    top = float(rot.max()) if len(rot) else 0.0
    step = max(top / 4, 10.0)
    x = df.misspec_deg.where(df.truth_in_prior.astype(bool), top + step)
    ticks = sorted(rot.unique().tolist())
    labels = [f"{t:g}" for t in ticks]
    if (~df.truth_in_prior.astype(bool)).any():
        ticks.append(top + step)
        labels.append("absent")
    return x, ticks, labels


def _drawn_rules(df: pd.DataFrame) -> pd.DataFrame:
    """Hard Bayes and the bounded VE schedules (the constant rules are in the map)."""
    keep = (df.rule == "hard Bayes") | (df.rule.str.startswith("VE ") & ~df.rule.str.startswith("VE const"))
    return df[keep]


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    return setting_title(f"misspecification, {what}", worlds=int(df.replicate.nunique()), kappa=cfg.get("kappa"),
                         strong="contains the weak model")


def _per_n(df, metric, ax, ylabel, clip):
    from bayes_w2s.harness.style import clip_note, legend_outside, lines_with_whiskers, new_grid, reference_lines

    ns = sorted(df.n.unique())
    fig, axes = new_grid(ax, 1, len(ns), height=2.1, sharey=True)
    axes = axes[0]
    sub = _drawn_rules(df[df.metric == metric])
    x, ticks, labels = _positions(sub)
    sub = sub.assign(x=x)
    clipped = 0
    for a, n in zip(axes, ns):
        if metric == "pgr":
            reference_lines(a)
        clipped += lines_with_whiskers(a, sub[sub.n == n], "x", "value", "rule", at="all", clip=clip, dodge=0.025,
                                       note=False)
        a.set_xticks(ticks)
        a.set_xticklabels(labels)
        a.set(xlabel="prior's truth-like concept:\nrotation from truth (deg)", title=f"N = {n:g} weak labels")
    axes[0].set_ylabel(ylabel)
    note = clip_note(clipped, f"{clip[0]:g} to {clip[1]:g}")
    legend_outside(fig, loc="outside lower center", ncols=3,
                   title="mean over worlds (line), 10–90% of worlds (whiskers)" + (f"\n{note}" if note else ""))
    return fig, axes


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs the prior's misspecification, hard Bayes and bounded VE, one panel per N: mean
    with 10-90% whiskers over the worlds where PGR is defined; whiskers below -2.5 are cut at
    the axis and marked."""
    fig, axes = _per_n(df, "pgr", ax, "PGR", (-2.5, 1.15))
    fig.suptitle(_title(df, "PGR"))
    return fig


def plot_mimicry(df: pd.DataFrame, ax=None):
    """Agreement with the weak model on its test errors vs misspecification (1: mimicry)."""
    fig, axes = _per_n(df, "agree_weak_err", ax, "agreement with weak\non weak errors", (-0.02, 1.02))
    fig.suptitle(_title(df, "mimicry of weak errors"))
    return fig


def plot_map(df: pd.DataFrame, ax=None):
    """Map of mean PGR, rules x priors, one panel per N (stacked); each cell gives the mean and
    the [10%, 90%] range over worlds. Diverging colours centred at 0 with symmetric limits
    covering every cell (so -1.5 looks darker than -1)."""
    from bayes_w2s.harness.style import PAGE_WIDTH, diverging_colorbar, diverging_heatmap, new_grid

    tab = spread_table(df)
    order = _order(df)
    ns = sorted(tab.n.unique())
    rules = list(dict.fromkeys(df.rule))
    fig, axes = new_grid(ax, len(ns), 1, width=PAGE_WIDTH, height=0.36 * len(rules) + 0.5, sharex=True)
    axes = axes[:, 0]
    limit = float(np.nanmax(np.abs(tab["mean"].to_numpy(float)))) if np.isfinite(tab["mean"]).any() else 1.0
    image = None
    for a, n in zip(axes, ns):
        sub = tab[tab.n == n]
        mean = sub.pivot(index="rule", columns="prior", values="mean").reindex(index=rules, columns=order)
        lo = sub.pivot(index="rule", columns="prior", values="q10").reindex(index=rules, columns=order)
        hi = sub.pivot(index="rule", columns="prior", values="q90").reindex(index=rules, columns=order)
        text = [[f"{mean.iat[i, j]:+.2f}\n[{lo.iat[i, j]:+.1f}, {hi.iat[i, j]:+.1f}]" for j in range(len(order))]
                for i in range(len(rules))]
        image = diverging_heatmap(a, mean.to_numpy(float), text=text, limit=limit, fontsize=6)
        a.set_yticks(range(len(rules)))
        a.set_yticklabels(rules)
        a.set_title(f"N = {n:g} weak labels", loc="left")
        a.tick_params(length=0)
        for spine in a.spines.values():
            spine.set_visible(False)
    axes[-1].set_xticks(range(len(order)))
    axes[-1].set_xticklabels([o.replace(" deg", "°") for o in order])
    axes[-1].set_xlabel("prior's truth-like concept (rotation from truth)")
    diverging_colorbar(fig, image, list(axes), "mean PGR over worlds", shrink=0.6)
    fig.suptitle(_title(df, "mean PGR [10%, 90%] over worlds"))
    return fig


FIGURES = {"map": plot_map, "pgr": plot_pgr, "mimicry": plot_mimicry}
