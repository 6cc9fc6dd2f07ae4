"""The student stage: train one recipe on the weak labels, selecting its knob without test labels.

Inputs are a seed's :class:`~.stages.StudentData` (training split of the weak-labelled data, the
held-out weak-labelled validation split, the small ground-truth validation split, test) and a
:class:`~.recipes.Recipe`. For a recipe with a selection, every grid value trains a fresh head
on the *same* training split; each is scored on the rule's validation split,

    weak-val:  score(v) = mean_{i in val} [argmax_y p_v(y|x_i) = argmax_y q_i(y)]
    gt-val:    score(v) = mean_{i in gt-val} [argmax_y p_v(y|x_i) = y_i]

and the first value of highest score (grids run from most to least regularized) is the
selection; its test predictions are the row's (scikit-learn ``PredefinedSplit`` semantics).
Agreement with the weak *argmax* label, not the soft-label cross-entropy, is the weak-val score:
cross-entropy also rewards reproducing the weak model's confidence (its calibration), i.e.
mimicry, while argmax agreement on held-out examples rewards only predicting the label the
weak model would give, whose errors a strong student cannot fit out of sample when they are not
a function of its features (the usual argument for W2S validation on weak labels).
The best grid value *on test* is also recorded as ``acc_w2s_oracle``: ORACLE, never a headline.

``centroid``: nearest class centroid on the weak labels in the standardized feature space
(mean and std of the training rows, as :class:`~.features.FeatureHead`),

    mu_c = sum_i q_i(c) x~_i / sum_i q_i(c),    logits_c(x) = -1/2 ||x~ - mu_c||^2,

scikit-learn's ``NearestCentroid`` for one-hot ``q``. A movement cap is projected SGD: after
every step ``theta <- theta_0 + (theta - theta_0) min(1, cap / ||theta - theta_0||)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits
import torch

from .backend import Backend, BestCheckpoint
from .config import W2SConfig
from .losses import get_loss
from .methods import method_strengths
from .recipes import Recipe
from .train import TrainConfig, TrainLog, predict_logits, train

__all__ = [
    "StudentFit",
    "centroid_classifier",
    "centroid_logits",
    "fit_recipe",
    "select_and_fit",
    "student_train_config",
]


@dataclass(frozen=True)
class StudentFit:
    """A trained (selected) student: logits on named sets, its training log, the selection.

    ``selected`` is the chosen grid value (NaN without a selection), ``scores`` the validation
    score of every grid value in grid order, ``test_accs`` the test accuracy of every grid
    value (for the ORACLE column only), ``recipe`` the concrete recipe that was selected.
    """

    recipe: Recipe
    logits: dict
    log: TrainLog | None
    selected: float
    scores: tuple[float, ...]
    test_accs: tuple[float, ...]
    tcfg: TrainConfig | None


def student_train_config(cfg: W2SConfig, recipe: Recipe) -> TrainConfig:
    """The student's :class:`~.train.TrainConfig`: the config's student defaults (``steps``,
    ``epochs``, ``student_lr``, ``anchor``, ``weight_decay``) overridden by the recipe."""
    opt = recipe.optimizer or cfg.train_config(student=True).optimizer
    base = replace(cfg, student_optimizer=opt).train_config(student=True)
    kw: dict = {}
    if recipe.lr is not None:
        kw["lr"] = recipe.lr
    if recipe.weight_decay:
        kw["weight_decay"] = recipe.weight_decay
    if recipe.anchor:
        kw["anchor"], kw["anchor_weight"] = recipe.anchor, recipe.anchor_weight
    if recipe.steps is not None:
        kw["steps"] = recipe.steps
    if recipe.epochs is not None:
        kw["epochs"], kw["steps"] = recipe.epochs, recipe.steps
    return replace(base, **kw)


def centroid_logits(x_train: np.ndarray, q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(n, C)`` logits ``-1/2 ||x~ - mu_c||^2`` of the soft-label class centroids (module doc).

    ``x_train (n_train, D)`` and ``q (n_train, C)`` define the standardization and the
    centroids; ``x (n, D)`` are the inputs scored. Several input sets:
    :func:`centroid_classifier` (the centroids computed once).
    """
    return centroid_classifier(x_train, q)(x)


