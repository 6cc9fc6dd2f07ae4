"""The weak-to-strong pipeline in the classification world: train weak, label, train strong, score.

1. **Weak model**: the weak class's posterior after hard Bayes on ground-truth labels
   (:func:`posterior_on_labels`, i.e. :func:`bayes_w2s.core.updates.condition`).
2. **Weak labels**: ``N`` draws ``z ~ Uniform(train pool)``, ``y ~ P_W(. | z)`` (``sample``,
   the weak predictive per token) or ``y = argmax_y P_W(y | z)`` (``argmax``);
   :func:`sample_stream`.
3. **Strong model**: the strong prior conditioned on the stream under each rule;
   :func:`fit`. Because every hypothesis is a labeler with label noise, ``P(y_i | z_i, h)``
   takes only the values ``p_hit = 1 - eps`` (``h(z_i) = y_i``) and ``p_miss = eps/(K-1)``,
   so each rule's log-likelihood term is affine in the match indicator:

       term_i(h) = term_i(miss) + g_i [h(z_i) = y_i],
       g_i = log p_hit - log p_miss                                  (hard Bayes)
           = w_i (log p_hit - log p_miss)                            (tempered, weight w_i)
           = log(1 + (r_i - 1) p_hit) - log(1 + (r_i - 1) p_miss)    (virtual evidence, log r_i = s_i)

   and ``log post(h) = log prior(h) + sum_{z,y} W[z, y] [h(z) = y] - log Z`` with weighted
   counts ``W[z, y] = sum_i g_i [z_i = z, y_i = y]``: exact for every schedule, linear in N.
   (Checked against :func:`bayes_w2s.core.updates.condition` in the tests.) For a small
   strength ``s``, ``g ~ s (p_hit - p_miss)``: a budget ``B`` spread over the data gives the
   Gibbs posterior ``prior(h) exp(B (p_hit - p_miss) agree(h))`` whatever N is.
4. **Scores** on the test pool (:func:`score_fit`): accuracy of the Bayes decision
   ``argmax_y P(y | z)`` (for symmetric noise: the label with most posterior mass), PGR
   against the ceiling (the strong model after hard Bayes on ground-truth labels at the
   same inputs; Burns et al. 2023), agreement with the weak model *on the test inputs
   where the weak model is wrong* (mimicry of errors), the strength spent (for virtual
   evidence a certificate: the Chan–Darwiche distance from the prior is at most it) and
   that distance itself.

References
----------
Burns, C. et al. (2023). Weak-to-strong generalization. arXiv:2312.09390.
Chan, H. & Darwiche, A. (2005). On the revision of probabilistic beliefs using uncertain
evidence. Artificial Intelligence 163.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from bayes_w2s.core.metrics import PGRUndefinedWarning, influence_distance, pgr
from bayes_w2s.core.trajectory import Rule
from bayes_w2s.core.updates import condition, weak_label_loglik
from bayes_w2s.toys.worlds import LabelerClass, World, likelihood_values, noisy_space

__all__ = [
    "LABEL_MODES",
    "Stream",
    "Fit",
    "posterior_on_labels",
    "label_mass",
    "decide",
    "predictive",
    "sample_stream",
    "match_weights",
    "fit",
    "score_fit",
    "WeakModel",
    "train_weak",
    "weak_to_strong",
    "selected_concept",
]

LABEL_MODES = ("sample", "argmax")


class Stream(NamedTuple):
    """A labelled stream: ``contexts (N,)`` pool indices and ``labels (N,)``, in order."""

    contexts: NDArray[np.int64]
    labels: NDArray[np.int64]


class Fit(NamedTuple):
    """Strong posteriors after the first n labels of a stream, per rule.

    ``checkpoints (T,)``: the n; ``rules``: labels; ``log_posterior (n_rules, T, H)``
    normalized; ``spent (n_rules, T)``: ``sum_{i<=n} s_i`` (``inf`` for hard Bayes);
    ``log_prior (H,)``.
    """

    checkpoints: NDArray[np.int64]
    rules: tuple[str, ...]
    log_posterior: NDArray[np.float64]
    spent: NDArray[np.float64]
    log_prior: NDArray[np.float64]


def posterior_on_labels(
    cls: LabelerClass, eps: float, log_prior: ArrayLike, contexts: ArrayLike, labels: ArrayLike
) -> NDArray[np.float64]:
    """Hard-Bayes posterior ``(H,)`` of a noisy class after labels at contexts (via ``condition``)."""
    ctx = np.asarray(contexts)
    used, local = np.unique(ctx, return_inverse=True)
    space = noisy_space(LabelerClass(cls.labels[:, used], cls.names, cls.n_labels), eps)  # only the seen contexts
    return condition(log_prior, space.log_probs, local.reshape(ctx.shape), np.asarray(labels), rule="bayes").log_posterior


def label_mass(labels: ArrayLike, log_posterior: ArrayLike, n_labels: int = 2) -> NDArray[np.float64]:
    """``m[..., z, y] = sum_h post(h) [h(z) = y]`` for ``labels (H, Z)``, ``log_posterior (..., H)``."""
    lab = np.asarray(labels)
    lpost = np.asarray(log_posterior, float)
    post = np.exp(lpost.reshape(-1, lpost.shape[-1]))  # (B, H): 2-D so the product goes to BLAS
    if n_labels == 2:
        one = post @ lab.astype(float)  # (B, Z)
        mass = np.stack([post.sum(axis=-1, keepdims=True) - one, one], axis=-1)
    else:
        mass = np.stack([post @ (lab == y).astype(float) for y in range(n_labels)], axis=-1)
    return mass.reshape(*lpost.shape[:-1], lab.shape[1], n_labels)


def predictive(labels: ArrayLike, log_posterior: ArrayLike, eps: float, n_labels: int = 2) -> NDArray[np.float64]:
    """``P(y | z) = p_miss + (p_hit - p_miss) m[z, y]``, shape ``(..., Z, K)``."""
    hit, miss = likelihood_values(eps, n_labels)
    return miss + (hit - miss) * label_mass(labels, log_posterior, n_labels)


def decide(mass: ArrayLike) -> NDArray[np.int64]:
    """Bayes decision ``argmax_y`` of label mass (or predictive) ``(..., Z, K)`` -> ``(..., Z)``."""
    return np.argmax(np.asarray(mass), axis=-1)


def sample_stream(
    rng: np.random.Generator, contexts: ArrayLike, label_probs: ArrayLike, n: int, *, mode: str = "sample"
) -> Stream:
    """``n`` labels at contexts drawn uniformly from ``contexts (Zs,)``.

    ``label_probs (Zs, K)`` is the labeler's ``P(y | z)`` at those contexts; ``sample``
    draws ``y`` from it, ``argmax`` takes its most likely label (a hard weak label).
    """
    ctx = np.asarray(contexts)
    probs = np.asarray(label_probs, float)
    if mode not in LABEL_MODES:
        raise ValueError(f"unknown weak-label mode {mode!r}; known: {', '.join(LABEL_MODES)}")
    if probs.ndim != 2 or probs.shape[0] != ctx.shape[0]:
        raise ValueError(f"label_probs must be (n_contexts, K) matching contexts, got {probs.shape}")
    if int(n) != n or n < 1:
        raise ValueError(f"stream length must be a positive integer, got {n!r}")
    pick = rng.integers(0, ctx.shape[0], size=int(n))
    if mode == "argmax":
        y = np.argmax(probs, axis=1)[pick]
    else:
        cdf = np.cumsum(probs, axis=1)[pick]  # (n, K)
        y = np.minimum((rng.random(int(n))[:, None] >= cdf[:, :-1]).sum(axis=1), probs.shape[1] - 1)
    return Stream(ctx[pick].astype(np.int64), y.astype(np.int64))


def match_weights(rule: Rule, strengths: ArrayLike | None, eps: float, n_labels: int = 2) -> NDArray[np.float64]:
    """``g_i``: the extra log-likelihood a label gives a hypothesis that matches it (see module doc)."""
    hit, miss = likelihood_values(eps, n_labels)
    ratio = np.log(hit) - np.log(miss)
    if rule.kind == "bayes":
        return np.asarray(ratio)
    s = np.asarray(strengths, float)
    if rule.kind == "tempered":
        return s * ratio
    return weak_label_loglik(np.log(hit), s) - weak_label_loglik(np.log(miss), s)


def fit(
    log_prior: ArrayLike,
    cls: LabelerClass,
    eps: float,
    stream: Stream,
    rules: Sequence[Rule],
    checkpoints: ArrayLike,
) -> Fit:
    """Condition the noisy class on the first n labels of a stream, for every rule and checkpoint n.

    Schedules that need the dataset size (``budget``) get ``N = n`` at each checkpoint:
    the posterior at n is that of a dataset of n labels with strengths ``B / n``.
    """
    lp = np.asarray(log_prior, float)
    if lp.shape != (len(cls),):
        raise ValueError(f"log_prior must have shape ({len(cls)},), got {lp.shape}")
    cps = np.unique(np.asarray(checkpoints, dtype=np.int64))
    n_max = stream.contexts.shape[0]
    if cps.size == 0 or cps[0] < 1 or cps[-1] > n_max:
        raise ValueError(f"checkpoints must lie in [1, {n_max}] (the stream length)")
    rules = list(rules)
    if not rules or not all(isinstance(r, Rule) for r in rules):
        raise ValueError("rules must be a non-empty sequence of bayes_w2s.Rule")
    k = cls.n_labels
    z_all, y_all = stream.contexts[: cps[-1]], stream.labels[: cps[-1]]
    used = np.unique(z_all)
    local = np.searchsorted(used, z_all)
    n_cat, n_t = used.size * k, cps.size
    cat = local * k + y_all  # (n,)
    seg = np.searchsorted(cps, np.arange(1, cps[-1] + 1))  # checkpoint segment of label i
    match = (cls.labels[:, used][:, :, None] == np.arange(k)).reshape(len(cls), n_cat).T.astype(float)  # (C, H)

    def prefix_weights(g):  # (n,) -> (T, C) cumulative weighted counts
        w = np.bincount(seg * n_cat + cat, weights=np.broadcast_to(g, cat.shape), minlength=n_t * n_cat)
        return np.cumsum(w.reshape(n_t, n_cat), axis=0)

    counts = None
    weights, spent = [], []
    for rule in rules:
        sched = rule.schedule
        if rule.kind == "bayes":
            weights.append(prefix_weights(match_weights(rule, None, eps, k)))
            spent.append(np.full(n_t, np.inf))
        elif sched.needs_n_total:
            if counts is None:
                counts = prefix_weights(1.0)
            rows, tot = [], []
            for t, n in enumerate(cps):
                s = sched.strengths(int(n))
                tot.append(s.sum())
                if np.all(s == s[0]):
                    rows.append(counts[t] * match_weights(rule, s[0], eps, k))
                else:
                    rows.append(np.bincount(cat[:n], weights=match_weights(rule, s, eps, k), minlength=n_cat))
            weights.append(np.stack(rows))
            spent.append(np.asarray(tot))
        else:
            s = sched.strengths(int(cps[-1]))
            weights.append(prefix_weights(match_weights(rule, s, eps, k)))
            spent.append(np.cumsum(s)[cps - 1])
    loglik = (np.stack(weights).reshape(-1, n_cat) @ match).reshape(len(rules), n_t, -1)  # (n_rules, T, H)
    unnorm = lp + loglik
    post = unnorm - logsumexp(unnorm, axis=-1, keepdims=True)
    return Fit(cps, tuple(r.label for r in rules), post, np.stack(spent), lp - logsumexp(lp))


def score_fit(
    w2s: Fit,
    ceiling: Fit,
    cls: LabelerClass,
    truth: ArrayLike,
    weak_decision: ArrayLike,
    contexts: ArrayLike,
) -> pd.DataFrame:
    """Tidy ``(rule, n, metric, value)`` scores of a weak-to-strong fit on test ``contexts``.

    Parameters
    ----------
    w2s : Fit on weak labels; ceiling : Fit (one rule, same checkpoints) on ground truth.
    cls : the strong class; truth : (Z,) true labels of every context;
    weak_decision : (Z,) the weak model's decisions on every context.

    Metrics: ``acc_weak``, ``acc_ceiling``, ``acc_w2s``, ``pgr`` (NaN where the ceiling
    does not beat the weak model), ``agree_weak_err`` (fraction of the test inputs the weak
    model gets wrong on which the strong decision equals the weak one; NaN if none),
    ``agree_weak`` (on all test inputs), ``spent`` (strength spent), ``influence``
    (Chan–Darwiche distance of the posterior from the prior).
    """
    if not np.array_equal(w2s.checkpoints, ceiling.checkpoints):
        raise ValueError("w2s and ceiling fits must share checkpoints")
    ctx = np.asarray(contexts)
    y = np.asarray(truth)[ctx]
    weak = np.asarray(weak_decision)[ctx]
    wrong = weak != y
    lab = cls.labels[:, ctx]
    acc_weak = float(np.mean(weak == y))
    acc_ceil = (decide(label_mass(lab, ceiling.log_posterior[0], cls.n_labels)) == y).mean(axis=-1)  # (T,)
    pred = decide(label_mass(lab, w2s.log_posterior, cls.n_labels))  # (n_rules, T, Zt)
    acc = (pred == y).mean(axis=-1)
    agree_err = (pred[..., wrong] == weak[wrong]).mean(axis=-1) if wrong.any() else np.full(acc.shape, np.nan)
    agree = (pred == weak).mean(axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        gap = np.asarray(pgr(acc_weak, acc, acc_ceil[None, :]))
    infl = influence_distance(w2s.log_prior, w2s.log_posterior)  # (n_rules, T)
    metrics = {
        "acc_weak": np.full(acc.shape, acc_weak),
        "acc_ceiling": np.broadcast_to(acc_ceil, acc.shape),
        "acc_w2s": acc,
        "pgr": gap,
        "agree_weak_err": agree_err,
        "agree_weak": agree,
        "spent": w2s.spent,
        "influence": infl,
    }
    n_rules, n_t = acc.shape
    frames = [
        pd.DataFrame(
            {
                "rule": np.repeat(np.asarray(w2s.rules, dtype=object), n_t),
                "n": np.tile(w2s.checkpoints, n_rules),
                "metric": name,
                "value": np.asarray(values, float).ravel(),
            }
        )
        for name, values in metrics.items()
    ]
    return pd.concat(frames, ignore_index=True)


class WeakModel(NamedTuple):
    """A trained labeler: ``log_posterior (H,)`` over its class, its ``predictive (Z, K)``
    ``P(y | z)`` and Bayes ``decision (Z,)`` on every context, and its ``eps``."""

    cls: LabelerClass
    eps: float
    log_posterior: NDArray[np.float64]
    predictive: NDArray[np.float64]
    decision: NDArray[np.int64]

    @classmethod
    def from_posterior(cls_, cls: LabelerClass, eps: float, log_posterior: ArrayLike) -> WeakModel:
        lp = np.asarray(log_posterior, float)
        pred = predictive(cls.labels, lp, eps, cls.n_labels)
        return cls_(cls, float(eps), lp, pred, decide(pred))


def train_weak(world: World, cls: LabelerClass, eps: float, *, log_prior: ArrayLike | None = None) -> WeakModel:
    """The weak model: hard Bayes of the class (uniform prior by default) on the truth at the ``gt`` inputs."""
    lp = np.full(len(cls), -np.log(len(cls))) if log_prior is None else np.asarray(log_prior, float)
    ctx = world.pool["gt"]
    return WeakModel.from_posterior(cls, eps, posterior_on_labels(cls, eps, lp, ctx, world.truth[ctx]))


def weak_to_strong(
    world: World,
    teacher: WeakModel,
    strong: LabelerClass,
    log_prior: ArrayLike,
    eps: float,
    rules: Sequence[Rule],
    checkpoints: ArrayLike,
    rng: np.random.Generator,
    *,
    contexts: ArrayLike | None = None,
    mode: str = "sample",
    reference: WeakModel | None = None,
) -> tuple[pd.DataFrame, Fit]:
    """Teacher labels ``max(checkpoints)`` draws at ``contexts`` (``train`` split by default);
    the strong prior is conditioned on them per rule and, for the ceiling, on the truth at
    the same inputs (hard Bayes). Scores on the ``test`` split via :func:`score_fit`, with
    the weak errors those of ``reference`` (default: the teacher). Returns the table and the fit.
    """
    ctx = world.pool["train"] if contexts is None else np.asarray(contexts)
    cps = np.unique(np.asarray(checkpoints, dtype=np.int64))
    stream = sample_stream(rng, ctx, teacher.predictive[ctx], int(cps[-1]), mode=mode)
    w2s = fit(log_prior, strong, eps, stream, rules, cps)
    truth_stream = Stream(stream.contexts, world.truth[stream.contexts].astype(np.int64))
    ceiling = fit(log_prior, strong, eps, truth_stream, [Rule("bayes")], cps)
    ref = teacher if reference is None else reference
    return score_fit(w2s, ceiling, strong, world.truth, ref.decision, world.pool["test"]), w2s


def selected_concept(
    cls: LabelerClass, log_prior: ArrayLike, teacher: WeakModel, contexts: ArrayLike, *, tol: float = 1e-9
) -> int:
    """The hypothesis a small bounded budget is predicted to select: among those of top prior
    weight (for :func:`~bayes_w2s.toys.worlds.pretrained_log_prior`, each concept's best
    approximant), the one whose labels the teacher's predictive makes most likely on average
    over ``contexts``: ``argmax_{h: log pi(h) = max} mean_z P_W(h(z) | z)``.

    Why: every rule's posterior is the Gibbs form ``pi(h) exp(G agree_N(h))`` and
    ``agree_N(h) / N -> mean_z P_W(h(z) | z)``; with ``G`` far below the prior's gaps
    (``kappa`` times a disagreement rate) but ``G`` times the concepts' agreement gaps well
    above 1, the posterior sits on the best-agreeing top-prior hypothesis. It is the truth's
    approximant only if the weak model agrees more with the truth than with every distractor.
    """
    lp = np.asarray(log_prior, float)
    if lp.shape != (len(cls),):
        raise ValueError(f"log_prior must have shape ({len(cls)},), got {lp.shape}")
    ctx = np.asarray(contexts)
    top = np.flatnonzero(lp >= lp.max() - tol)
    probs = teacher.predictive[ctx]  # (Zc, K)
    agree = probs[np.arange(ctx.size)[None, :], cls.labels[top][:, ctx]].mean(axis=1)  # (n_top,)
    return int(top[np.argmax(agree)])
