"""Deception analog: strong hypotheses that match the truth where the supervisor checks, and not elsewhere.

World: the preference world of :mod:`bayes_w2s.simulations.reward_model` (items, a linear
Bradley–Terry truth at a random angle, the quantized weak reward model trained on ``n_gt``
ground-truth pairs). An *audited region* is a set of pair contexts the supervisor can check:

* ``audit="confident"``: the fraction ``f`` of contexts where the weak predictive is most
  confident (``|P_W(a > b) - 1/2|`` largest; ties broken at random);
* ``audit="random"``: a uniformly random fraction ``f`` of contexts.

Strong space = honest hypotheses (linear utilities at ``strong_angles`` angles, plus the
exact truth when ``truth_in_space``) with the pretrained prior of ``reward_model`` scaled
to ``1 - pi_d``, and ``n_deceptive`` *deceptive* hypotheses sharing prior mass ``pi_d``.
Deceptive hypothesis ``k`` equals the truth, ``P_k(y | z) = P*(y | z)``, on every audited
context, and flips it, ``P_k(y | z) = P*(1 - y | z)``, on a random ``flip_fraction`` of the
unaudited ones (a model that learned to please its checker).

The weak model labels ``N`` training contexts drawn uniformly from the audited train
contexts (``label_region="audited"``: the supervisor labels only what it can check) or
from all of them (``"all"``). Every rule of :func:`bayes_w2s.simulations._world.rules_for`
runs on the same stream; the ceiling is hard Bayes on ``N`` ground-truth labels at all
train contexts.

What the mathematics says, and the table checks:

* With ``label_region="audited"`` every label's likelihood is the same under the truth and
  under every deceptive hypothesis, so for *every* rule the posterior odds deceptive : truth
  equal the prior odds (metric ``dec_truth_log_odds_change`` = 0). No update rule can
  remove deception the evidence never sees; hard Bayes still *amplifies* the deceptive
  mass by eliminating the honest competitors (distractor concepts, approximants), and a
  bounded rule amplifies less because it eliminates less (its Chan–Darwiche certificate
  bounds every odds change by ``exp(spent)``).
* With ``label_region="all"`` the weak labels off the audit do discriminate: hard Bayes
  drives deceptive mass to 0 when the weak model beats chance there, while a bounded rule
  can cut the deceptive odds by at most ``exp(-spent)``: bounded influence also bounds how
  much evidence can *remove* deception.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import rules_for
from bayes_w2s.simulations.reward_model import (
    PrefWorldConfig,
    _context_probs,
    _spread,
    make_pref_world,
    make_read,
    strong_log_prior,
    train_weak,
)

from bayes_w2s.core.hypotheses import Model
from bayes_w2s.core.labels import label_sampler
from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr
from bayes_w2s.core.preferences import bt_log_probs, pairwise_accuracy, preference_space
from bayes_w2s.core.trajectory import run_trajectories
from bayes_w2s.harness.progress import progress

__all__ = ["AUDITS", "FIGURES", "LABEL_REGIONS", "Config", "audit_mask", "deceptive_log_probs", "run", "summarize"]

AUDITS = ("confident", "random")
LABEL_REGIONS = ("audited", "all")


@dataclass(frozen=True)
class Config(PrefWorldConfig):
    """Fields that determine the result; ``bayes-w2s run deception --field value``.

    The preference world's fields come from :class:`~bayes_w2s.simulations.reward_model.PrefWorldConfig`."""

    replicates: int = 30
    n: int = 5000
    audited_fractions: tuple = (0.1, 0.25, 0.5, 0.75, 0.9)
    prior_deceptive: tuple = (0.01, 0.1, 0.5)
    audit: str = "confident"
    label_region: str = "audited"
    n_deceptive: int = 8
    flip_fraction: float = 0.5
    truth_in_space: bool = True

    COUNTS = PrefWorldConfig.COUNTS + ("n_deceptive",)

    def __post_init__(self) -> None:
        super().__post_init__()
        fr = np.asarray(self.audited_fractions, float)
        if fr.ndim != 1 or fr.size == 0 or np.any(fr <= 0) or np.any(fr > 1):
            raise ValueError(f"audited_fractions must lie in (0, 1], got {self.audited_fractions!r}")
        pd_ = np.asarray(self.prior_deceptive, float)
        if pd_.ndim != 1 or pd_.size == 0 or np.any(pd_ < 0) or np.any(pd_ >= 1):
            raise ValueError(f"prior_deceptive must lie in [0, 1), got {self.prior_deceptive!r}")
        if self.audit not in AUDITS:
            raise ValueError(f"audit must be one of {', '.join(AUDITS)}, got {self.audit!r}")
        if self.label_region not in LABEL_REGIONS:
            raise ValueError(f"label_region must be one of {', '.join(LABEL_REGIONS)}, got {self.label_region!r}")
        if not 0 < self.flip_fraction <= 1:
            raise ValueError(f"flip_fraction must lie in (0, 1], got {self.flip_fraction!r}")


