"""The batched-heads benchmark (benchmarks/neural_heads.py): its agreement check compares each
batched head with its one-at-a-time model through both forwards, so a wrong bias or
standardization fails it, and its smoke run passes."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "neural_heads.py"
_spec = importlib.util.spec_from_file_location("bench_neural_heads", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


@pytest.fixture(scope="module")
def trained():
    from bayes_w2s.neural.heads import train_heads

    x, specs, rows, tg, _ = bench.build(bench.COMPARE_METHODS, range(2), (0.1,), (0.0,),
                                        n_all=600, d=16, n=200, steps=20, n_val=0)
    res = train_heads(x, rows, tg, specs)
    models, _, _ = bench.sequential(x, specs, rows, tg, range(len(specs)))
    return x, res, models


def test_agreement_of_the_two_loops(trained):
    x, res, models = trained
    dwb, dstat, dz, agree = bench.agreement(res, models, list(range(len(models))), x)
    assert dwb <= 1e-5 and dstat <= 1e-6 and dz <= 1e-5 and agree >= 0.999
    for m in models:  # the timed loop computes no certificate, as the batched call
        assert m.net.weight.shape[1] == 16


@pytest.mark.parametrize("field", ["bias", "mean", "std"])
def test_the_check_sees_a_wrong_bias_or_standardization(trained, field):
    x, res, models = trained
    good = getattr(res, field).clone()
    try:
        getattr(res, field).add_(0.3)
        dwb, dstat, dz, _ = bench.agreement(res, models, list(range(len(models))), x)
        assert dwb > 1e-5 or dstat > 1e-6
        assert dz > 1e-5
    finally:
        getattr(res, field).copy_(good)


def test_smoke_run_passes_and_prints_the_speedup(capsys):
    assert bench.main(["--quick", "--skip-grid"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("speedup: ") and lines[-1].endswith("x")
    assert any(line.startswith("agreement check: PASS") for line in lines)
    assert float(lines[-1].split()[1][:-1]) > 1
