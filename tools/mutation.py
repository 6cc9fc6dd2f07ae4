"""Mutation testing of the core, the toy worlds and the neural losses (issue 18), with mutmut.

    python -m tools.mutation                        # every module in tools/mutation.toml
    python -m tools.mutation --module neural/stats.py --max-children 1

Why mutmut (3.x) and how it is made to fit this layout
------------------------------------------------------
mutmut writes every mutant of a file into one copy of it behind a "trampoline", records which
tests call each function, and runs only those tests per mutant in a process forked from one
that has already imported numpy/torch: a mutant costs its covering tests, not a fresh
interpreter. cosmic-ray starts a test command per mutant (measured here: 2 s of CPU for a
pytest process on one core test file, 5 s for a torch one, before any test runs), which for
~5,000 mutants would not fit ~30 minutes on 2 cores.

mutmut derives a function's module name from its *file path* (``bayes_w2s/core/x.py`` ->
``bayes_w2s.core.x``) and puts its ``mutants/`` copy first on ``sys.path``. This project maps
``bayes_w2s.neural`` -> ``neural/`` with setuptools ``package-dir``, so the tool stages a tree
whose folders *are* the import names (``neural/`` copied to ``bayes_w2s/neural/``, read from
``pyproject.toml``), with ``tests/`` beside it, and runs mutmut there; modules that share a
test pool share one staging folder and one mutmut run (one coverage pass). The staged copy shadows the editable install (path
finders come before setuptools' editable finder). The sources and tests are snapshotted
once at start, so editing the worktree during a run changes nothing.

Scoring: ``killed`` and ``timeout`` count as detected; ``survived`` and ``no tests`` do not;
mutants listed as equivalent in ``[[equivalent]]`` of the config (function + mutated line +
reason) are left out of the denominator: ``score = detected / (total - equivalent)``.
mutmut does not mutate decorated functions (``@property``, caches) nor module-level code.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_name("mutation.toml")
DETECTED = ("killed", "timeout")

# Runs inside a staging folder after `mutmut run`: every mutant's status and its diff, as JSON
# on stdout (mutmut 3.8 internals; the smoke run catches drift).
_COLLECT = r"""
import json, sys
from mutmut.configuration import config
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
config()
out = []
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path)
    m.load()
    for name, code in m.exit_code_by_key.items():
        status = status_by_exit_code[code]
        diff = get_diff_for_mutant(name, path=path)
        out.append({"name": name, "status": status, "diff": diff, "path": str(path)})
json.dump(out, sys.stdout)
"""


@dataclass
class ModuleResult:
    """One module's mutants: ``score = (killed + timeout) / (total - equivalent)``."""

    module: str
    tests: list[str]
    mutants: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    def count(self, status: str) -> int:
        return sum(m["status"] == status for m in self.mutants)

    @property
    def equivalent(self) -> list[dict]:
        return [m for m in self.mutants if m.get("equivalent")]

    @property
    def undetected(self) -> list[dict]:
        return [m for m in self.mutants if m["status"] not in DETECTED and not m.get("equivalent")]

    @property
    def score(self) -> float:
        denominator = len(self.mutants) - len(self.equivalent)
        detected = sum(m["status"] in DETECTED for m in self.mutants)
        return detected / denominator if denominator else float("nan")


def load_config(path: Path = CONFIG) -> dict:
    """The parsed ``tools/mutation.toml``; every module's pool names must exist."""
    cfg = tomllib.loads(path.read_text())
    for module, entry in cfg["modules"].items():
        unknown = set(entry.get("pools", [])) - set(cfg.get("pools", {}))
        if unknown:
            raise ValueError(f"{module}: unknown test pools {sorted(unknown)}")
    return cfg


def module_tests(cfg: dict, module: str) -> list[str]:
    """The test files (repository paths, deduplicated, in order) that form ``module``'s pool."""
    entry = cfg["modules"][module]
    paths = [p for pool in entry.get("pools", []) for p in cfg["pools"][pool]] + entry.get("tests", [])
    return list(dict.fromkeys(paths))


