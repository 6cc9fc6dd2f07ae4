"""Every head of :func:`~.reward.run_reward` (weak models, ceilings, students; both tasks; all
seeds) trained as one batched computation by :func:`~.heads.train_heads`.

A Bradley-Terry head ``r(x) = w . x~ + b`` scores a pair by ``d = r(a) - r(b) = w . (x~_a -
x~_b)``: a linear function of the *difference features* ``x~_a - x~_b`` (``x~`` standardized
with the head's own mean and std, :func:`~.reward.standardization`; the bias cancels). Its
logits ``[0, d]`` enter every loss only through ``log_softmax``, which is shift-invariant, so
a two-class head ``W (D, 2)`` with logits ``W^T (x~_a - x~_b)`` and *no bias* is the same
model when ``z_1 - z_0 = (w_1 - w_0) . x = d``. Its gradient in ``(z_0, z_1)`` is ``(-g, g)``
with ``g = dL/dd``, so from the zero init both SGD and Adam (elementwise, sign-symmetric)
keep ``w_0 = -w_1`` and step ``w_1`` exactly as the scalar head steps ``w``: with the
learning rate halved, ``2 w_1 = w`` at every step and the two heads give the same ``d``.
The bias is held at zero (``HeadSpec(fit_bias=False)``): a two-class head's ``b_1 - b_0``
would add to ``d``, the scalar head's cannot. Classification heads are the usual two-class
heads with a bias on the standardized items.

Rows are standardized here (float32, as :class:`~.features.FeatureHead`'s forward) and the
engine is called with ``standardize=False``; heads with the same training rows and seed share
every minibatch (:func:`~.train.minibatch_order`). Phase 1 trains the weak models (weak
backbone's features), whose predictions on the weak-label split are the students' targets;
phase 2 trains the ceilings and students (strong features). Each head equals
:func:`~.reward.train_head` to rounding (float32 products in another order, and ``2 w_1``
for ``w``): ``tests/neural/test_reward_batched.py`` checks probabilities to 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .heads import HeadSpec, train_heads
from .methods import MethodSpec, method_strengths
from .reward import (
    PAIR_SCORED,
    TASKS,
    RewardConfig,
    _onehot,
    ceiling_data,
    head_settings,
    margin_pair_scores,
    seed_splits,
    standardization,
    weak_targets,
)
from .train import num_threads

__all__ = ["batched_probs"]


class _Rows:
    """The shared feature rows of one backbone: standardized items or difference pairs,
    appended block by block; each set is added once per (seed, task, standardization)."""

    def __init__(self, feats: np.ndarray):
        self.feats, self.parts, self.n, self.memo = feats, [], 0, {}

    def _stats(self, key, fit_idx):
        if key not in self.memo:
            mean, std = standardization(self.feats, fit_idx)
            self.memo[key] = (torch.as_tensor(mean, dtype=torch.float32),
                              torch.as_tensor(std, dtype=torch.float32))
        return self.memo[key]

    def rows(self, key, fit_idx: np.ndarray, idx: np.ndarray, name: str) -> np.ndarray:
        """Row numbers of ``idx`` (items or pairs) standardized by the items of ``fit_idx``."""
        if (key, name) in self.memo:
            return self.memo[(key, name)]
        mean, std = self._stats(key, fit_idx)

        def std_items(items):
            return (torch.as_tensor(self.feats[items], dtype=torch.float32) - mean) / std  # (n, D)

        x = std_items(idx) if idx.ndim == 1 else std_items(idx[:, 0]) - std_items(idx[:, 1])
        out = np.arange(self.n, self.n + len(x))
        self.parts.append(x)
        self.n += len(x)
        self.memo[(key, name)] = out
        return out

    def tensor(self) -> torch.Tensor:
        return torch.cat(self.parts)


@dataclass
class _Job:
    """One head: its training rows and targets, spec, and the rows it is scored on."""

    key: tuple  # (seed, task, role)
    pair: bool
    train_rows: np.ndarray
    targets: np.ndarray
    spec: HeadSpec
    score_rows: dict  # name -> rows


def _spec(cfg: RewardConfig, method: str, targets, seed: int, *, pair: bool, student: bool) -> HeadSpec:
    parsed = MethodSpec.parse(method)
    optimizer, lr = head_settings(cfg, student)
    # a pair head's two-class weights are half the scalar head's: half its learning rate
    return HeadSpec(parsed.loss, lr / 2 if pair else lr, cfg.steps, seed, optimizer=optimizer,
                    lr_schedule="constant", strengths=method_strengths(parsed, targets, cfg.steps,
                                                                       cfg.batch_size),
                    over=parsed.over, batch_size=cfg.batch_size, fit_bias=not pair)


def _train(rows: _Rows, jobs: list) -> dict:
    """Train ``jobs`` (one :func:`train_heads` call per training-set size) and return
    ``{(job.key, name): logits (n, 2)}`` on each job's scoring rows."""
    feats = rows.tensor()
    out = {}
    by_n: dict = {}
    for job in jobs:
        by_n.setdefault(len(job.train_rows), []).append(job)
    for group in by_n.values():
        res = train_heads(feats, np.stack([j.train_rows for j in group]),
                          np.stack([j.targets for j in group]), [j.spec for j in group],
                          standardize=False)
        for name in {name for job in group for name in job.score_rows}:  # one call per set
            ms = [m for m, job in enumerate(group) if name in job.score_rows]
            z = res.predict(np.stack([group[m].score_rows[name] for m in ms]), heads=ms)
            for m, zm in zip(ms, z):  # heads scored on the same rows share one product
                out[(group[m].key, name)] = zm
    return out


