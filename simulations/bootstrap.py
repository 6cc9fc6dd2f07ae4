"""Bootstrapping: weak -> intermediate -> strong, against the single jump weak -> strong.

World as in :mod:`~bayes_w2s.simulations.mimicry_limit`; the ``train`` inputs are split in
two halves A and B. Models:

* weak: pixelated labelers (``grid_cells x grid_cells`` grid) after hard Bayes on ``n_gt``
  ground-truth labels;
* intermediate: halfspaces on ``mid_angles`` angles with the pretrained prior of
  concentration ``mid_kappa``; a grammatical class, it cannot represent the weak staircase;
* strong: halfspaces on ``strong_angles`` angles with concentration ``strong_kappa``, in
  two spaces: ``contains weak`` (plus every grid labeler: the weak errors are
  representable) and ``grammatical`` (halfspaces only).

Single jump: N weak labels at inputs B train the strong model. Chain: ``n_mid`` weak labels
at inputs A train the intermediate model (same rule), whose predictive then labels N
inputs of B for the strong model (same rule). PGR, agreement with the *weak* model on its
errors and the ceiling (hard Bayes on the truth at the strong model's inputs) are
measured on the test inputs in both paths; the intermediate model's own accuracy is
recorded as ``acc_mid``.

Every world draws its own truth angle (``truth_angle="random"``), so each finding is a
distribution over worlds (30 by default). Each row carries the world's ``truth_angle`` and
``mid_grid_deg``, the truth's angular distance to the nearest angle of the intermediate's
grid (``0 .. 180 / mid_angles`` degrees): how well the intermediate class can express the
truth. The *lift* of a rule is chain PGR minus single-jump PGR in the same world; the
summary regresses it on ``mid_grid_deg`` (what drives the lift) and prints mean, median and
10-90% over worlds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._spread import fmt_spread, line_fit, spread, spread_table
from bayes_w2s.simulations._world import RulesConfig, selected_rules
from bayes_w2s.simulations.mimicry_limit import STRONG_VARIANTS

from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr
from bayes_w2s.core.trajectory import log_checkpoints
from bayes_w2s.toys.w2s import WeakModel, train_weak, weak_to_strong
from bayes_w2s.toys.worlds import grid_labelers, halfspaces
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "summarize", "FIGURES", "PATHS", "COLUMNS", "grid_distance", "berk_accuracy", "lifts"]

PATHS = ("single jump", "chain")


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run bootstrap --field value``."""

    replicates: int = 30
    n: int = 10_000
    n_mid: int = 10_000
    per_decade: int = 4
    n_train: int = 800
    grid_cells: int = 3
    mid_angles: int = 12
    mid_offsets: int = 11
    mid_kappa: float = 400.0
    strong_angles: int = 72
    strong_kappa: float = 400.0
    rules: str = "hard Bayes;VE const log r=0.1;VE budget(budget=100)"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_train < 2:
            raise ValueError("n_train must be >= 2 (it is split in two halves)")
        if self.n < 1 or self.n_mid < 1 or self.per_decade < 1:
            raise ValueError("n, n_mid and per_decade must be >= 1")
        if not 1 <= self.grid_cells <= 3:
            raise ValueError(f"grid_cells must be 1, 2 or 3, got {self.grid_cells}")
        if min(self.mid_angles, self.mid_offsets, self.strong_angles, self.strong_offsets) < 1:
            raise ValueError("angle and offset counts must be >= 1")
        if self.mid_kappa < 0 or self.strong_kappa < 0:
            raise ValueError("mid_kappa and strong_kappa must be >= 0")
        selected_rules(self, self.rules)


def grid_distance(angle_deg, n_angles: int):
    """Degrees from ``angle_deg`` to the nearest angle of an ``n_angles`` grid ``360 k / n_angles``."""
    step = 360.0 / n_angles
    r = np.mod(np.asarray(angle_deg, float), step)
    return np.minimum(r, step - r)


def berk_accuracy(world, teacher: WeakModel, cls, contexts) -> float:
    """Test accuracy of ``argmax_h sum_{z in contexts} P_teacher(y = h(z) | z)``: the labeler of
    ``cls`` that hard Bayes on many teacher labels drawn at ``contexts`` concentrates on (the KL
    projection, Berk 1966, for labelers with a common noise eps; the prior is ignored)."""
    ctx = np.asarray(contexts)
    if teacher.predictive.shape[1] != 2:
        raise ValueError(f"berk_accuracy needs binary labels, got K={teacher.predictive.shape[1]}")
    labels = cls.labels[:, ctx]
    agree = np.where(labels == 1, teacher.predictive[ctx, 1], teacher.predictive[ctx, 0]).sum(axis=1)
    test = world.pool["test"]
    return float(np.mean(cls.labels[int(np.argmax(agree)), test] == world.truth[test]))


