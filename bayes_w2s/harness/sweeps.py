"""Sweeps: one experiment over a grid of config values times seeds, resumable after a crash.

    bayes-w2s sweep NAME --grid KEY=V1,V2 [KEY=...] --seeds 0-9 \\
        [--executor local|serial|dask|ray] [--workers N] [--address ADDR] \\
        [--out ROOT | --dir FOLDER] [--no-figures] [--no-progress] [--<config-field> VALUE ...]

A *cell* is one grid point and one seed: ``run(Config(**base, **point, seed=seed))``. Its
rows are tagged with the grid keys, ``seed`` and ``cell_id`` (a hash of the experiment name
and the cell's full config). Grid values of a tuple-valued field are separated by ``/``
(``--grid weak_dims=1,2/4,8``); seeds are ranges and lists (``0-9``, ``0,3,7-9``).

Folder format: :mod:`bayes_w2s.harness.sweep_folder` (manifest, lock, one marked file per cell), plus
``results.csv``, ``config.json`` and the figures once every cell is done.

Why one file per cell rather than an appended journal: the only writer is the driver
process, and it writes each cell with :func:`bayes_w2s.harness.runs.atomic_write_csv` (temporary
file in the same folder, fsync, :func:`os.replace`). A rename is atomic on POSIX, so after a
crash or SIGKILL a cell file is either complete or absent — never torn — and, being named by
its cell id, can never be duplicated. Resume still trusts no file blindly: a cell counts as done
only if its marker exists and the ``.csv`` matches the marker's checksum, so a cell truncated or
edited afterwards (or left by a version without markers) is deleted and recomputed. A shared
JSONL journal would need a torn-last-line repair and a dedupe pass on every read. The
consolidated ``results.csv`` is rebuilt from the cell files in grid order, so an
interrupted-and-resumed sweep gives the same table, byte for byte, as an uninterrupted one
run the same way. Without ``--dir`` the folder is
``ROOT/<experiment>[__fixed=option...]__sweep__<grid keys>``, so re-running a command finds it.

A sweep refuses to resume into a folder whose manifest differs (other experiment, base
config, grid, seeds, package version or git revision) and refuses to share a folder with a
second live sweep (an ``flock`` on ``FOLDER/.lock``, released by the OS even on SIGKILL).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bayes_w2s.harness import sweep_folder as _sf
from bayes_w2s.harness.executors import make_executor
from bayes_w2s.harness.sweep_folder import CELLS_DIR, SweepError
from bayes_w2s.harness.runs import (
    config_to_dict,
    draw_figures,
    load_experiment,
    run_folder_name,
    write_run,
)

__all__ = [
    "Cell",
    "SweepError",
    "SweepResult",
    "main",
    "parse_grid",
    "parse_seeds",
    "plan_cells",
    "run_cell",
    "run_sweep",
]

@dataclasses.dataclass(frozen=True)
class Cell:
    """One grid point and seed: ``config = Config(**base, **point, seed=seed)``.

    ``cell_id`` is the first 16 hex digits of SHA-256 of the canonical JSON of the experiment
    name and the full config, so a cell's file name is fixed by what it computes.
    """

    index: int
    point: tuple[tuple[str, Any], ...]
    seed: int
    config: Any
    cell_id: str

    @property
    def tags(self) -> dict[str, Any]:
        """Columns prepended to the cell's rows: grid keys, ``seed``, ``cell_id``."""
        tags = {
            key: ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v
            for key, v in self.point
        }
        return {**tags, "seed": self.seed, "cell_id": self.cell_id}


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What a finished sweep left: ``table`` is ``folder/results.csv``."""

    folder: Path
    table: pd.DataFrame
    n_cells: int
    n_computed: int
    n_resumed: int
    seconds: float
    n_repaired: int = 0  # cells found on disk but failing their marker, recomputed


MAX_SEEDS = 1_000_000


def parse_seeds(text: str, max_seeds: int = MAX_SEEDS) -> list[int]:
    """``"0-9"``, ``"3"``, ``"0,2,5-7"`` -> sorted-as-given list of distinct non-negative ints.

    More than ``max_seeds`` seeds are refused before any list is built."""
    ranges = []
    for part in text.split(","):
        part = part.strip()
        try:
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise SweepError(f"cannot parse seeds {text!r}: expected e.g. 0-9 or 0,3,5-7") from None
        if first < 0 or last < first:
            raise SweepError(f"bad seed range {part!r} in {text!r}: need 0 <= first <= last")
        ranges.append(range(first, last + 1))
    count = sum(len(r) for r in ranges)
    if count > max_seeds:
        raise SweepError(f"--seeds {text!r} asks for {count:,} seeds (at most {max_seeds:,}; "
                         "each seed is one run of every grid point)")
    seeds: list[int] = [s for r in ranges for s in r]
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"seeds {text!r} repeat a seed")
    return seeds


def _check_key(key: str, config_cls) -> dataclasses.Field:
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if key == "seed":
        raise SweepError("'seed' cannot be a grid key: give seeds with --seeds (e.g. --seeds 0-9)")
    if key not in fields:
        close = difflib.get_close_matches(key, fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(name for name in fields if name != "seed")
        raise SweepError(
            f"unknown grid key {key!r}{hint}; {config_cls.__module__}.Config has: {known}"
        )
    return fields[key]


def parse_grid(specs: Sequence[str], config_cls) -> dict[str, list]:
    """``["key=v1,v2", ...]`` -> ``{key: [v1, v2]}`` with values typed like the field defaults.

    Values of a tuple-valued field are separated by ``/`` and their items by ``,``.
    """
    from bayes_w2s.harness.fields import field_option
    from bayes_w2s.harness.options import OptionError

    experiment = config_cls.__module__.rsplit(".", 1)[-1]
    grid: dict[str, list] = {}
    defaults = config_cls()
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not text.strip():
            raise SweepError(f"bad grid spec {spec!r}: expected KEY=V1,V2,...")
        field = _check_key(key, config_cls)
        if key in grid:
            raise SweepError(f"grid key {key!r} given twice")
        default = getattr(defaults, key)
        option = field_option(experiment, field, default)
        items = text.split("/") if isinstance(default, (tuple, list)) else text.split(",")
        try:
            grid[key] = [option.convert(item.strip(), f"--grid {key}") for item in items]
        except OptionError as err:
            raise SweepError(str(err)) from None
    return grid


def _validate_grid(grid: Mapping[str, Sequence], config_cls) -> dict[str, list]:
    out = {}
    for key, values in grid.items():
        _check_key(key, config_cls)
        values = [tuple(v) if isinstance(v, list) else v for v in values]
        if not values:
            raise SweepError(f"grid key {key!r} has no values")
        if len({json.dumps(v, default=str) for v in values}) != len(values):
            raise SweepError(f"grid key {key!r} repeats a value: {values}")
        out[key] = values
    return out


def _cell_id(experiment: str, cfg: Any) -> str:
    canon = json.dumps({"experiment": experiment, "config": config_to_dict(cfg)}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def plan_cells(
    experiment: str, config_cls, grid: Mapping[str, Sequence], seeds: Sequence[int], base=None
):
    """Every cell, in grid order (grid keys as given, last key fastest, then seeds)."""
    from bayes_w2s.harness.cli import check_config

    grid = _validate_grid(grid, config_cls)
    base = dict(base or {})
    clash = sorted(set(base) & set(grid))
    if clash:
        raise SweepError(f"{', '.join(clash)} given both as grid key and as fixed option")
    if "seed" in base:
        raise SweepError("give seeds with --seeds, not --seed, in a sweep")
    if (
        not seeds
        or any(not isinstance(s, int) or s < 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise SweepError(f"seeds must be distinct non-negative integers, got {list(seeds)}")
    cells = []
    for values in itertools.product(*grid.values()):
        point = tuple(zip(grid, values))
        for seed in seeds:
            try:
                cfg = config_cls(**base, **dict(point), seed=seed)
                check_config(cfg)
            except (TypeError, ValueError) as err:
                raise SweepError(f"invalid config at grid point {dict(point)}: {err}") from None
            cells.append(Cell(len(cells), point, seed, cfg, _cell_id(experiment, cfg)))
    return cells


def run_cell(experiment: str, cfg: Any, tags: Mapping[str, Any]) -> pd.DataFrame:
    """Run one cell (in a worker): the experiment's table with ``tags`` as leading columns."""
    from bayes_w2s.harness.progress import silenced

    with silenced():  # the driver shows one count over all cells
        df = load_experiment(experiment).run(cfg)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{experiment}.run returned {type(df).__name__}, not a DataFrame")
    df = df.reset_index(drop=True)
    for name, value in tags.items():
        if name in df.columns:
            if not (df[name].astype(str) == str(value)).all():
                raise ValueError(
                    f"{experiment}'s table has a column {name!r} that differs from the sweep tag"
                )
            df = df.drop(columns=name)
    front = pd.DataFrame({name: [value] * len(df) for name, value in tags.items()}, index=df.index)
    return pd.concat([front, df], axis=1)


