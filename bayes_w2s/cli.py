"""The ``bayes-w2s`` command.

    bayes-w2s run NAME [--out DIR] [--seed S] [--<config-field> VALUE ...]
    bayes-w2s figures RUN_DIR [RUN_DIR ...]
    bayes-w2s sweep ...          (see bayes_w2s.sweeps)
    bayes-w2s neural ...         (see bayes_w2s.neural.cli)
    bayes-w2s list

``run`` builds the options of experiment NAME from the fields of its ``Config`` dataclass.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import sys
import typing
from pathlib import Path

__all__ = ["main", "add_config_arguments", "config_from_args"]


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _field_parser(field: dataclasses.Field, default):
    """A converter from command-line text to the type of a config field."""
    hint = field.type if not isinstance(field.type, str) else None
    sample = default
    if isinstance(sample, bool):
        return _parse_bool
    if isinstance(sample, (tuple, list)):
        inner = type(sample[0]) if sample else str
        if inner is bool:
            inner = _parse_bool

        def parse_seq(text: str):
            return tuple(inner(item) for item in text.split(",") if item.strip() != "")

        return parse_seq
    if isinstance(sample, (int, float, str)):
        return type(sample)
    if sample is None and hint is not None:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if args and args[0] in (int, float, str):
            return args[0]
    return str


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """Add ``--field-name`` options for every field of a Config dataclass."""
    defaults = config_cls()
    for field in dataclasses.fields(config_cls):
        default = getattr(defaults, field.name)
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=field.name,
            type=_field_parser(field, default),
            default=None,
            help=f"(default: {default!r})",
        )


def config_from_args(config_cls, args: argparse.Namespace):
    """The Config with every option given on the command line replaced."""
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(config_cls)
        if getattr(args, f.name, None) is not None
    }
    return config_cls(**given)


def _experiment_names() -> list[str]:
    import bayes_w2s.simulations as sims

    return sorted(m.name for m in pkgutil.iter_modules(sims.__path__) if not m.name.startswith("_"))


def _cmd_run(argv: list[str]) -> int:
    from bayes_w2s.runs import draw_figures, load_experiment, run_folder_name, write_run

    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: bayes-w2s run NAME [--out DIR] [options]\nexperiments: " + ", ".join(_experiment_names()))
        return 0
    name, rest = argv[0], argv[1:]
    try:
        module = load_experiment(name)
    except ValueError as err:
        print(f"bayes-w2s: {err}; known: {', '.join(_experiment_names())}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"bayes-w2s run {name}", description=module.__doc__)
    parser.add_argument("--out", default="runs", help="root folder for run folders (default: runs)")
    parser.add_argument("--no-figures", action="store_true", help="write the table only")
    add_config_arguments(parser, module.Config)
    args = parser.parse_args(rest)
    try:
        cfg = config_from_args(module.Config, args)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    folder = Path(args.out) / run_folder_name(name, cfg)
    df = module.run(cfg)
    write_run(folder, name, cfg, df)
    if not args.no_figures:
        draw_figures(folder)
    if hasattr(module, "summarize"):
        print(module.summarize(df, cfg))
    print(f"wrote {folder}")
    return 0


def _cmd_figures(argv: list[str]) -> int:
    from bayes_w2s.runs import CONFIG_FILE, draw_figures

    parser = argparse.ArgumentParser(prog="bayes-w2s figures", description="redraw figures from stored tables")
    parser.add_argument("folders", nargs="+", type=Path, help="run folders, or roots holding run folders")
    args = parser.parse_args(argv)
    count = 0
    for root in args.folders:
        targets = [root] if (root / CONFIG_FILE).is_file() else sorted(p.parent for p in root.rglob(CONFIG_FILE))
        if not targets:
            parser.error(f"no run folders under {root}")
        for folder in targets:
            count += len(draw_figures(folder))
    print(f"wrote {count} figure files")
    return 0


def _delegate(module_name: str, argv: list[str]) -> int:
    module = importlib.import_module(module_name)
    return int(module.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "run": _cmd_run,
        "figures": _cmd_figures,
        "list": lambda _: print("\n".join(_experiment_names())) or 0,
        "sweep": lambda a: _delegate("bayes_w2s.sweeps", a),
        "neural": lambda a: _delegate("bayes_w2s.neural.cli", a),
    }
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in commands:
        print(__doc__.strip())
        return 0 if not argv or argv[0] in {"-h", "--help"} else 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