COLUMNS = ["strong", "path", "rule", "replicate", "truth_angle", "mid_grid_deg", "mid_berk_acc", "n", "metric",
           "value"]


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``COLUMNS``: per world its truth angle, the angle's distance to the intermediate's
    grid and :func:`berk_accuracy` of the intermediate class on the weak model (``mid_berk_acc``)."""
    rules = selected_rules(cfg, cfg.rules)
    cps = log_checkpoints(cfg.n, cfg.per_decade)
    frames = []
    for rep in progress(range(cfg.replicates), desc="bootstrap", unit="world"):
        world = cfg.world(rep)
        geometry = dict(replicate=rep, truth_angle=world.truth_angle,
                        mid_grid_deg=float(grid_distance(world.truth_angle, cfg.mid_angles)))
        train = world.pool["train"]
        half_a, half_b = train[: train.size // 2], train[train.size // 2:]
        grid = grid_labelers(world.pool.points, cfg.grid_cells)
        weak = train_weak(world, grid, cfg.eps_weak)
        mid_cls = halfspaces(world.pool.points, cfg.mid_angles, cfg.mid_offsets)
        geometry["mid_berk_acc"] = berk_accuracy(world, weak, mid_cls, half_a)
        _, mid_fit = weak_to_strong(world, weak, mid_cls, world.strong_prior(mid_cls, cfg.mid_kappa), cfg.eps_strong,
                                    rules, [cfg.n_mid], np.random.default_rng([cfg.seed, rep, 1]),
                                    contexts=half_a, mode=cfg.weak_labels)
        test = world.pool["test"]
        base = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets)
        for variant in STRONG_VARIANTS:
            strong = base.union(grid) if variant == "contains weak" else base
            prior = world.strong_prior(strong, cfg.strong_kappa)
            jump, _ = weak_to_strong(world, weak, strong, prior, cfg.eps_strong, rules, cps,
                                     np.random.default_rng([cfg.seed, rep, 2]), contexts=half_b, mode=cfg.weak_labels)
            frames.append(jump.assign(strong=variant, path="single jump", **geometry))
            for k, rule in enumerate(rules):
                mid = WeakModel.from_posterior(mid_cls, cfg.eps_strong, mid_fit.log_posterior[k, 0])
                chain, _ = weak_to_strong(world, mid, strong, prior, cfg.eps_strong, [rule], cps,
                                          np.random.default_rng([cfg.seed, rep, 3, k]), contexts=half_b,
                                          mode=cfg.weak_labels, reference=weak)
                acc_mid = float(np.mean(mid.decision[test] == world.truth[test]))
                extra = pd.DataFrame({"rule": rule.label, "n": cps, "metric": "acc_mid", "value": acc_mid})
                frames.append(pd.concat([chain, extra], ignore_index=True).assign(
                    strong=variant, path="chain", **geometry))
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def lifts(df: pd.DataFrame) -> pd.DataFrame:
    """Per (strong, rule, world) at the largest N: PGR of both paths, ``lift = chain - single jump``
    and ``berk_pgr``, the chain PGR predicted by :func:`berk_accuracy` (intermediate at its KL
    projection of the weak labels, strong copying the intermediate)."""
    last = df[(df.n == df.n.max()) & (df.metric == "pgr")]
    keys = ["strong", "rule", "replicate", "truth_angle", "mid_grid_deg", "mid_berk_acc"]
    wide = last.set_index([*keys, "path"]).value.unstack("path").reindex(columns=list(PATHS)).reset_index()
    ref = df[(df.n == df.n.max()) & (df.path == "chain") & df.metric.isin(["acc_weak", "acc_ceiling"])]
    ref = ref.pivot_table(index=["strong", "rule", "replicate"], columns="metric", values="value").reset_index()
    wide = wide.merge(ref, on=["strong", "rule", "replicate"], how="left")
    with warnings.catch_warnings():  # NaN where the ceiling does not beat the weak model, as in score_fit
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        berk = pgr(wide["acc_weak"], wide["mid_berk_acc"], wide["acc_ceiling"])
    return wide.assign(lift=wide["chain"] - wide["single jump"], berk_pgr=berk)


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """PGR per path and the chain's lift at the largest N: mean, median, 10-90% over worlds, and
    the lift regressed on the truth's distance to the intermediate's angle grid."""
    last = df[df.n == df.n.max()]
    tab = spread_table(last[last.metric == "pgr"], ["strong", "rule", "path"])
    acc = last[last.metric.isin(["acc_weak", "acc_mid", "acc_ceiling"])].groupby("metric").value.median()
    half = 180.0 / cfg.mid_angles
    lines = [
        f"bootstrap: {len(df.replicate.unique())} worlds (truth angle {cfg.truth_angle}), N={int(df.n.max())} labels "
        f"for the strong model, n_mid={cfg.n_mid}, intermediate grid every {360 / cfg.mid_angles:g} deg",
        "median accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()),
        "PGR at the largest N over worlds:",
        tab.to_string(float_format=lambda v: f"{v:+.2f}"),
        "lift = chain PGR - single-jump PGR, per world:",
    ]
    lf = lifts(df)
    order = {r.label: i for i, r in enumerate(selected_rules(cfg, cfg.rules))}
    lf = lf.assign(_k=lf.rule.map(order)).sort_values(["strong", "_k", "replicate"], kind="stable")
    for (strong, rule), sub in lf.groupby(["strong", "rule"], sort=False):
        fit = line_fit(sub.mid_grid_deg, sub.lift)
        worse = int((sub["chain"] < 0).sum())
        text = (f"  {strong}, {rule}: {fmt_spread(spread(sub.lift))}; chain PGR < 0 (worse than the weak model) "
                f"in {worse} of {len(sub)} worlds")
        if np.isfinite(fit["r"]):
            text += (f"; lift = {fit['intercept']:+.2f} {fit['slope']:+.3f} x (deg from the truth to the "
                     f"intermediate grid, 0..{half:g}), r = {fit['r']:+.2f}")
        lines.append(text)
    hb = lf[(lf.rule == "hard Bayes") & (lf.strong == STRONG_VARIANTS[0])]
    if len(hb):
        fit = line_fit(hb.berk_pgr, hb["chain"])
        lines.append(
            f"mechanism check (hard Bayes, chain): PGR predicted by the intermediate's KL projection of the weak "
            f"labels vs measured: r = {fit['r']:+.2f}, median |measured - predicted| = "
            f"{np.nanmedian(np.abs(hb['chain'] - hb.berk_pgr)):.3f} over {fit['n']} worlds")
    return "\n".join(lines)


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    return setting_title(f"bootstrap, {what}", worlds=int(df.replicate.nunique()), kappa=cfg.get("kappa"))


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs N, one panel per rule (columns) and strong space (rows): chain (solid, circles) vs
    single jump (dashed, squares); median over worlds with 10-90% whiskers; the y axis is cut at
    -1.5 and cut points are marked."""
    from bayes_w2s.harness.style import (clip_note, legend_outside, lines_with_whiskers, new_grid,
                                         reference_lines, rule_style)
    from matplotlib.lines import Line2D

    rules = list(dict.fromkeys(df.rule))
    fig, axes = new_grid(ax, len(STRONG_VARIANTS), len(rules), height=1.7, sharex=True, sharey=True)
    clipped = 0
    for i, variant in enumerate(STRONG_VARIANTS):
        for j, rule in enumerate(rules):
            a = axes[i, j]
            sub = df[(df.strong == variant) & (df.metric == "pgr") & (df.rule == rule)].dropna(subset=["value"])
            color = rule_style(rule)["color"]
            styles = {"chain": {"color": color, "ls": "-", "marker": "o"},
                      "single jump": {"color": color, "ls": "--", "marker": "s"}}
            reference_lines(a)
            clipped += lines_with_whiskers(a, sub, "n", "value", "path", center="median", logx=True,
                                           clip=(-1.5, 1.15), styles=styles, note=False, dodge=0.05)
            a.set_xscale("log")
            if i == 0:
                a.set_title(rule, color=color)
            if i == len(STRONG_VARIANTS) - 1:
                a.set_xlabel("labels for the strong model N")
        axes[i, 0].set_ylabel(f"PGR\nstrong: {variant}")
    note = clip_note(clipped, "-1.5 to 1.15")
    handles = [Line2D([], [], color="black", ls="-", marker="o", label="chain: weak → intermediate → strong"),
               Line2D([], [], color="black", ls="--", marker="s", label="single jump: weak → strong")]
    legend_outside(fig, handles, loc="outside lower center", ncols=2,
                   title="median over worlds (line), 10–90% of worlds (whiskers)" + (f"; {note}" if note else ""))
    fig.suptitle(_title(df, "PGR"))
    return fig


