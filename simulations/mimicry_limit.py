"""Mimicry limit: PGR against the number of weak labels N, per update rule.

World (see :mod:`bayes_w2s.toys.worlds`): inputs uniform in ``[0, 1]^2``; the truth is a
halfspace at ``truth_angle`` degrees through the centre. The weak model is the class of
pixelated labelers (every labeling of a ``grid_cells x grid_cells`` grid) after hard Bayes
on ``n_gt`` ground-truth labels; its errors are the staircase cells along the boundary.
Weak labels are drawn per token from its predictive at the ``train`` inputs.

The strong model is a grid of halfspaces with a "pretrained" prior
``log pi(h) = -kappa * min_j rho(h, c_j)`` around 1 + ``n_distractors`` salient concepts
(the truth and random halfspaces). Two strong spaces:

* ``contains weak``: halfspaces plus every grid labeler — the weak model's hypotheses are
  representable, so its errors can be mimicked;
* ``grammatical``: halfspaces only — a staircase is not a halfspace.

Rules: hard Bayes; tempered with a constant weight; virtual evidence (VE) with a constant
strength; VE with bounded schedules (``;``-separated specs). For a labeler class every
rule is a Gibbs posterior ``prior(h) exp(G_N agree(h))`` with ``G_N`` the summed per-label
match weight (:mod:`bayes_w2s.toys.w2s`); a mimic ``h_w`` beats the truth once
``G_N (1 - 2 eps_weak) > kappa`` (both differ from the truth on the weak errors), so hard
Bayes crosses at about ``N* = kappa / ((1 - 2 eps_weak) log((1 - eps)/eps))`` while a
bounded schedule never gets there when its total is small enough. The table records
whether that is what happens, with PGR against the ceiling (hard Bayes on the truth at the
same inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import RulesConfig, label_contrast, rules_for, spread_stats

from bayes_w2s.core.trajectory import log_checkpoints
from bayes_w2s.toys.w2s import match_weights, train_weak, weak_to_strong
from bayes_w2s.toys.worlds import grid_labelers, halfspaces, likelihood_values
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "summarize", "FIGURES", "STRONG_VARIANTS", "crossing_n", "rule_crossing_n",
           "mimic_weight", "prior_condition"]

STRONG_VARIANTS = ("contains weak", "grammatical")


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run mimicry_limit --field value``."""

    replicates: int = 20
    n: int = 100_000
    per_decade: int = 8
    grid_cells: int = 3
    strong_angles: int = 72
    kappa: float = 400.0
    bounded_schedules: str = "budget:budget=100;geometric:first=1,ratio=0.99;pseries:c=100,p=2"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n < 10:
            raise ValueError(f"n must be >= 10, got {self.n}")
        if self.per_decade < 1:
            raise ValueError("per_decade must be >= 1")
        if not 1 <= self.grid_cells <= 3:
            raise ValueError(f"grid_cells must be 1, 2 or 3 (2^(cells^2) labelers), got {self.grid_cells}")
        if self.strong_angles < 1 or self.strong_offsets < 1:
            raise ValueError("strong_angles and strong_offsets must be >= 1")
        if self.kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {self.kappa}")


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(strong, rule, replicate, n, metric, value)``.

    Each replicate is an independent world (pool, distractor concepts, weak model, label
    stream) from ``default_rng([seed, replicate])``; metrics as in
    :func:`bayes_w2s.toys.w2s.score_fit`.
    """
    rules = rules_for(cfg)
    cps = log_checkpoints(cfg.n, cfg.per_decade)
    frames = []
    for rep in progress(range(cfg.replicates), desc="mimicry_limit", unit="world"):
        world = cfg.world(rep)
        grid = grid_labelers(world.pool.points, cfg.grid_cells)
        weak = train_weak(world, grid, cfg.eps_weak)
        base = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets)
        for k, variant in enumerate(STRONG_VARIANTS):
            strong = base.union(grid) if variant == "contains weak" else base
            stream_rng = np.random.default_rng([cfg.seed, rep, 1])  # same weak labels for both spaces
            df, _ = weak_to_strong(world, weak, strong, world.strong_prior(strong, cfg.kappa), cfg.eps_strong,
                                   rules, cps, stream_rng, mode=cfg.weak_labels)
            frames.append(df.assign(strong=variant, replicate=rep))
    return pd.concat(frames, ignore_index=True)[["strong", "rule", "replicate", "n", "metric", "value"]]


def crossing_n(cfg, kappa: float | None = None) -> float:
    """Predicted N where hard Bayes prefers a representable mimic to the truth:
    ``kappa / (contrast * log((1 - eps)/eps))`` (prior odds ``kappa rho`` against the
    log-likelihood gain ``N contrast rho log((1-eps)/eps)``, rho = the weak error rate)."""
    hit, miss = likelihood_values(cfg.eps_strong)
    return (cfg.kappa if kappa is None else kappa) / (label_contrast(cfg) * np.log(hit / miss))


def mimic_weight(cfg) -> float:
    """``kappa / contrast``: the total match weight ``G`` at which the weak model's mimic
    overtakes the truth in the Gibbs posterior ``prior(h) exp(G agree(h))`` (their prior
    log-odds ``kappa rho`` against the gain ``G contrast rho``, ``rho`` the weak error rate)."""
    return cfg.kappa / label_contrast(cfg)


def rule_crossing_n(cfg, rule) -> float:
    """Predicted N past which ``rule`` prefers the representable mimic: the first N whose total
    match weight ``G(N) = sum_{i<=N} g(s_i)`` reaches :func:`mimic_weight`.

    Closed form ``mimic_weight / g`` for a constant match weight per label (hard Bayes,
    constant tempered or VE strengths); for other schedules ``G(N)`` is evaluated on a log
    grid of N up to ``cfg.n`` (for ``budget``, ``N g(B / N)``), ``inf`` if it never gets there
    (a bounded total far enough below the mimic weight never does)."""
    target = mimic_weight(cfg)
    if rule.kind == "bayes":
        return target / float(match_weights(rule, None, cfg.eps_strong))
    sched = rule.schedule
    if not sched.bounded:
        return target / float(match_weights(rule, sched.strengths(1)[0], cfg.eps_strong))
    grid = np.unique(np.round(np.logspace(0, np.log10(cfg.n), 400)).astype(int))
    if sched.needs_n_total:
        total = np.array([match_weights(rule, sched.strengths(int(n)), cfg.eps_strong).sum() for n in grid])
    else:
        total = np.cumsum(match_weights(rule, sched.strengths(int(grid[-1])), cfg.eps_strong))[grid - 1]
    hit = np.flatnonzero(total >= target)
    return float(grid[hit[0]]) if hit.size else float("inf")


def prior_condition(cfg) -> str:
    """The prior's relation to the truth, in words (the condition every finding is stated under)."""
    if not cfg.truth_in_prior:
        return "truth absent from the prior's concepts"
    if cfg.prior_misspec_deg == 0:
        return "truth among the prior's concepts (favourable case)"
    return f"prior's truth-like concept rotated {cfg.prior_misspec_deg:g} deg from the truth"