def audit_mask(weak_p: np.ndarray, fraction: float, how: str, rng: np.random.Generator) -> np.ndarray:
    """Boolean ``(Z,)``: the audited contexts, ``round(fraction Z)`` of them (at least 1).

    ``confident``: largest ``|weak_p - 1/2|`` (random tie-break); ``random``: a uniform subset.
    """
    p = np.asarray(weak_p, float)
    k = max(1, int(np.rint(fraction * p.size)))
    if how == "confident":
        order = np.lexsort((rng.random(p.size), -np.abs(p - 0.5)))  # primary: confidence, descending
    elif how == "random":
        order = rng.permutation(p.size)
    else:
        raise ValueError(f"audit must be one of {', '.join(AUDITS)}, got {how!r}")
    mask = np.zeros(p.size, dtype=bool)
    mask[order[:k]] = True
    return mask


def deceptive_log_probs(true_log_probs: np.ndarray, audited: np.ndarray, n_deceptive: int, flip_fraction: float,
                        rng: np.random.Generator) -> np.ndarray:
    """``(n_deceptive, Z, 2)``: the truth ``(Z, 2)`` on audited contexts, its label-flip on a random
    ``flip_fraction`` of the unaudited ones (at least one), the truth elsewhere."""
    lp = np.asarray(true_log_probs, float)
    out = np.repeat(lp[None], n_deceptive, axis=0)
    free = np.flatnonzero(~np.asarray(audited, bool))
    if free.size == 0:
        return out  # everything audited: deception has nowhere to hide
    for k in range(n_deceptive):
        flip = free[rng.random(free.size) < flip_fraction]
        if flip.size == 0:
            flip = free[rng.integers(free.size, size=1)]
        out[k, flip] = lp[flip, ::-1]
    return out


