"""Pairwise reward models on frozen features: weak-to-strong for preferences vs classification.

A reward model is a scalar head ``r_theta(x)`` on cached frozen features
(:func:`bayes_w2s.neural.features.cached_features`, :class:`FeatureHead` with one output).
Bradley–Terry: ``P(a > b) = sigmoid(r(a) - r(b))``. Written as two-class logits
``[0, r(a) - r(b)]`` ("b preferred", "a preferred"), every W2S loss of
:mod:`bayes_w2s.neural.losses` applies unchanged: ``xent`` is BT cross-entropy to the weak
soft preference ``q = P_weak(a > b)``; ``logconf`` its auxiliary-confidence analogue (the
student's own hardened preference); ``ve`` the virtual-evidence loss
``-log(1 + (r_i - 1) <p_theta, q_i>)`` with strengths from a bounded schedule; ``tempered``
the weighted BT cross-entropy.

Pairs from the shipped Rotten Tomatoes polarity data: one fresh and one rotten snippet, in
random order, label "a is the more positive" (:func:`preference_pairs`). The data carry no
graded signal within a class (only fresh/rotten), so there are no within-class pairs.
Pairs are drawn within each of the seeded item splits (weak-train, weak-label, test), so a
test pair never shares a snippet with training.

Per seed: the weak RM (weak backbone's features) is trained on ground-truth pairs from the
weak-train items; it labels pairs of the weak-label items with soft preferences; the strong
RM is trained on those; the ceiling is the strong RM on ground-truth pairs of the same
items. Metric: pairwise accuracy on test pairs. The *same* weak -> strong pair and items are
also run as classification (two-class heads on single snippets, the same losses and loop),
so PGR for reward modeling and for classification are paired by seed.

Options for a capability ladder (``docs/findings/reward_neural_ladder.md``): ``dataset`` (a
:func:`~.data.load_dataset` spec such as ``rotten_tomatoes:n=4500``, so cached features are
hit); ``equal_gt`` (Burns protocol: the ceiling trains on the *same* ground-truth items, or
pairs, as the weak model, so weak and ceiling see equal ground truth); ``student_optimizer`` /
``student_lr`` (the students' optimizer, e.g. SGD where a VE budget binds, with Adam weak
models and ceilings); ``pair_metric`` (also score the *classification* heads on the test
pairs, ``a`` preferred iff its class-1 logit margin is larger, i.e. their AUC on the pairs:
rows with ``task = "classification@pairs"``, which separate the task from the metric).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr

from .evaluate import bootstrap_pgr
from .features import FeatureHead
from .losses import get_loss
from .methods import MethodSpec, method_strengths

__all__ = [
    "RewardConfig",
    "load_features",
    "pair_logits",
    "pair_scores",
    "plot_reward",
    "predict",
    "preference_pairs",
    "run_reward",
    "run_seed",
    "summarize_reward",
    "train_head",
]

TASKS = ("preference", "classification")
PAIR_SCORED = "classification@pairs"


@dataclass(frozen=True)
class RewardConfig:
    """Weak and strong backbones (cached features), splits, methods and the head's training."""

    weak: str = "minilm-l1"
    strong: str = "minilm"
    seeds: tuple = (0, 1, 2, 3, 4)
    n_weak_train: int = 200
    n_weak_label: int = 2000
    n_test: int = 3000
    methods: tuple = ("xent", "logconf", "ve+budget:budget=40")
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    max_length: int = 64
    optimizer: str = "adam"
    dataset: str = "rotten_tomatoes"
    equal_gt: bool = False
    student_optimizer: str | None = None  # None: the same as ``optimizer``
    student_lr: float | None = None  # None: the same as ``lr``
    pair_metric: bool = False

    def __post_init__(self) -> None:
        for name in ("n_weak_train", "n_weak_label", "n_test", "steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {value!r}")
        if not self.seeds:
            raise ValueError("seeds must be non-empty")
        if not np.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        for name in ("optimizer", "student_optimizer"):
            value = getattr(self, name)
            if value not in ("adam", "sgd") and not (name == "student_optimizer" and value is None):
                raise ValueError(f"{name} must be 'adam' or 'sgd', got {value!r}")
        if self.student_lr is not None and (not np.isfinite(self.student_lr) or self.student_lr <= 0):
            raise ValueError(f"student_lr must be positive, got {self.student_lr!r}")
        for m in self.methods:
            MethodSpec.parse(m)  # raises with the bad name