def _prob(logits: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.as_tensor(logits), -1)[:, 1].numpy()


def batched_probs(cfg: RewardConfig, f_weak: np.ndarray, f_strong: np.ndarray,
                  labels: np.ndarray) -> dict:
    """Every seed's ``(splits, probs)`` (:func:`~.reward.seed_rows`'s inputs) with every head
    trained at once: :func:`~.reward.seed_probs` per seed, to rounding. Runs on one torch
    thread (small products; see :func:`~.heads.train_heads`)."""
    with num_threads(1):
        return _batched_probs(cfg, f_weak, f_strong, labels)


def _batched_probs(cfg, f_weak, f_strong, labels):
    splits = {seed: seed_splits(cfg, labels, seed) for seed in cfg.seeds}
    weak_rows, strong_rows = _Rows(f_weak), _Rows(f_strong)
    jobs = []
    for seed, sp in splits.items():  # phase 1: the weak models
        for task in TASKS:
            (tr, tr_y), lb, te = sp[task]["train"], sp[task]["label"][0], sp[task]["test"][0]
            k = (seed, task, "train")
            jobs.append(_Job((seed, task, "weak"), task == "preference",
                             weak_rows.rows(k, tr, tr, "train"), _onehot(tr_y),
                             _spec(cfg, "xent", None, seed, pair=task == "preference", student=False),
                             {"label": weak_rows.rows(k, tr, lb, "label"),
                              "test": weak_rows.rows(k, tr, te, "test")}))
    weak = _train(weak_rows, jobs)
    jobs = []
    for seed, sp in splits.items():  # phase 2: ceilings and students
        for task in TASKS:
            pair = task == "preference"
            lb, te = sp[task]["label"][0], sp[task]["test"][0]
            c_idx, c_y = ceiling_data(cfg, sp[task])
            kc = (seed, task, "train" if cfg.equal_gt else "label")
            jobs.append(_Job((seed, task, "ceiling"), pair, strong_rows.rows(kc, c_idx, c_idx, "train"),
                             _onehot(c_y), _spec(cfg, "xent", None, seed, pair=pair, student=False),
                             {"test": strong_rows.rows(kc, c_idx, te, "test")}))
            q2 = weak_targets(_prob(weak[((seed, task, "weak"), "label")]))
            ks = (seed, task, "label")
            for method in cfg.methods:
                jobs.append(_Job((seed, task, method), pair, strong_rows.rows(ks, lb, lb, "train"), q2,
                                 _spec(cfg, method, q2, seed, pair=pair, student=True),
                                 {"test": strong_rows.rows(ks, lb, te, "test")}))
    strong = _train(strong_rows, jobs)
    out = {}
    for seed, sp in splits.items():
        probs = {}
        roles = ("weak", "ceiling", *cfg.methods)
        for task in TASKS:
            for role in roles:
                z = (weak if role == "weak" else strong)[((seed, task, role), "test")]
                probs[(task, role)] = _prob(z)
                if task == "classification" and cfg.pair_metric:
                    probs[(PAIR_SCORED, role)] = _pair_scores(z, sp[task]["test"][0],
                                                              sp["preference"]["test"][0])
        out[seed] = (sp, probs)
    return out


def _pair_scores(logits: np.ndarray, items: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """:func:`~.reward.margin_pair_scores` from a classifier's logits on ``items`` (the test
    items, which hold every item of the test ``pairs``)."""
    pos = np.empty(items.max() + 1, dtype=np.int64)
    pos[items] = np.arange(len(items))
    return margin_pair_scores(logits, pos[pairs])
