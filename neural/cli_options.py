"""The options of ``bayes-w2s neural``: each flag's :class:`~bayes_w2s.harness.options.Option`
(meaning, kind, range, default) and the checks made before any model trains: method, model
and dataset specs, the device (present on this machine), the weak-label temperature.
"""

from __future__ import annotations

from bayes_w2s.harness.options import Option

__all__ = ["PIPELINE", "FLAGS", "COMMON", "SEEDS", "SEED_DEFAULTS", "methods_of", "models_of"]


SEED_DEFAULTS = {"compare": 10, "ladder": 10, "mimicry": 5, "run": 3, "reward": 5}


def methods_of(text: str) -> tuple[str, ...]:
    """Student recipes split on ``,`` or ``;`` outside parentheses; an old ``k=v`` schedule
    parameter after a comma continues the previous spec (:func:`.recipes.split_recipes`)."""
    from .recipes import split_recipes

    return tuple(split_recipes(text))


def models_of(text: str) -> tuple[str, ...]:
    """``a,b,c`` (or ``;``-separated); a ``key=value`` token continues the previous spec's
    options (``tiny-bert:hidden=16,layers=1``)."""
    if ";" in text:
        return tuple(t.strip() for t in text.split(";") if t.strip())
    out: list[str] = []
    for tok in (t.strip() for t in text.split(",")):
        if tok and out and "=" in tok and ":" not in tok and ":" in out[-1]:
            out[-1] += "," + tok
        elif tok:
            out.append(tok)
    return tuple(out)


def _check_methods(text: str) -> None:
    from .recipes import parse_recipe

    methods = methods_of(text)
    if not methods:
        raise ValueError("give at least one recipe, e.g. xent, xent+wd(select:weak-val) or ve+budget(40)")
    if len(set(methods)) != len(methods):
        raise ValueError("a recipe is listed twice; give each recipe once")
    labels = [parse_recipe(m).label() for m in methods]
    if len(set(labels)) != len(labels):
        raise ValueError("two recipes are the same recipe (same label); give each once")


def _check_method_specs(text: str) -> None:
    """Loss + schedule specs only (``neural reward`` trains no recipe knobs)."""
    from .methods import MethodSpec

    methods = methods_of(text)
    if not methods:
        raise ValueError("give at least one method, e.g. xent or ve+budget:budget=40")
    if len(set(methods)) != len(methods):
        raise ValueError("a method is listed twice; give each method once")
    for m in methods:
        MethodSpec.parse(m)


def _check_model(text: str) -> None:
    """A model spec that can load here: an alias (minilm, minilm-lK, mpnet, gemma-270m,
    tiny-*), an existing folder, or a hub name already in the local Hugging Face cache (no
    network is tried at check time)."""
    from pathlib import Path as _Path

    from .models import ALIASES, ModelSpec

    spec = ModelSpec.parse(text)
    if spec.source in ALIASES or spec.source.startswith("tiny-") or _Path(spec.source).exists():
        return
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec.source, "config.json")
    except Exception:  # noqa: BLE001 - a malformed repo id is simply not cached
        cached = None
    if not isinstance(cached, str):
        raise ValueError(f"unknown model {text!r}: not minilm, minilm-lK, mpnet, gemma-270m, tiny-bert, tiny-gpt2, "
                         "a local folder, or a model in the local Hugging Face cache")


def _check_models(text: str) -> None:
    models = models_of(text)
    if len(models) < 2:
        raise ValueError("a ladder needs at least two models, weakest first")
    for m in models:
        _check_model(m)


def _check_dataset(text: str) -> None:
    from .data import check_dataset_spec

    check_dataset_spec(text)


def _check_temperature(text: str) -> None:
    if text == "fit":
        return
    try:
        t = float(text)
    except ValueError:
        raise ValueError(f"must be a positive number or 'fit', got {text!r}") from None
    if not (t > 0 and t < float("inf")):
        raise ValueError(f"must be a positive finite number or 'fit', got {text!r}")


