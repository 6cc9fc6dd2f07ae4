"""On-disk array cache for the expensive, reusable parts of a W2S run.

Weak-model outputs (soft labels, test predictions), ceiling predictions and frozen-feature
matrices are stored as ``.npz`` files named by the sha256 of a JSON description of
*everything that affects them* (model spec, data fingerprint, split sizes, seed, training
settings, code version tag). Two runs that differ only in the student's method share them.

Location: ``$BAYES_W2S_CACHE`` if set, else ``~/.cache/bayes_w2s/neural``; a pipeline may
pass its own root. Files are written to a temporary name and renamed (atomic).
``bayes-w2s cache info`` shows the location, size and entries per kind (:func:`cache_info`);
``bayes-w2s cache clear --yes`` removes the entries (:func:`clear_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CACHE_VERSION", "ArrayCache", "CacheInfo", "cache_info", "cache_key", "clear_cache", "default_cache_root"]

CACHE_VERSION = 1  # bump when code changes what a cached entry means


def default_cache_root() -> Path:
    return Path(os.environ.get("BAYES_W2S_CACHE", Path.home() / ".cache" / "bayes_w2s" / "neural"))


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds: ``entries`` ``.npz`` arrays (per kind in ``kinds``) and
    ``bytes`` on disk (all files, sidecar ``.json`` descriptions included)."""

    root: Path
    exists: bool
    entries: int
    bytes: int
    kinds: dict

    def describe(self) -> str:
        lines = [f"location: {self.root}" + ("" if self.exists else " (does not exist yet)"),
                 f"size:     {self.bytes / 2**20:.1f} MB in {self.entries} entries"]
        lines += [f"  {kind}: {n} entries, {size / 2**20:.1f} MB" for kind, (n, size) in sorted(self.kinds.items())]
        return "\n".join(lines)


def cache_info(root: str | os.PathLike | None = None) -> CacheInfo:
    """Size and entries of the cache at ``root`` (default :func:`default_cache_root`)."""
    root = Path(root) if root is not None else default_cache_root()
    if not root.is_dir():
        return CacheInfo(root, root.exists(), 0, 0, {})
    kinds: dict[str, tuple[int, int]] = {}
    total = entries = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        kind = path.relative_to(root).parts[0] if len(path.relative_to(root).parts) > 1 else "."
        n, b = kinds.get(kind, (0, 0))
        is_entry = path.suffix == ".npz" and not path.name.startswith(".")
        entries += is_entry
        kinds[kind] = (n + is_entry, b + size)
    return CacheInfo(root, True, entries, total, kinds)


def clear_cache(root: str | os.PathLike | None = None) -> CacheInfo:
    """Remove every entry (``.npz`` and its ``.json``) under ``root``; returns what was there.
    Only files the cache writes are removed (``*.npz``, ``*.json``, temporaries)."""
    info = cache_info(root)
    if info.exists:
        for path in sorted(info.root.rglob("*"), reverse=True):
            if path.is_file() and (path.suffix in (".npz", ".json") or path.name.startswith(".")):
                path.unlink(missing_ok=True)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return info


def cache_key(parts: dict) -> str:
    """sha256 (first 20 hex digits) of the canonical JSON of ``parts`` plus the cache version."""
    text = json.dumps({"v": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _load_intact(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache entry, or None if it is unreadable (truncated, not a zip, a
    damaged member) or holds a non-finite float (NaN soft labels are never a valid entry)."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        return None
    for value in arrays.values():
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            return None
    return arrays


class ArrayCache:
    """``get_or_compute(kind, parts, fn)``: a dict of arrays, loaded or computed and saved.

    ``hits`` and ``misses`` count lookups per ``kind`` (tests use them to check reuse).
    ``enabled=False`` computes every time and writes nothing.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, enabled: bool = True):
        self.root = Path(root) if root is not None else default_cache_root()
        self.enabled = enabled
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}

    def path(self, kind: str, parts: dict) -> Path:
        return self.root / kind / f"{cache_key(parts)}.npz"

    def get_or_compute(
        self, kind: str, parts: dict, fn: Callable[[], dict]
    ) -> dict[str, np.ndarray]:
        path = self.path(kind, parts)
        if self.enabled and path.is_file():
            arrays = _load_intact(path)
            if arrays is not None:
                self.hits[kind] = self.hits.get(kind, 0) + 1
                return arrays
            path.unlink(missing_ok=True)  # damaged or non-finite: drop it and recompute
        self.misses[kind] = self.misses.get(kind, 0) + 1
        arrays = {k: np.asarray(v) for k, v in fn().items()}
        if self.enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, **arrays)
                os.replace(tmp, path)
                path.with_suffix(".json").write_text(
                    json.dumps(parts, sort_keys=True, default=str, indent=1)
                )
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return arrays
