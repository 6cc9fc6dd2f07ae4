"""Smoke run of the mutation tool for CI (no pytest driver of its own): ``python tools/mutation_smoke.py``.

Mutates the functions listed in ``[smoke]`` of ``tools/mutation.toml`` (a handful of mutants
of one small module) against a small test pool, in a temporary staging folder, and exits
non-zero if the tool or its configuration has rotted:

* the test files of every configured pool must exist, and every configured module must map
  onto a package of ``pyproject.toml`` (a renamed file or folder breaks this);
* mutmut must produce at least ``min_mutants`` mutants and classify every one of them (no
  "not checked", "suspicious" or "segfault");
* every mutant listed in ``[[smoke.must_kill]]`` (function + mutated line) must exist and be
  killed, and the share detected must reach the configured threshold.

Takes about a minute on 2 cores.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.mutation import (  # noqa: E402
    DETECTED,
    ROOT,
    function_of,
    load_config,
    mark_equivalents,
    module_tests,
    mutated_lines,
    run_group,
    snapshot,
    staged_path,
)


def check_config(cfg: dict) -> list[str]:
    """Problems with the configuration itself: missing test files, modules outside every package."""
    problems = [f"pool {name}: missing test file {t}" for name, tests in cfg["pools"].items()
                for t in tests if not (ROOT / t).is_file()]
    for module in cfg["modules"]:
        try:
            staged_path(ROOT, module)
        except ValueError as err:
            problems.append(str(err))
    return problems


def main() -> int:
    start = time.perf_counter()
    cfg = load_config()
    smoke = cfg["smoke"]
    problems = check_config(cfg)
    module = smoke["module"]
    dotted = staged_path(ROOT, module).removesuffix(".py").replace("/", ".")
    only = [f"{dotted}.{f}__mutmut_*" for f in smoke["functions"]]
    with tempfile.TemporaryDirectory(prefix="mutation_smoke_") as tmp:
        work = Path(tmp)
        snapshot(ROOT, work / "_snapshot")
        (result,) = run_group(work / "_snapshot", work, [module], smoke["tests"], cfg.get("settings", {}),
                              int(smoke.get("max_children", 2)), float(smoke.get("timeout_s", 600)), only=only)
    mark_equivalents(result, cfg.get("equivalent", []))
    if result.error:
        problems.append(result.error)
    if len(result.mutants) < int(smoke["min_mutants"]):
        problems.append(f"only {len(result.mutants)} mutants of {only}; expected >= {smoke['min_mutants']}")
    unclassified = [m["name"] for m in result.mutants if m["status"] not in DETECTED + ("survived", "no tests")]
    if unclassified:
        problems.append(f"mutants left unclassified: {unclassified}")
    for want in smoke.get("must_kill", []):
        found = [m for m in result.mutants
                 if function_of(m["name"]) == want["function"] and mutated_lines(m["diff"]) == want["mutated"]]
        if not found:
            problems.append(f"known mutant not produced: {want['function']}: {want['mutated']}")
        elif found[0]["status"] not in DETECTED:
            problems.append(f"known mutant not killed ({found[0]['status']}): {want['function']}: {want['mutated']}")
    threshold = float(cfg.get("settings", {}).get("threshold", 0.9))
    if not result.score >= threshold:
        problems.append(f"score {result.score:.1%} below {threshold:.0%}; undetected: "
                        + "; ".join(f"{m['name']}: {mutated_lines(m['diff'])}" for m in result.undetected))
    print(f"mutation smoke: {module} {only}: {len(result.mutants)} mutants, {result.count('killed')} killed, "
          f"{len(result.undetected)} undetected, {len(result.equivalent)} equivalent, score {result.score:.1%} "
          f"({time.perf_counter() - start:.0f} s)")
    for p in problems:
        print(f"  PROBLEM: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