def _spread_cells(df, metric, ns, replicates):
    sub = df[(df.metric == metric) & df.n.isin(ns)]
    rows = []
    for (strong, rule, n), g in sub.groupby(["strong", "rule", "n"], sort=False):
        st = spread_stats(g.value)
        cell = f"{st['mean']:+.2f} {st['median']:+.2f} [{st['q10']:+.2f},{st['q90']:+.2f}]"
        if st["count"] < replicates:
            cell += f" ({st['count']}/{replicates})"
        rows.append({"strong": strong, "rule": rule, "n": n, "cell": cell})
    return pd.DataFrame(rows).pivot(index=["strong", "rule"], columns="n", values="cell")


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """PGR mean, median [10%, 90%] over worlds at N = 10^2..; predicted crossings; the condition."""
    ns = sorted({int(n) for n in df.n.unique() if np.isclose(np.log10(n) % 1, 0) and n >= 100} | {int(df.n.max())})
    last = df[df.n == df.n.max()]
    end = last.pivot_table(index=["strong", "rule"], columns="metric", values="value", aggfunc="mean", sort=False)
    end = end[["acc_weak", "acc_ceiling", "acc_w2s", "agree_weak_err", "spent", "influence"]]
    pred = ", ".join(f"{r.label}: {rule_crossing_n(cfg, r):.0f}" for r in rules_for(cfg))
    angle = cfg.fixed_truth_angle()
    lines = [
        f"mimicry_limit: {cfg.replicates} worlds, truth angle {'random per world' if angle is None else f'{angle:g} deg'}, "
        f"N up to {cfg.n}, kappa={cfg.kappa:g}; condition: {prior_condition(cfg)}",
        f"predicted N past which the representable mimic wins (mimic weight kappa/contrast = {mimic_weight(cfg):.0f}; "
        f"inf = never): {pred}",
        "PGR mean, median [10%, 90%] over worlds ((k/R): defined in k of R worlds):",
        _spread_cells(df, "pgr", ns, cfg.replicates).to_string(),
        f"at N = {int(df.n.max())} (means over worlds):",
        end.to_string(float_format=lambda v: f"{v:.3g}"),
        f"PGR undefined (ceiling <= weak) in {int(df[df.metric == 'pgr'].value.isna().sum())} rows",
        "These hold under the condition above; the misspecification experiment sweeps it.",
    ]
    return "\n".join(lines)


