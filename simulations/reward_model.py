"""Reward modeling: weak-to-strong on pairwise preferences, and the same world read as classification.

World (one per replicate, from ``default_rng([seed, replicate])``): items with features
``x`` uniform in ``[0, 1]^2`` (centred); the true utility is linear, ``u*(x) = beta w* . x``
with ``w*`` at a random angle. Labels are Bradley–Terry: ``P(a > b) = sigmoid(u(a) - u(b))``.

* **Preference read**: contexts are pairs of items (drawn within the gt / train / test item
  sets); the label says which item is preferred.
* **Classification read**: contexts are the items, each compared with a fixed reference
  item at the centre: ``P(y = 1 | x) = sigmoid(u(x) - u(c))``, a noisy halfspace. Same
  hypotheses, same prior, same number of labels; only the question differs
  (:func:`bayes_w2s.core.preferences.reference_pairs`).

Weak model: linear utilities over *quantized* features (each coordinate snapped to the
centre of one of ``weak_cells`` cells) at ``weak_angles`` angles, uniform prior, hard Bayes
on ``n_gt`` ground-truth labels of its own read. Its errors are the staircase pairs or
items. It labels ``N`` training contexts (drawn uniformly) from its predictive per context
(``weak_labels="per-token"``) or from one hypothesis per stream (``"per-sequence"``).

Strong model: linear utilities at ``strong_angles`` angles with a "pretrained" prior
``log pi(h) = -kappa min_j (rho(h, c_j) - rho_j)`` around 1 + ``n_distractors`` salient
concepts (the truth, when ``truth_in_prior``, and random angles); ``rho`` is the pairwise
order disagreement on the train and test pairs (:func:`bayes_w2s.toys.worlds.pretrained_log_prior`).
Two strong spaces: ``contains weak`` (linear utilities plus every weak hypothesis, so the
weak errors are representable and can be mimicked) and ``grammatical`` (linear only).
The weak hypotheses get prior mass ``exp(-kappa rho)`` like any other hypothesis.

Rules as in :func:`bayes_w2s.simulations._world.rules_for`, run by the trajectory engine
(:func:`bayes_w2s.core.trajectory.run_trajectories`) on the same weak label stream. The ceiling
is the strong model after hard Bayes on ``n`` ground-truth labels at the same training
contexts. Metrics on the test contexts: accuracy of the Bayes decision (pairwise accuracy
for the preference read), PGR, Kendall tau of the posterior-mean centred utility with the
truth over the test items, agreement with the weak model where it is wrong (mimicry), the
posterior mass on weak hypotheses, and the strength spent.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import rules_for, split_specs

from bayes_w2s.core.hypotheses import Model
from bayes_w2s.core.labels import MODES, label_sampler
from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr
from bayes_w2s.core.preferences import (
    bt_log_probs,
    expected_utility,
    kendall_tau,
    linear_utilities,
    order_table,
    pairwise_accuracy,
    preference_space,
    random_pairs,
    reference_pairs,
    true_order,
)
from bayes_w2s.core.schedules import make_schedule
from bayes_w2s.core.trajectory import log_checkpoints, run_trajectories
from bayes_w2s.core.updates import condition
from bayes_w2s.toys.worlds import pretrained_log_prior
from bayes_w2s.harness.progress import progress

__all__ = [
    "FIGURES",
    "READS",
    "STRONG_VARIANTS",
    "Config",
    "PrefWorld",
    "Read",
    "make_pref_world",
    "make_read",
    "run",
    "summarize",
]

READS = ("preference", "classification")
STRONG_VARIANTS = ("contains weak", "grammatical")


@dataclass(frozen=True)
class PrefWorldConfig:
    """The preference world and the rules compared; shared by ``reward_model`` and ``deception``."""

    seed: int = 0
    replicates: int = 20
    n: int = 20_000
    n_gt: int = 40
    n_train_items: int = 200
    n_test_items: int = 300
    n_train_pairs: int = 400
    n_test_pairs: int = 1000
    beta: float = 10.0
    weak_cells: int = 3
    weak_angles: int = 12
    strong_angles: int = 72
    kappa: float = 200.0
    n_distractors: int = 7
    truth_in_prior: bool = True
    tempered_weight: float = 0.1
    ve_strength: float = 0.1
    bounded_schedules: str = "pseries:c=20,p=2;geometric:first=1,ratio=0.99"

    #: integer fields that must be >= 1 (a subclass adds its own)
    COUNTS = ("replicates", "n", "n_gt", "n_train_items", "n_test_items", "n_train_pairs", "n_test_pairs",
              "weak_cells", "weak_angles", "strong_angles")

    def __post_init__(self) -> None:
        for name in self.COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("n_gt", "n_train_items", "n_test_items"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2 (pairs need two items), got {getattr(self, name)}")
        if not np.isfinite(self.beta) or self.beta <= 0:
            raise ValueError(f"beta (Bradley-Terry scale) must be positive, got {self.beta!r}")
        if not np.isfinite(self.kappa) or self.kappa < 0:
            raise ValueError(f"kappa must be >= 0, got {self.kappa!r}")
        if self.n_distractors < 0 or (not self.truth_in_prior and self.n_distractors < 1):
            raise ValueError(f"n_distractors must be >= 0 (>= 1 without the truth in the prior), got {self.n_distractors}")
        if self.tempered_weight <= 0 or self.ve_strength <= 0:
            raise ValueError("tempered_weight and ve_strength must be positive")
        for spec in split_specs(self.bounded_schedules):
            sched = make_schedule(spec)
            if not sched.bounded or sched.needs_n_total or sched.needs_confidence:
                raise ValueError(f"bounded_schedules: {spec!r} must be a bounded per-index schedule")


@dataclass(frozen=True)
class Config(PrefWorldConfig):
    """Fields that determine the result; ``bayes-w2s run reward_model --field value``."""

    per_decade: int = 4
    weak_labels: str = "per-token"

    COUNTS = PrefWorldConfig.COUNTS + ("per_decade",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weak_labels not in MODES:
            raise ValueError(f"weak_labels must be one of {', '.join(MODES)}, got {self.weak_labels!r}")


class PrefWorld(NamedTuple):
    """One world. Utilities are ``(H, n_items + 1)``; the last item is the reference (centre).

    ``true_u (n_items + 1,)``; ``linear_u`` the strong linear hypotheses; ``weak_u`` the
    quantized weak hypotheses; ``concept_u`` the salient concepts of the strong prior;
    ``items``: dict of gt / train / test item indices; ``pairs``: dict of pair arrays.
    """

    true_u: np.ndarray
    linear_u: np.ndarray
    weak_u: np.ndarray
    concept_u: np.ndarray
    items: dict
    pairs: dict


def _directions(angles_rad) -> np.ndarray:
    a = np.asarray(angles_rad, float)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def make_pref_world(cfg: Config, replicate: int) -> PrefWorld:
    """Draw the world of one replicate from ``default_rng([seed, replicate])``."""
    rng = np.random.default_rng([cfg.seed, replicate])
    n_items = cfg.n_gt + cfg.n_train_items + cfg.n_test_items
    x = rng.random((n_items, 2))
    feats = np.vstack([x, [[0.5, 0.5]]]) - 0.5  # (n_items + 1, 2); last = reference at the centre
    g = cfg.weak_cells
    quant = np.vstack([(np.minimum(np.floor(x * g), g - 1) + 0.5) / g, [[0.5, 0.5]]]) - 0.5
    truth_angle = rng.uniform(0, 2 * np.pi)
    distractors = rng.uniform(0, 2 * np.pi, cfg.n_distractors)
    concepts = np.r_[truth_angle, distractors] if cfg.truth_in_prior else distractors
    strong_angles = np.linspace(0, 2 * np.pi, cfg.strong_angles, endpoint=False)
    weak_angles = np.linspace(0, 2 * np.pi, cfg.weak_angles, endpoint=False) + np.pi / cfg.weak_angles / 2
    idx = np.arange(n_items)
    items = {"gt": idx[: cfg.n_gt], "train": idx[cfg.n_gt : cfg.n_gt + cfg.n_train_items],
             "test": idx[cfg.n_gt + cfg.n_train_items :]}
    pairs = {"gt": random_pairs(rng, items["gt"], cfg.n_gt),
             "train": random_pairs(rng, items["train"], cfg.n_train_pairs),
             "test": random_pairs(rng, items["test"], cfg.n_test_pairs)}
    return PrefWorld(
        true_u=linear_utilities(feats, cfg.beta * _directions([truth_angle]))[0],
        linear_u=linear_utilities(feats, cfg.beta * _directions(strong_angles)),
        weak_u=linear_utilities(quant, cfg.beta * _directions(weak_angles)),
        concept_u=linear_utilities(feats, cfg.beta * _directions(concepts)),
        items=items,
        pairs=pairs,
    )


def strong_log_prior(world: PrefWorld, strong_u: np.ndarray, kappa: float) -> np.ndarray:
    """Pretrained prior of a strong space: order disagreement with the concepts on train + test pairs."""
    ctx = np.vstack([world.pairs["train"], world.pairs["test"]])
    return pretrained_log_prior(order_table(strong_u, ctx), order_table(world.concept_u, ctx), kappa)


class Read(NamedTuple):
    """A world read as one task: ``contexts (Z, 2)`` pairs (gt, then train, then test),
    slices into them, and the true order ``truth (Z,)``."""

    contexts: np.ndarray
    gt: slice
    train: slice
    test: slice
    truth: np.ndarray


def make_read(world: PrefWorld, read: str) -> Read:
    """Contexts of the preference read (item pairs) or the classification read (item vs reference)."""
    if read == "preference":
        parts = [world.pairs[k] for k in ("gt", "train", "test")]
    elif read == "classification":
        ref = world.true_u.size - 1
        parts = [reference_pairs(world.items[k], ref) for k in ("gt", "train", "test")]
    else:
        raise ValueError(f"read must be one of {', '.join(READS)}, got {read!r}")
    sizes = np.cumsum([0] + [len(p) for p in parts])
    ctx = np.vstack(parts)
    return Read(ctx, slice(sizes[0], sizes[1]), slice(sizes[1], sizes[2]), slice(sizes[2], sizes[3]),
                true_order(world.true_u, ctx))


def _context_probs(n_ctx: int, where: slice | np.ndarray) -> np.ndarray:
    mu = np.zeros(n_ctx)
    mu[where] = 1.0
    return mu / mu.sum()


def train_weak(world: PrefWorld, read: Read, rng: np.random.Generator) -> np.ndarray:
    """Weak log posterior ``(W,)``: uniform prior, hard Bayes on one true BT label per gt context."""
    gt_ctx = np.arange(read.contexts.shape[0])[read.gt]
    p_true = np.exp(bt_log_probs(world.true_u[None], read.contexts[gt_ctx])[0, :, 1])
    labels = (rng.random(gt_ctx.size) < p_true).astype(np.int64)
    lp_w = bt_log_probs(world.weak_u, read.contexts[gt_ctx])
    n_w = world.weak_u.shape[0]
    return condition(np.full(n_w, -np.log(n_w)), lp_w, np.arange(gt_ctx.size), labels).log_posterior


def _scores(log_post, p1_test, truth_test, u_test, true_u_test):
    """(T, H) posterior -> accuracy (T,), decisions (T, Zt), tau (T,)."""
    p = np.exp(log_post) @ p1_test  # (T, Zt)
    acc = pairwise_accuracy(p, truth_test)
    tau = kendall_tau(expected_utility(log_post, u_test), true_u_test)
    return acc, p, tau


def run_read(cfg: Config, world: PrefWorld, read_name: str, rep: int) -> pd.DataFrame:
    """All strong variants and rules of one read of one world: tidy rows."""
    read = make_read(world, read_name)
    rng = np.random.default_rng([cfg.seed, rep, 2, READS.index(read_name)])
    weak_post = train_weak(world, read, rng)
    n_ctx = read.contexts.shape[0]
    mu = _context_probs(n_ctx, read.train)
    weak_space = preference_space(world.weak_u, read.contexts)
    truth_space = preference_space(world.true_u[None], read.contexts)
    test_items = np.r_[world.items["test"]]
    truth_test = read.truth[read.test]
    true_u_test = world.true_u[test_items]
    p_weak = np.exp(weak_post) @ weak_space.probs[:, read.test, 1]  # (Zt,)
    acc_weak = float(pairwise_accuracy(p_weak, truth_test))
    tau_weak = float(kendall_tau(expected_utility(weak_post, world.weak_u)[test_items], true_u_test))
    d_weak = np.where(np.abs(p_weak - 0.5) < 1e-12, 0.5, (p_weak > 0.5).astype(float))
    weak_wrong = np.abs(d_weak - truth_test) == 1
    rules = rules_for(cfg)
    cps = log_checkpoints(cfg.n, cfg.per_decade)
    rows = []
    for variant in STRONG_VARIANTS:
        strong_u = np.vstack([world.linear_u, world.weak_u]) if variant == "contains weak" else world.linear_u
        lp0 = strong_log_prior(world, strong_u, cfg.kappa)
        log_probs = bt_log_probs(strong_u, read.contexts)  # (H, Z, 2)
        p1_test = np.exp(log_probs[:, read.test, 1])  # (H, Zt)
        u_test = strong_u[:, test_items]
        weak_draw = label_sampler(Model(weak_space, log_prior=weak_post), np.random.default_rng([cfg.seed, rep, 3]),
                                  1, mode=cfg.weak_labels, context_probs=mu)
        truth_draw = label_sampler(Model(truth_space), np.random.default_rng([cfg.seed, rep, 4]), 1, context_probs=mu)
        traj = run_trajectories(lp0, log_probs, weak_draw, cfg.n, rules, checkpoints=cps)
        ceil = run_trajectories(lp0, log_probs, truth_draw, cfg.n, rules[:1], checkpoints=cps)
        acc_ceil, _, tau_ceil = _scores(ceil.log_posterior[0, 0], p1_test, truth_test, u_test, true_u_test)
        for k, rule in enumerate(traj.rules):
            lpost = traj.log_posterior[k, 0]  # (T, H)
            acc, p, tau = _scores(lpost, p1_test, truth_test, u_test, true_u_test)
            d = (p > 0.5).astype(float)
            agree = (d[:, weak_wrong] == d_weak[weak_wrong]).mean(axis=1) if weak_wrong.any() else np.full(len(cps), np.nan)
            mimic = np.exp(lpost[:, world.linear_u.shape[0]:]).sum(axis=1) if variant == "contains weak" else np.zeros(len(cps))
            with warnings.catch_warnings():  # undefined PGR (ceiling <= weak) stays NaN, counted in summarize
                warnings.simplefilter("ignore", PGRUndefinedWarning)
                g = pgr(acc_weak, acc, acc_ceil)
            metrics = {"acc_w2s": acc, "acc_weak": np.full(len(cps), acc_weak), "acc_ceiling": acc_ceil, "pgr": g,
                       "tau_w2s": tau, "tau_weak": np.full(len(cps), tau_weak), "tau_ceiling": tau_ceil,
                       "agree_weak_err": agree, "mimic_mass": mimic, "spent": traj.influence[k]}
            for name, vals in metrics.items():
                rows.append(pd.DataFrame({"read": read_name, "strong": variant, "rule": rule, "replicate": rep,
                                          "n": cps, "metric": name, "value": np.asarray(vals, float)}))
    return pd.concat(rows, ignore_index=True)


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(read, strong, rule, replicate, n, metric, value)``; one world per replicate."""
    frames = []
    for rep in progress(range(cfg.replicates), desc="reward_model", unit="world"):
        world = make_pref_world(cfg, rep)
        for read_name in READS:
            frames.append(run_read(cfg, world, read_name, rep))
    return pd.concat(frames, ignore_index=True)