def plot_lift(df: pd.DataFrame, ax=None):
    """Per world: chain minus single-jump PGR at the largest N against the truth's angular distance
    to the intermediate's grid, one panel per strong space, with least-squares lines."""
    from bayes_w2s.harness.style import legend_outside, new_grid, reference_lines, rule_style

    fig, axes = new_grid(ax, 1, 2, height=2.4, sharey=True)
    axes = axes[0]
    lf = lifts(df)
    for a, variant in zip(axes, STRONG_VARIANTS):
        rs = []
        for rule, sub in lf[lf.strong == variant].groupby("rule", sort=False):
            s = rule_style(rule)
            fit = line_fit(sub.mid_grid_deg, sub.lift)
            a.scatter(sub.mid_grid_deg, sub.lift, s=10, color=s["color"], marker=s["marker"], alpha=0.7,
                      label=f"{rule}", linewidths=0)
            if np.isfinite(fit["slope"]):
                xs = np.array([0.0, float(lf.mid_grid_deg.max())])
                a.plot(xs, fit["intercept"] + fit["slope"] * xs, color=s["color"], lw=1)
            rs.append(f"r = {fit['r']:+.2f}" if np.isfinite(fit["r"]) else "r undefined")
        reference_lines(a, (0.0,))
        a.set_title(f"strong space: {variant}\n" + "; ".join(
            f"{rule}: {r}" for rule, r in zip(lf[lf.strong == variant].rule.unique(), rs)), fontsize=6.5)
        a.set_xlabel("truth's distance to the intermediate's angle grid (deg)")
    axes[0].set_ylabel(f"lift: chain $-$ single-jump PGR\nat N = {int(df.n.max())}")
    legend_outside(fig, loc="outside lower center", ncols=3,
                   title="one point per world; lines: least-squares fits (Pearson r in the panel titles)")
    fig.suptitle(_title(df, "lift of the chain"))
    return fig


