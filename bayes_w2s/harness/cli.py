"""The ``bayes-w2s`` command: run experiments, sweep them, redraw figures, neural runs, cache.

One error boundary (:func:`main`) serves every sub-command: a bad option, a project error
(:class:`~bayes_w2s.core.validation.ValidationError`, ``ImpossiblePriorError``,
``NumericalOverflowError``, ``ImpossibleEvidenceError``, a bad run folder or sweep), or a
foreseeable OS / resource error (permissions, a full disk, memory, undecodable files) is
printed as ONE line naming the option as typed, with exit status 2 and no usage block or
traceback. Checks that can be made up front are made before any computation and before any
folder is created: every option's range (:mod:`bayes_w2s.harness.options`; the help is built
from the same object), the writability of ``--out``, and the estimated memory and time
(:mod:`bayes_w2s.harness.resources`, override with ``--force``). ``main`` returns the exit
status (0 ok, 1 failed work, 2 bad usage) instead of exiting, so it can be called in-process.
``BAYES_W2S_DEBUG=1`` re-raises unexpected errors with their traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import os
import pkgutil
import re
import sys
import tempfile
import warnings
from pathlib import Path

from bayes_w2s.harness.boundary import LOGGER, add_logging_options, apply_logging, error_line
from bayes_w2s.harness.fields import field_option
from bayes_w2s.harness.options import Option, Parser, UsageError, add_option, flag, plain

__all__ = ["main", "add_config_arguments", "config_from_args", "check_config", "UsageError"]

COMMANDS = {
    "run": "run one experiment into a run folder (`bayes-w2s run NAME --help`: its options)",
    "sweep": "run one experiment over a grid of values x seeds, resumable after a crash",
    "figures": "redraw figures of run folders from their tables (ROOTs are searched)",
    "list": "list the experiments with a one-line description",
    "neural": "neural weak-to-strong runs (needs the neural extra, see `neural --help`)",
    "cache": "show (info) or empty (clear) the neural feature cache",
    "report": "regenerate the README's numbers from stored results; --check: exit 1 if they drift",
}
EPILOG = """\
examples:
  bayes-w2s list
  bayes-w2s run coinflip --help
  bayes-w2s run coinflip --n 1000 --seed 3 --out runs
  bayes-w2s run coinflip --config runs/coinflip__n=1000__seed=3/config.json
  bayes-w2s sweep misfit --grid label_noise=0.5,1 --seeds 0-3
  bayes-w2s figures runs/
  bayes-w2s cache info

