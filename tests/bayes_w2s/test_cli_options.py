"""Help generated from the validators (issue 16): every option of every command has a meaning
and a kind; its documented boundary values are accepted and the values just outside refused,
by the parser and (for experiment fields) by the Config itself."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from bayes_w2s.harness import cli, sweep_cli
from bayes_w2s.harness.fields import declared, field_option
from bayes_w2s.harness.options import Option, UsageError, options_of

EXPERIMENTS = cli._experiment_names()
# Boundaries that a field alone allows but the defaults of *another* field refuse; the
# meaning names the other option, and the Config's error names both.
CROSS_FIELD = {
    ("bootstrap", "ve_strength"): "--rules",
    ("budget_tradeoff", "n_distractors"): "--priors",
    ("gap_sweep", "strong_angles"): "--strong-kappas",
    ("gap_sweep", "strong_kappas"): "--strong-angles",
    ("misspecification", "n_distractors"): "--include-absent",
    ("pymc_student", "n_features"): "--n-weak-features",
}


def _neural_parsers():
    pytest.importorskip("torch")
    from bayes_w2s.neural import cli as ncli

    parser = ncli.build_parser()
    return {cmd: ncli._subparser(parser, cmd) for cmd in ("run", "compare", "mimicry", "ladder", "reward", "assets")}


def _all_parsers():
    out = {f"run {n}": cli.run_parser(n)[1] for n in EXPERIMENTS}
    out.update({f"sweep {n}": sweep_cli.sweep_parser(n)[1] for n in EXPERIMENTS})
    out.update({f"neural {c}": p for c, p in _neural_parsers().items()})
    return out


def test_every_option_of_every_command_has_a_meaning_and_no_markup():
    parsers = _all_parsers()
    n_options = 0
    for command, parser in parsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            n_options += 1
            text = action.help or ""
            assert len(text.split(";")[0].strip()) >= 3, (command, action.option_strings)
            assert "``" not in text and ":func:" not in text and ":class:" not in text, (command, text)
        assert "``" not in (parser.description or ""), command
    assert n_options > 300


def test_neural_help_lists_every_command(capsys):
    pytest.importorskip("torch")
    assert cli.main(["neural", "--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "compare", "mimicry", "ladder", "reward", "assets"):
        assert f"    {command}" in out


def _boundary_cases():
    cases = []
    for command, parser in _all_parsers().items():
        for flag, option in options_of(parser):
            ok, bad = option.boundary_cases()
            cases += [(command, flag, v, True) for v in ok] + [(command, flag, v, False) for v in bad]
    return cases


def test_documented_boundaries_accepted_and_just_outside_refused_by_the_parser():
    parsers = _all_parsers()
    cases = _boundary_cases()
    for command, flag, value, accepted in cases:
        try:
            parsers[command].parse_args([f"{flag}={value}"])
            ok = True
        except UsageError as err:
            ok = False
            assert str(err).count("\n") == 0 and flag in str(err), str(err)
        assert ok == accepted, (command, flag, value)
    assert len(cases) > 1000


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_field_boundaries_agree_with_the_config(experiment):
    """The help is not only self-consistent: the Config accepts the documented ends."""
    module, _ = cli.run_parser(experiment)
    defaults = module.Config()
    for field in dataclasses.fields(module.Config):
        assert declared(experiment, field.name), f"{experiment}.{field.name} has no declared Option"
        option = field_option(experiment, field, getattr(defaults, field.name))
        for text in option.boundary_cases()[0]:
            value = option.convert(text, field.name)
            key = (experiment, field.name)
            if key in CROSS_FIELD:
                with pytest.raises(UsageError, match=CROSS_FIELD[key].replace("-", r"\-")):
                    cli.config_from_args(module.Config, argparse.Namespace(**{field.name: value}), experiment)
                assert CROSS_FIELD[key] in option.meaning, key
                continue
            module.Config(**{field.name: value})  # raises if the Config refuses the boundary


def test_help_says_what_the_code_refuses(capsys, monkeypatch):
    """Issue 16's examples: --n of coinflip says ≥ 10 and refuses 9; --epsilon / --fair-band
    are in (0, 0.5); reward_model --weak-labels offers what it accepts."""
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside option help
    assert cli.main(["run", "coinflip", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "integer ≥ 10 (default: 100000)" in text
    assert text.count("number in (0, 0.5)") == 2
    assert cli.main(["run", "coinflip", "--n", "9"]) == 2
    assert "--n: must be an integer ≥ 10, got 9" in capsys.readouterr().err
    assert cli.main(["run", "reward_model", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    weak_labels = text.split("--weak-labels {per-token,per-sequence}")[-1][:200]
    assert "one of: per-token, per-sequence" in weak_labels and "argmax" not in weak_labels


def test_option_describes_open_and_closed_ends():
    assert Option("x", "int", low=10).kind_text() == "integer ≥ 10"
    assert Option("x", "float", low=0, high=0.5, low_open=True, high_open=True).kind_text() == "number in (0, 0.5)"
    assert Option("x", "float", low=0, high=1, high_open=True).kind_text() == "number in [0, 1)"
    assert Option("x", "float").kind_text() == "finite number"
    assert Option("x", "int", low=1, sequence=True, distinct=True).kind_text() == (
        "comma-separated list, each integer ≥ 1, no repeats")
    with pytest.raises(ValueError):
        Option("", "int")