def plot_mechanism(df: pd.DataFrame, ax=None):
    """Hard Bayes, chain: measured PGR per world against the PGR predicted by the intermediate's
    KL projection of the weak labels (:func:`berk_accuracy`); on ``y = x`` the projection explains it."""
    from bayes_w2s.harness.style import new_axes

    fig, ax = new_axes(ax, figsize=(3.5, 3.0))
    lf = lifts(df)
    hb = lf[(lf.rule == "hard Bayes") & (lf.strong == STRONG_VARIANTS[0])]
    fit = line_fit(hb.berk_pgr, hb["chain"])
    sc = ax.scatter(hb.berk_pgr, hb["chain"], c=hb.mid_grid_deg, cmap="viridis", s=18)
    fig.colorbar(sc, ax=ax, label="truth's distance to the intermediate grid (deg)")
    lo = float(np.nanmin([hb.berk_pgr.min(), hb["chain"].min(), 0.0]))
    ax.plot([lo, 1], [lo, 1], color="grey", ls=":", lw=1, label="y = x")
    ax.set(xlabel="PGR predicted: intermediate at its\nKL projection of the weak labels",
           ylabel=f"measured chain PGR\n(hard Bayes, N = {int(df.n.max())})",
           title=f"{len(hb)} worlds, strong: {STRONG_VARIANTS[0]}; r = {fit['r']:+.2f}")
    ax.legend(loc="upper left")
    fig.suptitle(_title(df, "mechanism"))
    return fig


def plot_mimicry(df: pd.DataFrame, ax=None):
    """Agreement with the weak model on its errors at the largest N: median bars, 10-90% whiskers over worlds."""
    from bayes_w2s.harness.style import category_colors, legend_outside, new_grid

    fig, axes = new_grid(ax, 1, 2, height=2.4, sharey=True)
    axes = axes[0]
    last = df[(df.n == df.n.max()) & (df.metric == "agree_weak_err")]
    rules = list(dict.fromkeys(df.rule))
    colors = category_colors(PATHS)
    for a, variant in zip(axes, STRONG_VARIANTS):
        stats = spread_table(last[last.strong == variant], ["rule", "path"])
        x = np.arange(len(rules))
        for j, path in enumerate(PATHS):
            st = [stats.loc[(r, path)] if (r, path) in stats.index else None for r in rules]
            med = np.array([np.nan if s is None else s["median"] for s in st])
            lo = np.array([np.nan if s is None else s["q10"] for s in st])
            hi = np.array([np.nan if s is None else s["q90"] for s in st])
            xs = x + (j - 0.5) * 0.38
            a.bar(xs, med, width=0.38, label=path, color=colors[path], alpha=0.85)
            a.vlines(xs, lo, hi, color="black", lw=0.9)  # 10-90% range (the median may sit at an end)
        a.set_xticks(x, rules, rotation=20, ha="right")
        a.set(title=f"strong space: {variant}", ylim=(0, 1.05))
        a.grid(axis="x", visible=False)
    axes[0].set_ylabel(f"agreement with weak on its errors\nat N = {int(df.n.max())}")
    legend_outside(fig, axes=[axes[0]], loc="outside right upper", title="median over worlds (bar),\n10–90% (line)")
    fig.suptitle(_title(df, "mimicry of weak errors"))
    return fig


FIGURES = {"pgr": plot_pgr, "lift": plot_lift, "mechanism": plot_mechanism, "mimicry": plot_mimicry}
