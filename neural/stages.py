"""The stages before the student: splits -> weak model -> weak labels -> ceiling -> student data.

Each stage is a function of its inputs; the weak model's and the ceiling's outputs are cached on
disk under a content hash of everything that determines them (:class:`~.cache.ArrayCache`).
Student-only settings (``steps``, ``epochs``, ``student_lr``, ``anchor``, ``weight_decay``,
``eval_every``, the recipe) never enter the weak model's or the ceiling's training or keys.

:func:`student_data` is the public entry point: a seed's student training set and held-out
splits as a :class:`StudentData`, so a new baseline is a few lines::

    sd = student_data(W2SConfig(), seed=0)
    clf = LogisticRegression(C=0.01).fit(sd.standardize(sd.x_train), sd.q_train.argmax(1))
    acc = (clf.predict(sd.standardize(sd.x_test)) == sd.y_test).mean()
    pgr = (acc - sd.acc_weak) / (sd.acc_ceiling - sd.acc_weak)

Splits of the weak-labelled set ``weak_label`` (after bootstrapping, if any): the first
``1 - val_frac`` is the student's training set, the last ``val_frac`` the *weak-labelled
validation split* (weak labels only; every recipe of a run trains on the same training split).
The *ground-truth validation split* is the last ``n_gt_val`` examples of ``weak_train``, whose
labels the weak model and the ceiling already saw (a user who trained the weak model has them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from bayes_w2s.core.metrics import accuracy

from .backend import Backend, fit_predict
from .cache import ArrayCache
from .config import W2SConfig
from .data import TextDataset, load_dataset, make_splits
from .losses import xent_loss
from .methods import fit_temperature, softmax
from .models import ModelSpec

__all__ = ["StudentData", "student_data"]


@lru_cache(maxsize=4)
def _dataset(spec: str) -> TextDataset:
    return load_dataset(spec)


def _onehot(labels: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c, dtype=np.float32)[labels]


@dataclass(frozen=True)
class StudentData:
    """A seed's student training set and held-out splits (indices into the dataset).

    ``q_*`` are weak soft labels ``softmax(z_weak / T)`` ``(n, C)``; ``y_*`` ground truth
    (``y_train``/``y_val`` for diagnostics only: the student never sees them). ``x_*`` are the
    strong model's frozen features ``(n, D)`` (raw, not standardized) in ``features`` mode, else
    None. ``p_weak_test``/``p_ceiling_test`` ``(n_test, C)`` are the weak model's and the
    ceiling's test probabilities and ``acc_weak``/``acc_ceiling`` their accuracies, so
    ``PGR = (acc - acc_weak) / (acc_ceiling - acc_weak)``.
    """

    seed: int
    n_classes: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    gt_val_idx: np.ndarray
    test_idx: np.ndarray
    q_train: np.ndarray
    q_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_gt_val: np.ndarray
    y_test: np.ndarray
    p_weak_test: np.ndarray
    p_ceiling_test: np.ndarray
    acc_weak: float
    acc_ceiling: float
    temperature: float
    x_train: np.ndarray | None = None
    x_val: np.ndarray | None = None
    x_gt_val: np.ndarray | None = None
    x_test: np.ndarray | None = None

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / max(std, 1e-6)`` with the mean and unbiased std of ``x_train`` (the
        students' own standardization, :class:`~.features.FeatureHead`); constant feature
        columns (mpnet has two) map to 0 instead of NaN."""
        if self.x_train is None:
            raise ValueError("no frozen features: student_data needs mode='features'")
        x_train = self.x_train.astype(np.float64)
        std = np.maximum(x_train.std(0, ddof=1), 1e-6)
        return ((np.asarray(x, np.float64) - x_train.mean(0)) / std).astype(np.float32)


def _gt_key(cfg: W2SConfig, data: TextDataset, seed: int) -> dict:
    """Everything that determines a model trained on ground truth (weak, ceiling)."""
    return {
        "data": data.fingerprint(),
        "seed": seed,
        "mode": cfg.mode,
        "sizes": [cfg.n_weak_train, cfg.n_weak_label, cfg.n_test],
        "max_length": cfg.max_length,
        "head_hidden": cfg.head_hidden,
        "train": repr(cfg.train_config()),
        "head": [cfg.standardize, cfg.head_mult()] if cfg.mode != "features" else None,
    }


def weak_stage(cfg: W2SConfig, backend: Backend, ix: dict, y: np.ndarray, seed: int) -> dict:
    """The weak model on ground truth: logits on ``weak_label`` and ``test``, its temperature."""
    c = backend.data.n_classes

    def compute():
        train_idx = ix["weak_train"][: cfg.n_weak_gt]  # the weak supervisor may see fewer labels
        preds = {"weak_label": ix["weak_label"], "test": ix["test"]}
        if cfg.weak_temperature == "fit":
            cut = int(0.8 * len(train_idx))
            train_idx, val_idx = train_idx[:cut], train_idx[cut:]
            preds["val"] = val_idx
        out, log = fit_predict(
            backend,
            cfg.weak,
            train_idx,
            _onehot(y[train_idx], c),
            xent_loss,
            cfg.train_config(),
            seed,
            preds,
            desc="weak",
        )
        t = (
            fit_temperature(out.pop("val"), y[val_idx])
            if cfg.weak_temperature == "fit"
            else float(cfg.weak_temperature)
        )
        return {**out, "temperature": np.array(t), "seconds": np.array(log.seconds)}

    key = {
        **_gt_key(cfg, backend.data, seed),
        "weak": ModelSpec.parse(cfg.weak).key(),
        "n_weak_gt": cfg.n_weak_gt,
        "temperature": cfg.weak_temperature,
    }
    return backend.cache.get_or_compute("weak", key, compute)


