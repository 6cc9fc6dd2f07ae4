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
* :mod:`.recipes` — Recipe: one student recipe per compare row, parsed from / printed to a label
* :mod:`.stages` — splits -> weak -> weak labels -> ceiling -> StudentData (``student_data``)
* :mod:`.student` — a recipe trained (batched heads), its knob selected on a validation split
* :mod:`.pipeline` — W2SConfig, run_seed/run: the stages chained, one row per recipe and seed
* :mod:`.evaluate` — AUROC, agreement on weak errors, PGR with bootstrap CIs over seeds
* :mod:`.compare`, :mod:`.mimicry` — the two experiments; :mod:`.cli` — ``bayes-w2s neural``

Torch is imported lazily: ``import bayes_w2s.neural`` is cheap; names resolve on first use.
"""

from __future__ import annotations

import importlib

# public name -> the module that defines it; torch loads only when a name is first used
_PUBLIC = {
    "data": ["TextDataset", "Splits", "DataFormatError", "load_dataset", "load_rotten_tomatoes",
             "load_table", "synthetic_task", "make_splits"],
    "models": ["ModelSpec", "Classifier", "build_classifier", "load_backbone", "load_tokenizer", "tokenize"],
    "losses": ["xent_loss", "logconf_loss", "logconf_weight", "product_loss", "ve_loss", "tempered_loss",
               "kl_anchor", "l2_anchor", "LOSSES", "get_loss"],
    "train": ["TrainConfig", "TrainLog", "train", "predict_logits"],
    "features": ["cached_features", "FeatureHead"],
    "cache": ["ArrayCache"],
    "pipeline": ["W2SConfig", "run_seed", "run"],
    "recipes": ["Recipe", "Selection", "parse_recipe", "DEFAULT_GRIDS"],
    "stages": ["StudentData", "student_data"],
    "student": ["centroid_classifier", "centroid_logits"],
    "student_batch": ["fit_recipes", "fit_seeds"],
    "methods": ["MethodSpec", "fit_temperature", "weak_confidence"],
    "evaluate": ["auroc", "agreement_on_weak_errors", "bootstrap_pgr", "pgr_summary"],
    "compare": ["CompareConfig", "run_compare", "compare_summary", "DEFAULT_METHODS"],
    "mimicry": ["MimicryConfig", "run_mimicry"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