def package_dirs(root: Path) -> dict[str, Path]:
    """Import name -> source folder of every package, from ``pyproject.toml``'s setuptools table."""
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setuptools.get("package-dir", {})
    return {pkg: root / mapping.get(pkg, pkg.replace(".", "/")) for pkg in setuptools["packages"]}


def staged_path(root: Path, module: str) -> str:
    """Where repository file ``module`` lies in the staged tree (its import path)."""
    source = (root / module).resolve()
    for pkg, folder in package_dirs(root).items():
        if source.parent == folder.resolve():
            return f"{pkg.replace('.', '/')}/{source.name}"
    raise ValueError(f"{module} is not a file of any package listed in pyproject.toml")


def snapshot(root: Path, dest: Path, rev: str | None = None) -> None:
    """Copy every package (laid out by import name), ``tests/`` and ``pyproject.toml`` to ``dest``.

    ``rev``: take the files from that git revision instead of the working tree (e.g. the
    scores *before* a branch's tests: ``--source-rev main``).
    """
    skip = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache")
    if dest.exists():
        shutil.rmtree(dest)
    if rev is not None:
        tree = dest.with_name(dest.name + "_rev")
        if tree.exists():
            shutil.rmtree(tree)
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(root), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        return snapshot(tree, dest)
    for pkg, folder in package_dirs(root).items():
        target = dest / pkg.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.is_file():
                shutil.copy2(item, target / item.name)
    shutil.copytree(root / "tests", dest / "tests", ignore=skip)
    shutil.copy2(root / "pyproject.toml", dest / "pyproject.toml")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def write_stage_config(stage: Path, targets: list[str], tests: list[str], settings: dict, pytest_ini: dict) -> None:
    """``stage/pyproject.toml``: mutmut mutates only ``targets`` and draws tests from ``tests``."""
    mutmut = {
        "source_paths": ["bayes_w2s"],
        "only_mutate": list(targets),
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        "do_not_mutate_patterns": settings.get("do_not_mutate_patterns", []),
        "timeout_multiplier": float(settings.get("timeout_multiplier", 15.0)),
        "timeout_constant": float(settings.get("timeout_constant", 5.0)),
        "use_git_change_detection": False,
        "use_setproctitle": False,
    }
    lines = ["[tool.mutmut]"] + [f"{k} = {_toml_value(v)}" for k, v in mutmut.items()]
    lines += ["", "[tool.pytest.ini_options]"] + [f"{k} = {_toml_value(v)}" for k, v in pytest_ini.items()]
    (stage / "pyproject.toml").write_text("\n".join(lines) + "\n")


def mutmut_env() -> dict[str, str]:
    """One thread per worker; no strict-imports flag (a skip must not count as a kill)."""
    env = dict(os.environ)
    env.pop("BAYES_W2S_STRICT_IMPORTS", None)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               HF_HUB_OFFLINE="1", TQDM_DISABLE="1", PYTHONHASHSEED="0")
    return env


def _strip(mutants: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "equivalent"} for m in mutants]