def preference_pairs(labels: np.ndarray, items: np.ndarray, n_pairs: int, rng: np.random.Generator):
    """``n_pairs`` (fresh, rotten) pairs from ``items``, each in random order.

    Returns ``pairs (n, 2)`` of item indices and ``y (n,)`` with ``y = 1`` iff the first item
    is the fresh (more positive) one.
    """
    items = np.asarray(items)
    lab = np.asarray(labels)[items]
    pos, neg = items[lab == 1], items[lab == 0]
    if pos.size == 0 or neg.size == 0:
        raise ValueError("preference pairs need both classes among the items")
    if int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}")
    a, b = rng.choice(pos, n_pairs), rng.choice(neg, n_pairs)
    y = rng.integers(0, 2, n_pairs)
    pairs = np.where(y[:, None] == 1, np.stack([a, b], 1), np.stack([b, a], 1))
    return pairs.astype(np.int64), y.astype(np.int64)


def pair_logits(head: FeatureHead, xa: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
    """Two-class logits ``[0, r(a) - r(b)]`` of shape ``(B, 2)``: softmax gives ``sigmoid(r(a) - r(b))``."""
    d = head(xa)[:, 0] - head(xb)[:, 0]  # (B,)
    return torch.stack([torch.zeros_like(d), d], dim=1)  # (B, 2)


def _logits(head, feats, idx):
    if idx.ndim == 2:  # pairs
        return pair_logits(head, feats[idx[:, 0]], feats[idx[:, 1]])
    return head(feats[idx])


def train_head(feats: np.ndarray, idx: np.ndarray, targets: np.ndarray, method: str, cfg: RewardConfig,
               seed: int, *, student: bool = False) -> FeatureHead:
    """Train a reward head (``idx (n, 2)`` pairs) or a classifier (``idx (n,)`` items) with Adam.

    ``targets (n, 2)`` are soft labels over ("b preferred", "a preferred") or the classes.
    Strengths of ``ve``/``tempered`` come from the method's schedule over the n examples and
    are applied at every visit. ``cfg.optimizer``: Adam (the peers' default; scale-invariant,
    so strengths that are constant over examples change nothing) or SGD (steps proportional
    to the gradient, so a bounded schedule bounds the movement of the head). ``student=True`` uses
    ``cfg.student_optimizer`` / ``cfg.student_lr`` where set.

    Batches are drawn with replacement; visit ``v = step * batch_size + j`` of example ``i`` is
    indexed ``(v // n) * n + i`` in an ``@visits`` (run-level) schedule, so a budget ``B`` spends
    at most ``B`` over the whole run.
    """
    spec = MethodSpec.parse(method)
    loss_fn = get_loss(spec.loss)
    strengths = method_strengths(spec, targets, cfg.steps, cfg.batch_size)
    optimizer, lr = cfg.optimizer, cfg.lr
    if student:
        optimizer = cfg.student_optimizer or optimizer
        lr = cfg.student_lr or lr
    x = torch.as_tensor(feats, dtype=torch.float32)
    train_items = np.unique(idx)
    mean, std = feats[train_items].mean(0), feats[train_items].std(0) + 1e-6
    head = FeatureHead(feats.shape[1], 1 if idx.ndim == 2 else 2, mean=mean, std=std, seed=seed)
    # Adam is invariant to rescaling the loss, so a schedule's total bounds nothing under it;
    # with SGD the step is proportional to the (bounded) VE gradient and the budget binds.
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(head.parameters(), lr=lr)
    gen = np.random.default_rng([seed, 7])
    t_idx, t_q = torch.as_tensor(idx), torch.as_tensor(targets, dtype=torch.float32)
    for step in range(cfg.steps):
        b = gen.integers(0, len(idx), cfg.batch_size)
        s = None
        if strengths is not None:
            if spec.over == "visits":
                v = step * cfg.batch_size + np.arange(cfg.batch_size)
                s = strengths[(v // len(idx)) * len(idx) + b]
            elif spec.over == "per_pass":
                s = strengths[b]
            else:
                s = np.full(cfg.batch_size, strengths[step])
        loss = loss_fn(_logits(head, x, t_idx[b]), t_q[b], step_frac=step / cfg.steps, strengths=s)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


@torch.no_grad()
def predict(head: FeatureHead, feats: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``P(label 1)`` per pair (``a`` preferred) or per item (class 1): ``(n,)``."""
    logits = _logits(head, torch.as_tensor(feats, dtype=torch.float32), torch.as_tensor(idx))
    return torch.softmax(logits, -1)[:, 1].numpy()


@torch.no_grad()
def pair_scores(head: FeatureHead, feats: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """A two-class classifier scored on pairs: ``sigmoid(m(a) - m(b))`` with ``m`` its class-1
    logit margin, so ``> 0.5`` iff ``a`` looks the more positive; its pair accuracy is its AUC."""
    logits = head(torch.as_tensor(feats, dtype=torch.float32))
    m = (logits[:, 1] - logits[:, 0]).numpy()
    return 1.0 / (1.0 + np.exp(-(m[pairs[:, 0]] - m[pairs[:, 1]])))


def _acc(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p > 0.5) == (y == 1)))


def _onehot(y: np.ndarray) -> np.ndarray:
    return np.stack([1 - y, y], axis=1).astype(np.float32)


def run_seed(cfg: RewardConfig, f_weak: np.ndarray, f_strong: np.ndarray, labels: np.ndarray, seed: int) -> pd.DataFrame:
    """One seed: both tasks, every method. Rows ``(seed, task, method, acc_weak, acc_w2s, acc_ceiling)``."""
    need = cfg.n_weak_train + cfg.n_weak_label + cfg.n_test
    if need > len(labels):
        raise ValueError(f"splits need {need} snippets, the data have {len(labels)}")
    rng = np.random.default_rng([seed, 11])
    perm = rng.permutation(len(labels))
    a, b = cfg.n_weak_train, cfg.n_weak_train + cfg.n_weak_label
    split = {"train": perm[:a], "label": perm[a:b], "test": perm[b:need]}
    rows = []
    test_pairs = None
    for task in TASKS:
        if task == "preference":
            data = {k: preference_pairs(labels, v, len(v), rng) for k, v in split.items()}
            test_pairs = data["test"]
        else:
            data = {k: (v, labels[v]) for k, v in split.items()}
        (tr_idx, tr_y), (lb_idx, lb_y), (te_idx, te_y) = data["train"], data["label"], data["test"]
        weak = train_head(f_weak, tr_idx, _onehot(tr_y), "xent", cfg, seed)
        q = predict(weak, f_weak, lb_idx)  # weak soft labels
        # Burns (equal_gt): the ceiling learns from the weak model's own ground truth
        c_idx, c_y = (tr_idx, tr_y) if cfg.equal_gt else (lb_idx, lb_y)
        ceiling = train_head(f_strong, c_idx, _onehot(c_y), "xent", cfg, seed)
        q2 = np.stack([1 - q, q], axis=1).astype(np.float32)
        scored = [(task, lambda h, f, i=te_idx: predict(h, f, i), te_y)]
        if task == "classification" and cfg.pair_metric:
            te_pairs, te_pair_y = test_pairs
            scored.append((PAIR_SCORED, lambda h, f, i=te_pairs: pair_scores(h, f, i), te_pair_y))
        fixed = []  # what does not depend on the method: the weak model's and ceiling's scores
        for name, score, y in scored:
            p_weak = score(weak, f_weak)
            fixed.append((p_weak, (p_weak > 0.5) != (y == 1), _acc(p_weak, y), _acc(score(ceiling, f_strong), y)))
        for method in cfg.methods:
            student = train_head(f_strong, lb_idx, q2, method, cfg, seed, student=True)
            for (name, score, y), (p_weak, wrong, acc_weak, acc_ceiling) in zip(scored, fixed):
                p = score(student, f_strong)
                rows.append({"seed": seed, "task": name, "method": method, "acc_weak": acc_weak,
                             "acc_w2s": _acc(p, y), "acc_ceiling": acc_ceiling,
                             "agree_weak_err": float(np.mean((p > 0.5)[wrong] == (p_weak > 0.5)[wrong]))
                             if wrong.any() else np.nan})
    return pd.DataFrame(rows)


def load_features(cfg: RewardConfig, *, cache=None, progress: bool = False):
    """Weak and strong cached features of ``cfg.dataset`` (two classes), and the labels."""
    from .cache import ArrayCache
    from .data import load_dataset
    from .features import cached_features

    data = load_dataset(cfg.dataset)
    cache = cache or ArrayCache()
    f_weak = cached_features(cfg.weak, data, cache, max_length=cfg.max_length, progress=progress)
    f_strong = cached_features(cfg.strong, data, cache, max_length=cfg.max_length, progress=progress)
    return f_weak, f_strong, data.labels


def run_reward(cfg: RewardConfig, f_weak=None, f_strong=None, labels=None, *, cache=None) -> pd.DataFrame:
    """Every seed of :func:`run_seed`; features default to the cached Rotten Tomatoes ones."""
    if f_weak is None:
        f_weak, f_strong, labels = load_features(cfg, cache=cache)
    torch.set_num_threads(1)
    return pd.concat([run_seed(cfg, f_weak, f_strong, np.asarray(labels), s) for s in cfg.seeds], ignore_index=True)


def summarize_reward(rows: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per task and method: mean accuracies, PGR of means with a seed-bootstrap 95% CI; and per
    method the paired difference ``PGR_preference - PGR_classification`` (per-seed PGRs; mean and
    a bootstrap CI over seeds), in rows with ``task = "difference"`` (and against the
    classification heads scored on pairs, ``"difference@pairs"``, when those rows exist)."""
    out = []
    for (task, method), g in rows.groupby(["task", "method"], sort=False):
        point, lo, hi = bootstrap_pgr(g.acc_weak, g.acc_w2s, g.acc_ceiling, n_boot=n_boot, seed=seed)
        out.append({"task": task, "method": method, "n_seeds": len(g), "acc_weak": g.acc_weak.mean(),
                    "acc_w2s": g.acc_w2s.mean(), "acc_ceiling": g.acc_ceiling.mean(),
                    "agree_weak_err": g.agree_weak_err.mean(), "pgr": point, "pgr_lo": lo, "pgr_hi": hi})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        per = rows.assign(pgr=pgr(rows.acc_weak.to_numpy(), rows.acc_w2s.to_numpy(), rows.acc_ceiling.to_numpy()))
    wide = per.pivot_table(index=["method", "seed"], columns="task", values="pgr")
    rng = np.random.default_rng(seed)
    for other, tag in (("classification", "difference"), (PAIR_SCORED, "difference@pairs")):
        if other not in wide:
            continue
        for method, g in wide.groupby(level="method", sort=False):
            d = (g["preference"] - g[other]).dropna().to_numpy()
            if d.size == 0:
                continue
            boots = d[rng.integers(0, d.size, (n_boot, d.size))].mean(1) if d.size > 1 else np.array([np.nan])
            out.append({"task": tag, "method": method, "n_seeds": d.size, "pgr": d.mean(),
                        "pgr_lo": np.nanquantile(boots, 0.025) if d.size > 1 else np.nan,
                        "pgr_hi": np.nanquantile(boots, 0.975) if d.size > 1 else np.nan})
    return pd.DataFrame(out)


def plot_reward(summary: pd.DataFrame, ax=None):
    """PGR with 95% seed-bootstrap CIs per method: reward model vs classification on the same pair."""
    from bayes_w2s.harness.style import new_axes

    fig, ax = new_axes(ax, figsize=(6.5, 4))
    methods = list(dict.fromkeys(summary[~summary.task.str.startswith("difference")].method))
    tasks = [t for t in (*TASKS, PAIR_SCORED) if (summary.task == t).any()]
    labels = {"preference": "reward model (pairs)", "classification": "classification",
              PAIR_SCORED: "classification, scored on pairs"}
    for i, task in enumerate(tasks):
        s = summary[summary.task == task].set_index("method").reindex(methods)
        x = np.arange(len(methods)) + (i - (len(tasks) - 1) / 2) * 0.25
        ax.errorbar(x, s.pgr, yerr=[s.pgr - s.pgr_lo, s.pgr_hi - s.pgr], fmt="o", capsize=3, label=labels[task])
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.set_xticks(np.arange(len(methods)), methods, rotation=20, ha="right")
    ax.set_ylabel("PGR (pairwise / test accuracy), 95% CI over seeds")
    ax.legend()
    return fig