def centroid_classifier(x_train: np.ndarray, q: np.ndarray):
    """The function ``x (m, D) -> (m, C)`` logits of :func:`centroid_logits` for ``x_train (n,
    D)``, ``q (n, C)``: standardization ``x~ = (x - mean) / sd`` (training rows, ``sd >= 1e-6``)
    and class centroids ``mu_c = sum_i q_ic x~_i / sum_i q_ic``, computed once."""
    x_train, q = (np.asarray(a, np.float64) for a in (x_train, q))
    if x_train.ndim != 2 or q.ndim != 2 or len(q) != len(x_train):
        raise ValueError(f"need x_train (n, D), q (n, C); got {x_train.shape}, {q.shape}")
    mass = q.sum(0)  # (C,)
    if np.any(mass <= 0):
        raise ValueError("a class has no weak-label mass: its centroid is undefined")
    mean, std = x_train.mean(0), np.maximum(x_train.std(0, ddof=1), 1e-6)
    mu = (q.T @ ((x_train - mean) / std)) / mass[:, None]  # (C, D)
    mu2 = (mu * mu).sum(1)[None]

    @threadpool_limits.wrap(limits=1, user_api="blas")  # a memory-bound (m, D) @ (D, C):
    def logits(x: np.ndarray) -> np.ndarray:  # a 2nd BLAS thread tripled it on a busy machine
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1:] != x_train.shape[1:]:
            raise ValueError(f"need x (m, D) with D = {x_train.shape[1]}; got {x.shape}")
        z = (x - mean) / std  # standardized (m, D)
        d2 = (z * z).sum(1)[:, None] - 2 * z @ mu.T + mu2  # (m, C)
        return (-0.5 * d2).astype(np.float32)

    return logits


def _cap_hook(model: torch.nn.Module, cap: float):
    params = [p for p in model.parameters() if p.requires_grad]
    theta0 = [p.detach().clone() for p in params]

    @torch.no_grad()
    def project(step, _model) -> None:
        d = math.sqrt(sum(float((p - p0).pow(2).sum()) for p, p0 in zip(params, theta0)))
        if d > cap:
            for p, p0 in zip(params, theta0):
                p.copy_(p0 + (p - p0) * (cap / d))

    return project


