"""The sweep folder format: manifest, lock and per-cell markers (see :mod:`bayes_w2s.harness.sweeps`).

::

    FOLDER/manifest.json       experiment, base config, grid, seeds, version, git revision
    FOLDER/.lock               an exclusive flock held by the one live sweep
    FOLDER/cells/<cell_id>.csv one file per finished cell, written atomically
    FOLDER/cells/<cell_id>.json its marker {rows, sha256}, written after the .csv

A cell counts as done iff its marker exists and ``sha256(.csv)`` matches it; a folder is
resumed only when its manifest's identity fields (:data:`IDENTITY`) equal the new sweep's.
"""

from __future__ import annotations

import datetime as _dt
import json
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from bayes_w2s.harness.configfile import read_json, strict_json

from bayes_w2s.harness.runs import (
    atomic_write_csv,
    atomic_write_text,
    config_to_dict,
    file_sha256,
    git_revision,
    package_version,
)

__all__ = ["FORMAT", "MANIFEST_FILE", "CELLS_DIR", "IDENTITY", "SweepError", "manifest",
           "write_cell", "cell_is_valid", "locked", "open_folder"]

FORMAT = "bayes-w2s-sweep/1"
MANIFEST_FILE = "manifest.json"
CELLS_DIR = "cells"
IDENTITY = ("format", "experiment", "config", "grid", "seeds", "package_version", "git_revision")


class SweepError(ValueError):
    """A sweep that cannot start: bad grid or seeds, foreign or busy folder."""


def manifest(experiment, base_cfg, grid, seeds, n_cells, executor, workers) -> dict:
    base = config_to_dict(base_cfg)
    base.pop("seed", None)
    return json.loads(strict_json({
        "format": FORMAT, "experiment": experiment, "config": base, "grid": grid, "seeds": list(seeds),
        "package_version": package_version(), "git_revision": git_revision(), "n_cells": n_cells,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "executor": executor, "workers": workers,
    }, default=list))  # fmt: skip


def write_cell(cells_dir: Path, cell_id: str, df: pd.DataFrame) -> None:
    """Write a cell's table, then its marker ``{rows, sha256}`` (the marker last)."""
    path = atomic_write_csv(df, cells_dir / f"{cell_id}.csv")
    marker = {"rows": len(df), "sha256": file_sha256(path)}
    atomic_write_text(cells_dir / f"{cell_id}.json", strict_json(marker) + "\n")


def cell_is_valid(cells_dir: Path, cell_id: str) -> bool:
    """True iff the cell's ``.csv`` and marker exist and the checksum matches."""
    path, marker_path = cells_dir / f"{cell_id}.csv", cells_dir / f"{cell_id}.json"
    if not path.is_file() or not marker_path.is_file():
        return False
    try:
        marker = json.loads(marker_path.read_text())
        return isinstance(marker, dict) and marker.get("sha256") == file_sha256(path)
    except (OSError, ValueError):
        return False


@contextmanager
def locked(folder: Path):
    """Hold an exclusive ``flock`` on ``folder/.lock`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(folder / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(
                f"another sweep is running in {folder} (it holds {folder / '.lock'})"
            ) from None
        yield


def open_folder(folder: Path, manifest: dict) -> None:
    """Write the manifest into a new folder, or check it against an existing one."""
    path = folder / MANIFEST_FILE
    if path.is_file():
        old = read_json(path, "sweep manifest")
        if not isinstance(old, dict):
            raise SweepError(f"{path}: corrupted sweep manifest (not a JSON object); delete the folder or use another")
        differ = [key for key in IDENTITY if old.get(key) != manifest.get(key)]
        if differ:
            detail = "; ".join(f"{k}: {old.get(k)!r} here, {manifest.get(k)!r} now" for k in differ)
            raise SweepError(
                f"{folder} holds a different sweep ({detail}); refusing to resume into it: "
                "use another folder (--dir / --out) or delete this one"
            )
        return
    if any(p.name != ".lock" for p in folder.iterdir()):
        raise SweepError(
            f"{folder} exists and is not a sweep folder (no {MANIFEST_FILE}); use a new folder"
        )
    atomic_write_text(path, strict_json(manifest, indent=2) + "\n")
