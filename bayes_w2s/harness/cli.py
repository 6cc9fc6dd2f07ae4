"""The ``bayes-w2s`` command: run experiments, sweep them, redraw figures, neural runs.

Every sub-command validates its input before computing anything: numbers must be finite,
counts and seeds non-negative (some counts positive), the output folder writable, and an
error is one line naming the option and the value — never a traceback. ``main`` returns the
exit status (0 ok, 1 failed work, 2 bad usage) instead of exiting, so it can be called
in-process.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import os
import pkgutil
import sys
import tempfile
import typing
import warnings
from pathlib import Path

__all__ = ["main", "add_config_arguments", "config_from_args", "check_config"]

COMMANDS = {
    "run": "run one experiment into a run folder (`bayes-w2s run NAME --help`: its options)",
    "sweep": "run one experiment over a grid of values x seeds, resumable after a crash",
    "figures": "redraw figures of run folders from their tables (ROOTs are searched)",
    "list": "list the experiments with a one-line description",
    "neural": "neural weak-to-strong runs (needs the neural extra, see `neural --help`)",
    "report": "regenerate the README's numbers from stored results; --check: exit 1 if they drift",
}
EPILOG = """\
examples:
  bayes-w2s list
  bayes-w2s run coinflip --help
  bayes-w2s run coinflip --n 1000 --seed 3 --out runs
  bayes-w2s sweep misfit --grid label_noise=0.5,1 --seeds 0-3
  bayes-w2s figures runs/

A run folder holds config.json, results.csv, complete.json (written last: row counts and
sha256 checksums) and the figures; `figures` checks complete.json before drawing.
"""
# Counts for which 0 is meaningless: rejected at parse time, whatever the experiment.
POSITIVE_FIELDS = frozenset({
    "n", "n_gt", "n_train", "n_test", "n_pool", "n_mid", "replicates", "n_replicates",
    "per_decade", "grid_size", "grid_cells", "typo_cells", "chains", "draws", "input_dim",
    "strong_dim", "n_features", "strong_angles", "mid_angles",
})  # fmt: skip
# What shared field names mean, for option help (a field's metadata["help"] wins).
FIELD_HELP = {
    "seed": "random seed (same config and seed, same table)",
    "replicates": "independent repetitions",
    "n_replicates": "independent repetitions",
    "per_decade": "checkpoints per decade of N on the log grid",
    "tempered_weight": "weight w of the constant tempered rule",
    "ve_strength": "log r of the constant virtual-evidence rule",
    "bounded_schedule": "bounded schedule spec, e.g. budget:budget=100 or pseries:c=1,p=2",
    "bounded_schedules": "';'-separated bounded schedule specs, e.g. budget:budget=100",
    "rules": "';'-separated rule labels to compare",
    "weak_labels": "how weak labels are drawn: sample or argmax",
    "truth_angle": "'random' or a fixed truth angle in degrees",
}
NEURAL_MODULES = ("torch", "transformers", "peft")
TORCH_PIN = "torch==2.13.0"


class UsageError(ValueError):
    """Bad command-line input, reported as one line with exit status 2."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


_SCALARS = {bool: _parse_bool, int: _parse_int, float: _parse_float, str: str}


def _field_parser(field: dataclasses.Field, default):
    """A converter from command-line text to the type of a config field (finite floats)."""
    hint = field.type if not isinstance(field.type, str) else None
    if isinstance(default, (tuple, list)):
        inner = _SCALARS.get(type(default[0]), str) if default else str

        def parse_seq(text: str):
            items = tuple(inner(item) for item in text.split(",") if item.strip() != "")
            if not items:
                raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
            return items

        parse_seq.__name__ = "list"
        return parse_seq
    for kind, parse in _SCALARS.items():  # bool before int: True is an int
        if isinstance(default, kind):
            return parse
    if default is None and hint is not None:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if args and args[0] in _SCALARS:
            return _SCALARS[args[0]]
    return str


def _describe(field: dataclasses.Field, default) -> str:
    """Option help: the field's ``metadata["help"]`` if any, its kind, and its default."""
    parse = _field_parser(field, default)
    kinds = {_parse_bool: "true/false", _parse_int: "integer", _parse_float: "finite number"}
    if isinstance(default, (tuple, list)):
        inner = kinds.get(_SCALARS.get(type(default[0]) if default else str), "text")
        kind = f"comma-separated list of {inner}s"
        shown = ",".join(map(str, default))
    else:
        kind = kinds.get(parse, "text")
        shown = str(default)
    if field.name == "seed":
        kind = "integer >= 0"
    elif field.name in POSITIVE_FIELDS:
        kind += " >= 1"
    elif parse is _parse_int:
        kind += " >= 0"
    text = field.metadata.get("help") or FIELD_HELP.get(field.name)
    return f"{text + '; ' if text else ''}{kind} (default: {shown})".replace("%", "%%")


