"""Run folders: where an experiment's config, tidy table and figures land, atomically,
and a completion marker that lets every reader check the folder is whole.

Every experiment in ``bayes_w2s.simulations`` is one module with

* ``Config`` — a dataclass whose fields (one of them ``seed``) fully determine the result;
* ``run(cfg) -> pandas.DataFrame`` — the tidy results table;
* ``FIGURES`` — ``{name: plot_fn}`` where ``plot_fn(df, ax=None) -> Figure`` only *reads*
  the table (plotting never computes);
* optionally ``summarize(df, cfg) -> str`` — a few lines printed after the run.

A run folder is named from the experiment and the fields that differ from the defaults
(``coinflip__n=1000__seed=3``; just ``coinflip`` when none differ; nested configs such as the
neural ones contribute their leaf fields; a name over 120 characters keeps its first fields
and ends in ``__h=<8 hex digits of the config>``): one scheme for every command
(:func:`run_folder_name`). A rerun never overwrites a finished folder silently:
:func:`fresh_folder` picks ``<name>__2``, ``<name>__3``, ... unless ``overwrite``. It holds,
written in this order,

* ``config.json`` — config, package version, git revision;
* ``results.csv`` (and any extra tables) — the data;
* ``complete.json`` — the completion marker, written **last**: format, package version,
  ``sha256`` of ``config.json`` and, per table, its row count and ``sha256``;
* ``<figure>.png/.pdf`` — derived from the table, redrawable at any time.

Every file is written to a temporary name and moved into place with :func:`os.replace`, so
a killed run never leaves a torn file; and because the marker comes last (and is removed
first when a folder is rewritten), a folder is *complete* iff its marker exists and every
checksum matches. :func:`read_run` enforces that; folders from before the marker existed are
read only with ``allow_unmarked=True`` (``bayes-w2s figures --allow-unmarked``), with a
warning. Files are created with mode ``0666 & ~umask``, like ``open()`` would, and PDFs carry
no creation date (or ``SOURCE_DATE_EPOCH`` when that is set), so re-running a command gives
byte-identical figures.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import importlib
import json
import os
import subprocess
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from bayes_w2s.harness.configfile import strict_json
from bayes_w2s.harness.naming import fresh_folder, run_folder_name

__all__ = [
    "RunFolderError",
    "package_version",
    "git_revision",
    "file_sha256",
    "atomic_write_text",
    "atomic_write_csv",
    "config_to_dict",
    "run_folder_name",
    "fresh_folder",
    "load_experiment",
    "write_run",
    "mark_complete",
    "verify_run",
    "read_run",
    "save_figure",
    "draw_figures",
]

RESULTS_FILE = "results.csv"
CONFIG_FILE = "config.json"
MARKER_FILE = "complete.json"
MARKER_FORMAT = "bayes-w2s-run/1"


class RunFolderError(ValueError):
    """A folder that is not a complete, intact run folder (missing, torn or unmarked)."""


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


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no read-only query elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _temp_in(target: Path, suffix: str = "") -> tuple[int, str]:
    """``mkstemp`` next to ``target``, widened from 0600 to ``0666 & ~umask``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder, fsync and
    ``os.replace``; the file gets mode ``0666 & ~umask``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_in(path)
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
    """A dataclass config as strict-JSON-ready data (tuples become lists, non-finite floats
    the strings ``"nan"``/``"inf"``/``"-inf"``: :func:`bayes_w2s.harness.configfile.strict_json`)."""
    from bayes_w2s.harness.configfile import finite_or_text

    return finite_or_text(json.loads(json.dumps(dataclasses.asdict(cfg), default=_json_default)))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} in a config")


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
            raise ValueError(f"experiment {name!r} lacks {attr} (see bayes_w2s.harness.runs)")
    return module


