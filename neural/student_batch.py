"""Every recipe of every seed at once: a compare's student heads as one batched computation.

:func:`fit_seeds` takes the :class:`~.stages.StudentData` of several seeds and the recipes.
Every concrete recipe (grid value) of every seed that is a linear head on frozen features
without an anchor becomes one :class:`~.heads.HeadSpec`, and they all train in one
:func:`~.heads.train_heads` call per (early-stopping rule, split sizes): the heads of one seed
share a minibatch stream, and the seeds are the streams of one ``bmm`` per step. Each head
equals :func:`~.train.train` to ~1e-6 (:mod:`.heads`). The rest (centroid, anchors, token
models) go one at a time through :func:`~.student.fit_recipe`.

Then, per seed, the selection (:mod:`.student`: the first grid value of highest validation
score) and the data-dependent certificate of each *selected* head that is bounded, decayed or
capped, all of a seed's together (:func:`~.heads_certificate.certify_heads`): they share their training
rows, so the Gram products the certificate needs are computed once per seed
(:func:`~.certificate_grams.linear_grams`), and their linearized paths, which share the seed's
minibatch order, are walked together (:mod:`.certificate_path`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .backend import Backend
from .config import W2SConfig
from .heads import HeadSpec, train_heads
from .heads_certificate import certify_heads
from .methods import method_strengths
from .recipes import Recipe
from .stages import StudentData
from .student import (
    StudentFit,
    _check_rules,
    _predict_sets,
    _rules,
    _select,
    fit_recipe,
    student_train_config,
)

__all__ = ["fit_recipes", "fit_seeds"]


def _batchable(concrete: Recipe, cfg: W2SConfig) -> bool:
    """A linear head on frozen features without a prior anchor: :func:`~.heads.train_heads`."""
    if cfg.mode != "features" or cfg.head_hidden or concrete.loss == "centroid":
        return False
    tcfg = student_train_config(cfg, concrete)
    return not (tcfg.anchor and tcfg.anchor_weight > 0)


def _head(concrete: Recipe, cfg: W2SConfig, seed: int, q_train: np.ndarray):
    """The :class:`~.heads.HeadSpec` of one concrete recipe on one seed, and its config."""
    tcfg = student_train_config(cfg, concrete)
    spec = concrete.method_spec()
    n_steps = tcfg.n_steps(len(q_train))
    head = HeadSpec(
        loss=spec.loss,
        lr=tcfg.lr,
        n_steps=n_steps,
        seed=seed,
        optimizer=tcfg.optimizer,
        lr_schedule=tcfg.lr_schedule,
        weight_decay=tcfg.weight_decay,
        max_distance=concrete.cap,
        strengths=method_strengths(spec, q_train, n_steps, tcfg.batch_size),
        over=spec.over,
        batch_size=tcfg.batch_size,
    )
    return head, tcfg


def _certified(head: HeadSpec) -> bool:
    """Bounded, decayed or capped: where the data-dependent certificate says something."""
    return head.strengths is not None or head.weight_decay > 0 or head.max_distance is not None


def fit_seeds(
    recipes: Sequence[Recipe],
    cfg: W2SConfig,
    backend: Backend,
    data: Sequence[StudentData],
    *,
    on_head=None,
    batched: bool = True,
) -> list[list[StudentFit]]:
    """:func:`~.student.select_and_fit` for every recipe on every seed's ``StudentData``.

    Returns ``fits[s][r]``: seed ``data[s]``, recipe ``recipes[r]``. ``on_head()`` is called
    after every head trained (progress); ``batched=False`` trains every head one at a time
    (:func:`~.train.train`), the reference the batched path equals to ~1e-6.
    """
    for sd in data:
        for r in recipes:
            _check_rules(r, sd)
    results: dict = {}  # (seed pos, recipe, grid value) -> (concrete, logits, log, tcfg)
    groups: dict = {}  # (stop rule, eval every, split sizes) -> [(key, concrete, head, tcfg)]
    for p, sd in enumerate(data):
        rules, preds = _rules(sd), _predict_sets(sd)
        for i, r in enumerate(recipes):
            for j, concrete in enumerate(r.grid()):
                if batched and _batchable(concrete, cfg):
                    head, tcfg = _head(concrete, cfg, sd.seed, sd.q_train)
                    every = (cfg.eval_every or max(1, head.n_steps // 25)) if concrete.stop else 0
                    n_stop = len(rules[concrete.stop][0][0]) if concrete.stop else 0
                    sizes = (len(sd.train_idx), n_stop, tuple((k, len(v)) for k, v in preds.items()))
                    groups.setdefault((concrete.stop, every, sizes), []).append(
                        ((p, i, j), concrete, head, tcfg)
                    )
                    continue
                logits, log, tcfg = fit_recipe(
                    concrete, cfg, backend, sd.seed, sd.train_idx, sd.q_train, preds,
                    stop_val=rules[concrete.stop][0] if concrete.stop else None,
                    heldout=sd.test_idx, desc=f"student {concrete.label()}",
                )
                results[(p, i, j)] = (concrete, logits, log, tcfg)
                if on_head is not None:
                    on_head()
    to_certify: dict = {}  # key -> (HeadsResult, head position)
    for (stop, every, _), members in groups.items():
        sds = [data[key[0]] for key, *_ in members]
        val = None
        if stop:
            pairs = [_rules(sd)[stop][0] for sd in sds]
            val = (np.stack([v for v, _ in pairs]), np.stack([t for _, t in pairs]))
        res = train_heads(
            backend.features(cfg.strong),
            np.stack([sd.train_idx for sd in sds]),
            np.stack([sd.q_train for sd in sds]).astype(np.float32),
            [head for _, _, head, _ in members],
            val=val,
            eval_every=every,
            heldout=np.stack([sd.test_idx for sd in sds]),
            device=backend.cfg.device,
        )
        names = list(_predict_sets(sds[0]))
        logits = {k: res.predict(np.stack([_predict_sets(sd)[k] for sd in sds])) for k in names}
        for m, (key, concrete, head, tcfg) in enumerate(members):
            results[key] = (concrete, {k: v[m] for k, v in logits.items()}, res.log(m), tcfg)
            if _certified(head):
                to_certify[key] = (res, m)
            if on_head is not None:
                on_head()
    out = []
    for p, sd in enumerate(data):
        fits, certify = [], []  # the seed's selected certified heads: certified together
        for i, r in enumerate(recipes):
            grid = [results[(p, i, j)] for j in range(len(r.grid()))]
            fit = _select(r, sd, grid)
            chosen = next(j for j, g in enumerate(grid) if g[0] is fit.recipe)
            if (p, i, chosen) in to_certify:
                certify.append((fit, to_certify[(p, i, chosen)]))
            fits.append(fit)
        rows = certify_heads([head for _, head in certify], sd.q_train)
        for (fit, _), row in zip(certify, rows):
            fit.log.extra.update(row)
        out.append(fits)
    return out


def fit_recipes(
    recipes, cfg: W2SConfig, backend: Backend, seed: int, sd: StudentData, *, on_head=None,
    batched: bool = True,
) -> list[StudentFit]:
    """:func:`fit_seeds` for one seed (``sd.seed`` must be ``seed``)."""
    if int(seed) != int(sd.seed):
        raise ValueError(f"seed {seed} but the student data are seed {sd.seed}")
    return fit_seeds(recipes, cfg, backend, [sd], on_head=on_head, batched=batched)[0]
