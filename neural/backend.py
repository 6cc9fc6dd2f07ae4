"""Where a W2S model gets its inputs: cached frozen features or token ids, and fresh models.

``Backend(cfg, data, cache)`` serves every model spec of one pipeline config: in ``features``
mode a :class:`~.features.FeatureHead` over cached pooled features (standardized with the
training rows' mean and std); otherwise a :class:`~.models.Classifier` over token ids.
``fit_predict`` trains a fresh model and returns its logits on named index sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .cache import ArrayCache
from .data import TextDataset
from .features import FeatureHead, cached_features
from .models import build_classifier, load_tokenizer, tokenize
from .train import TrainConfig, predict_logits, train

if TYPE_CHECKING:
    from .pipeline import W2SConfig

__all__ = ["Backend", "fit_predict"]


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

    def inputs(self, spec: str, idx: np.ndarray) -> dict:
        store = self._get(spec)
        t = torch.as_tensor(idx, dtype=torch.long)
        if self.cfg.mode == "features":
            return {"features": store[t]}
        return {k: v[t] for k, v in store.items()}

    def model(self, spec: str, train_idx: np.ndarray, seed: int) -> torch.nn.Module:
        n_classes = self.data.n_classes
        if self.cfg.mode == "features":
            x = self._get(spec)[torch.as_tensor(train_idx)].double()  # (n_train, H)
            return FeatureHead(
                x.shape[1],
                n_classes,
                hidden=self.cfg.head_hidden,
                mean=x.mean(0).float(),
                std=x.std(0).clamp_min(1e-6).float(),
                seed=seed,
            )
        return build_classifier(spec, n_classes, self.cfg.mode, seed=seed)[0]


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
):
    model = backend.model(spec, train_idx, seed)
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
    )
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
