"""Where a W2S model gets its inputs: cached frozen features or token ids, and fresh models.

``Backend(cfg, data, cache)`` serves every model spec of one pipeline config: in ``features``
mode a :class:`~.features.FeatureHead` over cached pooled features (standardized with the
training rows' mean and std); otherwise a :class:`~.models.Classifier` over token ids.
``fit_predict`` trains a fresh model and returns its logits on named index sets; given a
validation set it evaluates every ``cfg.eval_every`` steps and keeps the best checkpoint
(:class:`BestCheckpoint`, the EleutherAI/w2s practice).

Token models are built with their pooled features standardized on (up to 256 of) their own
training inputs and the head's step scaled by ``head_lr_mult`` (see
:class:`~.models.Classifier`: without both, a small CPU finetune stays at the majority class).
"""

from __future__ import annotations


import numpy as np
import torch

from .cache import ArrayCache
from .config import W2SConfig
from .data import TextDataset
from .features import FeatureHead, cached_features, row_standardization
from .models import build_classifier, load_tokenizer, standardize_head, tokenize
from .train import TrainConfig, predict_logits, train


__all__ = ["Backend", "BestCheckpoint", "fit_predict"]


class Backend:
    """Inputs and fresh models for one spec, either on cached features or on tokens."""

    def __init__(self, cfg: W2SConfig, data: TextDataset, cache: ArrayCache, progress: bool):
        self.cfg, self.data, self.cache, self.progress = cfg, data, cache, progress
        self._store: dict[str, object] = {}

    def _get(self, spec: str):
        if spec not in self._store:
            if self.cfg.mode == "features":
                self._store[spec] = torch.from_numpy(
                    cached_features(
                        spec,
                        self.data,
                        self.cache,
                        max_length=self.cfg.max_length,
                        device=self.cfg.device,
                        progress=self.progress,
                    )
                )  # (n, H)
            else:
                self._store[spec] = tokenize(
                    load_tokenizer(spec), self.data.texts, self.cfg.max_length
                )
        return self._store[spec]

    def features(self, spec: str) -> np.ndarray:
        """Frozen features ``(n, H)`` float32 of the whole dataset (``features`` mode only)."""
        if self.cfg.mode != "features":
            raise ValueError(f"frozen features need mode='features', not {self.cfg.mode!r}")
        return self._get(spec).numpy()

    def inputs(self, spec: str, idx: np.ndarray) -> dict:
        store = self._get(spec)
        t = torch.as_tensor(idx, dtype=torch.long)
        if self.cfg.mode == "features":
            return {"features": store[t]}
        return {k: v[t] for k, v in store.items()}

    def model(self, spec: str, train_idx: np.ndarray, seed: int) -> torch.nn.Module:
        n_classes = self.data.n_classes
        if self.cfg.mode == "features":
            feats = self._get(spec)
            mean, std = row_standardization(feats, train_idx)  # (H,) each
            return FeatureHead(
                feats.shape[1],
                n_classes,
                hidden=self.cfg.head_hidden,
                mean=mean,
                std=std,
                seed=seed,
            )
        model = build_classifier(
            spec, n_classes, self.cfg.mode, seed=seed, head_lr_mult=self.cfg.head_mult()
        )[0]
        if self.cfg.standardize:
            standardize_head(model, self.inputs(spec, train_idx), seed=seed)
        return model


class BestCheckpoint:
    """Evaluate every ``every`` optimizer steps on ``(inputs, targets (n, C))`` and keep the
    weights with the best accuracy ``mean(argmax logits == argmax targets)`` (ties: earliest).

    Pass :meth:`on_step` and :meth:`restore` to :func:`~.train.train` as ``on_step`` and
    ``on_end``: after step ``t`` (``t = every, 2 every, ...``) the weights after ``t`` updates
    are scored; :meth:`restore` also scores the final weights (unless just scored), loads the
    best and returns its step, so the trainer measures the movement of the weights reported.
    """

    def __init__(self, model, inputs: dict, targets, every: int, *, device, batch_size: int = 256):
        if every < 1:
            raise ValueError(f"eval_every must be >= 1, got {every}")
        self.model, self.inputs, self.every = model, inputs, int(every)
        self.labels = np.asarray(targets).argmax(1)  # (n,)
        self.device, self.batch_size = device, batch_size
        self.steps = 0
        self.best_acc, self.best_step, self.best_state = -1.0, 0, None
        self.history: list[tuple[int, float]] = []

    def evaluate(self, step: int) -> float:
        was_training = self.model.training
        logits = predict_logits(
            self.model, self.inputs, batch_size=self.batch_size, device=self.device
        )
        self.model.train(was_training)
        acc = float(np.mean(logits.argmax(1) == self.labels))
        self.history.append((step, acc))
        if acc > self.best_acc:
            self.best_acc, self.best_step = acc, step
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return acc

    def on_step(self, step: int, model) -> None:
        self.steps = step
        if step % self.every == 0:
            self.evaluate(step)

    def restore(self, model) -> int:
        """Score the final weights if not yet scored, load the best; its step."""
        if not self.history or self.history[-1][0] != self.steps:
            self.evaluate(self.steps)
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.best_step

    def summary(self) -> dict:
        return {
            "best_step": self.best_step,
            "val_acc_best": self.best_acc,
            "val_acc_final": self.history[-1][1] if self.history else float("nan"),
            "n_evals": len(self.history),
        }


def fit_predict(
    backend: Backend,
    spec: str,
    train_idx,
    targets,
    loss,
    tcfg: TrainConfig,
    seed: int,
    predict: dict,
    *,
    strengths=None,
    over="visits",
    heldout=None,
    desc="train",
    val=None,
):
    """Train a fresh ``spec`` model on ``(train_idx, targets)``; logits on each ``predict`` set.

    ``val = (val_idx, val_targets)`` with ``cfg.eval_every > 0`` turns on best-checkpoint
    selection; the returned log's ``extra["checkpoint"]`` then holds ``best_step``,
    ``val_acc_best``, ``val_acc_final`` and ``n_evals``, and the log's movement
    (``param_distance``, bounds, ``kl_from_init``) describes the restored best weights, the
    ones whose logits are returned.
    """
    model = backend.model(spec, train_idx, seed)
    keeper = None
    if val is not None and backend.cfg.eval_every > 0:
        keeper = BestCheckpoint(
            model,
            backend.inputs(spec, val[0]),
            val[1],
            backend.cfg.eval_every,
            device=backend.cfg.device,
            batch_size=tcfg.eval_batch_size,
        )
    log = train(
        model,
        backend.inputs(spec, train_idx),
        targets,
        loss,
        tcfg,
        seed=seed,
        strengths=strengths,
        strengths_over=over,
        heldout=backend.inputs(spec, heldout) if heldout is not None else None,
        device=backend.cfg.device,
        progress=backend.progress,
        desc=desc,
        on_step=keeper.on_step if keeper is not None else None,
        on_end=keeper.restore if keeper is not None else None,
    )
    if keeper is not None:
        log.extra["checkpoint"] = keeper.summary()
    out = {
        name: predict_logits(
            model,
            backend.inputs(spec, idx),
            batch_size=tcfg.eval_batch_size,
            device=backend.cfg.device,
        )
        for name, idx in predict.items()
    }
    return out, log
