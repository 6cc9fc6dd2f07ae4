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

Training: every head (weak, ceiling, each method's student; both tasks; all seeds) goes through
the batched engine :func:`~.heads.train_heads` (:mod:`.reward_batched`); ``batched=False``
trains them one at a time with :func:`train_head`, the reference the batched path equals to
rounding (``tests/neural/test_reward_batched.py``). Both draw minibatches with
:func:`~.train.minibatch_order` (seeded epochs without replacement), the project's one sampler,
so a run-level budget is spent exactly (every visit ``e n + i`` once).
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
from .train import minibatch_order

__all__ = [
    "RewardConfig",
    "load_features",
    "margin_pair_scores",
    "pair_logits",
    "pair_scores",
    "plot_reward",
    "predict",
    "preference_pairs",
    "run_reward",
    "run_seed",
    "seed_probs",
    "seed_rows",
    "seed_splits",
    "standardization",
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


def standardization(feats: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A head's ``(mean, std)``: of the items it trains on (``np.unique(idx)``, pairs or items),
    population std ``+ 1e-6`` (so ``x~ = (x - mean) / std``)."""
    items = np.unique(idx)
    return feats[items].mean(0), feats[items].std(0) + 1e-6


def head_settings(cfg: RewardConfig, student: bool) -> tuple[str, float]:
    """``(optimizer, lr)`` of a head: the students' where set (``student=True``), else the config's."""
    if student:
        return cfg.student_optimizer or cfg.optimizer, cfg.student_lr or cfg.lr
    return cfg.optimizer, cfg.lr


def train_head(feats: np.ndarray, idx: np.ndarray, targets: np.ndarray, method: str, cfg: RewardConfig,
               seed: int, *, student: bool = False) -> FeatureHead:
    """Train a reward head (``idx (n, 2)`` pairs) or a classifier (``idx (n,)`` items), one head.

    ``targets (n, 2)`` are soft labels over ("b preferred", "a preferred") or the classes.
    Strengths of ``ve``/``tempered`` come from the method's schedule over the n examples.
    ``cfg.optimizer``: Adam (the peers' default; scale-invariant, so strengths that are
    constant over examples change nothing) or SGD (steps proportional to the gradient, so a
    bounded schedule bounds the movement of the head); constant lr. ``student=True`` uses
    ``cfg.student_optimizer`` / ``cfg.student_lr`` where set.

    Minibatches: :func:`~.train.minibatch_order` ``(n, steps, batch_size, seed)``, the seeded
    epochs without replacement of :func:`~.train.train`; visit ``(e, i)`` (example i in epoch e)
    reads entry ``e n + i`` of an ``@visits`` (run-level) schedule, so a budget ``B`` is spent
    exactly once over the run. The reference for :mod:`.reward_batched`.
    """
    spec = MethodSpec.parse(method)
    loss_fn = get_loss(spec.loss)
    strengths = method_strengths(spec, targets, cfg.steps, cfg.batch_size)
    optimizer, lr = head_settings(cfg, student)
    x = torch.as_tensor(feats, dtype=torch.float32)
    mean, std = standardization(feats, idx)
    head = FeatureHead(feats.shape[1], 1 if idx.ndim == 2 else 2, mean=mean, std=std, seed=seed)
    # Adam is invariant to rescaling the loss, so a schedule's total bounds nothing under it;
    # with SGD the step is proportional to the (bounded) VE gradient and the budget binds.
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(head.parameters(), lr=lr)
    n = len(idx)
    order, epoch = (o.numpy() for o in minibatch_order(n, cfg.steps, cfg.batch_size, seed))
    t_idx, t_q = torch.as_tensor(idx), torch.as_tensor(targets, dtype=torch.float32)
    for step in range(cfg.steps):
        b = order[step]  # (B,)
        s = None
        if strengths is not None:
            if spec.over == "visits":
                s = strengths[epoch[step] * n + b]
            elif spec.over == "per_pass":
                s = strengths[b]
            else:
                s = np.full(cfg.batch_size, strengths[step])
            s = torch.as_tensor(s, dtype=torch.float32)
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
    return margin_pair_scores(head(torch.as_tensor(feats, dtype=torch.float32)).numpy(), pairs)


def margin_pair_scores(logits: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``sigmoid(m(a) - m(b))`` per pair from a classifier's logits ``(N, 2)`` on the items
    (``m = z_1 - z_0``; ``pairs (n, 2)`` index rows of ``logits``)."""
    m = logits[:, 1] - logits[:, 0]
    return 1.0 / (1.0 + np.exp(-(m[pairs[:, 0]] - m[pairs[:, 1]])))


def _acc(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p > 0.5) == (y == 1)))


def _onehot(y: np.ndarray) -> np.ndarray:
    return np.stack([1 - y, y], axis=1).astype(np.float32)


def seed_splits(cfg: RewardConfig, labels: np.ndarray, seed: int) -> dict:
    """One seed's data: ``{task: {"train" | "label" | "test": (idx, y)}}``, items ``(n,)`` for
    classification and pairs ``(n, 2)`` for preference, drawn within the seeded item splits."""
    need = cfg.n_weak_train + cfg.n_weak_label + cfg.n_test
    if need > len(labels):
        raise ValueError(f"splits need {need} snippets, the data have {len(labels)}")
    rng = np.random.default_rng([seed, 11])
    perm = rng.permutation(len(labels))
    a, b = cfg.n_weak_train, cfg.n_weak_train + cfg.n_weak_label
    split = {"train": perm[:a], "label": perm[a:b], "test": perm[b:need]}
    return {"preference": {k: preference_pairs(labels, v, len(v), rng) for k, v in split.items()},
            "classification": {k: (v, labels[v]) for k, v in split.items()}}


def ceiling_data(cfg: RewardConfig, data: dict) -> tuple[np.ndarray, np.ndarray]:
    """The ceiling's ground truth: the weak-label split's, or (Burns, ``equal_gt``) the weak
    model's own."""
    return data["train"] if cfg.equal_gt else data["label"]


def seed_rows(cfg: RewardConfig, seed: int, splits: dict, probs: dict) -> list[dict]:
    """Rows of one seed from the heads' test probabilities ``probs[(task, role)]`` (role
    ``"weak"``, ``"ceiling"`` or a method), one row per task, method and scored task:
    ``(seed, task, method, acc_weak, acc_w2s, acc_ceiling, agree_weak_err)``."""
    rows = []
    for task in TASKS:
        scored = [task]
        if task == "classification" and cfg.pair_metric:
            scored.append(PAIR_SCORED)
        for method in cfg.methods:
            for name in scored:
                y = (splits["preference"]["test"] if name == PAIR_SCORED else splits[task]["test"])[1]
                p_weak, p = probs[(name, "weak")], probs[(name, method)]
                wrong = (p_weak > 0.5) != (y == 1)
                rows.append({"seed": seed, "task": name, "method": method, "acc_weak": _acc(p_weak, y),
                             "acc_w2s": _acc(p, y), "acc_ceiling": _acc(probs[(name, "ceiling")], y),
                             "agree_weak_err": float(np.mean((p > 0.5)[wrong] == (p_weak > 0.5)[wrong]))
                             if wrong.any() else np.nan})
    return rows


def weak_targets(q: np.ndarray) -> np.ndarray:
    """Soft labels ``(n, 2)`` float32 from the weak model's ``P(label 1)``."""
    return np.stack([1 - q, q], axis=1).astype(np.float32)


def seed_probs(cfg: RewardConfig, f_weak: np.ndarray, f_strong: np.ndarray, labels: np.ndarray,
               seed: int) -> tuple[dict, dict]:
    """One seed, one head at a time (:func:`train_head`): ``(splits, probs)`` as
    :func:`seed_rows` takes them; the reference of :func:`~.reward_batched.batched_probs`."""
    splits = seed_splits(cfg, labels, seed)
    test_pairs = splits["preference"]["test"][0]
    probs = {}
    for task in TASKS:
        data = splits[task]
        (tr_idx, tr_y), (lb_idx, _), (te_idx, _) = data["train"], data["label"], data["test"]
        weak = train_head(f_weak, tr_idx, _onehot(tr_y), "xent", cfg, seed)
        q2 = weak_targets(predict(weak, f_weak, lb_idx))  # weak soft labels
        c_idx, c_y = ceiling_data(cfg, data)
        heads = {"weak": (weak, f_weak), "ceiling": (train_head(f_strong, c_idx, _onehot(c_y), "xent", cfg, seed),
                                                     f_strong)}
        for method in cfg.methods:
            heads[method] = (train_head(f_strong, lb_idx, q2, method, cfg, seed, student=True), f_strong)
        for role, (head, feats) in heads.items():
            probs[(task, role)] = predict(head, feats, te_idx)
            if task == "classification" and cfg.pair_metric:
                probs[(PAIR_SCORED, role)] = pair_scores(head, feats, test_pairs)
    return splits, probs


def run_seed(cfg: RewardConfig, f_weak: np.ndarray, f_strong: np.ndarray, labels: np.ndarray, seed: int) -> pd.DataFrame:
    """One seed, one head at a time: both tasks, every method (rows of :func:`seed_rows`)."""
    return pd.DataFrame(seed_rows(cfg, seed, *seed_probs(cfg, f_weak, f_strong, labels, seed)))


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


def run_reward(cfg: RewardConfig, f_weak=None, f_strong=None, labels=None, *, cache=None,
               batched: bool = True) -> pd.DataFrame:
    """Every seed: rows ``(seed, task, method, acc_weak, acc_w2s, acc_ceiling, agree_weak_err)``.

    ``batched=True``: all heads of all seeds through :func:`~.heads.train_heads`
    (:func:`~.reward_batched.batched_probs`); ``False``: :func:`run_seed` per seed, one
    head at a time. Features default to ``cfg.dataset``'s cached ones (:func:`load_features`).
    """
    if f_weak is None:
        f_weak, f_strong, labels = load_features(cfg, cache=cache)
    labels = np.asarray(labels)
    if batched:
        from .reward_batched import batched_probs

        probs = batched_probs(cfg, np.asarray(f_weak), np.asarray(f_strong), labels)
        return pd.DataFrame([r for seed, (sp, pr) in probs.items() for r in seed_rows(cfg, seed, sp, pr)])
    torch.set_num_threads(1)
    return pd.concat([run_seed(cfg, f_weak, f_strong, labels, s) for s in cfg.seeds], ignore_index=True)


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
