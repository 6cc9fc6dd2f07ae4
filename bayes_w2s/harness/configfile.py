"""``--config FILE``: option values from a TOML file or a run folder's ``config.json``.

A TOML file holds ``key = value`` pairs named like the options (``n = 1000`` or
``per-decade = 4``); a ``[config]`` table is read the same way. A run folder's
``config.json`` (or the run folder itself) can be passed back as it is: its ``"config"``
object is used, so ``bayes-w2s run coinflip --config runs/coinflip__n=1000/config.json``
repeats that run. Options given on the command line override the file.

Strict JSON: every JSON file the toolkit writes goes through :func:`strict_json`, which
refuses NaN / Infinity tokens (``allow_nan=False``) after mapping non-finite floats to the
strings ``"nan"``, ``"inf"`` and ``"-inf"`` (documented here; ``float("inf")`` reads them
back), so every file is valid JSON for any reader.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from bayes_w2s.harness.options import UsageError

__all__ = ["load_config_file", "read_json", "strict_json", "finite_or_text"]


def finite_or_text(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``"nan"``, ``"inf"`` or ``"-inf"``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: finite_or_text(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_text(v) for v in obj]
    return obj


def strict_json(obj: Any, **kwargs) -> str:
    """``json.dumps`` that never writes NaN / Infinity (see :func:`finite_or_text`)."""
    return json.dumps(finite_or_text(obj), allow_nan=False, **kwargs)


def _reject_constant(token: str):
    raise ValueError(f"non-standard JSON token {token}")


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Parse a JSON file; raises :class:`UsageError` naming the file (and line) on bad bytes,
    bad JSON, or a file that cannot be read."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise UsageError(f"{path}: line {line}: not UTF-8 text (byte {err.object[err.start]:#04x}); "
                         f"is this really a {what}?") from None
    except OSError as err:
        raise UsageError(f"{path}: cannot read {what} ({err.strerror or err})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as err:
        detail = f"line {err.lineno}, column {err.colno}: {err.msg}" if hasattr(err, "lineno") else str(err)
        raise UsageError(f"{path}: corrupted {what}, not valid JSON ({detail})") from None


def load_config_file(path: str | os.PathLike, experiment: str | None = None) -> dict[str, Any]:
    """The ``{key: value}`` pairs of a ``--config`` file (TOML, or a run folder's config.json).

    Keys are returned with ``-`` turned into ``_``. ``experiment``: if the file is a run
    folder's config.json naming another experiment, it is refused.
    """
    import tomllib

    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    if path.suffix == ".json":
        data = read_json(path, "config.json")
        if not isinstance(data, dict):
            raise UsageError(f"--config {path}: expected a JSON object, got {type(data).__name__}")
        stored = data.get("experiment")
        if experiment and stored and str(stored) != experiment:
            raise UsageError(f"--config {path}: it is a config of {stored!r}, not {experiment!r}")
        data = data.get("config", data)
    else:
        try:
            text = path.read_bytes().decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError as err:
            raise UsageError(f"--config {path}: not UTF-8 text (byte offset {err.start})") from None
        except tomllib.TOMLDecodeError as err:
            raise UsageError(f"--config {path}: not valid TOML ({err})") from None
        except OSError as err:
            raise UsageError(f"--config {path}: cannot read ({err.strerror or err})") from None
        if isinstance(data.get("config"), dict):
            data = {**{k: v for k, v in data.items() if k != "config"}, **data["config"]}
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected key = value pairs")
    return {str(k).replace("-", "_"): v for k, v in data.items()}