def write_run(
    folder: str | os.PathLike,
    experiment: str,
    cfg: Any,
    df: pd.DataFrame,
    *,
    extra: dict | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write ``config.json``, ``results.csv`` and the extra ``tables`` (``{file name: table}``)
    for one run into ``folder``, then the completion marker; returns the folder."""
    folder = Path(folder)
    tables = dict(tables or {})
    for name in tables:
        if not name.endswith(".csv") or "/" in name or name in (RESULTS_FILE, MARKER_FILE):
            raise ValueError(f"tables: bad table file name {name!r} (want '<name>.csv')")
    meta = {
        "experiment": experiment,
        "config": config_to_dict(cfg),
        "package_version": package_version(),
        "git_revision": git_revision(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    (folder / MARKER_FILE).unlink(missing_ok=True)  # rewriting: incomplete until re-marked
    atomic_write_text(folder / CONFIG_FILE, strict_json(meta, indent=2) + "\n")
    atomic_write_csv(df, folder / RESULTS_FILE)
    for name, table in tables.items():
        atomic_write_csv(table, folder / name)
    rows = {RESULTS_FILE: len(df), **{name: len(t) for name, t in tables.items()}}
    mark_complete(folder, rows)
    return folder


def mark_complete(folder: str | os.PathLike, tables: Mapping[str, int] | None = None) -> Path:
    """Write ``folder/complete.json``: checksums of ``config.json`` and of each table.

    ``tables`` maps table file names to row counts; by default ``results.csv`` with its
    rows counted by reading it. Call this after the last table of a folder is written.
    """
    folder = Path(folder)
    if tables is None:
        tables = {RESULTS_FILE: len(pd.read_csv(folder / RESULTS_FILE))}
    for name in (CONFIG_FILE, *tables):
        if not (folder / name).is_file():
            raise RunFolderError(f"{folder}: cannot mark complete, {name} is missing")
    marker = {
        "format": MARKER_FORMAT,
        "package_version": package_version(),
        "config_sha256": file_sha256(folder / CONFIG_FILE),
        "tables": {
            name: {"rows": int(rows), "sha256": file_sha256(folder / name)}
            for name, rows in tables.items()
        },
    }
    return atomic_write_text(folder / MARKER_FILE, strict_json(marker, indent=2) + "\n")


def verify_run(folder: str | os.PathLike, *, allow_unmarked: bool = False) -> dict:
    """Check a run folder against its marker; returns the marker (``{}`` if unmarked).

    Raises :class:`RunFolderError` naming the folder and what is wrong: no ``config.json``,
    no table, no marker (a killed run, or a folder written before markers existed — pass
    ``allow_unmarked=True`` to read those with a warning), or a checksum that differs
    (a table truncated or edited after the run).
    """
    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file():
        raise RunFolderError(f"{folder} is not a run folder (no {CONFIG_FILE})")
    if not (folder / RESULTS_FILE).is_file():
        raise RunFolderError(
            f"{folder} is incomplete: {CONFIG_FILE} but no {RESULTS_FILE} "
            "(the run was killed or failed before writing its table; run it again)"
        )
    marker_path = folder / MARKER_FILE
    if not marker_path.is_file():
        message = (
            f"{folder} has no {MARKER_FILE}: the run was killed before finishing, or the "
            "folder predates completion markers"
        )
        if not allow_unmarked:
            raise RunFolderError(message + " (read it anyway with --allow-unmarked)")
        warnings.warn(message + "; reading it unchecked", stacklevel=2)
        return {}
    try:
        marker = json.loads(marker_path.read_bytes().decode("utf-8"))
        tables = dict(marker["tables"])
        config_sha = marker["config_sha256"]
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{marker_path} is unreadable ({err})") from None
    if marker.get("format") != MARKER_FORMAT:
        raise RunFolderError(f"{marker_path}: unknown format {marker.get('format')!r}")
    if RESULTS_FILE not in tables:
        raise RunFolderError(f"{marker_path} does not list {RESULTS_FILE}")
    if file_sha256(folder / CONFIG_FILE) != config_sha:
        raise RunFolderError(f"{folder / CONFIG_FILE} changed after the run (checksum differs)")
    for name, entry in tables.items():
        path = folder / name
        if not path.is_file():
            raise RunFolderError(f"{folder}: {name} is listed in {MARKER_FILE} but missing")
        if file_sha256(path) != entry.get("sha256"):
            raise RunFolderError(
                f"{path} does not match {MARKER_FILE} (checksum differs: truncated or "
                f"edited after the run; expected {entry.get('rows')} rows)"
            )
    return marker


def read_run(
    folder: str | os.PathLike, *, allow_unmarked: bool = False
) -> tuple[dict, pd.DataFrame]:
    """The ``config.json`` metadata and the results table of a run folder, after
    :func:`verify_run` (row count included)."""
    folder = Path(folder)
    marker = verify_run(folder, allow_unmarked=allow_unmarked)
    try:
        meta = json.loads((folder / CONFIG_FILE).read_bytes().decode("utf-8"))
    except ValueError as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise RunFolderError(f"{folder / CONFIG_FILE} is corrupted, not valid JSON ({err})") from None
    try:
        df = pd.read_csv(folder / RESULTS_FILE)
    except (ValueError, pd.errors.ParserError) as err:  # EmptyDataError is a ValueError
        raise RunFolderError(f"{folder / RESULTS_FILE} is unreadable ({err})") from None
    expected = marker.get("tables", {}).get(RESULTS_FILE, {}).get("rows")
    if expected is not None and expected != len(df):
        raise RunFolderError(f"{folder / RESULTS_FILE} has {len(df)} rows, marker says {expected}")
    if not isinstance(meta, dict) or "experiment" not in meta:
        raise RunFolderError(f"{folder / CONFIG_FILE} names no experiment")
    return meta, df


def _pdf_metadata() -> dict:
    """PDF metadata with a fixed creation date: ``SOURCE_DATE_EPOCH`` if set, else none."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise ValueError(f"SOURCE_DATE_EPOCH must be integer seconds, got {epoch!r}") from None
        return {"CreationDate": when}
    return {"CreationDate": None}


def save_figure(
    fig, path: str | os.PathLike, formats: tuple[str, ...] = ("png", "pdf")
) -> list[Path]:
    """Save ``fig`` as ``path.<fmt>`` for each format atomically (temp file + ``os.replace``),
    mode ``0666 & ~umask``; PDFs get a fixed creation date (see :func:`_pdf_metadata`).

    The layout (tight or constrained) is computed once, in one draw at the saving resolution,
    and every format is rendered from that frozen layout: with the layout engine on, savefig
    would lay the figure out again in each of its two draws per format. The PNG's tight box is
    the one measured in that draw (no extra draw); a vector format measures its own (with its
    renderer's text metrics, so nothing can be clipped)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    written = []
    dpi = fig.dpi
    try:
        fig.set_dpi(SAVE_DPI)
        fig.draw_without_rendering()  # runs the layout engine, measures every artist
        bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(
            plt.rcParams["savefig.pad_inches"])
        with plt.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)  # keep the positions just computed: no engine, and
            # savefig then needs no layout draw of its own
        for fmt in formats:
            target = path.with_suffix(f".{fmt}")
            fd, tmp = _temp_in(target, suffix=f".{fmt}")
            os.close(fd)
            metadata = _pdf_metadata() if fmt == "pdf" else None
            try:
                fig.savefig(tmp, format=fmt, dpi=SAVE_DPI, metadata=metadata,
                            bbox_inches=bbox if fmt == "png" else "tight")
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            written.append(target)
    finally:
        fig.set_dpi(dpi)
        plt.close(fig)
    return written


SAVE_DPI = 150  # PNG resolution of every saved figure


def draw_figures(
    folder: str | os.PathLike,
    formats: tuple[str, ...] = ("png", "pdf"),
    *,
    allow_unmarked: bool = False,
) -> list[Path]:
    """Redraw every figure of a run folder from its stored table, without recomputing.

    The folder is verified first (:func:`read_run`). Neural run folders (experiment
    ``neural*``) are handed to ``bayes_w2s.neural.figures.redraw(folder)``.
    """
    import matplotlib

    matplotlib.use("Agg")

    from bayes_w2s.harness import style

    folder = Path(folder)
    meta, df = read_run(folder, allow_unmarked=allow_unmarked)
    experiment = str(meta["experiment"])
    if experiment.startswith("neural"):
        try:
            from bayes_w2s.neural.figures import redraw
        except ImportError as err:
            raise RunFolderError(
                f"{folder} is a {experiment} run folder, but its figures cannot be redrawn "
                f"here: {err} (needs bayes_w2s.neural.figures and the neural extra: "
                "pip install 'bayes-w2s[neural]')"
            ) from None
        return [Path(p) for p in redraw(folder)]
    module = load_experiment(experiment)
    df.attrs["config"] = dict(meta.get("config") or {})  # titles name the setting; nothing is computed
    written = []
    with style.context():
        for name, plot_fn in module.FIGURES.items():
            written += save_figure(plot_fn(df), folder / name, formats)
    return written
