"""Run folders: where an experiment's config, tidy table and figures land, atomically.

Every experiment in ``bayes_w2s.simulations`` is one module with

* ``Config`` — a dataclass whose fields (one of them ``seed``) fully determine the result;
* ``run(cfg) -> pandas.DataFrame`` — the tidy results table;
* ``FIGURES`` — ``{name: plot_fn}`` where ``plot_fn(df, ax=None) -> Figure`` only *reads*
  the table (plotting never computes);
* optionally ``summarize(df, cfg) -> str`` — a few lines printed after the run.

A run folder is named from the experiment and the fields that differ from the defaults
(``coinflip__n=1000__seed=3``) and holds ``config.json`` (config, package version, git
revision), ``results.csv`` and ``<figure>.png/.pdf``. Every file is written to a temporary
name and moved into place with :func:`os.replace`, so a killed run never leaves a torn file.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

__all__ = [
    "package_version",
    "git_revision",
    "atomic_write_text",
    "atomic_write_csv",
    "config_to_dict",
    "run_folder_name",
    "load_experiment",
    "write_run",
    "read_run",
    "save_figure",
    "draw_figures",
]

RESULTS_FILE = "results.csv"
CONFIG_FILE = "config.json"


def package_version() -> str:
    """Installed version of the ``bayes-w2s`` distribution (``"unknown"`` if not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayes-w2s")
    except PackageNotFoundError:
        return "unknown"


def git_revision() -> str | None:
    """The current git commit of the source tree, or None outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV atomically (see :func:`atomic_write_text`)."""
    return atomic_write_text(path, df.to_csv(index=False))


def config_to_dict(cfg: Any) -> dict:
    """A dataclass config as JSON-ready data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=_json_default))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} in a config")


def run_folder_name(experiment: str, cfg: Any) -> str:
    """``experiment`` plus ``__key=value`` for every field that differs from its default."""
    default = config_to_dict(type(cfg)())
    current = config_to_dict(cfg)
    parts = [experiment]
    for key, value in current.items():
        if value != default.get(key):
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"{key}={text}".replace("/", "-").replace(" ", ""))
    return "__".join(parts) if len(parts) > 1 else f"{experiment}__default"


def load_experiment(name: str) -> ModuleType:
    """Import ``bayes_w2s.simulations.<name>`` and check it follows the experiment protocol."""
    if not name.isidentifier():
        raise ValueError(f"experiment name {name!r} is not a Python identifier")
    try:
        module = importlib.import_module(f"bayes_w2s.simulations.{name}")
    except ModuleNotFoundError as err:
        if err.name and err.name.endswith(f"simulations.{name}"):
            raise ValueError(f"no experiment named {name!r}") from None
        raise
    for attr in ("Config", "run", "FIGURES"):
        if not hasattr(module, attr):
            raise ValueError(f"experiment {name!r} lacks {attr} (see bayes_w2s.runs)")
    return module


def write_run(
    folder: str | os.PathLike, experiment: str, cfg: Any, df: pd.DataFrame, *, extra: dict | None = None
) -> Path:
    """Write ``config.json`` and ``results.csv`` for one run into ``folder``; returns it."""
    folder = Path(folder)
    meta = {
        "experiment": experiment,
        "config": config_to_dict(cfg),
        "package_version": package_version(),
        "git_revision": git_revision(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    atomic_write_text(folder / CONFIG_FILE, json.dumps(meta, indent=2) + "\n")
    atomic_write_csv(df, folder / RESULTS_FILE)
    return folder


def read_run(folder: str | os.PathLike) -> tuple[dict, pd.DataFrame]:
    """The ``config.json`` metadata and the results table of a run folder."""
    folder = Path(folder)
    cfg_path, table_path = folder / CONFIG_FILE, folder / RESULTS_FILE
    if not cfg_path.is_file() or not table_path.is_file():
        raise FileNotFoundError(f"{folder} is not a run folder (needs {CONFIG_FILE} and {RESULTS_FILE})")
    return json.loads(cfg_path.read_text()), pd.read_csv(table_path)


def save_figure(fig, path: str | os.PathLike, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``path.<fmt>`` for each format atomically (temp file + ``os.replace``)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{fmt}", dir=target.parent)
        os.close(fd)
        try:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    plt.close(fig)
    return written


def draw_figures(folder: str | os.PathLike, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Redraw every figure of a run folder from its stored table, without recomputing."""
    import matplotlib

    matplotlib.use("Agg")

    from bayes_w2s import style

    folder = Path(folder)
    meta, df = read_run(folder)
    module = load_experiment(meta["experiment"])
    written = []
    with style.context():
        for name, plot_fn in module.FIGURES.items():
            written += save_figure(plot_fn(df), folder / name, formats)
    return written
