"""Every entry of the CLI fuzz catalogue (tests/bayes_w2s/test_cli_fuzz.py), not a sample:
status 2, one line, no traceback, no folder. Run from the repository root:

    python benchmarks/cli_fuzz_exhaustive.py
"""
import collections
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "bayes_w2s"))
import test_cli_fuzz as t  # noqa: E402

from bayes_w2s.harness import sweep_cli  # noqa: E402

for name in t.EXPERIMENTS:
    importlib.import_module(f"bayes_w2s.simulations.{name}").run = t._refuse
sweep_cli.run_sweep = t._refuse
try:
    from bayes_w2s.neural import compare, ladder, mimicry, reward

    compare.run_compare = mimicry.run_mimicry = ladder.run_ladder = reward.run_reward = t._refuse
except ImportError:
    pass
fails, examples = collections.Counter(), {}
for prefix, flag, value in t.POOL:
    try:
        t._check(prefix, flag, value)
    except AssertionError as err:
        fails[(prefix[0], flag)] += 1
        examples.setdefault((prefix[0], flag), str(err)[:300])
print(f"{len(t.POOL)} combinations, {sum(fails.values())} failures")
for key, n in fails.most_common(40):
    print(n, key, examples[key])
