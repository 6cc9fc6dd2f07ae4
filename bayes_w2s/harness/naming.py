"""Run folder names: one readable scheme for every command, and never reusing a finished folder.

``<experiment>`` plus ``__key=value`` for every config field that differs from its default
(``coinflip__n=1000__seed=3``; nested configs, such as the neural ones, by their leaf fields;
``/``, ``:`` and spaces made file-name safe). Names over :data:`MAX_NAME` characters keep
their first fields and end in ``__h=`` and 8 hex digits of the config's SHA-256.
:func:`fresh_folder` turns a name into a folder that holds no finished run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["MAX_NAME", "run_folder_name", "fresh_folder"]


MAX_NAME = 120


def _leaves(data: dict, prefix: str = "") -> dict:
    """Nested config dicts flattened to ``{leaf name: value}`` (the last key part names it)."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_folder_name(experiment: str, cfg: Any) -> str:
    """``experiment`` plus ``__key=value`` for every field that differs from its default.

    Just ``experiment`` when nothing differs; nested fields are named by their last part;
    names longer than ``MAX_NAME`` characters are cut at a field boundary and end in
    ``__h=`` and 8 hex digits of the SHA-256 of the whole config.
    """
    from bayes_w2s.harness.runs import config_to_dict

    current = _leaves(config_to_dict(cfg))
    try:
        default = _leaves(config_to_dict(type(cfg)()))
    except TypeError:  # a config without defaults: every field names the folder
        default = {}
    parts = [experiment]
    for key, value in current.items():
        if value != default.get(key, object()):
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"{key.rsplit('.', 1)[-1]}={text}".replace("/", "-").replace(" ", "").replace(":", "-"))
    name = "__".join(parts)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:8]
    kept = experiment
    for part in parts[1:]:
        if len(kept) + len(part) + 2 > MAX_NAME - 12:
            break
        kept += "__" + part
    return f"{kept}__h={digest}"


def fresh_folder(root: str | os.PathLike, name: str, *, overwrite: bool = False) -> Path:
    """``root/name``, unless that is a finished run folder (it has ``complete.json``) and
    ``overwrite`` is false: then the first free ``root/name__2``, ``name__3``, ... A folder left
    by a killed run (no marker) is reused."""
    from bayes_w2s.harness.runs import MARKER_FILE

    root = Path(root)
    folder = root / name
    if overwrite or not (folder / MARKER_FILE).exists():
        return folder
    k = 2
    while (root / f"{name}__{k}").exists():
        k += 1
    return root / f"{name}__{k}"
