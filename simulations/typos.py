"""The textbook with typos: weak errors that no "grammatical" strong hypothesis can produce.

World as in :mod:`~bayes_w2s.simulations.mimicry_limit`. The weak labeler is the truth
(a halfspace) with systematic *typos*: the labels of ``round(rate * typo_cells^2)`` cells of
a ``typo_cells x typo_cells`` grid are flipped, every time those inputs are labelled (plus
per-token noise ``eps_weak``). The strong model is a grid of halfspaces with the pretrained
prior. Three cases:

* ``typos, grammatical student``: typos at random cells; the strong space is halfspaces only
  (the student considers only grammatical hypotheses). The KL projection of the weak labels
  onto halfspaces stays at the truth as long as no halfspace agrees with the typos more
  than the truth does, so even hard Bayes should learn the grammar and read the typos as
  noise (PGR near 1 at every N);
* ``typos, representable``: the same typos, but the weak labeler itself is added to the
  strong space (with its pretrained prior weight): hard Bayes must eventually mimic it;
* ``shifted boundary``: as many flipped cells, placed in a band along one side of the true
  boundary — a systematic error that *is* grammatical (a shifted halfspace), so even the
  halfspace student can mimic it.

Reported against the typo rate (weak accuracy) at the largest N, and against N, as mean,
median and 10-90% over worlds (each with its own random truth angle).

What is a check and what is a finding: that the grammatical student ignores random typos
holds *by construction* while no halfspace agrees with the flipped cells more than the truth
does (the KL projection of the weak labels onto halfspaces is then the truth's best
approximant); the summary prints it as a check and reports the typo rate where it stops
holding. That a bounded rule resists representable typos and how far each rule copies a
shifted boundary are the findings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._spread import spread
from bayes_w2s.simulations._world import RulesConfig, rules_for

from bayes_w2s.core.trajectory import log_checkpoints
from bayes_w2s.toys.w2s import WeakModel, weak_to_strong
from bayes_w2s.toys.worlds import LabelerClass, halfspaces, typo_labeler
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "summarize", "FIGURES", "CASES"]

CASES = ("typos, grammatical student", "typos, representable", "shifted boundary")


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run typos --field value``."""

    replicates: int = 30
    n: int = 10_000
    per_decade: int = 4
    rates: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4)
    typo_cells: int = 10
    n_gt: int = 1
    strong_angles: int = 72
    kappa: float = 400.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n < 10 or self.per_decade < 1:
            raise ValueError("need n >= 10 and per_decade >= 1")
        if not self.rates or min(self.rates) < 0 or max(self.rates) >= 0.5:
            raise ValueError(f"typo rates must lie in [0, 0.5), got {self.rates!r}")
        if self.typo_cells < 2:
            raise ValueError(f"typo_cells must be >= 2, got {self.typo_cells}")
        if self.kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {self.kappa}")


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(case, rate, rule, replicate, n, metric, value)``."""
    rules = rules_for(cfg)
    cps = log_checkpoints(cfg.n, cfg.per_decade)
    frames = []
    for rep in progress(range(cfg.replicates), desc="typos", unit="world"):
        world = cfg.world(rep)
        base = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets)
        base_prior = world.strong_prior(base, cfg.kappa)
        score = world.signed_distance(world.truth_angle, 0.0)
        for j, rate in enumerate(cfg.rates):
            typo_rng = np.random.default_rng([cfg.seed, rep, j])
            labels = {
                "random": typo_labeler(world.pool.points, world.truth, rate, typo_rng, cells=cfg.typo_cells),
                "band": typo_labeler(world.pool.points, world.truth, rate, typo_rng, cells=cfg.typo_cells,
                                     placement="band", score=score),
            }
            for case in CASES:
                placement = "band" if case == "shifted boundary" else "random"
                weak_cls = LabelerClass(labels[placement], (f"typos({placement},{rate:g})",))
                weak = WeakModel.from_posterior(weak_cls, cfg.eps_weak, [0.0])
                if case == "typos, representable":
                    strong = base.union(weak_cls)
                    prior = world.strong_prior(strong, cfg.kappa)
                else:
                    strong, prior = base, base_prior
                stream_rng = np.random.default_rng([cfg.seed, rep, j, 1])  # same draws in every case
                df, _ = weak_to_strong(world, weak, strong, prior, cfg.eps_strong, rules, cps, stream_rng,
                                       mode=cfg.weak_labels)
                frames.append(df.assign(case=case, rate=rate, replicate=rep))
    return pd.concat(frames, ignore_index=True)[["case", "rate", "rule", "replicate", "n", "metric", "value"]]


def _cell(v) -> str:
    st = spread(v)
    if st["n_defined"] == 0:
        return "undefined"
    return f"{st['median']:+.2f} [{st['q10']:+.2f},{st['q90']:+.2f}] m{st['mean']:+.2f}"


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """PGR and agreement on weak errors at the largest N per case, rate and rule: median
    [10%, 90%] and mean over worlds; the random-typo check and where it stops holding."""
    last = df[df.n == df.n.max()]
    key = ["case", "rule", "rate"]
    pgr = last[last.metric == "pgr"].groupby(key, sort=False).value.apply(_cell).unstack("rate")
    agree = last[last.metric == "agree_weak_err"].groupby(key, sort=False).value.apply(_cell).unstack("rate")
    acc = last[last.metric == "acc_weak"].groupby("rate").value.median()
    first = rules_for(cfg)[0].label
    grammatical = last[(last.case == CASES[0]) & (last.rule == first) & (last.metric == "pgr")]
    held = grammatical.groupby("rate").value.apply(lambda v: float((v > 0.9).mean()))
    broken = [r for r, f in held.items() if f < 0.9]
    check = (f"CHECK (holds by construction while no halfspace fits the flipped cells better than the truth): "
             f"{CASES[0]}, {first}, share of worlds with PGR > 0.9 per typo rate: "
             + ", ".join(f"{r:g}: {f:.2f}" for r, f in held.items())
             + (f" -> holds in < 90% of worlds from rate {min(broken):g}" if broken else " -> holds at every rate"))
    return "\n".join([
        f"typos: {df.replicate.nunique()} worlds (truth angle {cfg.truth_angle}), N={int(df.n.max())}, "
        f"kappa={cfg.kappa:g}; cells: median [10%, 90%] m<mean> over worlds",
        "weak accuracy per typo rate (median): " + ", ".join(f"{r:g}: {a:.3f}" for r, a in acc.items()),
        check,
        "PGR (rows case/rule, columns typo rate):",
        pgr.to_string(),
        "agreement with the weak labeler on its errors:",
        agree.to_string(),
    ])


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    return setting_title(f"typos, {what}", N=int(df.n.max()), worlds=int(df.replicate.nunique()),
                         kappa=config_of(df).get("kappa"))


def plot_pgr_vs_rate(df: pd.DataFrame, ax=None):
    """PGR at the largest N against weak accuracy (typo rate), one line per case, one panel per rule;
    median line and 10-90% whiskers over worlds."""
    from bayes_w2s.harness.style import (category_colors, clip_note, legend_outside, lines_with_whiskers, new_grid,
                                         reference_lines)

    last = df[df.n == df.n.max()]
    rules = list(dict.fromkeys(last.rule))
    fig, axes = new_grid(ax, 1, len(rules), height=2.2, sharey=True)
    axes = axes[0]
    acc = last[last.metric == "acc_weak"].groupby("rate").value.median()
    cases = list(dict.fromkeys(last.case))
    markers = dict(zip(cases, ("o", "s", "^", "D")))
    styles = {c: {"color": col, "marker": markers.get(c, "o"), "ls": "-"} for c, col in category_colors(cases).items()}
    clipped = 0
    for a, rule in zip(axes, rules):
        sub = last[(last.rule == rule) & (last.metric == "pgr")].dropna(subset=["value"])
        reference_lines(a)
        clipped += lines_with_whiskers(a, sub.assign(x=sub.rate.map(acc)), "x", "value", "case", center="median",
                                       at="all", clip=(-0.6, 1.15), styles=styles, note=False, dodge=0.012)
        a.set(xlabel="weak accuracy (typo rate)", title=rule)
    axes[0].set_ylabel(f"PGR at N = {int(df.n.max())}")
    note = clip_note(clipped, "-0.6 to 1.15")
    legend_outside(fig, axes=[axes[0]], loc="outside lower center", ncols=len(cases),
                   title="median over worlds (line), 10–90% of worlds (whiskers)" + (f"; {note}" if note else ""))
    fig.suptitle(_title(df, "PGR vs weak accuracy"))
    return fig


def plot_mimicry_vs_n(df: pd.DataFrame, ax=None):
    """Hard Bayes: agreement with the weak labeler on its errors vs N, one line per case (median rate)."""
    from bayes_w2s.harness.style import category_colors, legend_outside, lines_with_whiskers, new_axes

    fig, ax = new_axes(ax, figsize=(3.5, 3.0))
    sub = df[(df.rule == df.rule.iloc[0]) & (df.metric == "agree_weak_err")]
    rates = sorted(sub.rate.unique())
    mid = rates[len(rates) // 2]
    cases = list(dict.fromkeys(sub.case))
    markers = dict(zip(cases, ("o", "s", "^", "D")))
    styles = {c: {"color": col, "marker": markers.get(c, "o"), "ls": "-"} for c, col in category_colors(cases).items()}
    lines_with_whiskers(ax, sub[sub.rate == mid], "n", "value", "case", center="median", logx=True,
                        clip=(-0.02, 1.02), styles=styles)
    ax.set(xscale="log", xlabel="weak labels N", ylabel="agreement with weak on its errors",
           title=f"{df.rule.iloc[0]}, typo rate {mid:g}")
    legend_outside(fig, loc="outside lower center", ncols=1, title="median over worlds, 10–90% whiskers")
    fig.suptitle(_title(df, "mimicry"))
    return fig


FIGURES = {"pgr_vs_rate": plot_pgr_vs_rate, "mimicry_vs_n": plot_mimicry_vs_n}