def run_sweep(
    experiment: str,
    grid: Mapping[str, Sequence],
    seeds: Sequence[int],
    folder: str | os.PathLike,
    *,
    base: Mapping[str, Any] | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
    figures: bool = False,
) -> SweepResult:
    """Run (or resume) every cell of a sweep into ``folder``; see the module docstring.

    Parameters
    ----------
    experiment : str
        Name of a module ``bayes_w2s.simulations.<experiment>``.
    grid : mapping
        ``{config field: [values]}``; cells are the Cartesian product, times ``seeds``.
    seeds : sequence of int
        Distinct non-negative seeds.
    folder : path
        The sweep folder (created if missing).
    base : mapping, optional
        Fixed config fields shared by every cell.
    executor, workers, address
        See :func:`bayes_w2s.harness.executors.make_executor`.
    progress : bool
        Count cells done of all cells with an ETA (:class:`bayes_w2s.harness.progress.Progress`:
        a bar on a terminal, a log record every ~10 s otherwise).
    figures : bool
        Draw the experiment's figures from ``results.csv`` at the end.

    Raises
    ------
    SweepError
        Bad grid, seeds or base; folder holding another sweep or in use.
    bayes_w2s.harness.executors.CellError
        A cell raised; finished cells are kept and a re-run resumes after them.
    """
    from bayes_w2s.harness.progress import Progress

    start = time.perf_counter()
    module = load_experiment(experiment)
    cells = plan_cells(experiment, module.Config, grid, seeds, base)
    base_cfg, grid = module.Config(**dict(base or {})), _validate_grid(grid, module.Config)
    manifest = _sf.manifest(experiment, base_cfg, grid, seeds, len(cells), executor, workers)
    folder = Path(folder)
    cells_dir = folder / CELLS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with _sf.locked(folder):
        _sf.open_folder(folder, manifest)
        cells_dir.mkdir(exist_ok=True)
        for stray in cells_dir.glob(".*"):  # temporaries of a write cut short
            stray.unlink()
        on_disk = {p.stem for pattern in ("*.csv", "*.json") for p in cells_dir.glob(pattern)}
        done = {cid for cid in on_disk if _sf.cell_is_valid(cells_dir, cid)}
        for bad in sorted(on_disk - done):  # torn, edited or unmarked: recompute
            (cells_dir / f"{bad}.csv").unlink(missing_ok=True)
            (cells_dir / f"{bad}.json").unlink(missing_ok=True)
        todo = [cell for cell in cells if cell.cell_id not in done]
        n_repaired = len({c.cell_id for c in todo} & on_disk)
        with Progress(len(cells), f"sweep {experiment}", unit="cell",
                      initial=len(cells) - len(todo), disable=not progress) as bar:
            if todo:
                with make_executor(executor, workers, address, (module.__name__,)) as ex:
                    tasks = [(c.cell_id, (experiment, c.config, c.tags)) for c in todo]
                    for cell_id, df in ex.imap_unordered(run_cell, tasks):
                        _sf.write_cell(cells_dir, cell_id, df)
                        bar.update()
        table = pd.concat(
            [pd.read_csv(cells_dir / f"{c.cell_id}.csv") for c in cells], ignore_index=True
        )
        sweep_meta = {key: manifest[key] for key in ("grid", "seeds", "n_cells")}
        write_run(folder, experiment, base_cfg, table, extra={"sweep": sweep_meta})
    if figures:
        draw_figures(folder)
    n_resumed = len(cells) - len(todo)
    seconds = time.perf_counter() - start
    return SweepResult(folder, table, len(cells), len(todo), n_resumed, seconds, n_repaired)


def default_folder(
    root: str | os.PathLike, experiment: str, config_cls, base: Mapping, grid: Mapping
) -> Path:
    """``ROOT/<experiment>[__fixed=options]__sweep__<grid keys>``: fixed by the command line."""
    prefix = run_folder_name(experiment, config_cls(**base))
    return Path(root) / f"{prefix}__sweep__{'+'.join(grid) or 'seeds'}"


def main(argv: list[str]) -> int:
    """``bayes-w2s sweep NAME ...``: see :mod:`bayes_w2s.harness.sweep_cli`."""
    from bayes_w2s.harness.sweep_cli import main as sweep_main

    return sweep_main(argv)