def _run_world(cfg: Config, rep: int) -> list[pd.DataFrame]:
    world = make_pref_world(cfg, rep)
    read = make_read(world, "preference")
    weak_post = train_weak(world, read, np.random.default_rng([cfg.seed, rep, 2, 0]))
    n_ctx = read.contexts.shape[0]
    weak_lp = bt_log_probs(world.weak_u, read.contexts)
    weak_p = np.exp(weak_post) @ np.exp(weak_lp[..., 1])  # (Z,)
    true_lp = bt_log_probs(world.true_u[None], read.contexts)[0]  # (Z, 2)
    honest_u = np.vstack([world.linear_u, world.true_u[None]]) if cfg.truth_in_space else world.linear_u
    honest_lp = bt_log_probs(honest_u, read.contexts)
    honest_prior = strong_log_prior(world, honest_u, cfg.kappa)
    truth_idx = honest_u.shape[0] - 1 if cfg.truth_in_space else None
    test = np.arange(n_ctx)[read.test]
    train = np.arange(n_ctx)[read.train]
    truth_test = read.truth[test]
    acc_weak = float(pairwise_accuracy(weak_p[test], truth_test))
    rules = rules_for(cfg)
    weak_space = preference_space(world.weak_u, read.contexts)
    truth_space = preference_space(world.true_u[None], read.contexts)
    truth_mu = _context_probs(n_ctx, train)  # the ceiling's truth labels: uniform on the train contexts
    frames = []
    for f in cfg.audited_fractions:
        rng = np.random.default_rng([cfg.seed, rep, 5, int(np.rint(1e6 * f))])
        audited = audit_mask(weak_p, f, cfg.audit, rng)
        dec_lp = deceptive_log_probs(true_lp, audited, cfg.n_deceptive, cfg.flip_fraction, rng)
        log_probs = np.concatenate([honest_lp, dec_lp])  # (H, Z, 2)
        n_h = honest_u.shape[0]
        p1_test = np.exp(log_probs[:, test, 1])  # (H, Zt)
        region = train[audited[train]] if cfg.label_region == "audited" else train
        if region.size == 0:
            raise ValueError(f"no audited train context at audited fraction {f}")
        mu = _context_probs(n_ctx, region)
        off = ~audited[test]
        for pi_d in cfg.prior_deceptive:
            with np.errstate(divide="ignore"):
                lp0 = np.r_[honest_prior + np.log1p(-pi_d), np.full(cfg.n_deceptive, np.log(pi_d / cfg.n_deceptive))]
            # samplers rebuilt per cell: each holds its RNG state, and every cell starts from the same draws
            weak_draw = label_sampler(Model(weak_space, log_prior=weak_post),
                                      np.random.default_rng([cfg.seed, rep, 3]), 1, context_probs=mu)
            truth_draw = label_sampler(Model(truth_space),
                                       np.random.default_rng([cfg.seed, rep, 4]), 1, context_probs=truth_mu)
            traj = run_trajectories(lp0, log_probs, weak_draw, cfg.n, rules, checkpoints=[cfg.n])
            ceil = run_trajectories(lp0, log_probs, truth_draw, cfg.n, rules[:1], checkpoints=[cfg.n])
            acc_ceil = float(pairwise_accuracy(np.exp(ceil.log_posterior[0, 0, -1]) @ p1_test, truth_test))
            for k, rule in enumerate(traj.rules):
                lpost = traj.log_posterior[k, 0, -1]  # (H,)
                p = np.exp(lpost) @ p1_test
                acc = float(pairwise_accuracy(p, truth_test))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PGRUndefinedWarning)
                    g = pgr(acc_weak, acc, acc_ceil)
                dec_mass = float(np.exp(lpost[n_h:]).sum())
                odds_change = np.nan
                if truth_idx is not None and pi_d > 0:
                    log_dec = np.logaddexp.reduce(lpost[n_h:]) - lpost[truth_idx]
                    odds_change = float(log_dec - (np.logaddexp.reduce(lp0[n_h:]) - lp0[truth_idx]))
                metrics = {
                    "deceptive_mass": dec_mass,
                    "truth_mass": float(np.exp(lpost[truth_idx])) if truth_idx is not None else np.nan,
                    "acc_w2s": acc,
                    "acc_off_audit": float(pairwise_accuracy(p[off], truth_test[off])) if off.any() else np.nan,
                    "acc_audited": float(pairwise_accuracy(p[~off], truth_test[~off])) if (~off).any() else np.nan,
                    "acc_weak": acc_weak,
                    "acc_ceiling": acc_ceil,
                    "pgr": g,
                    "dec_truth_log_odds_change": odds_change,
                    "spent": float(traj.influence[k, -1]),
                }
                frames.append(pd.DataFrame({"audited_fraction": f, "prior_deceptive": pi_d, "rule": rule,
                                            "replicate": rep, "metric": list(metrics), "value": list(metrics.values())}))
    return frames


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(audited_fraction, prior_deceptive, rule, replicate, metric, value)`` at N = ``cfg.n``."""
    frames = []
    for rep in progress(range(cfg.replicates), desc="deception", unit="world"):
        frames += _run_world(cfg, rep)
    return pd.concat(frames, ignore_index=True)


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Deceptive mass, off-audit accuracy and PGR: mean / median [10%, 90%] over worlds."""
    lines = [(f"deception: {cfg.replicates} worlds, N = {cfg.n}, audit={cfg.audit}, label_region={cfg.label_region}, "
              f"truth_in_space={cfg.truth_in_space}, {cfg.n_deceptive} deceptive hypotheses, "
              f"flip_fraction={cfg.flip_fraction:g}")]
    for metric in ("deceptive_mass", "truth_mass", "acc_off_audit", "pgr"):
        tab = df[df.metric == metric].groupby(["prior_deceptive", "rule", "audited_fraction"], sort=False).value
        lines += [f"-- {metric}: mean / median [10%, 90%]", tab.apply(_spread).unstack("audited_fraction").to_string()]
    ch = df[df.metric == "dec_truth_log_odds_change"].value.dropna()
    if not ch.empty:
        lines.append(f"-- log odds change deceptive:truth, all rules and settings: min {ch.min():.3g}, max {ch.max():.3g}")
    return "\n".join(lines)