def fit_recipe(
    recipe: Recipe,
    cfg: W2SConfig,
    backend: Backend,
    seed: int,
    train_idx: np.ndarray,
    q: np.ndarray,
    predict: dict,
    *,
    stop_val: tuple | None = None,
    heldout=None,
    desc: str = "student",
) -> tuple[dict, TrainLog | None, TrainConfig | None]:
    """Train one *concrete* recipe (no selection) on ``(train_idx, q (n, C))``.

    Returns logits on every ``predict`` set (name -> indices), the training log and config
    (None for ``centroid``). ``stop_val = (idx, targets (m, C))`` is the early-stopping split
    for a ``stop`` recipe.
    """
    if recipe.select is not None:
        raise ValueError(f"{recipe.label()} selects a knob: use select_and_fit")
    if recipe.loss == "centroid":
        if cfg.mode != "features":
            raise ValueError("centroid needs frozen features (mode='features')")
        x = backend.features(cfg.strong)
        score = centroid_classifier(x[train_idx], q)
        return (
            {k: score(x[idx]) for k, idx in predict.items()},
            None,
            None,
        )
    tcfg = student_train_config(cfg, recipe)
    spec = recipe.method_spec()
    n_steps = tcfg.n_steps(len(q))
    strengths = method_strengths(spec, q, n_steps, tcfg.batch_size)
    model = backend.model(cfg.strong, train_idx, seed)
    hooks = []
    if recipe.cap is not None:
        hooks.append(_cap_hook(model, recipe.cap))
    keeper = None
    if recipe.stop:
        if stop_val is None:
            raise ValueError(f"{recipe.label()}: no {recipe.stop} split to stop on")
        every = cfg.eval_every or max(1, n_steps // 25)
        keeper = BestCheckpoint(
            model,
            backend.inputs(cfg.strong, stop_val[0]),
            stop_val[1],
            every,
            device=backend.cfg.device,
            batch_size=tcfg.eval_batch_size,
        )
        hooks.append(keeper.on_step)

    def on_step(t, m):
        for h in hooks:
            h(t, m)

    log = train(
        model,
        backend.inputs(cfg.strong, train_idx),
        q,
        get_loss(spec.loss),
        tcfg,
        seed=seed,
        strengths=strengths,
        strengths_over=spec.over,
        heldout=backend.inputs(cfg.strong, heldout) if heldout is not None else None,
        device=backend.cfg.device,
        progress=backend.progress,
        desc=desc,
        on_step=on_step if hooks else None,
        on_end=keeper.restore if keeper is not None else None,
    )
    if keeper is not None:
        log.extra["checkpoint"] = keeper.summary()
    out = {
        k: predict_logits(
            model,
            backend.inputs(cfg.strong, idx),
            batch_size=tcfg.eval_batch_size,
            device=backend.cfg.device,
        )
        for k, idx in predict.items()
    }
    return out, log, tcfg


def _agreement(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(logits.argmax(1) == labels)) if len(labels) else math.nan


def _rules(sd) -> dict:
    """rule -> ((idx, targets (m, C)) to early-stop on, predict-set name, labels (m,))."""
    gt_t = np.eye(sd.n_classes, dtype=np.float32)[sd.y_gt_val]
    return {
        "weak-val": ((sd.val_idx, sd.q_val), "val", sd.q_val.argmax(1)),
        "gt-val": ((sd.gt_val_idx, gt_t), "gt_val", sd.y_gt_val),
    }


def _check_rules(recipe: Recipe, sd) -> None:
    rules = _rules(sd)
    for rule in {recipe.stop, recipe.select.rule if recipe.select else None} - {None}:
        if len(rules[rule][2]) == 0:
            raise ValueError(f"{recipe.label()} needs a {rule} split: set val_frac / n_gt_val > 0")


def _select(recipe: Recipe, sd, fits: list) -> StudentFit:
    """Pick the grid value of highest validation score (first on ties); ``fits`` in grid order
    as ``(concrete, logits, log, tcfg)``."""
    test_accs = tuple(_agreement(f[1]["test"], sd.y_test) for f in fits)
    if recipe.select is None:
        concrete, logits, log, tcfg = fits[0]
        return StudentFit(concrete, logits, log, math.nan, (), test_accs, tcfg)
    _, name, labels = _rules(sd)[recipe.select.rule]
    scores = tuple(_agreement(f[1][name], labels) for f in fits)
    best = int(np.argmax(scores))  # first of the highest: the most regularized on ties
    concrete, logits, log, tcfg = fits[best]
    return StudentFit(concrete, logits, log, recipe.select.grid[best], scores, test_accs, tcfg)


def _predict_sets(sd) -> dict:
    return {
        k: v
        for k, v in {"test": sd.test_idx, "val": sd.val_idx, "gt_val": sd.gt_val_idx}.items()
        if len(v)
    }


def select_and_fit(
    recipe: Recipe, cfg: W2SConfig, backend: Backend, seed: int, sd, *, on_head=None
) -> StudentFit:
    """Train ``recipe`` (every grid value if it selects) on ``sd``'s student split; select.

    ``sd`` is a :class:`~.stages.StudentData`; ``on_head()`` is called after every head trained
    (progress). See the module docstring for the scores. One head at a time
    (:func:`~.train.train`); :func:`~.student_batch.fit_seeds` batches linear heads.
    """
    _check_rules(recipe, sd)
    stop_val = _rules(sd)[recipe.stop][0] if recipe.stop else None
    fits = []
    for concrete in recipe.grid():
        logits, log, tcfg = fit_recipe(
            concrete,
            cfg,
            backend,
            seed,
            sd.train_idx,
            sd.q_train,
            _predict_sets(sd),
            stop_val=stop_val,
            heldout=sd.test_idx,
            desc=f"student {concrete.label()}",
        )
        fits.append((concrete, logits, log, tcfg))
        if on_head is not None:
            on_head()
    return _select(recipe, sd, fits)