def _check_device(text: str) -> None:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and present on this machine."""
    import torch

    kind, _, index = text.partition(":")
    if kind not in ("auto", "cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"must be auto, cpu, cuda, cuda:N or mps, got {text!r}")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("this machine has no CUDA device (use --device cpu or auto)")
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"cuda:{index} does not exist ({torch.cuda.device_count()} CUDA devices)")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("this machine has no MPS device (use --device cpu or auto)")


SEEDS = Option("random seeds, one run each (paired across methods)", "int", low=0, sequence=True, distinct=True)
PIPELINE = {
    "weak": Option("weak model spec, e.g. minilm-l0, minilm-l1, minilm, mpnet", check=_check_model, default="minilm-l0"),
    "strong": Option("strong model spec", check=_check_model, default="minilm"),
    "dataset": Option("dataset spec: rotten_tomatoes[:n=K,seed=S], bbc_news, synthetic[:n=..,noise=..], "
                      "a .csv/.jsonl file or hf:NAME", check=_check_dataset, default="rotten_tomatoes"),
    "mode": Option("how the strong model is trained: a head on cached frozen features, a probe, full "
                   "finetuning or LoRA", choices=("features", "probe", "finetune", "lora"), default="features"),
    "n_weak_train": Option("ground-truth examples for the weak model (and the ceiling)", "int", low=1, default=4000),
    "n_weak_gt": Option("ground-truth labels the weak model sees, the first of its split (0: all of it, the "
                        "Burns protocol; e.g. 250 for a data-starved weak model)", "int", low=0, default=0),
    "n_weak_label": Option("examples the weak model labels for the student", "int", low=1, default=4000),
    "n_test": Option("test examples (0: all remaining examples)", "int", low=0, default=4000),
    "max_length": Option("tokens per input", "int", low=1, default=64),
    "batch_size": Option("training batch size", "int", low=1, default=32),
    "lr": Option("learning rate", "float", low=0, low_open=True,
                 default_text="1e-3 for features/probe, 5e-5 for finetune/lora"),
    "epochs": Option("student training epochs (the weak model and ceiling keep the default)", "float", low=0, low_open=True, default_text="10 features/probe, 2 finetune/lora"),
    "steps": Option("student optimizer steps (overrides --epochs)", "int", low=1, default_text="from --epochs"),
    "head_hidden": Option("MLP head width on features (0: a linear head)", "int", low=0, default=0),
    "weak_temperature": Option("temperature of the weak soft labels, or 'fit' (fitted on held-out ground truth)",
                               check=_check_temperature, check_text="a number > 0 or 'fit'", default="1"),
    "anchor": Option("prior anchor of the student toward its initialization", choices=("l2", "kl"),
                     default_text="none"),
    "anchor_weight": Option("weight of the --anchor term", "float", low=0, default=0.0),
    "intermediate": Option("bootstrapping: weak -> INTERMEDIATE -> strong (a model spec)", check=_check_model,
                           default_text="none"),
    "student_optimizer": Option("student optimizer (auto: momentum-free SGD on feature heads, the certified "
                                "movement bound; else Adam)", choices=("auto", "sgd", "adam"), default="auto"),
    "student_lr": Option("student learning rate", "float", low=0, low_open=True, default_text="0.1 under SGD, else --lr"),
    "head_lr_mult": Option("head step / backbone step for token models", "float", low=0, low_open=True,
                           default_text="20 finetune/lora, 1 probe"),
    "eval_every": Option("early-stop every student: score the weak-labelled validation split every N steps "
                         "and keep the best checkpoint (0: never)", "int", low=0, default=0),
    "val_frac": Option("fraction of the weak-labelled split held out from every student as its weak-labelled "
                       "validation split (selection, early stopping)", "float", low=0, high=0.5, low_open=True,
                       high_open=True, default=0.2),
    "weight_decay": Option("student weight decay (a recipe's +wd(..) overrides it)", "float", low=0, default=0.0),
    "n_gt_val": Option("ground-truth validation examples (end of weak-train) for gt-val selection", "int",
                       low=0, default=100),
    "device": Option("torch device: auto, cpu, cuda, cuda:N or mps", check=_check_device, default="auto"),
}
FLAGS = {  # store_true options: (help)
    "no_standardize": "do not standardize a token model's pooled features (the old behaviour)",
    "no_cache": "recompute everything; read and write no cache",
    "no_progress": "no progress bars",
}
COMMON = {
    "out": Option("root folder for run folders", default="runs"),
    "cache": Option("cache folder", default_text="$BAYES_W2S_CACHE or ~/.cache/bayes_w2s/neural"),
}