def informative_n(df: pd.DataFrame, fraction: float = 0.5) -> np.ndarray:
    """The N at which the median gap ``acc_ceiling - acc_weak`` is at least ``fraction`` of its
    value at the largest N: where PGR is not a ratio of two tiny numbers."""
    gap = (df[df.metric == "acc_ceiling"].set_index(["strong", "rule", "replicate", "n"]).value
           - df[df.metric == "acc_weak"].set_index(["strong", "rule", "replicate", "n"]).value)
    med = gap.groupby("n").median()
    return med.index[med >= fraction * med.iloc[-1]].to_numpy()


def _per_variant(df, metric, ax, ylabel, what, clip=None, ns=None, refs=False, extra=None):
    """One panel per strong space: mean per rule (line) with 10-90% whiskers over worlds at one
    N per decade; ``clip`` cuts the y axis with the cut points marked and counted."""
    from bayes_w2s.harness.style import (clip_note, config_of, legend_outside, lines_with_whiskers, new_grid,
                                         reference_lines, setting_title)

    fig, axes = new_grid(ax, 1, 2, height=2.3, sharey=True)
    axes = axes[0]
    clipped = 0
    for a, variant in zip(axes, STRONG_VARIANTS):
        sub = df[(df.strong == variant) & (df.metric == metric)].dropna(subset=["value"])
        if ns is not None:
            sub = sub[sub.n.isin(ns)]
        if refs:
            reference_lines(a)
        clipped += lines_with_whiskers(a, sub, "n", "value", "rule", at="decades", logx=True, clip=clip,
                                       note=False)
        if extra is not None:
            extra(a, df[df.strong == variant])
        a.set(xscale="log", xlabel="weak labels N", title=f"strong space: {variant}")
    axes[0].set_ylabel(ylabel)
    note = clip_note(clipped, f"{clip[0]:g} to {clip[1]:g}") if clip else ""
    legend_outside(fig, loc="outside lower center", ncols=3,
                   title="mean over worlds (line), 10–90% of worlds (whiskers)" + (f"; {note}" if note else ""))
    cfg = config_of(df)
    fig.suptitle(setting_title(f"mimicry limit, {what}", worlds=int(df.replicate.nunique()), kappa=cfg.get("kappa")))
    return fig


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs N per rule (mean, 10-90% whiskers over worlds), with and without representable weak errors.

    Drawn only where the ceiling's median gap over the weak model is at least half its final
    value (:func:`informative_n`); below that PGR divides by almost nothing.
    """
    return _per_variant(df, "pgr", ax, "PGR", "PGR", clip=(-1.5, 1.15), ns=informative_n(df), refs=True)


def plot_mimicry(df: pd.DataFrame, ax=None):
    """Agreement with the weak model on the test inputs it gets wrong, vs N."""
    return _per_variant(df, "agree_weak_err", ax, "agreement with weak\non weak errors", "mimicry of weak errors",
                        clip=(-0.02, 1.02))


def plot_accuracy(df: pd.DataFrame, ax=None):
    """Strong test accuracy vs N per rule (mean, 10-90% whiskers); grey: weak model (dotted)
    and ceiling (dash-dot), means over worlds."""

    def refs(a, sub):
        for metric, ls in (("acc_weak", ":"), ("acc_ceiling", "-.")):
            mean = sub[(sub.metric == metric) & (sub.rule == sub.rule.iloc[0])].groupby("n").value.mean()
            a.plot(mean.index, mean.values, color="#7F7F7F", ls=ls, lw=1, label=metric.replace("acc_", "") + " (mean)")

    return _per_variant(df, "acc_w2s", ax, "test accuracy", "accuracy", extra=refs)


FIGURES = {"pgr": plot_pgr, "mimicry": plot_mimicry, "accuracy": plot_accuracy}
