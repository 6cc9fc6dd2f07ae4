"""``bayes-w2s report``: every number the README shows, regenerated from stored results.

The README's result tables sit between markers::

    <!-- report:NAME -->
    ...generated markdown...
    <!-- /report:NAME -->

and are *rendered*, never typed: a region named after a simulation section
(:data:`bayes_w2s.harness.report_sections.SECTIONS`) is drawn from that experiment's
summary ``docs/results/<experiment>.csv``; a region ``csv:STEM`` renders any stored table
``docs/results/STEM.csv`` as it is (for example the neural summaries), rounded to
``digits=K`` decimals when the marker says so (``<!-- report:csv:STEM digits=3 -->``).

A summary holds, per group of the experiment's tidy table (rule, prior, N, ... at the last
N) and metric, the count of worlds where the value is defined, and its mean, median, 10%
and 90% quantiles, minimum and maximum over worlds (:func:`summarize_runs`).
``docs/results/manifest.json`` records each summary's sha256, the config it was run with
(the experiment's defaults), the package version and git revision, and the sha256 of every
figure in ``docs/figures/`` drawn from the same run.

* ``bayes-w2s report`` reruns the *fast* experiments (seconds each), keeps the stored
  summaries of the slow ones (``--rerun NAME,...`` or ``--rerun all`` reruns them too), copies
  the rerun experiments' README figures into ``docs/figures/``, registers every other
  ``docs/results/*.csv`` with its checksum, and rewrites the README regions.
* ``bayes-w2s report --check`` changes nothing. It exits 1, listing each problem, when a
  fast experiment's fresh summary differs from the stored one (relative tolerance 1e-7), a
  stored summary or figure does not match its checksum, an experiment's defaults differ from
  the config its summary was run with, a ``docs/results/*.csv`` is not registered, or a
  README region differs from what the stored summaries render to.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_w2s.harness.naming import run_folder_name
from bayes_w2s.harness.runs import (
    atomic_write_text,
    config_to_dict,
    draw_figures,
    file_sha256,
    git_revision,
    load_experiment,
    package_version,
    write_run,
)

__all__ = [
    "STATS", "MANIFEST", "summarize_runs", "summary_to_csv", "render_csv", "find_regions",
    "render_readme", "check", "report", "add_parser", "main",
]

STATS = ("count", "n_worlds", "mean", "median", "q10", "q90", "min", "max")
MANIFEST = "docs/results/manifest.json"
RESULTS_DIR = "docs/results"
FIGURES_DIR = "docs/figures"
README = "README.md"
RTOL, ATOL = 1e-7, 1e-10
_REGION = re.compile(r"<!-- report:(?P<name>[^\s>]+)(?P<opts>[^>]*?) -->\n(?P<body>.*?)<!-- /report:(?P=name) -->",
                     re.DOTALL)


def summarize_runs(df: pd.DataFrame, keys: tuple[str, ...], *, last_n: bool = True) -> pd.DataFrame:
    """Spread over worlds of a tidy table ``(*keys, [n,] replicate, metric, value)``.

    Per group ``(*keys, metric)`` (groups in order of appearance): ``count`` = number of
    worlds where the value is finite, ``n_worlds`` = number of worlds, and over the finite
    values the ``mean``, ``median``, ``q10``, ``q90`` (``numpy.quantile``, linear), ``min``
    and ``max``. With ``last_n`` only the rows at the largest ``n`` are kept (and ``n`` is
    a key). ``+inf`` values (an unbounded total) are kept as such.
    """
    if last_n and "n" in df:
        df = df[df.n == df.n.max()]
        keys = (*keys, "n") if "n" not in keys else keys
    rows = []
    for key, sub in df.groupby([*keys, "metric"], sort=False, dropna=False):
        v = sub["value"].to_numpy(float)
        ok = v[~np.isnan(v)]
        finite = ok[np.isfinite(ok)]
        stats = dict(count=int(finite.size), n_worlds=int(v.size))
        if ok.size and np.all(np.isposinf(ok)):
            stats.update({s: np.inf for s in STATS[2:]})
        elif finite.size:
            q10, med, q90 = np.quantile(finite, [0.1, 0.5, 0.9])
            stats.update(mean=finite.mean(), median=med, q10=q10, q90=q90, min=finite.min(), max=finite.max())
        else:
            stats.update({s: np.nan for s in STATS[2:]})
        rows.append(dict(zip([*keys, "metric"], key), **stats))
    return pd.DataFrame(rows, columns=[*keys, "metric", *STATS])


def summary_to_csv(summary: pd.DataFrame) -> str:
    """The stored text of a summary: full float precision (``repr``), ``\\n`` line ends."""
    buf = io.StringIO()
    summary.to_csv(buf, index=False, float_format="%.17g", lineterminator="\n")
    return buf.getvalue()


def _read_csv(text_or_path) -> pd.DataFrame:
    if isinstance(text_or_path, str) and "\n" in text_or_path:
        text_or_path = io.StringIO(text_or_path)
    return pd.read_csv(text_or_path, keep_default_na=True)


def compare_summaries(stored: pd.DataFrame, fresh: pd.DataFrame, name: str) -> list[str]:
    """Differences between two summaries: shape, labels (exactly) and numbers (``RTOL``)."""
    if list(stored.columns) != list(fresh.columns) or len(stored) != len(fresh):
        return [f"{name}: fresh summary has {len(fresh)} rows x {list(fresh.columns)}, stored "
                f"{len(stored)} x {list(stored.columns)}"]
    problems = []
    for col in stored.columns:
        a, b = stored[col], fresh[col]
        if col in STATS or pd.api.types.is_float_dtype(a):
            a, b = a.to_numpy(float), b.to_numpy(float)
            bad = ~(np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True) | ((a == b) & np.isinf(a)))
        else:
            bad = (a.astype(str) != b.astype(str)).to_numpy()
        for i in np.flatnonzero(bad)[:5]:
            label = ", ".join(str(stored.iloc[i][c]) for c in stored.columns if c not in STATS)
            problems.append(f"{name}: [{label}] {col}: stored {stored[col].iloc[i]!r}, fresh {fresh[col].iloc[i]!r}")
        if bad.sum() > 5:
            problems.append(f"{name}: ... {int(bad.sum()) - 5} more differences in {col}")
    return problems


# --------------------------------------------------------------------------- rendering


def render_csv(table: pd.DataFrame, digits: int | None = None, source: str = "") -> str:
    """A stored table as markdown, columns as stored; numbers rounded to ``digits`` decimals
    when given (else as stored). The first line names the source and the rounding."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            if np.isnan(v):
                return "—"
            if digits is not None:
                return f"{v:.{digits}f}".replace("-", "−")
        return str(v)

    head = "| " + " | ".join(map(str, table.columns)) + " |"
    lines = [f"*Rendered from `{source}`" + (f", rounded to {digits} decimals" if digits is not None else "")
             + "; column names say whether a value is a mean or a median.*", "", head,
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _options(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def find_regions(readme: str) -> list[tuple[str, dict, str, tuple[int, int]]]:
    """``(name, options, body, (start, end) of body)`` of every marked region, in order."""
    return [(m["name"], _options(m["opts"]), m["body"], m.span("body")) for m in _REGION.finditer(readme)]


def _render_region(root: Path, name: str, opts: dict) -> str:
    from bayes_w2s.harness.report_sections import SECTIONS_BY_REGION

    if name.startswith("csv:"):
        path = root / RESULTS_DIR / f"{name[4:]}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"region {name}: no {path.relative_to(root)}")
        digits = int(opts["digits"]) if "digits" in opts else None
        return render_csv(_read_csv(path), digits, f"{RESULTS_DIR}/{path.name}")
    if name.startswith("neural:"):
        from bayes_w2s.harness.report_neural import NEURAL_REGIONS

        if name[7:] not in NEURAL_REGIONS:
            raise KeyError(f"README region {name!r}: choose neural:{{{','.join(NEURAL_REGIONS)}}}")
        stem, renderer = NEURAL_REGIONS[name[7:]]
        path = root / RESULTS_DIR / f"{stem}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"region {name}: no {path.relative_to(root)}")
        return renderer(_read_csv(path), f"{RESULTS_DIR}/{path.name}")
    if name not in SECTIONS_BY_REGION:
        raise KeyError(f"README region {name!r}: no such report section, csv:STEM or neural:NAME")
    section, renderer = SECTIONS_BY_REGION[name]
    path = root / RESULTS_DIR / f"{section.experiment}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"region {name}: no {path.relative_to(root)} (run `bayes-w2s report --rerun "
                                f"{section.experiment}`)")
    return renderer(_read_csv(path))


def render_readme(root: Path, readme: str) -> tuple[str, list[str]]:
    """The README with every region re-rendered, and the problems met (missing sources)."""
    out, pos, problems = [], 0, []
    for name, opts, body, (start, end) in find_regions(readme):
        try:
            text = _render_region(root, name, opts).rstrip("\n") + "\n"
        except (KeyError, FileNotFoundError) as err:
            problems.append(str(err).strip("'\""))
            text = body
        out += [readme[pos:start], text]
        pos = end
    out.append(readme[pos:])
    return "".join(out), problems


# --------------------------------------------------------------------------- running


def _stored_run(folder: Path, module) -> pd.DataFrame | None:
    """The table of an intact run folder made with the experiment's current defaults, else None."""
    from bayes_w2s.harness.runs import RunFolderError, read_run

    try:
        meta, df = read_run(folder)
    except (RunFolderError, OSError):
        return None
    same = json.loads(json.dumps(config_to_dict(module.Config()))) == meta.get("config")
    return df if same else None


def _run_section(section, root: Path, figures: bool, from_runs: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """Run one experiment on its defaults (or take the intact default run folder
    ``from_runs/<experiment>``, the default run's folder name); its summary and ``{figure path: sha256}`` of the
    README figures it redrew (``docs/figures/<experiment>_<figure>.png`` that already exist)."""
    module = load_experiment(section.experiment)
    cfg = module.Config()
    df = _stored_run(from_runs / run_folder_name(section.experiment, cfg), module) if from_runs else None
    df = module.run(cfg) if df is None else df
    summary = section.summarize(df)
    drawn = {}
    if figures:
        shown = [k for k in module.FIGURES if (root / FIGURES_DIR / f"{section.experiment}_{k}.png").is_file()]
        if shown:
            with tempfile.TemporaryDirectory() as tmp:
                folder = write_run(Path(tmp) / "run", section.experiment, cfg, df)
                draw_figures(folder, formats=("png",))
                for key in shown:
                    target = root / FIGURES_DIR / f"{section.experiment}_{key}.png"
                    shutil.copyfile(folder / f"{key}.png", target)
                    drawn[f"{FIGURES_DIR}/{target.name}"] = file_sha256(target)
    return summary, drawn


def _load_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.is_file():
        return {"format": "bayes-w2s-report/1", "summaries": {}, "tables": {}}
    return json.loads(path.read_text())


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def report(root: Path, rerun: set[str] | None = None, *, figures: bool = True, quiet: bool = False,
           from_runs: Path | None = None, render_only: bool = False) -> int:
    """Regenerate stored summaries (fast experiments, and ``rerun``: names or ``{"all"}``),
    register other stored tables, rewrite the README regions. Returns the exit status.
    ``from_runs``: a folder of run folders; an intact ``<experiment>`` (default-config) folder there run
    with the current defaults is used instead of running the experiment again. ``render_only``:
    run nothing, only register stored tables and re-render the README."""
    from bayes_w2s.harness.report_sections import SECTIONS

    rerun = set(rerun or ())
    manifest = _load_manifest(root)
    (root / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    for section in SECTIONS:
        name = section.experiment
        path = root / RESULTS_DIR / f"{name}.csv"
        if render_only or not (section.fast or "all" in rerun or name in rerun or not path.is_file()):
            continue
        _say(quiet, f"report: running {name} ...")
        summary, drawn = _run_section(section, root, figures, from_runs)
        text = summary_to_csv(summary)
        old = manifest["summaries"].get(name, {})
        atomic_write_text(path, text)
        entry = {"sha256": file_sha256(path), "experiment": name, "fast": section.fast,
                 "config": config_to_dict(load_experiment(name).Config()),
                 "figures": {**old.get("figures", {}), **drawn}}
        if {k: old.get(k) for k in entry} != entry:  # keep provenance of unchanged results
            entry.update(package_version=package_version(), git_revision=git_revision())
            manifest["summaries"][name] = entry
    known = {s.experiment for s in SECTIONS}
    manifest["tables"] = {p.stem: {"sha256": file_sha256(p)} for p in sorted((root / RESULTS_DIR).glob("*.csv"))
                          if p.stem not in known}
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    readme = (root / README).read_text()
    new, problems = render_readme(root, readme)
    if new != readme:
        atomic_write_text(root / README, new)
    for p in problems:
        print(f"bayes-w2s report: {p}", file=sys.stderr)
    _say(quiet, f"report: {len(find_regions(new))} README regions rendered")
    return 1 if problems else 0


def check(root: Path, *, fresh: bool = True, quiet: bool = False) -> list[str]:
    """Every disagreement between the README, the stored summaries, their checksums, the
    figures and (for fast experiments, with ``fresh``) a fresh run. Empty: all agree."""
    from bayes_w2s.harness.report_sections import SECTIONS

    problems = []
    manifest = _load_manifest(root)
    for section in SECTIONS:
        name = section.experiment
        path = root / RESULTS_DIR / f"{name}.csv"
        entry = manifest["summaries"].get(name)
        if entry is None or not path.is_file():
            problems.append(f"{name}: no stored summary (bayes-w2s report --rerun {name})")
            continue
        if file_sha256(path) != entry["sha256"]:
            problems.append(f"{name}: {RESULTS_DIR}/{name}.csv does not match its sha256 in {MANIFEST}")
        defaults = json.loads(json.dumps(config_to_dict(load_experiment(name).Config())))
        if defaults != entry["config"]:
            changed = sorted(k for k in set(defaults) | set(entry["config"])
                             if defaults.get(k) != entry["config"].get(k))
            problems.append(f"{name}: defaults changed since the summary was run ({', '.join(changed)}): "
                            f"bayes-w2s report --rerun {name}")
        for fig, sha in entry.get("figures", {}).items():
            if not (root / fig).is_file() or file_sha256(root / fig) != sha:
                problems.append(f"{name}: {fig} is not the figure drawn with the stored summary "
                                f"(bayes-w2s report --rerun {name})")
        if fresh and section.fast:
            _say(quiet, f"report --check: rerunning {name} ...")
            module = load_experiment(name)
            got = _read_csv(summary_to_csv(section.summarize(module.run(module.Config()))))
            problems += compare_summaries(_read_csv(path), got, name)
    known = {s.experiment for s in SECTIONS}
    for p in sorted((root / RESULTS_DIR).glob("*.csv")):
        if p.stem in known:
            continue
        entry = manifest.get("tables", {}).get(p.stem)
        if entry is None or entry["sha256"] != file_sha256(p):
            problems.append(f"{RESULTS_DIR}/{p.name}: not registered with this sha256 (run bayes-w2s report)")
    readme = (root / README).read_text()
    new, missing = render_readme(root, readme)
    problems += missing
    regions = {name for name, *_ in find_regions(readme)}
    for section in SECTIONS:
        problems += [f"README: region {r!r} is missing" for r in section.regions if r not in regions]
    old_bodies = {n: b for n, _, b, _ in find_regions(readme)}
    for name, _, body, _ in find_regions(new):
        if body != old_bodies.get(name):
            diff = [(a, b) for a, b in zip(old_bodies.get(name, "").splitlines(), body.splitlines()) if a != b]
            first = f": README has {diff[0][0]!r}, results give {diff[0][1]!r}" if diff else ""
            problems.append(f"README region {name} differs from the stored results{first}")
    return problems


def add_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``bayes-w2s report``."""
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if the README, a summary or a figure disagrees")
    parser.add_argument("--rerun", default="", metavar="NAME,...|all",
                        help="also rerun these slow experiments (default: only the fast ones)")
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing: register docs/results/*.csv and re-render the README regions")
    parser.add_argument("--no-fresh", action="store_true",
                        help="with --check: skip the fresh runs, check checksums and rendering only")
    parser.add_argument("--no-figures", action="store_true", help="do not redraw docs/figures")
    parser.add_argument("--from-runs", type=Path, default=None, metavar="DIR",
                        help="use intact DIR/<experiment> run folders made with the current "
                        "defaults (bayes-w2s run NAME --out DIR) instead of running again")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="the checkout holding README.md and docs/ (default: .)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: list[str]) -> int:
    """``bayes-w2s report [--check] [--rerun NAME,...|all] [--root DIR]``; returns the exit status."""
    parser = add_parser(argparse.ArgumentParser(
        prog="bayes-w2s report",
        description="Regenerate every number the README shows from stored results (fast experiments "
        "rerun, slow ones from their committed summaries); --check changes nothing and exits 1 on any drift.",
        epilog="Regions: <!-- report:NAME --> ... <!-- /report:NAME --> in README.md; "
        "summaries and manifest in docs/results/."))
    args = parser.parse_args(argv)
    root = args.root
    if not (root / README).is_file():
        print(f"bayes-w2s report: {root / README}: not found (run from the checkout or pass --root)", file=sys.stderr)
        return 2
    if args.check:
        problems = check(root, fresh=not args.no_fresh, quiet=args.quiet)
        for p in problems:
            print(f"report --check: {p}")
        print("report --check: " + (f"FAILED ({len(problems)} problems)" if problems else "README and stored results agree"))
        return 1 if problems else 0
    rerun = {r.strip() for r in args.rerun.split(",") if r.strip()}
    return report(root, rerun, figures=not args.no_figures, quiet=args.quiet, from_runs=args.from_runs,
                  render_only=args.render_only)