A run folder holds config.json, results.csv, complete.json (written last: row counts and
sha256 checksums) and the figures; `figures` checks complete.json before drawing. A rerun
never overwrites a finished folder: it writes <name>__2, <name>__3, ... (or pass --overwrite).
"""
NEURAL_MODULES = ("torch", "transformers", "peft")
TORCH_PIN = "torch==2.13.0"


def add_config_arguments(parser: argparse.ArgumentParser, config_cls, experiment: str | None = None) -> None:
    """Add ``--field-name`` options for every field of a Config dataclass, each built from its
    :class:`~bayes_w2s.harness.options.Option` (:func:`bayes_w2s.harness.fields.field_option`)."""
    experiment = experiment or config_cls.__module__.rsplit(".", 1)[-1]
    defaults = config_cls()
    group = parser.add_argument_group(f"{experiment} config")
    for field in dataclasses.fields(config_cls):
        add_option(group, field.name, field_option(experiment, field, getattr(defaults, field.name)))


def config_options(config_cls, experiment: str) -> dict[str, Option]:
    """``{field name: Option}`` of a Config."""
    defaults = config_cls()
    return {f.name: field_option(experiment, f, getattr(defaults, f.name)) for f in dataclasses.fields(config_cls)}


def check_config(cfg) -> None:
    """Reject what a Config may accept but no run can use: non-finite floats and negative
    integers. Raises ValueError naming the option and the value."""
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, bool):
                continue
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{flag(field.name)} must be finite, got {value!r}")
            if isinstance(item, int) and item < 0:
                raise ValueError(f"{flag(field.name)} must be >= 0, got {value!r}")


def _config_error(err: Exception, config_cls) -> UsageError:
    """A Config's ValueError with its field names written as options (``weak_labels`` ->
    ``--weak-labels``)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    names = sorted((f.name for f in dataclasses.fields(config_cls)), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    return UsageError(pattern.sub(lambda m: flag(m.group(1)), text))


def config_values(config_cls, experiment: str, args: argparse.Namespace, config_file=None,
                  ignore: tuple[str, ...] = ()) -> dict:
    """Field values from ``--config`` (converted by each field's Option), overridden by the
    options given on the command line; keys in ``ignore`` are read by the caller."""
    from bayes_w2s.harness.configfile import load_config_file

    options = config_options(config_cls, experiment)
    values = {}
    if config_file:
        for key, value in load_config_file(config_file, experiment).items():
            if key in ignore:
                continue
            if key not in options:
                raise UsageError(f"--config {config_file}: unknown key {key!r} for {experiment} "
                                 f"(options: {', '.join(map(flag, options))})")
            values[key] = options[key].convert(value, f"--config {config_file}: {key} ({flag(key)})")
    for name in options:
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    return values


def config_from_args(config_cls, args: argparse.Namespace, experiment: str | None = None, config_file=None):
    """The Config from ``--config`` and the command line, then checked; a bad value raises
    :class:`UsageError` naming the option."""
    experiment = experiment or config_cls.__module__.rsplit(".", 1)[-1]
    values = config_values(config_cls, experiment, args, config_file)
    try:
        cfg = config_cls(**values)
        check_config(cfg)
    except (TypeError, ValueError) as err:
        raise _config_error(err, config_cls) from None
    return cfg


def _experiment_names() -> list[str]:
    import bayes_w2s.simulations as sims

    return sorted(m.name for m in pkgutil.iter_modules(sims.__path__) if not m.name.startswith("_"))


def _one_line(name: str) -> str:
    try:
        doc = importlib.import_module(f"bayes_w2s.simulations.{name}").__doc__ or ""
    except ImportError as err:
        return f"(cannot import: {err})"
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _experiment_table() -> str:
    names = _experiment_names()
    width = max(map(len, names), default=0)
    return "\n".join(f"  {n.ljust(width)}  {_one_line(n)}" for n in names)


def check_writable(folder: str | os.PathLike, option: str = "--out") -> Path:
    """Prove ``folder`` can be created and written, without creating it: the nearest existing
    ancestor must be a folder in which a probe file can be written (and is removed). Raises
    UsageError naming ``option`` and the folder. Called before computing."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    try:
        if probe.exists() and not probe.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        if probe == folder and not os.access(probe, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        reason = err.strerror or err
        raise UsageError(f"{option} {folder}: not a writable folder ({reason})") from None
    return folder


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs", help="root folder for run folders (default: runs)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="option values from a TOML file or a run folder's config.json; "
                        "options given on the command line override it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run folder of the same name (default: write <name>__2, ...)")
    parser.add_argument("--force", action="store_true",
                        help="run even if the estimated memory or time exceeds this machine / the cap")
    parser.add_argument("--no-figures", action="store_true", help="write the table only")
    add_logging_options(parser)


def _cmd_run(argv: list[str]) -> int:
    from bayes_w2s.harness.resources import check_budget, estimate
    from bayes_w2s.harness.runs import draw_figures, fresh_folder, run_folder_name, write_run

    if not argv or argv[0] in {"-h", "--help"}:
        print(
            "usage: bayes-w2s run NAME [--out DIR] [--config FILE] [--overwrite] [--force] [--no-figures]\n"
            "                      [-q | -v] [--<config-field> VALUE ...]\n\n"
            "Run experiment NAME once and write OUT/<NAME>[__<changed fields>]/.\n"
            "`bayes-w2s run NAME --help` lists the options of NAME.\n\nexperiments:\n"
            + _experiment_table()
        )
        return 0
    name, rest = argv[0], argv[1:]
    module, parser = run_parser(name)
    args = parser.parse_args(rest)
    apply_logging(args)
    cfg = config_from_args(module.Config, args, name, args.config)
    check_budget(estimate(name, cfg), force=args.force)
    check_writable(args.out)  # before the computation, not after it
    folder = fresh_folder(Path(args.out), run_folder_name(name, cfg), overwrite=args.overwrite)
    LOGGER.debug("running %s into %s", name, folder)
    df = module.run(cfg)
    write_run(folder, name, cfg, df)
    if not args.no_figures:
        draw_figures(folder)
    if hasattr(module, "summarize"):
        print(module.summarize(df, cfg))
    print(f"wrote {folder}")
    return 0


def run_parser(name: str):
    """``(module, parser)`` of ``bayes-w2s run NAME``."""
    from bayes_w2s.harness.runs import load_experiment

    try:
        module = load_experiment(name)
    except ValueError as err:
        raise UsageError(f"{err}; known: {', '.join(_experiment_names())}") from None
    parser = Parser(
        prog=f"bayes-w2s run {name}",
        description=plain((module.__doc__ or name).strip()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Writes OUT/<name>[__<fields that differ from the defaults>]/ with config.json, "
        "results.csv, complete.json and the figures.",
    )
    _add_run_options(parser)
    add_config_arguments(parser, module.Config, name)
    return module, parser


def _find_run_folders(root: Path) -> list[Path]:
    """``root`` itself if it is a run or sweep folder, else every one below it."""
    from bayes_w2s.harness.runs import CONFIG_FILE, MARKER_FILE, RESULTS_FILE
    from bayes_w2s.harness.sweep_folder import MANIFEST_FILE

    names = {CONFIG_FILE, RESULTS_FILE, MARKER_FILE, MANIFEST_FILE}
    if any((root / n).is_file() for n in names):
        return [root]
    return sorted({p.parent for p in root.rglob("*") if p.name in names and p.is_file()})


def _cmd_figures(argv: list[str]) -> int:
    from bayes_w2s.harness.runs import CONFIG_FILE, draw_figures
    from bayes_w2s.harness.sweep_folder import MANIFEST_FILE

    parser = Parser(
        prog="bayes-w2s figures",
        description="Redraw the figures of run folders from their stored tables (no "
        "recomputation). Each folder is checked against its complete.json first; a bad folder "
        "is reported and skipped, the others are drawn, and the exit status is 1 if any failed.",
    )
    parser.add_argument("folders", nargs="+", type=Path, metavar="PATH",
                        help="run folders, or roots holding run folders")  # fmt: skip
    parser.add_argument("--allow-unmarked", action="store_true",
                        help="also draw folders without complete.json (written before markers "
                        "existed), unchecked, with a warning")  # fmt: skip
    add_logging_options(parser)
    args = parser.parse_args(argv)
    apply_logging(args)
    count, drawn, failed = 0, 0, []
    for root in args.folders:
        if not root.is_dir():
            failed.append(root)
            what = "not a folder" if root.exists() else "no such folder"
            print(f"bayes-w2s figures: {root}: {what}", file=sys.stderr)
            continue
        targets = _find_run_folders(root)
        if not targets:
            failed.append(root)
            print(f"bayes-w2s figures: {root}: no run folders under it", file=sys.stderr)
        for folder in targets:
            try:
                if not (folder / CONFIG_FILE).is_file() and (folder / MANIFEST_FILE).is_file():
                    raise ValueError("unfinished sweep (manifest.json, no results yet): "
                                     "re-run the sweep command to resume it")  # fmt: skip
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    count += len(draw_figures(folder, allow_unmarked=args.allow_unmarked))
                for warning in caught:
                    print(f"bayes-w2s figures: warning: {warning.message}", file=sys.stderr)
                drawn += 1
            except Exception as err:  # one bad folder must not stop the others
                failed.append(folder)
                print(f"bayes-w2s figures: SKIPPED {folder}: {err}", file=sys.stderr)
    print(f"wrote {count} figure files from {drawn} run folders"
          + (f"; {len(failed)} failed (see above)" if failed else ""))  # fmt: skip
    return 1 if failed else 0


def _cmd_list(argv: list[str]) -> int:
    if argv and argv[0] not in {"-h", "--help"}:
        raise UsageError(f"list takes no arguments, got {' '.join(argv)!r}")
    print(_experiment_table())
    return 0


def _cmd_neural(argv: list[str]) -> int:
    try:
        module = importlib.import_module("bayes_w2s.neural.cli")
        return int(module.run(argv) or 0)
    except ModuleNotFoundError as err:
        top = (err.name or "").split(".")[0]
        if top not in NEURAL_MODULES:
            raise
        print(
            f"bayes-w2s neural: needs the '{top}' package, which is not installed.\n"
            "  install the neural extra:  pip install 'bayes-w2s[neural]'\n"
            f"  CPU-only PyTorch wheel:    pip install {TORCH_PIN} "
            "--index-url https://download.pytorch.org/whl/cpu",
            file=sys.stderr,
        )
        return 1


def _cmd_report(argv: list[str]) -> int:
    from bayes_w2s.harness import report

    return int(report.main(argv) or 0)


def _cmd_sweep(argv: list[str]) -> int:
    from bayes_w2s.harness import sweeps

    return int(sweeps.main(argv) or 0)


def _cmd_cache(argv: list[str]) -> int:
    from bayes_w2s.harness.cache_cmd import main as cache_main

    return cache_main(argv)


HANDLERS = {"run": _cmd_run, "sweep": _cmd_sweep, "figures": _cmd_figures, "list": _cmd_list,
            "neural": _cmd_neural, "cache": _cmd_cache,
            "report": _cmd_report}  # a new sub-command: one entry here and in COMMANDS


def _top_parser() -> argparse.ArgumentParser:
    from bayes_w2s.harness.runs import package_version

    width = max(map(len, COMMANDS))
    parser = argparse.ArgumentParser(
        prog="bayes-w2s",
        usage="bayes-w2s [-h] [--version] COMMAND [ARGS ...]",
        description="Weak-to-strong generalization seen through Bayes: toy experiments, "
        "sweeps, figures and neural runs.\n\ncommands:\n"
        + "\n".join(f"  {c.ljust(width)}  {text}" for c, text in COMMANDS.items())
        + "\n\n`bayes-w2s COMMAND --help` describes each command.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bayes-w2s {package_version()}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``bayes-w2s``; returns the exit status (never raises SystemExit).

    The error boundary: every known error becomes one line ``bayes-w2s: error: ...`` on
    stderr with exit status 2 (see :func:`bayes_w2s.harness.boundary.error_line`); an unexpected exception is one line
    too, with status 1 (``BAYES_W2S_DEBUG=1`` shows its traceback).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in {"-h", "--help", "--version"}:
            _top_parser().parse_args(argv[:1] or ["--help"])
            return 0
        if argv[0] not in HANDLERS:
            raise UsageError(
                f"unknown command {argv[0]!r}; choose from {', '.join(HANDLERS)} (bayes-w2s --help)"
            )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            return HANDLERS[argv[0]](argv[1:])
    except BrokenPipeError:  # `bayes-w2s ... | head`: the reader left; no traceback at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # files are replaced atomically: nothing torn is left behind
        print("bayes-w2s: interrupted; re-run the command to redo or resume", file=sys.stderr)
        return 130
    except SystemExit as exit_:  # --help (0) / --version
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except Exception as err:  # noqa: BLE001 - the one boundary of the command line
        line = error_line(err)
        if line is not None:
            print(line if line.startswith("bayes-w2s") else f"bayes-w2s: error: {line}", file=sys.stderr)
            return 2
        if os.environ.get("BAYES_W2S_DEBUG"):
            raise
        print(f"bayes-w2s: internal error: {type(err).__name__}: {str(err).strip()[:200]} "
              "(BAYES_W2S_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
