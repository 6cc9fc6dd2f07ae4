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


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs N: chain (solid) vs single jump (dashed), per rule; median line and 10-90% band over worlds."""
    from bayes_w2s.harness.style import line_with_band, new_axes

    if ax is None:
        fig, axes = new_axes(None, ncols=2, figsize=(11, 4), sharey=True)
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    rules = list(dict.fromkeys(df.rule))
    colors = {r: f"C{i}" for i, r in enumerate(rules)}
    for a, variant in zip(axes, STRONG_VARIANTS):
        sub = df[(df.strong == variant) & (df.metric == "pgr")].dropna(subset=["value"])
        sub = sub.assign(line=sub.rule + ", " + sub.path)
        styles = {f"{r}, {p}": {"color": colors[r], "ls": "-" if p == "chain" else "--"} for r in rules for p in PATHS}
        line_with_band(a, sub, "n", "value", "line", center="median", band=(0.1, 0.9), styles=styles)
        a.set(xscale="log", xlabel="labels for the strong model N", title=f"strong space: {variant}", ylim=(-1.5, 1.2))
        a.axhline(0, color="grey", lw=0.8, ls=":")
    n_worlds = df.replicate.nunique()
    axes[0].set_ylabel(f"PGR: median, band 10-90% of {n_worlds} worlds")
    axes[1].legend(loc="lower left", fontsize=7)
    return fig


def plot_lift(df: pd.DataFrame, ax=None):
    """Per world: chain minus single-jump PGR at the largest N against the truth's angular distance
    to the intermediate's grid, one panel per strong space, with least-squares lines."""
    from bayes_w2s.harness.style import new_axes

    if ax is None:
        fig, axes = new_axes(None, ncols=2, figsize=(11, 4), sharey=True)
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    lf = lifts(df)
    for a, variant in zip(axes, STRONG_VARIANTS):
        for i, (rule, sub) in enumerate(lf[lf.strong == variant].groupby("rule", sort=False)):
            fit = line_fit(sub.mid_grid_deg, sub.lift)
            a.scatter(sub.mid_grid_deg, sub.lift, s=14, color=f"C{i}", alpha=0.7,
                      label=f"{rule} (r = {fit['r']:+.2f})")
            if np.isfinite(fit["slope"]):
                xs = np.array([0.0, float(lf.mid_grid_deg.max())])
                a.plot(xs, fit["intercept"] + fit["slope"] * xs, color=f"C{i}", lw=1)
        a.axhline(0, color="grey", lw=0.8, ls=":")
        a.set(xlabel="truth's distance to the intermediate's angle grid (deg)", title=f"strong space: {variant}")
    axes[0].set_ylabel(f"lift: chain - single-jump PGR, N={int(df.n.max())}")
    axes[0].legend(loc="lower left", fontsize=7)
    return fig


def plot_mechanism(df: pd.DataFrame, ax=None):
    """Hard Bayes, chain: measured PGR per world against the PGR predicted by the intermediate's
    KL projection of the weak labels (:func:`berk_accuracy`); on ``y = x`` the projection explains it."""
    from bayes_w2s.harness.style import new_axes

    fig, ax = new_axes(ax)
    lf = lifts(df)
    hb = lf[(lf.rule == "hard Bayes") & (lf.strong == STRONG_VARIANTS[0])]
    fit = line_fit(hb.berk_pgr, hb["chain"])
    sc = ax.scatter(hb.berk_pgr, hb["chain"], c=hb.mid_grid_deg, cmap="viridis", s=18)
    fig.colorbar(sc, ax=ax, label="truth's distance to the intermediate grid (deg)")
    lo = float(np.nanmin([hb.berk_pgr.min(), hb["chain"].min(), 0.0]))
    ax.plot([lo, 1], [lo, 1], color="grey", ls=":", lw=1, label="y = x")
    ax.set(xlabel="PGR predicted: intermediate at its KL projection of the weak labels",
           ylabel=f"measured chain PGR, hard Bayes, N={int(df.n.max())}",
           title=f"{len(hb)} worlds, r = {fit['r']:+.2f}")
    ax.legend(loc="upper left")
    return fig


def plot_mimicry(df: pd.DataFrame, ax=None):
    """Agreement with the weak model on its errors at the largest N: median bars, 10-90% whiskers over worlds."""
    from bayes_w2s.harness.style import new_axes

    fig, axes = new_axes(ax, ncols=2, figsize=(11, 4), sharey=True) if ax is None else (np.atleast_1d(ax)[0].figure, np.atleast_1d(ax))
    last = df[(df.n == df.n.max()) & (df.metric == "agree_weak_err")]
    rules = list(dict.fromkeys(df.rule))
    for a, variant in zip(np.atleast_1d(axes), STRONG_VARIANTS):
        stats = spread_table(last[last.strong == variant], ["rule", "path"])
        x = np.arange(len(rules))
        for j, path in enumerate(PATHS):
            st = [stats.loc[(r, path)] if (r, path) in stats.index else None for r in rules]
            med = np.array([np.nan if s is None else s["median"] for s in st])
            lo = np.array([np.nan if s is None else s["q10"] for s in st])
            hi = np.array([np.nan if s is None else s["q90"] for s in st])
            a.bar(x + (j - 0.5) * 0.38, med, width=0.38, label=path,
                  yerr=np.vstack([med - lo, hi - med]), capsize=3)
        a.set_xticks(x, rules, rotation=15, fontsize=7)
        a.set(title=f"strong space: {variant}", ylim=(0, 1.05))
    np.atleast_1d(axes)[0].set_ylabel(f"agreement with weak on its errors, N={int(df.n.max())}\n(median, 10-90%)")
    np.atleast_1d(axes)[0].legend(loc="upper right")
    return fig


FIGURES = {"pgr": plot_pgr, "lift": plot_lift, "mechanism": plot_mechanism, "mimicry": plot_mimicry}