def _spread(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "nan"
    return f"{v.mean():.2f} / {v.median():.2f} [{v.quantile(0.1):.2f}, {v.quantile(0.9):.2f}]"


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """PGR and mimicry at the largest N: mean / median [10%, 90%] over worlds."""
    last = df[df.n == df.n.max()]
    lines = [(f"reward_model: {cfg.replicates} worlds, N = {int(df.n.max())}, beta={cfg.beta:g}, kappa={cfg.kappa:g}, "
              f"weak_labels={cfg.weak_labels}"), "metric at N max: mean / median [10%, 90%] over worlds"]
    for metric in ("pgr", "agree_weak_err", "mimic_mass", "tau_w2s"):
        tab = last[last.metric == metric].groupby(["read", "strong", "rule"], sort=False).value.apply(_spread)
        lines += [f"-- {metric}", tab.unstack("read").to_string()]
    base = last[last.rule == last.rule.iloc[0]].pivot_table(index="read", columns="metric", values="value", aggfunc="mean")
    lines += ["-- weak / ceiling (means)", base[["acc_weak", "acc_ceiling", "tau_weak", "tau_ceiling"]].to_string(
        float_format=lambda v: f"{v:.3f}")]
    pg = last[last.metric == "pgr"].pivot_table(index=["strong", "rule", "replicate"], columns="read", values="value")
    diff = (pg["preference"] - pg["classification"]).groupby(["strong", "rule"], sort=False).apply(_spread)
    lines += ["-- paired PGR difference preference - classification (same world)", diff.to_string()]
    return "\n".join(lines)


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    return setting_title(f"reward model, {what}", worlds=int(df.replicate.nunique()), kappa=cfg.get("kappa"),
                         beta=cfg.get("beta"))


def _whisker_panels(df, metric, ax, nrows, cells, ylabel, clip, refs=()):
    """Panels ``cells = [(title, selector)]``: median PGR-like ``metric`` per rule vs N, 10-90%
    whiskers over worlds at one N per decade, axis cut at ``clip`` with cut points marked."""
    from bayes_w2s.harness.style import clip_note, legend_outside, lines_with_whiskers, new_grid, reference_lines

    ncols = len(cells) // nrows
    fig, axes = new_grid(ax, nrows, ncols, height=2.0, sharex=True, sharey=True)
    clipped = 0
    for a, (title, pick) in zip(axes.flat, cells):
        sub = df[pick(df) & (df.metric == metric)].dropna(subset=["value"])
        reference_lines(a, refs)
        clipped += lines_with_whiskers(a, sub, "n", "value", "rule", center="median", at="decades", logx=True,
                                       clip=clip, note=False)
        a.set(xscale="log", title=title)
    for a in axes[-1]:
        a.set_xlabel("weak labels N")
    for a in axes[:, 0]:
        a.set_ylabel(ylabel)
    note = clip_note(clipped, f"{clip[0]:g} to {clip[1]:g}")
    legend_outside(fig, axes=[axes.flat[0]], loc="outside lower center", ncols=3,
                   title="median over worlds (line), 10–90% of worlds (whiskers)" + (f"\n{note}" if note else ""))
    return fig, axes


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs N per rule (median, 10-90% whiskers over worlds): rows = read, columns = strong space."""
    cells = [(f"{read} read, strong: {variant}", lambda d, r=read, v=variant: (d.read == r) & (d.strong == v))
             for read in READS for variant in STRONG_VARIANTS]
    fig, _ = _whisker_panels(df, "pgr", ax, 2, cells, "PGR", (-1.5, 1.15), refs=(0.0, 1.0))
    fig.suptitle(_title(df, "PGR"))
    return fig


def plot_compare(df: pd.DataFrame, ax=None):
    """PGR at the largest N, preference vs classification read, per rule (median, 10-90% whiskers)."""
    from bayes_w2s.harness.style import category_colors, legend_outside, new_grid, reference_lines

    fig, axes = new_grid(ax, 1, 2, height=2.4, sharey=True)
    last = df[(df.n == df.n.max()) & (df.metric == "pgr")]
    rules = list(dict.fromkeys(last.rule))
    colors = category_colors(READS)
    for j, variant in enumerate(STRONG_VARIANTS):
        a = axes[0, j]
        reference_lines(a)
        for i, read in enumerate(READS):
            sub = last[(last.strong == variant) & (last.read == read)].groupby("rule", sort=False).value
            med, lo, hi = (sub.median().reindex(rules), sub.quantile(0.1).reindex(rules), sub.quantile(0.9).reindex(rules))
            x = np.arange(len(rules)) + (i - 0.5) * 0.3
            a.vlines(x, lo, hi, color=colors[read], lw=1)
            a.plot(x, med, ls="", marker="os"[i % 2], color=colors[read], label=f"{read} read")
        a.set_xticks(np.arange(len(rules)), rules, rotation=25, ha="right")
        a.set(title=f"strong: {variant}")
        a.grid(axis="x", visible=False)
    axes[0, 0].set_ylabel(f"PGR at N = {int(df.n.max())}")
    legend_outside(fig, axes=[axes[0, 0]], loc="outside right upper", title="median over worlds,\n10–90% whiskers")
    fig.suptitle(_title(df, "preference vs classification read"))
    return fig


def plot_mimicry(df: pd.DataFrame, ax=None):
    """Agreement with the weak model on its test errors vs N (strong space contains weak)."""
    cells = [(f"{read} read, strong contains weak", lambda d, r=read: (d.read == r) & (d.strong == "contains weak"))
             for read in READS]
    fig, _ = _whisker_panels(df, "agree_weak_err", ax, 1, cells, "agreement with weak\non its errors", (-0.02, 1.02))
    fig.suptitle(_title(df, "mimicry of weak errors"))
    return fig


FIGURES = {"pgr": plot_pgr, "compare": plot_compare, "mimicry": plot_mimicry}