def run_group(snap: Path, work: Path, modules: list[str], tests: list[str], settings: dict,
              max_children: int, timeout_s: float, previous: dict[str, list[dict]] | None = None,
              only: list[str] | None = None) -> list[ModuleResult]:
    """Stage ``modules`` (sharing one test pool) from the snapshot, run mutmut once on all of
    them (one pass collecting which tests cover which function), and read back every mutant.

    With ``previous`` (module -> its mutants from an earlier report of the same source), only
    the ones not detected then are run again; the detected ones keep their status (adding
    tests cannot let a killed mutant survive).

    ``only``: mutant names or globs (``pkg.mod.x_f__mutmut_*``) to run instead of all.
    """
    results = {m: ModuleResult(module=m, tests=tests) for m in modules}
    rerun = None
    if previous is not None:  # modules missing from ``previous`` run in full
        rerun = [x["name"] for m in modules if m in previous for x in previous[m] if x["status"] not in DETECTED]
        rerun += [staged_path(ROOT, m).removesuffix(".py").replace("/", ".") + ".*" for m in modules if m not in previous]
        if not rerun:
            for m in modules:
                results[m].mutants = _strip(previous[m])
            return list(results.values())
    missing = [t for t in tests if not (snap / t).exists()]
    if missing:
        print(f"  test files not found, left out of the pool: {missing}", flush=True)
    tests = [t for t in tests if (snap / t).exists()]
    targets = {staged_path(ROOT, m): m for m in modules}
    slug = modules[0].replace("/", "__").removesuffix(".py") + (f"+{len(modules) - 1}" if len(modules) > 1 else "")
    stage = work / slug
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(snap, stage)
    pytest_ini = tomllib.loads((snap / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    write_stage_config(stage, list(targets), tests, settings, pytest_ini)
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    cmd = nice + [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)] + (rerun or only or [])
    start = time.perf_counter()
    error = ""
    with open(stage / "mutmut.log", "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=stage, env=mutmut_env(), stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout_s)
            if proc.returncode != 0:
                error = f"mutmut exited {proc.returncode}; see {stage / 'mutmut.log'}"
        except subprocess.TimeoutExpired:
            error = f"mutmut ran past {timeout_s:.0f} s; partial results"
    seconds = time.perf_counter() - start
    collected = subprocess.run([sys.executable, "-c", _COLLECT], cwd=stage, env=mutmut_env(),
                               capture_output=True, text=True)
    if collected.returncode != 0:
        error += f"\ncollecting results failed: {collected.stderr[-2000:]}"
        found = []
    else:
        found = json.loads(collected.stdout)
    if only:
        found = [m for m in found if any(fnmatch.fnmatch(m["name"], g) for g in only)]
    for m in found:
        results[targets[m.pop("path")]].mutants.append(m)
    total = max(1, len(found))
    for module, result in results.items():
        result.error = error
        result.seconds = seconds * max(1, len(result.mutants)) / total if len(modules) > 1 else seconds
        if previous is None or module not in previous:
            continue
        now, again = {m["name"]: m for m in result.mutants}, set(rerun)
        before = {m["name"]: m["diff"] for m in previous[module]}
        if any(before.get(name) != m["diff"] for name, m in now.items()) or set(now) != set(before):
            result.error += "\nthe source changed since the earlier report: run this module in full"
        result.mutants = _strip([now.get(m["name"], m) if m["name"] in again else m for m in previous[module]])
    return list(results.values())


def mutated_lines(diff: str) -> str:
    """The added lines of a unified diff, stripped and joined by newlines (how equivalents are keyed)."""
    return "\n".join(l[1:].strip() for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++"))


def function_of(name: str) -> str:
    """``bayes_w2s.core.x.x_f__mutmut_3`` -> ``x_f`` (methods: ``xǁClassǁmethod``)."""
    return name.rpartition(".")[2].partition("__mutmut_")[0]


def mark_equivalents(result: ModuleResult, equivalents: list[dict]) -> None:
    """Flag undetected mutants that match an ``[[equivalent]]`` entry (module, function, line)."""
    for mutant in result.mutants:
        if mutant["status"] in DETECTED:
            continue
        for eq in equivalents:
            if (eq["module"] == result.module and eq["function"] == function_of(mutant["name"])
                    and eq["mutated"].strip() == mutated_lines(mutant["diff"])):
                mutant["equivalent"] = eq["reason"]


def write_report(results: list[ModuleResult], out: Path, threshold: float) -> None:
    """``out/report.md`` (per-module table, every undetected mutant's diff) and ``report.json``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = ["| module | mutants | killed | timeout | survived | no tests | other | equivalent | score | s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        other = len(r.mutants) - sum(r.count(s) for s in ("killed", "timeout", "survived", "no tests"))
        flag = "" if r.score >= threshold else " ✗"
        rows.append(f"| `{r.module}` | {len(r.mutants)} | {r.count('killed')} | {r.count('timeout')} | "
                    f"{r.count('survived')} | {r.count('no tests')} | {other} | {len(r.equivalent)} | "
                    f"{r.score:.1%}{flag} | {r.seconds:.0f} |")
    text = ["# Mutation report (mutmut)", "",
            f"score = (killed + timeout) / (mutants - equivalent); threshold {threshold:.0%}.", ""] + rows
    for r in results:
        text += ["", f"## `{r.module}`", "", f"test pool: {', '.join(r.tests)}"]
        if r.error:
            text += ["", f"**error:** {r.error}"]
        for m in r.undetected:
            text += ["", f"### {m['name']}: {m['status']}", "", "```diff", m["diff"], "```"]
        if r.equivalent:
            text += ["", "Marked equivalent:", ""]
            text += [f"* `{m['name']}` `{mutated_lines(m['diff'])}` — {m['equivalent']}" for m in r.equivalent]
    (out / "report.md").write_text("\n".join(text) + "\n")
    payload = [{"module": r.module, "tests": r.tests, "seconds": round(r.seconds, 1), "error": r.error,
                "score": r.score, "mutants": r.mutants} for r in results]
    (out / "report.json").write_text(json.dumps(payload, indent=1))


def run(modules: list[str] | None = None, *, out: Path = ROOT / "results" / "mutation",
        work: Path = ROOT / ".mutation", max_children: int | None = None,
        timeout_s: float = 1800.0, config_path: Path = CONFIG,
        rerun_from: Path | None = None, source_rev: str | None = None) -> list[ModuleResult]:
    """Mutate each module against its test pool and write the report; returns the results.

    ``rerun_from``: a ``report.json`` of an earlier run on the same source; only its
    undetected mutants are run again (the quick loop after adding tests).
    """
    earlier = {}
    if rerun_from is not None:
        earlier = {r["module"]: r["mutants"] for r in json.loads(Path(rerun_from).read_text())}
    cfg = load_config(config_path)
    settings = cfg.get("settings", {})
    modules = modules or list(cfg["modules"])
    unknown = [m for m in modules if m not in cfg["modules"]]
    if unknown:
        raise ValueError(f"modules not in {config_path.name}: {unknown}; known: {list(cfg['modules'])}")
    work.mkdir(parents=True, exist_ok=True)
    snap = work / "_snapshot"
    snapshot(ROOT, snap, source_rev)
    children = max_children or int(settings.get("max_children", 2))
    groups: dict[tuple[str, ...], list[str]] = {}
    for module in modules:  # modules with one test pool share one mutmut run
        groups.setdefault(tuple(module_tests(cfg, module)), []).append(module)
    results = []
    for tests, group in groups.items():
        print(f"mutating {', '.join(group)} ...", flush=True)
        prev = {m: earlier[m] for m in group if m in earlier} if rerun_from is not None else None
        for result in run_group(snap, work, group, list(tests), settings, children, timeout_s * len(group),
                                previous=prev):
            mark_equivalents(result, cfg.get("equivalent", []))
            print(f"  {result.module}: {len(result.mutants)} mutants, {result.count('killed')} killed, "
                  f"{len(result.undetected)} undetected, {len(result.equivalent)} equivalent, "
                  f"score {result.score:.1%} (~{result.seconds:.0f} s) {result.error}", flush=True)
            results.append(result)
        write_report(results, out, float(settings.get("threshold", 0.9)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="repository path of a module (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "mutation")
    parser.add_argument("--work", type=Path, default=ROOT / ".mutation", help="staging folder")
    parser.add_argument("--max-children", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per module")
    parser.add_argument("--rerun-undetected", type=Path, default=None, metavar="REPORT_JSON",
                        help="run again only the mutants an earlier report.json left undetected")
    parser.add_argument("--source-rev", default=None, metavar="REV",
                        help="mutate the sources and tests of this git revision (e.g. scores before a branch)")
    args = parser.parse_args(argv)
    results = run(args.module, out=args.out, work=args.work, max_children=args.max_children, timeout_s=args.timeout,
                  rerun_from=args.rerun_undetected, source_rev=args.source_rev)
    threshold = float(load_config().get("settings", {}).get("threshold", 0.9))
    print(f"report: {args.out / 'report.md'}")
    return 0 if all(r.score >= threshold and not r.error for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
