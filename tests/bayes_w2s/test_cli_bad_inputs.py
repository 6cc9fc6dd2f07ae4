"""Bad command lines: each gives its exit status and a one-line message, no traceback, and
never starts the computation. Run in-process through ``cli.main`` (it returns the status)."""

from __future__ import annotations

import importlib.abc
import sys

import pytest

from bayes_w2s.harness import cli

FIGURES_FAIL = 1  # figures: some folder could not be drawn
USAGE = 2

CASES = [
    # (argv, status, fragment of stderr)
    (["bogus"], USAGE, "unknown command 'bogus'"),
    (["list", "extra"], USAGE, "list takes no arguments"),
    (["run", "nope"], USAGE, "no experiment named 'nope'"),
    (["run", "../etc"], USAGE, "not a Python identifier"),
    (["run", "coinflip", "--ve-strength", "nan"], USAGE, "expected a finite number, got 'nan'"),
    (["run", "coinflip", "--ve-strength", "inf"], USAGE, "expected a finite number, got 'inf'"),
    (["run", "coinflip", "--tempered-weight=-inf"], USAGE, "--tempered-weight: expected a finite"),
    (["run", "coinflip", "--tempered-weight", "-inf"], USAGE, "--tempered-weight: expected one argument"),
    (["run", "coinflip", "--per-decade", "0"], USAGE, "--per-decade: must be an integer ≥ 1, got 0"),
    (["run", "coinflip", "--seed", "-1"], USAGE, "--seed: must be an integer ≥ 0, got -1"),
    (["run", "coinflip", "--n", "lots"], USAGE, "--n: expected an integer, got 'lots'"),
    (["run", "coinflip", "--n", "1.5"], USAGE, "expected an integer, got '1.5'"),
    (["run", "coinflip", "--seed", "1e-3"], USAGE, "expected an integer, got '1e-3'"),
    (["run", "coinflip", "--epsilon", "abc"], USAGE, "--epsilon: expected a number, got 'abc'"),
    (["run", "coinflip", "--epsilon", "0.9"], USAGE, "--epsilon: must be a number in (0, 0.5), got 0.9"),
    (["run", "coinflip", "--replicates", "0"], USAGE, "--replicates: must be an integer ≥ 1, got 0"),
    (["run", "coinflip", "--bounded-schedule", "constant:value=1"], USAGE, "is not bounded"),
    (["run", "coinflip", "--no-such-option", "1"], USAGE, "unrecognized arguments: --no-such-option"),
    (["run", "coinflip", "--n"], USAGE, "--n: expected one argument"),
    (["run", "misfit", "--label-noise", "inf"], USAGE, "--label-noise: expected a finite number"),
    (["run", "misfit", "--label-noise", "nan"], USAGE, "expected a finite number, got 'nan'"),
    (["run", "misfit", "--seed", "-3"], USAGE, "--seed: must be an integer ≥ 0, got -3"),
    (["run", "misfit", "--n-replicates", "0"], USAGE, "--n-replicates: must be an integer ≥ 1"),
    (["run", "misfit", "--weak-dims", ","], USAGE, "expected a comma-separated list"),
    (["run", "misfit", "--radius-factors", "1,nan"], USAGE, "expected a finite number, got 'nan'"),
    (["run", "typos", "--per-decade", "0"], USAGE, "--per-decade"),
    (["run", "gap_sweep", "--truth-in-prior", "maybe"], USAGE, "expected true/false, got 'maybe'"),
    (["run", "gap_sweep", "--ns", "300,-5"], USAGE, "--ns: must be a comma-separated list, each integer ≥ 1"),
    (["run", "gap_sweep", "--ve-strength", "nan"], USAGE, "expected a finite number"),
    (["run", "budget_tradeoff", "--budgets", "1,inf"], USAGE, "expected a finite number, got 'inf'"),
    (["run", "budget_tradeoff", "--budgets", ""], USAGE, "expected a comma-separated list"),
    (["run", "bootstrap", "--mid-kappa", "inf"], USAGE, "--mid-kappa: expected a finite number"),
    (["run", "pymc_student", "--seed", "-1"], USAGE, "--seed: must be an integer ≥ 0"),
    (["run", "pymc_student", "--signal", "inf"], USAGE, "--signal: expected a finite number"),
    (["sweep", "nope"], USAGE, "no experiment named 'nope'"),
    (["sweep", "misfit", "--grid", "label_noise=inf,1"], USAGE, "expected a finite number, got 'inf'"),
    (["sweep", "misfit", "--grid", "label_noise=nan"], USAGE, "expected a finite number, got 'nan'"),
    (["sweep", "misfit", "--grid", "bogus=1"], USAGE, "unknown grid key 'bogus'"),
    (["sweep", "misfit", "--grid", "label_noise"], USAGE, "bad grid spec"),
    (["sweep", "misfit", "--seeds", "-1"], USAGE, "cannot parse seeds '-1'"),
    (["sweep", "misfit", "--seeds", ""], USAGE, "cannot parse seeds"),
    (["sweep", "misfit", "--seeds", "3-1"], USAGE, "need 0 <= first <= last"),
    (["sweep", "misfit", "--seed", "3"], USAGE, "give seeds with --seeds"),
    (["sweep", "misfit", "--label-noise", "inf"], USAGE, "expected a finite number"),
    (["sweep", "misfit", "--n-replicates", "0", "--grid", "label_noise=1"], USAGE, "--n-replicates: must be an integer ≥ 1"),
    (["sweep", "misfit", "--executor", "mpi"], USAGE, "invalid choice: 'mpi'"),
    (["figures"], USAGE, "the following arguments are required: PATH"),
    (["figures", "/nonexistent/bayes_w2s_runs"], FIGURES_FAIL, "no such folder"),
    (["figures", __file__], FIGURES_FAIL, "not a folder"),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_computation(monkeypatch):
    """Any case that reaches an experiment's ``run`` is a failure of validation."""
    from bayes_w2s.harness.runs import load_experiment

    def refuse(*_args, **_kw):
        raise AssertionError("bad input reached the computation")

    for name in cli._experiment_names():
        monkeypatch.setattr(load_experiment(name), "run", refuse)


@pytest.mark.parametrize("argv, status, fragment", CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_bad_input_is_one_clear_line(argv, status, fragment, capsys, tmp_path):
    argv = [*argv, "--out", str(tmp_path)] if argv[0] in {"run", "sweep"} and len(argv) > 2 else argv
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert fragment in err, err
    assert "Traceback" not in err


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("argv, option", [
    (["run", "coinflip", "--out"], "--out"),
    (["sweep", "misfit", "--grid", "label_noise=1", "--out"], "--out"),
    (["sweep", "misfit", "--grid", "label_noise=1", "--dir"], "--dir"),
])  # fmt: skip
def test_unwritable_out_fails_before_the_computation(argv, option, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert cli.main([*argv, str(blocker / "runs")]) == USAGE
    err = capsys.readouterr().err  # and run() was never called (fixture)
    assert f"{option} {blocker}" in err and "not a writable folder" in err
    assert "Traceback" not in err


def test_permission_denied_out_fails_before_the_computation(tmp_path, monkeypatch, capsys):
    """What a read-only folder answers to a non-root user (EACCES), for runs as root too."""
    import tempfile

    def denied(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    assert cli.main(["run", "coinflip", "--out", str(tmp_path)]) == USAGE
    assert "not a writable folder (Permission denied)" in capsys.readouterr().err


def test_empty_root_is_reported(tmp_path, capsys):
    assert cli.main(["figures", str(tmp_path)]) == FIGURES_FAIL
    assert "no run folders under it" in capsys.readouterr().err


class _BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@pytest.mark.parametrize("argv", [["neural", "run", "--method", "xent", "--seeds", "0"],
                                  ["neural", "compare", "--seeds", "0"]])  # fmt: skip
def test_neural_without_torch_names_the_extra_and_the_wheel(argv, monkeypatch, capsys):
    for name in [m for m in sys.modules if m.split(".")[0] == "torch" or m.startswith("bayes_w2s.neural.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_BlockTorch(), *sys.meta_path])
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "needs the 'torch' package" in err and "bayes-w2s[neural]" in err
    assert cli.TORCH_PIN in err and "Traceback" not in err


def test_help_is_formatted_and_points_to_run_name_help(capsys):
    assert cli.main(["--help"]) == 0
    top = capsys.readouterr().out
    assert top.startswith("usage: bayes-w2s") and "commands:" in top and "figures" in top
    assert cli.main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert "bayes-w2s run NAME --help" in text and "coinflip" in text
    assert cli.main(["sweep", "--help"]) == 0
    text = capsys.readouterr().out
    assert "bayes-w2s sweep NAME --help" in text and "misfit" in text
    assert cli.main(["run", "coinflip", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    assert "--per-decade INT" in text and "integer ≥ 1 (default: 10)" in text
    assert "random seed (same config and seed, same table); integer ≥ 0" in text
    assert "--n INT number of weak labels (coin flips) the strong models see; integer ≥ 10 (default: 100000)" in text
    assert "number in (0, 0.5) (default: 0.05)" in text and "``" not in text


def test_version(capsys):
    from bayes_w2s.harness.runs import package_version

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bayes-w2s {package_version()}"


def test_ctrl_c_is_a_message_and_status_130(tmp_path, monkeypatch, capsys):
    from bayes_w2s.simulations import coinflip

    def interrupted(_cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(coinflip, "run", interrupted)
    assert cli.main(["run", "coinflip", "--out", str(tmp_path)]) == 130
    assert "interrupted; re-run the command" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing half-written
