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
A method is a student recipe (:mod:`.recipes`): ``xent``, ``xent+wd(10)``, ``ve+budget(40)``,
``ve+budget(select:weak-val)``, ``centroid``, ``xent+stop(weak-val)``; the old
``ve+budget:budget=20`` strings parse. The stages are explicit functions:
:func:`~.stages.student_data` (splits, weak model, weak labels, ceiling, the student's training
and validation splits) then :func:`~.student_batch.fit_seeds` (every recipe with its selection,
the linear heads of all seeds trained at once) then :func:`evaluate_row` (test metrics).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace

import pandas as pd

from bayes_w2s.core.metrics import PGRUndefinedWarning, accuracy, agreement, pgr
from bayes_w2s.harness.progress import Progress

from .backend import Backend
from .cache import ArrayCache
from .config import MOVEMENT_COLUMNS, W2SConfig
from .evaluate import agreement_on_weak_errors, auroc
from .methods import DEFAULT_SCHEDULES, MethodSpec, run_limit, softmax, weak_confidence
from .recipes import Recipe, parse_recipe
from .stages import StudentData, _dataset, student_data
from .student import StudentFit
from .student_batch import fit_recipes, fit_seeds

__all__ = [
    "DEFAULT_SCHEDULES",
    "MethodSpec",
    "StudentData",
    "W2SConfig",
    "evaluate_row",
    "recipe_of",
    "run",
    "run_seed",
    "student_data",
    "weak_confidence",
]

_ = _dataset  # re-exported for callers that load a config's dataset


def recipe_of(cfg: W2SConfig) -> Recipe:
    """The student recipe of ``cfg``: ``cfg.method`` parsed; ``eval_every > 0`` adds
    early stopping on the weak-labelled validation split when the recipe has none."""
    recipe = parse_recipe(cfg.method)
    if cfg.eval_every and not recipe.stop and recipe.loss != "centroid":
        recipe = replace(recipe, stop="weak-val")
    return recipe


def run_seed(
    cfg: W2SConfig,
    seed: int,
    *,
    cache: ArrayCache | None = None,
    progress: bool = False,
    backend: Backend | None = None,
    on_head=None,
    batched: bool = True,
) -> dict:
    """One seed of the pipeline; returns one tidy row (see the module docstring).

    Stages: :func:`~.stages.student_data` -> :func:`~.student.fit_recipes` (linear heads on
    frozen features batched when ``batched``) -> :func:`evaluate_row`.
    """
    cache = cache if cache is not None else ArrayCache()
    backend = backend or Backend(cfg, _dataset(cfg.dataset), cache, progress)
    recipe = recipe_of(cfg)
    sd = student_data(cfg, seed, cache=cache, backend=backend, progress=progress)
    (fit,) = fit_recipes([recipe], cfg, backend, seed, sd, on_head=on_head, batched=batched)
    return evaluate_row(cfg, recipe, sd, fit)


def _fmt_grid(values) -> str:
    return " ".join(f"{v:.4g}" for v in values)


