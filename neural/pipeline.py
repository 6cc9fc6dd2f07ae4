"""The W2S pipeline: splits -> weak model -> weak labels -> ceiling -> student -> test metrics.

For each seed (Burns et al. 2023):

1. seeded disjoint splits ``weak_train`` / ``weak_label`` / ``test`` (:func:`make_splits`);
2. the weak model trains on ground truth: the first ``n_weak_gt`` examples of ``weak_train``
   (all of it when ``None`` or larger); its soft labels
   ``q_i = softmax(z_i / T)`` on ``weak_label`` (``T = 1``, a given temperature, or ``"fit"``:
   the NLL-optimal T on a held-out fifth of ``weak_train``, the weak model then training on
   the other four fifths);
3. the strong ceiling trains on ``weak_train`` ground truth;
4. the strong student trains on ``(weak_label, q)`` with a method (:mod:`.losses`);
   optional bootstrapping: an intermediate model trains on the first half of ``weak_label``
   and relabels the second half, on which the student trains;
5. accuracy, AUROC and mimicry measures on ``test``; ``PGR`` per seed.

Steps 2–3 are cached on disk (:class:`~.cache.ArrayCache`), keyed by everything that affects
them, so every method reuses one weak model and one ceiling per seed.

Modes: ``features`` (default; frozen pooled features computed once and cached, heads
trained — seconds per run), ``probe``, ``finetune``, ``lora`` (token-level models).
Methods are ``NAME`` or ``NAME+SCHEDULE[@steps]``, e.g. ``ve+budget:budget=20`` or
``ve+geometric:first=3,ratio=0.99@steps``; see :class:`MethodSpec`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pandas as pd

from bayes_w2s.core.metrics import PGRUndefinedWarning, accuracy, agreement, pgr

from .backend import Backend, fit_predict
from .cache import ArrayCache
from .config import MOVEMENT_COLUMNS, W2SConfig
from .data import TextDataset, load_dataset, make_splits
from .evaluate import agreement_on_weak_errors, auroc
from .losses import get_loss, xent_loss
from .methods import (
    DEFAULT_SCHEDULES,
    MethodSpec,
    fit_temperature,
    method_strengths,
    run_limit,
    softmax,
    weak_confidence,
)
from .models import ModelSpec

__all__ = ["DEFAULT_SCHEDULES", "MethodSpec", "W2SConfig", "run", "run_seed", "weak_confidence"]

@lru_cache(maxsize=4)
def _dataset(spec: str) -> TextDataset:
    return load_dataset(spec)


def _onehot(labels: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c, dtype=np.float32)[labels]


def _common_key(cfg: W2SConfig, data: TextDataset, seed: int) -> dict:
    return {
        "data": data.fingerprint(),
        "seed": seed,
        "mode": cfg.mode,
        "sizes": [cfg.n_weak_train, cfg.n_weak_label, cfg.n_test],
        "max_length": cfg.max_length,
        "head_hidden": cfg.head_hidden,
        "train": repr(cfg.train_config()),
        "head": [cfg.standardize, cfg.head_mult()] if cfg.mode != "features" else None,
        "val": [cfg.eval_every, cfg.val_frac] if cfg.eval_every else None,
    }


def _holdout(cfg: W2SConfig, idx: np.ndarray, targets: np.ndarray):
    """``(train_idx, train_targets, val)``: the last ``val_frac`` held out when ``eval_every``."""
    if not cfg.eval_every:
        return idx, targets, None
    n_val = round(cfg.val_frac * len(idx))
    if n_val < 1 or n_val >= len(idx):
        raise ValueError(f"val_frac={cfg.val_frac} of {len(idx)} examples leaves no split")
    cut = len(idx) - n_val
    return idx[:cut], targets[:cut], (idx[cut:], targets[cut:])


def _checkpoint_arrays(log) -> dict:
    ck = log.extra.get("checkpoint") if log.extra else None
    if not ck:
        return {}
    return {f"ck_{k}": np.array(v) for k, v in ck.items()}


def run_seed(
    cfg: W2SConfig,
    seed: int,
    *,
    cache: ArrayCache | None = None,
    progress: bool = False,
    backend: Backend | None = None,
) -> dict:
    """One seed of the pipeline; returns one tidy row (see the module docstring)."""
    cache = cache if cache is not None else ArrayCache()
    data = _dataset(cfg.dataset)
    if data.n_classes < 2:
        raise ValueError(f"{cfg.dataset} has fewer than two classes")
    backend = backend or Backend(cfg, data, cache, progress)
    splits = make_splits(data, cfg.n_weak_train, cfg.n_weak_label, cfg.n_test, seed)
    ix = splits.indices
    c = data.n_classes
    y = data.labels
    base = _common_key(cfg, data, seed)
    gt_cfg = cfg.train_config()

    def weak_fn():
        train_idx = ix["weak_train"][: cfg.n_weak_gt]  # the weak supervisor may see fewer labels
        if cfg.weak_temperature == "fit":
            cut = int(0.8 * len(train_idx))
            train_idx, val_idx = train_idx[:cut], train_idx[cut:]
        preds = {"weak_label": ix["weak_label"], "test": ix["test"]}
        if cfg.weak_temperature == "fit":
            preds["val"] = val_idx
        fit_idx, fit_t, ck_val = _holdout(cfg, train_idx, _onehot(y[train_idx], c))
        out, log = fit_predict(
            backend,
            cfg.weak,
            fit_idx,
            fit_t,
            xent_loss,
            gt_cfg,
            seed,
            preds,
            desc="weak",
            val=ck_val,
        )
        t = (
            fit_temperature(out.pop("val"), y[val_idx])
            if cfg.weak_temperature == "fit"
            else float(cfg.weak_temperature)
        )
        return {
            **out,
            "temperature": np.array(t),
            "seconds": np.array(log.seconds),
            **_checkpoint_arrays(log),
        }

    weak = cache.get_or_compute(
        "weak",
        {
            **base,
            "weak": ModelSpec.parse(cfg.weak).key(),
            "n_weak_gt": cfg.n_weak_gt,
            "temperature": cfg.weak_temperature,
        },
        weak_fn,
    )
    # the ceiling sees weak_train and predicts test; with n_test > 0 neither moves with n_weak_label
    ceil_key = {**base, "strong": ModelSpec.parse(cfg.strong).key()}
    if cfg.n_test:
        ceil_key["sizes"] = [cfg.n_weak_train, cfg.n_test]
    ceiling = cache.get_or_compute(
        "ceiling", ceil_key, lambda: _ceiling(backend, cfg, ix, y, c, gt_cfg, seed)
    )
    temperature = float(weak["temperature"])
    q = softmax(weak["weak_label"] / temperature)  # (n_weak_label, C) soft weak labels
    method = MethodSpec.parse(cfg.method)
    loss = get_loss(method.loss)
    s_cfg = cfg.train_config(student=True)
    label_idx = ix["weak_label"]
    if cfg.intermediate:  # bootstrapping: weak -> intermediate -> strong
        half = len(label_idx) // 2
        first, second = label_idx[:half], label_idx[half:]
        q1 = q[:half]
        out, _ = fit_predict(
            backend,
            cfg.intermediate,
            first,
            q1,
            loss,
            s_cfg,
            seed,
            {"second": second},
            strengths=method_strengths(method, q1, s_cfg.n_steps(half), s_cfg.batch_size),
            over=method.over,
            desc="intermediate",
        )
        label_idx, q = second, softmax(out["second"])
    label_idx, q, s_val = _holdout(cfg, label_idx, q)
    strengths = method_strengths(method, q, s_cfg.n_steps(len(q)), s_cfg.batch_size)
    out, log = fit_predict(
        backend,
        cfg.strong,
        label_idx,
        q,
        loss,
        s_cfg,
        seed,
        {"test": ix["test"]},
        strengths=strengths,
        over=method.over,
        heldout=ix["test"],
        desc=f"student {method.loss}",
        val=s_val,
    )
    ck = {}
    if cfg.eval_every:
        ck = {
            "weak_best_step": int(weak.get("ck_best_step", -1)),
            "ceiling_best_step": int(ceiling.get("ck_best_step", -1)),
            "ceiling_val_acc": float(ceiling.get("ck_val_acc_best", np.nan)),
            **{f"student_{k}": v for k, v in (log.extra.get("checkpoint") or {}).items()},
        }
    y_test = y[ix["test"]]
    p_weak, p_ceil, p_w2s = softmax(weak["test"]), softmax(ceiling["test"]), softmax(out["test"])
    acc_weak, acc_ceil, acc_w2s = (
        accuracy(p_weak, y_test),
        accuracy(p_ceil, y_test),
        accuracy(p_w2s, y_test),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        seed_pgr = pgr(acc_weak, acc_w2s, acc_ceil)
    limit = run_limit(method, len(q), log.n_steps, s_cfg.batch_size)
    return {
        "method": method.label(),
        "loss": method.loss,
        "seed": seed,
        "weak": cfg.weak,
        "strong": cfg.strong,
        "mode": cfg.mode,
        "dataset": cfg.dataset,
        "n_weak_train": cfg.n_weak_train,
        "n_weak_gt": min(cfg.n_weak_gt or cfg.n_weak_train, cfg.n_weak_train),
        "n_weak_label": len(label_idx),
        "n_test": len(y_test),
        "steps": log.n_steps,
        "intermediate": cfg.intermediate or "",
        "acc_weak": acc_weak,
        "acc_ceiling": acc_ceil,
        "acc_w2s": acc_w2s,
        "pgr": seed_pgr,
        "auroc_weak": auroc(p_weak, y_test),
        "auroc_ceiling": auroc(p_ceil, y_test),
        "auroc_w2s": auroc(p_w2s, y_test),
        "weak_label_acc": accuracy(q, y[label_idx]),
        "weak_temperature": temperature,
        "agree_weak": agreement(p_w2s.argmax(1), p_weak.argmax(1)),
        "agree_on_weak_errors": agreement_on_weak_errors(p_w2s.argmax(1), p_weak.argmax(1), y_test),
        # influence spent: sum of per-visit strengths; xent-like methods condition fully (r = inf)
        "influence": log.influence if strengths is not None else math.inf,
        "influence_limit": limit,
        "influence_per_epoch": " ".join(f"{v:.6g}" for v in log.extra["influence_per_epoch"]),
        "bounded": math.isfinite(limit),
        "optimizer": s_cfg.optimizer,
        "student_lr": s_cfg.lr,
        **{k: log.extra[k] for k in MOVEMENT_COLUMNS},
        "anchor": cfg.anchor or "",
        "anchor_weight": cfg.anchor_weight,
        "seconds": log.seconds,
        "examples_per_s": log.examples_per_s,
        **ck,
    }


def _ceiling(backend, cfg, ix, y, c, gt_cfg, seed):
    idx = ix["weak_train"]
    fit_idx, fit_t, ck_val = _holdout(cfg, idx, _onehot(y[idx], c))
    out, log = fit_predict(
        backend,
        cfg.strong,
        fit_idx,
        fit_t,
        xent_loss,
        gt_cfg,
        seed,
        {"test": ix["test"]},
        desc="ceiling",
        val=ck_val,
    )
    return {**out, "seconds": np.array(log.seconds), **_checkpoint_arrays(log)}


def run(
    cfg: W2SConfig,
    seeds=(0, 1, 2),
    *,
    cache: ArrayCache | None = None,
    progress: bool = False,
    methods: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Rows for every (method, seed); ``methods`` defaults to ``(cfg.method,)``.

    One backend (features/tokens) is shared across methods and seeds; weak and ceiling
    outputs come from the cache after the first method of each seed.
    """
    cache = cache if cache is not None else ArrayCache()
    methods = tuple(methods) if methods else (cfg.method,)
    for m in methods:
        MethodSpec.parse(m)
    backend = Backend(cfg, _dataset(cfg.dataset), cache, progress)
    rows = []
    for seed in seeds:
        for m in methods:
            t0 = time.perf_counter()
            row = run_seed(
                replace(cfg, method=m), int(seed), cache=cache, progress=progress, backend=backend
            )
            row["wall_s"] = time.perf_counter() - t0
            rows.append(row)
    return pd.DataFrame(rows)