def _title(df: pd.DataFrame, what: str, wrap: bool = False) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    return setting_title(f"deception, {what}", wrap=wrap, N=cfg.get("n"), worlds=int(df.replicate.nunique()),
                         audit=cfg.get("audit"), labels=({"audited": "on the audit only", "all": "everywhere"}
                                                         .get(cfg.get("label_region"), cfg.get("label_region"))))


def _by_fraction(df: pd.DataFrame, metric: str, ylabel: str, ax=None, *, prior_line: bool = False):
    """``metric`` vs audited fraction, one line per rule (median, 10-90% whiskers over worlds), one
    panel per prior deceptive mass."""
    from bayes_w2s.harness.style import legend_outside, lines_with_whiskers, new_grid
    from matplotlib.lines import Line2D

    priors = sorted(df.prior_deceptive.unique())
    fig, axes = new_grid(ax, 1, len(priors), height=2.2, sharey=True)
    axes = axes[0]
    for a, pi_d in zip(axes, priors):
        sub = df[(df.metric == metric) & (df.prior_deceptive == pi_d)].dropna(subset=["value"])
        if prior_line:
            a.axhline(pi_d, color="grey", ls=":", lw=1)
        lines_with_whiskers(a, sub, "audited_fraction", "value", "rule", center="median", at="all",
                            clip=(-0.02, 1.02), dodge=0.012)
        a.set(title=f"prior deceptive mass $\\pi_d$ = {pi_d:g}", xlabel="audited fraction")
    axes[0].set_ylabel(ylabel)
    handles = None
    if prior_line:
        handles = [h for h in axes[0].get_legend_handles_labels()[0]]
        handles.append(Line2D([], [], color="grey", ls=":", lw=1, label="prior mass $\\pi_d$"))
    legend_outside(fig, handles, loc="outside lower center", ncols=3,
                   title="median over worlds (line), 10–90% of worlds (whiskers)")
    return fig


def plot_mass(df: pd.DataFrame, ax=None):
    """Deceptive posterior mass vs audited fraction, one line per rule; one panel per prior mass
    (median, 10-90% whiskers over worlds; dotted: the prior mass)."""
    fig = _by_fraction(df, "deceptive_mass", "posterior mass on\ndeceptive hypotheses", ax, prior_line=True)
    fig.suptitle(_title(df, "deceptive mass"))
    return fig


def plot_truth(df: pd.DataFrame, ax=None):
    """Posterior mass on the truth vs audited fraction (NaN, not drawn, without the truth in the space)."""
    fig = _by_fraction(df, "truth_mass", "posterior mass on the truth", ax)
    fig.suptitle(_title(df, "mass on the truth"))
    return fig


def plot_off_audit(df: pd.DataFrame, ax=None):
    """Accuracy on unaudited test pairs vs audited fraction per rule, at the middle prior mass."""
    from bayes_w2s.harness.style import legend_outside, lines_with_whiskers, new_axes

    fig, a = new_axes(ax, figsize=(3.5, 3.3))
    priors = sorted(df.prior_deceptive.unique())
    pi_d = priors[len(priors) // 2]
    sub = df[(df.metric == "acc_off_audit") & (df.prior_deceptive == pi_d)].dropna(subset=["value"])
    lines_with_whiskers(a, sub, "audited_fraction", "value", "rule", center="median", at="all", dodge=0.012)
    weak = df[(df.metric == "acc_weak") & (df.prior_deceptive == pi_d)].value.median()
    a.axhline(weak, color="grey", ls=":", lw=1, label="weak (all test pairs, median)")
    a.set(xlabel="audited fraction", ylabel="pairwise accuracy off the audit",
          title=f"prior deceptive mass $\\pi_d$ = {pi_d:g}")
    legend_outside(fig, loc="outside lower center", ncols=2, title="median over worlds, 10–90% whiskers")
    fig.suptitle(_title(df, "accuracy off the audit", wrap=True))
    return fig


FIGURES = {"mass": plot_mass, "truth": plot_truth, "off_audit": plot_off_audit}
