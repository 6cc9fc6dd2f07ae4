"""The W2S pipeline end to end on tiny random models and synthetic data."""

import json
import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from bayes_w2s.neural import cli
from bayes_w2s.neural.compare import CompareConfig, run_compare, write_compare
from bayes_w2s.neural.pipeline import MethodSpec, W2SConfig, run

from .conftest import STRONG, WEAK

METHODS = (
    "xent",
    "logconf",
    "product",
    "ve+budget:budget=5",
    "tempered+confidence:budget=100",
    "ve+geometric:first=2,ratio=0.9@steps",
)


def test_smoke_all_methods_and_cache_reuse(tiny_cfg, cache):
    t0 = time.perf_counter()
    df = run(tiny_cfg, (0, 1), cache=cache, methods=METHODS)
    assert time.perf_counter() - t0 < 60
    assert len(df) == 12 and set(df.method) == {MethodSpec.parse(m).label() for m in METHODS}
    for col in ("acc_weak", "acc_ceiling", "acc_w2s", "auroc_w2s", "agree_on_weak_errors"):
        assert df[col].between(0, 1).all(), col
    # one weak model, one ceiling and one feature pass per backbone, reused by every method
    assert cache.misses == {"features": 2, "weak": 2, "ceiling": 2}
    assert cache.hits == {}  # per seed, the student data are built once for every method
    # the weak/ceiling numbers are shared across methods within a seed
    assert df.groupby("seed").acc_weak.nunique().eq(1).all()
    # a second run in a fresh process-level backend reads everything from disk
    again = run(tiny_cfg, (0,), cache=cache, methods=("xent",))
    assert (
        cache.misses["weak"] == 2 and cache.hits["features"] == 1
    )  # weak outputs cached: only strong features read
    assert again.acc_w2s.iloc[0] == df.acc_w2s.iloc[0]


def test_influence_is_logged(tiny_cfg, cache):
    df = run(
        replace(tiny_cfg, epochs=3.0),
        (0,),
        cache=cache,
        methods=("xent", "ve+budget:budget=5", "tempered+constant:value=0.5"),
    )
    row = df.set_index("loss")
    assert math.isinf(row.loc["xent", "influence"]) and not row.loc["xent", "bounded"]
    # run-level budget: 8 steps of 32 = 256 visits of the 80 training examples (20 of the 100
    # weak labels are the validation split) touch 4 epochs, each visit slot gets 5 / 320, so
    # the run spends 5 * 256 / 320 = 4 <= 5 (not 3.2 x 5)
    n = row.loc["ve", "n_weak_label"]
    assert n == 80
    visits = row.loc["ve", "steps"] * 32
    assert row.loc["ve", "influence"] == pytest.approx(5 * visits / (math.ceil(visits / n) * n))
    assert row.loc["ve", "bounded"] and row.loc["ve", "influence_limit"] == 5
    assert row.loc["tempered", "influence"] == pytest.approx(0.5 * visits)


def test_determinism_with_seeds(tiny_cfg, tmp_path):
    from bayes_w2s.neural.cache import ArrayCache

    cols = ["acc_weak", "acc_ceiling", "acc_w2s", "auroc_w2s", "agree_weak"]
    a = run(tiny_cfg, (3,), cache=ArrayCache(tmp_path / "a"), methods=("logconf",))[cols]
    b = run(tiny_cfg, (3,), cache=ArrayCache(tmp_path / "b"), methods=("logconf",))[cols]
    pd.testing.assert_frame_equal(a, b)
    c = run(tiny_cfg, (4,), cache=ArrayCache(tmp_path / "c"), methods=("logconf",))[cols]
    assert not a.equals(c)


def test_finetune_lora_bootstrap_anchor_temperature(cache):
    cfg = W2SConfig(
        weak=WEAK,
        strong="tiny-gpt2:hidden=16,layers=1",
        dataset="synthetic:n=160",
        mode="finetune",
        n_weak_train=48,
        n_weak_label=48,
        n_test=48,
        max_length=12,
        lr=1e-3,
        epochs=1.0,
        anchor="kl",
        anchor_weight=0.5,
        intermediate=STRONG,
        weak_temperature="fit",
    )
    df = run(cfg, (0,), cache=cache, methods=("xent", "ve"))
    # the intermediate relabels the second half (24); a fifth of it (5) is the validation split
    assert len(df) == 2 and (df.n_weak_label == 19).all() and (df.intermediate == STRONG).all()
    assert df.weak_temperature.iloc[0] > 0
    df = run(
        replace(cfg, mode="lora", anchor="l2", intermediate=None, weak_temperature="2"),
        (0,),
        cache=cache,
    )
    assert df.weak_temperature.iloc[0] == 2.0 and df.acc_w2s.between(0, 1).all()


