"""bayes_w2s.neural — the torch side: weak-to-strong training with Bayesian losses.

Modules (one concept each):

* :mod:`.data` — TextDataset, CSV/JSONL/Rotten Tomatoes/HF/synthetic loaders, seeded splits
* :mod:`.models` — ModelSpec, AutoModel + pooled head (encoder or decoder), finetune/probe/lora
* :mod:`.losses` — xent, logconf, product, virtual evidence, tempered, prior anchors
* :mod:`.train` — the flat training loop (Adam, cosine, real batches, bf16 autocast on CUDA)
* :mod:`.features` — frozen features computed once and cached; heads on them
* :mod:`.cache` — on-disk array cache keyed by a hash of everything that matters
* :mod:`.methods` — MethodSpec (loss + schedule), weak confidence, temperature scaling
* :mod:`.backend` — inputs (cached features or tokens) and fresh models for the pipeline
* :mod:`.pipeline` — W2SConfig, run_seed/run: weak -> labels -> ceiling -> student -> metrics
* :mod:`.evaluate` — AUROC, agreement on weak errors, PGR with bootstrap CIs over seeds
* :mod:`.compare`, :mod:`.mimicry` — the two experiments; :mod:`.cli` — ``bayes-w2s neural``

Torch is imported lazily: ``import bayes_w2s.neural`` is cheap; names resolve on first use.
"""

from __future__ import annotations

import importlib

__all__ = [
    # data
    "TextDataset",
    "Splits",
    "DataFormatError",
    "load_dataset",
    "load_rotten_tomatoes",
    "load_table",
    "synthetic_task",
    "make_splits",
    # models
    "ModelSpec",
    "Classifier",
    "build_classifier",
    "load_backbone",
    "load_tokenizer",
    "tokenize",
    # losses
    "xent_loss",
    "logconf_loss",
    "logconf_weight",
    "product_loss",
    "ve_loss",
    "tempered_loss",
    "kl_anchor",
    "l2_anchor",
    "LOSSES",
    "get_loss",
    # training, features, cache
    "TrainConfig",
    "TrainLog",
    "train",
    "predict_logits",
    "cached_features",
    "FeatureHead",
    "ArrayCache",
    # pipeline, evaluation, experiments
    "W2SConfig",
    "MethodSpec",
    "fit_temperature",
    "weak_confidence",
    "run_seed",
    "run",
    "auroc",
    "agreement_on_weak_errors",
    "bootstrap_pgr",
    "pgr_summary",
    "CompareConfig",
    "run_compare",
    "DEFAULT_METHODS",
    "MimicryConfig",
    "run_mimicry",
]

_WHERE = {
    **dict.fromkeys(
        [
            "TextDataset",
            "Splits",
            "DataFormatError",
            "load_dataset",
            "load_rotten_tomatoes",
            "load_table",
            "synthetic_task",
            "make_splits",
        ],
        "data",
    ),
    **dict.fromkeys(
        [
            "ModelSpec",
            "Classifier",
            "build_classifier",
            "load_backbone",
            "load_tokenizer",
            "tokenize",
        ],
        "models",
    ),
    **dict.fromkeys(
        [
            "xent_loss",
            "logconf_loss",
            "logconf_weight",
            "product_loss",
            "ve_loss",
            "tempered_loss",
            "kl_anchor",
            "l2_anchor",
            "LOSSES",
            "get_loss",
        ],
        "losses",
    ),
    **dict.fromkeys(["TrainConfig", "TrainLog", "train", "predict_logits"], "train"),
    **dict.fromkeys(["cached_features", "FeatureHead"], "features"),
    "ArrayCache": "cache",
    **dict.fromkeys(["W2SConfig", "run_seed", "run"], "pipeline"),
    **dict.fromkeys(["MethodSpec", "fit_temperature", "weak_confidence"], "methods"),
    **dict.fromkeys(
        ["auroc", "agreement_on_weak_errors", "bootstrap_pgr", "pgr_summary"], "evaluate"
    ),
    **dict.fromkeys(["CompareConfig", "run_compare", "DEFAULT_METHODS"], "compare"),
    **dict.fromkeys(["MimicryConfig", "run_mimicry"], "mimicry"),
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