def _metavar(default) -> str:
    if isinstance(default, (tuple, list)):
        return "A,B,..."
    return {bool: "BOOL", int: "INT", float: "X"}.get(type(default), "TEXT")


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """Add ``--field-name`` options for every field of a Config dataclass."""
    defaults = config_cls()
    group = parser.add_argument_group(f"{config_cls.__module__.rsplit('.', 1)[-1]} config")
    for field in dataclasses.fields(config_cls):
        default = getattr(defaults, field.name)
        group.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=field.name,
            type=_field_parser(field, default),
            default=None,
            metavar=_metavar(default),
            help=_describe(field, default),
        )


def check_config(cfg) -> None:
    """Reject what a Config may accept but no run can use: non-finite floats, negative
    integers (seed included), 0 for counts in :data:`POSITIVE_FIELDS`. Raises ValueError
    naming the field and the value."""
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, bool):
                continue
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{field.name} must be finite, got {value!r}")
            if isinstance(item, int) and item < 0:
                raise ValueError(f"{field.name} must be >= 0, got {value!r}")
            if isinstance(item, int) and item == 0 and field.name in POSITIVE_FIELDS:
                raise ValueError(f"{field.name} must be >= 1, got {value!r}")


def config_from_args(config_cls, args: argparse.Namespace):
    """The Config with every option given on the command line replaced, then checked."""
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(config_cls)
        if getattr(args, f.name, None) is not None
    }
    cfg = config_cls(**given)
    check_config(cfg)
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
    """Create ``folder`` if needed and prove it is writable (a probe file is written and
    removed); raises UsageError naming ``option`` and the folder otherwise. Called before
    computing."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        reason = err.strerror or err
        raise UsageError(f"{option} {folder}: not a writable folder ({reason})") from None
    return folder


def _cmd_run(argv: list[str]) -> int:
    from bayes_w2s.harness.runs import draw_figures, load_experiment, run_folder_name, write_run

    if not argv or argv[0] in {"-h", "--help"}:
        print(
            "usage: bayes-w2s run NAME [--out DIR] [--no-figures] [--<config-field> VALUE ...]\n\n"
            "Run experiment NAME once and write OUT/<NAME>__<changed fields>/.\n"
            "`bayes-w2s run NAME --help` lists the options of NAME.\n\nexperiments:\n"
            + _experiment_table()
        )
        return 0
    name, rest = argv[0], argv[1:]
    try:
        module = load_experiment(name)
    except ValueError as err:
        raise UsageError(f"{err}; known: {', '.join(_experiment_names())}") from None
    parser = argparse.ArgumentParser(
        prog=f"bayes-w2s run {name}",
        description=(module.__doc__ or name).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
        epilog="Writes OUT/<name>__<fields that differ from the defaults>/ with config.json, "
        "results.csv, complete.json and the figures.",
    )
    parser.add_argument("--out", default="runs", help="root folder for run folders (default: runs)")
    parser.add_argument("--no-figures", action="store_true", help="write the table only")
    add_config_arguments(parser, module.Config)
    args = parser.parse_args(rest)
    try:
        cfg = config_from_args(module.Config, args)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    check_writable(args.out)  # before the computation, not after it
    folder = Path(args.out) / run_folder_name(name, cfg)
    df = module.run(cfg)
    write_run(folder, name, cfg, df)
    if not args.no_figures:
        draw_figures(folder)
    if hasattr(module, "summarize"):
        print(module.summarize(df, cfg))
    print(f"wrote {folder}")
    return 0


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

    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
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
        return int(module.main(argv) or 0)
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
    """Entry point of ``bayes-w2s``; returns the exit status (never raises SystemExit)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    handlers = {"run": _cmd_run, "sweep": _cmd_sweep, "figures": _cmd_figures,
                "list": _cmd_list, "neural": _cmd_neural, "report": _cmd_report}  # fmt: skip
    try:
        if not argv or argv[0] in {"-h", "--help", "--version"}:
            _top_parser().parse_args(argv[:1] or ["--help"])
            return 0
        if argv[0] not in handlers:
            raise UsageError(
                f"unknown command {argv[0]!r}; choose from {', '.join(handlers)} "
                "(bayes-w2s --help)"
            )
        return handlers[argv[0]](argv[1:])
    except UsageError as err:
        print(f"bayes-w2s: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bayes-w2s ... | head`: the reader left; no traceback at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # files are replaced atomically: nothing torn is left behind
        print("bayes-w2s: interrupted; re-run the command to redo or resume", file=sys.stderr)
        return 130
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, already printed)
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    raise SystemExit(main())