def test_config_validation():
    with pytest.raises(ValueError, match="unknown method"):
        W2SConfig(method="xentropy")
    with pytest.raises(ValueError, match="non-negative"):
        W2SConfig(method="ve+constant:value=-1")
    with pytest.raises(ValueError, match="takes no schedule"):
        W2SConfig(method="xent+budget:budget=1")
    with pytest.raises(ValueError, match="mode"):
        W2SConfig(mode="distill")
    with pytest.raises(ValueError, match="temperature"):
        W2SConfig(weak_temperature="hot")
    with pytest.raises(ValueError, match="anchor"):
        W2SConfig(anchor="l1")


def test_compare_writes_run_folder(tiny_cfg, cache, tmp_path):
    cfg = CompareConfig(
        base=tiny_cfg, methods=("xent", "ve+budget:budget=5"), seeds=(0, 1), n_boot=200
    )
    rows, summary = run_compare(cfg, cache=cache)
    folder = write_compare(tmp_path / "runs", cfg, rows, summary)
    meta = json.loads((folder / "config.json").read_text())
    assert meta["experiment"] == "neural_compare" and "package_version" in meta
    assert meta["config"]["methods"] == ["xent", "ve+budget:budget=5"]
    assert len(pd.read_csv(folder / "results.csv")) == 4
    table = pd.read_csv(folder / "pgr.csv")
    assert list(table.method) == ["xent", "ve+budget(5)"] and {"pgr", "pgr_lo", "pgr_hi"} <= set(
        table.columns
    )
    assert (folder / "pgr.png").stat().st_size > 0


@pytest.mark.filterwarnings("ignore::bayes_w2s.core.metrics.PGRUndefinedWarning")
def test_cli_run_and_errors(tmp_path, capsys):
    args = [
        "--weak",
        WEAK,
        "--strong",
        STRONG,
        "--dataset",
        "synthetic:n=200",
        "--n-weak-train",
        "60",
        "--n-weak-label",
        "60",
        "--n-test",
        "60",
        "--seeds",
        "0",
        "--out",
        str(tmp_path / "runs"),
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
    ]
    assert cli.main(["run", "--method", "ve+budget:budget=3", *args]) == 0
    out = capsys.readouterr().out
    assert "ve+budget(3)" in out and "wrote" in out
    assert cli.main(["run", "--method", "nope", *args]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert cli._methods("xent,ve+geometric:first=2,ratio=0.9@steps,logconf") == (
        "xent",
        "ve+geometric:first=2,ratio=0.9@steps",
        "logconf",
    )


def test_mimicry_tiny(tiny_cfg, cache, tmp_path):
    from bayes_w2s.neural.mimicry import MimicryConfig, run_mimicry, write_mimicry

    cfg = MimicryConfig(
        base=replace(tiny_cfg, n_weak_label=100),
        methods=("xent", "ve+budget:budget=5"),
        seeds=(0,),
        n_grid=(25, 100),
        steps_grid=(5, 20),
    )
    rows = run_mimicry(cfg, cache=cache)
    assert len(rows) == 8 and set(rows.axis) == {"n", "steps"}
    assert rows[rows.axis == "steps"].steps.tolist() == [5, 5, 20, 20]
    folder, text = write_mimicry(tmp_path, cfg, rows)
    assert "agree_on_weak_errors" in text and (folder / "mimicry.png").is_file()
    assert np.isfinite(rows.acc_w2s).all()


def test_weak_ground_truth_subset_and_ceiling_cache(tiny_cfg, cache):
    full = run(replace(tiny_cfg, n_weak_gt=None), (0,), cache=cache)
    few = run(replace(tiny_cfg, n_weak_gt=20), (0,), cache=cache)
    assert few.n_weak_gt.iloc[0] == 20 and full.n_weak_gt.iloc[0] == 100
    assert few.acc_weak.iloc[0] != full.acc_weak.iloc[0]  # a different weak supervisor
    assert few.acc_ceiling.iloc[0] == full.acc_ceiling.iloc[0]  # the same cached ceiling
    assert cache.misses["weak"] == 2 and cache.misses["ceiling"] == 1
    run(replace(tiny_cfg, n_weak_label=50), (0,), cache=cache)  # nested weak-label set, same test
    assert cache.misses["ceiling"] == 1
    with pytest.raises(ValueError, match="n_weak_gt"):
        W2SConfig(n_weak_gt=0)