def evaluate_row(cfg: W2SConfig, recipe: Recipe, sd: StudentData, fit: StudentFit) -> dict:
    """The row of one (recipe, seed): test accuracies, PGR, mimicry, influence, selection."""
    y_test = sd.y_test
    p_weak, p_ceil, p_w2s = sd.p_weak_test, sd.p_ceiling_test, softmax(fit.logits["test"])
    acc_weak, acc_ceil, acc_w2s = sd.acc_weak, sd.acc_ceiling, accuracy(p_w2s, y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        seed_pgr = pgr(acc_weak, acc_w2s, acc_ceil)
    lg, tcfg, n = fit.log, fit.tcfg, len(sd.q_train)
    if lg is not None:
        spec = fit.recipe.method_spec()
        limit = run_limit(spec, n, lg.n_steps, tcfg.batch_size)
        bounded = spec.schedule is not None
        moves = {k: lg.extra.get(k, math.nan) for k in MOVEMENT_COLUMNS}  # the data-dependent columns only from train.train
        ck = lg.extra.get("checkpoint") or {}
    else:  # centroid: closed form, no training run
        limit, bounded, moves, ck = math.nan, False, dict.fromkeys(MOVEMENT_COLUMNS, math.nan), {}
        moves["certificate"] = "closed form (no training run)"
    sel = recipe.select
    pred_w2s, pred_weak = p_w2s.argmax(1), p_weak.argmax(1)
    return {
        "method": recipe.label(),
        "loss": recipe.loss,
        "seed": sd.seed,
        "weak": cfg.weak,
        "strong": cfg.strong,
        "mode": cfg.mode,
        "dataset": cfg.dataset,
        "n_weak_train": cfg.n_weak_train,
        "n_weak_gt": min(cfg.n_weak_gt or cfg.n_weak_train, cfg.n_weak_train),
        "n_weak_label": n,
        "n_val": len(sd.val_idx),
        "n_gt_val": len(sd.gt_val_idx) if sel is not None and sel.rule == "gt-val" else 0,
        "n_test": len(y_test),
        "steps": lg.n_steps if lg is not None else 0,
        "intermediate": cfg.intermediate or "",
        "acc_weak": acc_weak,
        "acc_ceiling": acc_ceil,
        "acc_w2s": acc_w2s,
        "pgr": seed_pgr,
        "auroc_weak": auroc(p_weak, y_test),
        "auroc_ceiling": auroc(p_ceil, y_test),
        "auroc_w2s": auroc(p_w2s, y_test),
        "weak_label_acc": accuracy(sd.q_train, sd.y_train),
        "weak_temperature": sd.temperature,
        "agree_weak": agreement(pred_w2s, pred_weak),
        "agree_on_weak_errors": agreement_on_weak_errors(pred_w2s, pred_weak, y_test),
        # selection: knob, rule, chosen value, validation scores of the grid (grid order)
        "select_knob": sel.knob if sel else "",
        "select_rule": sel.rule if sel else (recipe.stop or ""),
        "selected": fit.selected,
        "selected_recipe": fit.recipe.label(),
        "grid": _fmt_grid(sel.grid) if sel else "",
        "val_scores": _fmt_grid(fit.scores),
        "acc_w2s_oracle": max(fit.test_accs),  # ORACLE: best grid value on test
        **{f"student_{k}": v for k, v in ck.items()},  # early stopping: best_step, val_acc_*
        # influence spent: sum of per-visit strengths; xent-like methods condition fully (r = inf)
        "influence": (lg.influence if bounded else math.inf) if lg is not None else math.nan,
        "influence_limit": limit,
        "influence_per_epoch": " ".join(f"{v:.6g}" for v in lg.extra["influence_per_epoch"])
        if lg is not None
        else "",
        "bounded": bool(bounded and math.isfinite(limit)),
        "optimizer": tcfg.optimizer if tcfg else "",
        "student_lr": tcfg.lr if tcfg else math.nan,
        "weight_decay": tcfg.weight_decay if tcfg else math.nan,
        "cap": fit.recipe.cap if fit.recipe.cap is not None else math.nan,
        **moves,
        "anchor": (tcfg.anchor or "") if tcfg else "",
        "anchor_weight": tcfg.anchor_weight if tcfg else 0.0,
        "seconds": lg.seconds if lg is not None else 0.0,
        "examples_per_s": lg.examples_per_s if lg is not None else math.nan,
    }


def run(
    cfg: W2SConfig,
    seeds=(0, 1, 2),
    *,
    cache: ArrayCache | None = None,
    progress: bool = False,
    methods: tuple[str, ...] | None = None,
    show_progress: bool | str | None = False,
    batched: bool = True,
) -> pd.DataFrame:
    """Rows for every (method, seed); ``methods`` defaults to ``(cfg.method,)``.

    One backend (features/tokens) is shared across methods and seeds; per seed the weak model,
    ceiling and student data are built once, then the heads of every recipe (all grid values)
    and every seed train together (:func:`~.student_batch.fit_seeds`; ``batched=False``: one at
    a time). ``wall_s`` of a row: its seed's data time plus an equal share of the joint
    training time, divided among the seed's recipes. ``show_progress``: the
    overall head count with an ETA (None: a bar on a terminal, log lines otherwise; True: a
    bar; "log": log lines; False: nothing).
    """
    cache = cache if cache is not None else ArrayCache()
    methods = tuple(methods) if methods else (cfg.method,)
    recipes = [recipe_of(replace(cfg, method=m)) for m in methods]
    labels = [r.label() for r in recipes]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    if dup:
        raise ValueError(f"methods must have unique labels; repeated: {sorted(dup)}")
    backend = Backend(cfg, _dataset(cfg.dataset), cache, progress)
    bar = Progress(len(seeds) * sum(len(r.grid()) for r in recipes), "neural compare", unit="head",
                   mode={True: "bar", "log": "log"}.get(show_progress),
                   disable=show_progress is False)
    rows, data, prep = [], [], []
    try:
        for seed in seeds:  # weak model, ceiling and student data (cached on disk) per seed
            t0 = time.perf_counter()
            data.append(student_data(cfg, int(seed), cache=cache, backend=backend, progress=progress))
            prep.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fits = fit_seeds(recipes, cfg, backend, data, on_head=bar.update, batched=batched)
        shared = (time.perf_counter() - t0) / max(1, len(data))
        for sd, seed_fits, t_prep in zip(data, fits, prep):
            for m, recipe, fit in zip(methods, recipes, seed_fits):
                row = evaluate_row(replace(cfg, method=m), recipe, sd, fit)
                row["wall_s"] = (t_prep + shared) / len(recipes)  # the seed's time, shared by its rows
                rows.append(row)
    finally:
        bar.close()
    return pd.DataFrame(rows)
