"""Property-based fuzz of the command line (issue 16): every command x option x bad value
gives exit status 2, ONE line on stderr, no traceback, and leaves no output folder behind.

In-process (``cli.main(argv)``) so it runs in seconds; the computations are replaced by a
sentinel that fails the test if a bad value ever reaches them. Two subprocess checks cover
the real entry point end to end.
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayes_w2s.harness import cli, sweep_cli
from bayes_w2s.harness.options import options_of

EXPERIMENTS = cli._experiment_names()
TRIED: set = set()


class Started(Exception):
    """A computation started: a bad value got through (the boundary reports it as an internal error, status 1)."""


def _refuse(*_a, **_k):
    raise Started


def _commands() -> list[tuple[tuple[str, ...], str, object]]:
    """``(argv prefix, flag, Option)`` for every option of every command."""
    out = []
    for name in EXPERIMENTS:
        out += [(("run", name), f, o) for f, o in options_of(cli.run_parser(name)[1])]
        out += [(("sweep", name), f, o) for f, o in options_of(sweep_cli.sweep_parser(name)[1])]
    try:
        from bayes_w2s.neural import cli as ncli
    except ImportError:  # no torch: the neural commands are covered where it is installed
        return out
    parser = ncli.build_parser()
    for command in ("run", "compare", "mimicry", "ladder", "reward"):
        out += [(("neural", command), f, o) for f, o in options_of(ncli._subparser(parser, command))]
    return out


COMMANDS = _commands()
GENERIC_NUMBER = ["nan", "inf", "-inf", "abc", "", "1e400", "0x10", "--", "1,2", "½"]
GENERIC_TEXT = ["", "   ", "%%bogus%%", "no such thing"]


def bad_values(option) -> list[str]:
    """Values the option's documentation says are refused."""
    values = list(option.boundary_cases()[1])
    if option.kind in ("int", "float"):
        values += [v for v in GENERIC_NUMBER if not (option.sequence and v == "1,2")]
        values += ["1.5", "2.000001"] if option.kind == "int" else []
        if option.sequence:
            values += [f"{option.boundary_cases()[0][0] if option.boundary_cases()[0] else 1},nan"]
    elif option.kind == "bool":
        values += ["maybe", "", "2"]
    elif option.choices or option.check is not None:
        values += GENERIC_TEXT
    else:  # free text without a check: only emptiness is refused
        values += ["", "   "]
    return list(dict.fromkeys(values))


POOL = [(prefix, flag, v) for prefix, flag, option in COMMANDS for v in bad_values(option)]


def _outside(option):
    """Numbers outside the option's range, drawn by hypothesis (none if unbounded)."""
    lo, hi = option.low, option.high
    if option.kind == "int":
        parts = [st.integers(max_value=int(lo) - (0 if option.low_open else 1))] if lo is not None else []
        parts += [st.integers(min_value=int(hi) + (0 if option.high_open else 1))] if hi is not None else []
        return [p.map(str) for p in parts]
    parts = [st.floats(max_value=lo, exclude_max=not option.low_open, allow_nan=False, allow_infinity=False)
             ] if lo is not None else []
    parts += [st.floats(min_value=hi, exclude_min=not option.high_open, allow_nan=False, allow_infinity=False)
              ] if hi is not None else []
    return [p.map(repr) for p in parts]


def _generated():
    choices = []
    for prefix, flag, option in COMMANDS:
        if option.kind not in ("int", "float") or option.sequence:
            continue
        for strategy in _outside(option):
            choices.append(strategy.map(lambda text, p=prefix, f=flag: (p, f, text)))
        choices.append(st.text(min_size=1, max_size=8).filter(_not_a_number).map(
            lambda t, p=prefix, f=flag: (p, f, t)))
    return st.one_of(*choices)


def _not_a_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return True
    return not math.isfinite(value)


def _run(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(argv)
    return status, err.getvalue()


@pytest.fixture()
def no_computation(monkeypatch):
    import importlib

    for name in EXPERIMENTS:
        monkeypatch.setattr(importlib.import_module(f"bayes_w2s.simulations.{name}"), "run", _refuse)
    monkeypatch.setattr(sweep_cli, "run_sweep", _refuse)
    with contextlib.suppress(ImportError):
        from bayes_w2s.neural import compare, ladder, mimicry, reward

        for module, attr in ((compare, "run_compare"), (mimicry, "run_mimicry"), (ladder, "run_ladder"),
                             (reward, "run_reward")):
            monkeypatch.setattr(module, attr, _refuse)


def _check(prefix, flag, value):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        argv = [*prefix, f"{flag}={value}"]
        if flag not in ("--out", "--dir"):
            argv += ["--out", str(out)]
        status, err = _run(argv)
        TRIED.add((prefix, flag, value))
        assert status == 2, (argv, status, err)
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert "Traceback" not in err and err.startswith("bayes-w2s"), (argv, err)
        assert flag in err or flag.lstrip("-").replace("-", "_") not in err, (argv, err)  # named as typed
        assert not out.exists(), argv  # nothing written or created


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=st.one_of(st.sampled_from(POOL), _generated()))
def test_fuzz_bad_values_are_one_line_exit_2_no_folder(no_computation, case):
    _check(*case)


def test_fuzz_covered_every_command():
    """Report the size of the catalogue the fuzz draws from, and that it spans every command."""
    prefixes = {p for p, _, _ in POOL}
    assert {("run", n) for n in EXPERIMENTS} <= prefixes and {("sweep", n) for n in EXPERIMENTS} <= prefixes
    print(f"\nfuzz catalogue: {len(POOL)} option x bad-value combinations over {len(COMMANDS)} options "
          f"of {len(prefixes)} commands; {len(TRIED)} tried by hypothesis in this session")
    assert len(POOL) > 2000


@pytest.mark.parametrize("argv, fragment", [
    (["run", "coinflip", "--n", "9"], "--n: must be an integer ≥ 10, got 9"),
    (["sweep", "misfit", "--seeds", "0-1000000000"], "asks for 1,000,000,001 seeds"),
])
def test_end_to_end_subprocess(tmp_path, argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "bayes_w2s.harness.cli", *argv, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