def ceiling_stage(cfg: W2SConfig, backend: Backend, ix: dict, y: np.ndarray, seed: int) -> dict:
    """The strong ceiling on ``weak_train`` ground truth: logits on ``test``."""
    key = {**_gt_key(cfg, backend.data, seed), "strong": ModelSpec.parse(cfg.strong).key()}
    if cfg.n_test:  # with n_test > 0 the test split does not move with n_weak_label
        key["sizes"] = [cfg.n_weak_train, cfg.n_test]

    def compute():
        idx = ix["weak_train"]
        out, log = fit_predict(
            backend,
            cfg.strong,
            idx,
            _onehot(y[idx], backend.data.n_classes),
            xent_loss,
            cfg.train_config(),
            seed,
            {"test": ix["test"]},
            desc="ceiling",
        )
        return {**out, "seconds": np.array(log.seconds)}

    return backend.cache.get_or_compute("ceiling", key, compute)


def student_data(
    cfg: W2SConfig,
    seed: int,
    *,
    cache: ArrayCache | None = None,
    backend: Backend | None = None,
    progress: bool = False,
    intermediate_recipe=None,
) -> StudentData:
    """A seed's student training set and held-out splits (module docstring); public.

    Runs (or reads from the cache) the weak model and the ceiling. With ``cfg.intermediate``
    the weak labels of the second half of ``weak_label`` come from an intermediate model
    trained on the first half with ``intermediate_recipe`` (default: ``cfg.method``'s, its
    first grid value if it selects).
    """
    from .recipes import parse_recipe
    from .student import fit_recipe

    data = _dataset(cfg.dataset)
    if data.n_classes < 2:
        raise ValueError(f"{cfg.dataset} has fewer than two classes")
    cache = cache if cache is not None else ArrayCache()
    backend = backend or Backend(cfg, data, cache, progress)
    ix = make_splits(data, cfg.n_weak_train, cfg.n_weak_label, cfg.n_test, seed).indices
    y = data.labels
    weak = weak_stage(cfg, backend, ix, y, seed)
    ceiling = ceiling_stage(cfg, backend, ix, y, seed)
    temperature = float(weak["temperature"])
    q = softmax(weak["weak_label"] / temperature)  # (n_weak_label, C) soft weak labels
    label_idx = ix["weak_label"]
    if cfg.intermediate:  # bootstrapping: weak -> intermediate -> strong
        rec = intermediate_recipe or parse_recipe(cfg.method)
        rec = rec.grid()[0]
        half = len(label_idx) // 2
        out, _, _ = fit_recipe(
            rec,
            replace(cfg, strong=cfg.intermediate),
            backend,
            seed,
            label_idx[:half],
            q[:half],
            {"second": label_idx[half:]},
            desc="intermediate",
        )
        label_idx, q = label_idx[half:], softmax(out["second"])
    n_val = round(cfg.val_frac * len(label_idx))
    if cfg.val_frac and (n_val < 1 or n_val >= len(label_idx)):
        raise ValueError(f"val_frac={cfg.val_frac} of {len(label_idx)} weak labels leaves no split")
    cut = len(label_idx) - n_val
    n_gt = min(cfg.n_gt_val, len(ix["weak_train"]) - 1)
    gt_val_idx = (
        ix["weak_train"][len(ix["weak_train"]) - n_gt :] if n_gt > 0 else ix["weak_train"][:0]
    )
    y_test = y[ix["test"]]
    p_weak, p_ceil = softmax(weak["test"]), softmax(ceiling["test"])
    feats = backend.features(cfg.strong) if cfg.mode == "features" else None

    def x(idx):
        return None if feats is None else feats[idx]

    return StudentData(
        seed=seed,
        n_classes=data.n_classes,
        train_idx=label_idx[:cut],
        val_idx=label_idx[cut:],
        gt_val_idx=gt_val_idx,
        test_idx=ix["test"],
        q_train=q[:cut],
        q_val=q[cut:],
        y_train=y[label_idx[:cut]],
        y_val=y[label_idx[cut:]],
        y_gt_val=y[gt_val_idx],
        y_test=y_test,
        p_weak_test=p_weak,
        p_ceiling_test=p_ceil,
        acc_weak=accuracy(p_weak, y_test),
        acc_ceiling=accuracy(p_ceil, y_test),
        temperature=temperature,
        x_train=x(label_idx[:cut]),
        x_val=x(label_idx[cut:]),
        x_gt_val=x(gt_val_idx),
        x_test=x(ix["test"]),
    )
