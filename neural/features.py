"""Cached frozen features: embed a dataset once per backbone, then train heads in seconds.

For a backbone with L layers one forward pass yields the pooled hidden states of every layer
``h_0 (embeddings) ... h_L``; the model truncated to its first k layers outputs exactly
``h_k``, so ``minilm-l1`` and ``minilm`` share one pass and one cache entry. Entries are keyed
by the backbone (not its truncation), the data fingerprint, ``max_length`` and the pooling.

A head on these features (:class:`FeatureHead`) is the ``probe`` mode made fast; the W2S
pipeline trains weak, ceiling and student heads with the same losses and loop as finetuning.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .cache import ArrayCache
from .data import TextDataset
from .models import ModelSpec, _is_decoder, load_backbone, pool, tokenize
from .train import _autocast, _batch, pick_device

__all__ = ["FeatureHead", "cached_features", "embed_all_layers", "row_standardization"]


@torch.inference_mode()  # bitwise the features of no_grad, 4-9% faster (benchmarks.md)
def embed_all_layers(
    spec: ModelSpec,
    texts,
    *,
    max_length: int = 64,
    batch_size: int = 128,
    device=None,
    progress: bool = False,
) -> np.ndarray:
    """Pooled hidden states of every layer: ``(n_layers + 1, n, H)`` float16."""
    from tqdm.auto import tqdm

    full = ModelSpec(spec.source, None, spec.params)
    backbone, tokenizer = load_backbone(full)
    device = pick_device(device)
    backbone.eval().to(device)
    how = "last" if _is_decoder(backbone.config) else "mean"
    enc = tokenize(tokenizer, texts, max_length)
    # sort by length so batches carry little padding; undo the order at the end
    order = torch.argsort(enc["attention_mask"].sum(1), descending=True)
    out = []
    for start in tqdm(
        range(0, len(order), batch_size),
        desc=f"embed {spec.source}",
        disable=not progress,
        leave=False,
    ):
        batch = _batch(enc, order[start : start + batch_size], device)
        with _autocast(device):
            hs = backbone(**batch, output_hidden_states=True).hidden_states  # L+1 x (B, T, H)
        out.append(torch.stack([pool(h.float(), batch["attention_mask"], how) for h in hs]).cpu())
    feats = torch.cat(out, dim=1)  # (L+1, n, H) in sorted order
    unsorted = torch.empty_like(feats)
    unsorted[:, order] = feats
    return unsorted.to(torch.float16).numpy()


def cached_features(
    spec: ModelSpec | str,
    data: TextDataset,
    cache: ArrayCache,
    *,
    max_length: int = 64,
    device=None,
    progress: bool = False,
) -> np.ndarray:
    """Features ``(n, H)`` float32 of ``data`` for ``spec`` (its ``layers`` picks the depth)."""
    spec = ModelSpec.parse(spec) if isinstance(spec, str) else spec
    parts = {
        "backbone": ModelSpec(spec.source, None, spec.params).key(),
        "data": data.fingerprint(),
        "n": len(data),
        "max_length": max_length,
    }
    arrays = cache.get_or_compute(
        "features",
        parts,
        lambda: {
            "layers": embed_all_layers(
                spec, data.texts, max_length=max_length, device=device, progress=progress
            )
        },
    )
    layers = arrays["layers"]  # (L+1, n, H)
    depth = layers.shape[0] - 1 if spec.layers is None else spec.layers
    if depth >= layers.shape[0]:
        raise ValueError(f"{spec.source} has {layers.shape[0] - 1} layers, asked for {depth}")
    return layers[depth].astype(np.float32)


def row_standardization(feats: torch.Tensor, rows) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mu, sd)`` of the rows ``feats[rows]`` that a :class:`FeatureHead` standardizes with:
    float64 mean and unbiased std (``sd >= 1e-6``), stored float32."""
    x = feats[torch.as_tensor(rows, device=feats.device)].double()  # (n, D)
    return x.mean(0).float(), x.std(0).clamp_min(1e-6).float()


class FeatureHead(nn.Module):
    """``logits = head(standardize(x))``: linear (``hidden=0``) or one-hidden-layer MLP.

    ``mean``/``std`` come from the training features and are buffers, so a trained head is
    self-contained. Zero-initialized output layer: the initial prediction is uniform.
    """

    def __init__(
        self, dim: int, n_classes: int, *, hidden: int = 0, mean=None, std=None, seed: int = 0
    ):
        super().__init__()
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.register_buffer(
            "mean",
            torch.as_tensor(mean if mean is not None else np.zeros(dim), dtype=torch.float32),
        )
        self.register_buffer(
            "std", torch.as_tensor(std if std is not None else np.ones(dim), dtype=torch.float32)
        )
        if hidden:
            self.net = nn.Sequential(
                nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, n_classes)
            )
        else:
            self.net = nn.Linear(dim, n_classes)
        last = self.net[-1] if hidden else self.net
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        torch.random.set_rng_state(gen_state)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features.float() - self.mean) / self.std)  # (B, C)
