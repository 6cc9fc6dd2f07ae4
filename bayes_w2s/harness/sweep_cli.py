"""``bayes-w2s sweep NAME``: the command line of :mod:`bayes_w2s.harness.sweeps`.

Options are built like ``run``'s (one :class:`~bayes_w2s.harness.options.Option` per Config
field) plus the grid, seeds, executor and folder; ``--config`` takes a TOML file (config
fields, ``grid`` and ``seeds``) or a sweep folder's config.json. Everything is checked before
the first cell runs: grid and seed values, every cell's config, the estimated time and memory
(``--force`` overrides), a Dask / Ray ``--address`` that must answer, and a writable folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bayes_w2s.harness.executors import EXECUTORS, CellError
from bayes_w2s.harness.runs import load_experiment
from bayes_w2s.harness.sweep_folder import SweepError
from bayes_w2s.harness.sweeps import default_folder, parse_grid, parse_seeds, plan_cells, run_sweep

__all__ = ["main", "sweep_parser"]


def main(argv: list[str]) -> int:
    """``bayes-w2s sweep NAME ...``; returns the exit status (errors raise to the CLI boundary)."""
    if not argv or argv[0] in {"-h", "--help"}:
        from bayes_w2s.harness import sweeps
        from bayes_w2s.harness.cli import _experiment_table

        print("usage:\n" + sweeps.__doc__.split("\n\n")[1] + "\n\nRun experiment NAME once per grid "
              "point and seed; re-running the same command resumes.\n`bayes-w2s sweep NAME "
              "--help` lists the options of NAME.\n\nexperiments:\n" + _experiment_table())
        return 0
    from bayes_w2s.harness.cli import LOGGER, apply_logging, check_writable, config_values
    from bayes_w2s.harness.resources import check_budget, estimate

    name, rest = argv[0], argv[1:]
    module, parser = sweep_parser(name)
    args = parser.parse_args(rest)
    apply_logging(args)
    extra = _sweep_keys_from_config(args.config, name)
    base = config_values(module.Config, name, args, args.config, ignore=("grid", "seeds"))
    if "seed" in base and args.seed is None:  # a run folder's seed: --seeds / seeds decide
        base.pop("seed")
    for key in extra.get("grid_keys", ()):
        base.pop(key, None)  # a sweep folder's config holds the grid keys' defaults
    if "seed" in base:
        raise SweepError("give seeds with --seeds, not --seed, in a sweep")
    grid_specs = args.grid or extra.get("grid", [])
    grid = parse_grid(grid_specs, module.Config)
    seeds = parse_seeds(args.seeds if args.seeds is not None else extra.get("seeds", "0"))
    try:
        cells = plan_cells(name, module.Config, grid, seeds, base)  # every cell's config checked now
    except SweepError as err:  # name fields as the options the user typed
        from bayes_w2s.harness.cli import _config_error

        raise _config_error(err, module.Config) from None
    check_budget(estimate(name, cells[0].config), force=args.force, cells=len(cells),
                 what=f"this sweep of {len(cells):,} cells")
    if args.executor in ("dask", "ray") and args.address:
        _check_address(args.address, args.executor)
    folder = args.dir or default_folder(args.out, name, module.Config, base, grid)
    check_writable(folder, "--dir" if args.dir else "--out")  # before any cell runs
    LOGGER.debug("sweep %s: %d cells into %s", name, len(cells), folder)
    try:
        result = run_sweep(
            name, grid, seeds, folder, base=base, executor=args.executor, workers=args.workers,
            address=args.address, progress=not args.no_progress, figures=not args.no_figures,
        )  # fmt: skip
    except CellError as err:
        print(
            f"bayes-w2s sweep: {err}\nfinished cells are kept; re-run the command to resume",
            file=sys.stderr,
        )
        return 1
    if hasattr(module, "summarize"):
        print(module.summarize(result.table, module.Config(**base)))
    print(
        f"{result.n_cells} cells ({result.n_computed} computed, {result.n_resumed} resumed) in "
        f"{result.seconds:.1f} s; wrote {result.folder}"
    )
    if result.n_repaired:
        print(f"{result.n_repaired} cells on disk failed their checksum and were recomputed")
    return 0


def sweep_parser(name: str):
    """``(module, parser)`` of ``bayes-w2s sweep NAME``."""
    from bayes_w2s.harness.cli import add_config_arguments, add_logging_options
    from bayes_w2s.harness.options import Option, Parser, UsageError, add_option

    try:
        module = load_experiment(name)
    except ValueError as err:
        raise UsageError(f"bayes-w2s sweep: {err}") from None
    summary = (module.__doc__ or name).strip().splitlines()[0]
    parser = Parser(
        prog=f"bayes-w2s sweep {name}",
        description=summary,
        epilog="Grid values: KEY=V1,V2 (tuple fields: KEY=1,2/4,8). Options named after config "
        "fields fix them for every cell. Re-running the same command resumes the sweep.",
    )
    parser.add_argument("--grid", nargs="+", action="extend", default=[], metavar="KEY=V1,V2",
                        help="config field and the values it takes (one --grid per field, or several after one)")
    parser.add_argument("--seeds", default=None, help="seeds, e.g. 0-9 or 0,3,5-7 (default: 0)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="where cells run: local processes, serial (this process), dask or ray (default: local)")
    add_option(parser, "workers", Option("worker processes (default: the CPU count)", "int", low=1,
                                         default_text="CPU count"))
    parser.add_argument("--address", default=None, help="Dask scheduler or Ray cluster address (host:port)")
    parser.add_argument(
        "--out", default="runs", help="root of the default sweep folder (default: runs)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="the sweep folder itself")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="fixed options from a TOML file (keys: config fields, plus grid and seeds) "
                        "or a run folder's config.json; the command line overrides it")
    parser.add_argument("--force", action="store_true", help="run even if the estimated time / memory is too large")
    parser.add_argument("--no-figures", action="store_true", help="write the tables only")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_logging_options(parser)
    add_config_arguments(parser, module.Config, name)
    return module, parser


def _sweep_keys_from_config(path, experiment: str) -> dict:
    """``grid`` (``{key: [values]}`` or ``["key=v1,v2"]``) and ``seeds`` from a ``--config``
    TOML file; a sweep folder's config.json gives its grid and seeds from ``sweep``."""
    if not path:
        return {}
    from bayes_w2s.harness.configfile import load_config_file, read_json

    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    out: dict = {}
    if p.suffix == ".json" and p.is_file():
        meta = read_json(p, "config.json")
        sweep = meta.get("sweep") if isinstance(meta, dict) else None
        if isinstance(sweep, dict):
            out["grid"] = [f"{k}={_join(v)}" for k, v in sweep.get("grid", {}).items()]
            out["grid_keys"] = tuple(sweep.get("grid", {}))
            out["seeds"] = ",".join(map(str, sweep.get("seeds", [0])))
        return out
    data = load_config_file(p, experiment)
    grid = data.get("grid")
    if isinstance(grid, dict):
        out["grid"] = [f"{k}={_join(v)}" for k, v in grid.items()]
        out["grid_keys"] = tuple(grid)
    elif isinstance(grid, list):
        out["grid"] = [str(g) for g in grid]
    if "seeds" in data:
        seeds = data["seeds"]
        out["seeds"] = ",".join(map(str, seeds)) if isinstance(seeds, list) else str(seeds)
    return out


def _join(values) -> str:
    values = values if isinstance(values, list) else [values]
    return "/".join(",".join(map(str, v)) if isinstance(v, list) else str(v) for v in values) if any(
        isinstance(v, list) for v in values) else ",".join(map(str, values))


def _check_address(address: str, executor: str, timeout: float = 3.0) -> None:
    """Fail fast (one line) when a scheduler address does not answer a TCP connection."""
    import socket
    from urllib.parse import urlparse

    from bayes_w2s.harness.options import UsageError

    if executor == "ray" and address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise UsageError(f"--address {address!r}: expected host:port (e.g. tcp://127.0.0.1:8786)")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        raise UsageError(f"--address {address}: no {executor} scheduler answers there "
                         f"({err.strerror or err}, waited {timeout:g} s)") from None
