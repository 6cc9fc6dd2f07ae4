"""The capability ladder (equal ground truth), its CLI and its sweep experiment, on tiny models."""

import math

import pandas as pd
import pytest

WEAK = "tiny-bert:hidden=16,layers=1,seed=3"  # as in conftest.py
STRONG = "tiny-bert:hidden=32,layers=2,seed=1"

MID = "tiny-bert:hidden=24,layers=1,seed=2"


def test_pairs_are_every_weak_before_strong():
    from bayes_w2s.neural.ladder import ladder_pairs

    assert ladder_pairs(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]
    with pytest.raises(ValueError, match="at least 2"):
        ladder_pairs(["a"])
    with pytest.raises(ValueError, match="distinct"):
        ladder_pairs(["a", "a"])


def test_ladder_equal_ground_truth_rows_and_summary(tiny_cfg, cache, tmp_path):
    from bayes_w2s.neural.ladder import LadderConfig, ladder_summary, run_ladder, write_ladder

    cfg = LadderConfig(models=(WEAK, MID, STRONG), base=tiny_cfg, methods=("xent",), seeds=(0, 1))
    assert cfg.base.n_weak_gt is None  # the default protocol: weak sees all of weak-train
    rows = run_ladder(cfg, cache=cache)
    assert len(rows) == 3 * 2
    assert set(rows["pair"]) == {f"{WEAK}->{MID}", f"{WEAK}->{STRONG}", f"{MID}->{STRONG}"}
    assert (rows["n_weak_gt"] == tiny_cfg.n_weak_train).all()
    # a model's accuracy as weak (trained on ground truth) equals its accuracy as ceiling
    mid_weak = rows[rows["weak"] == MID].set_index("seed")["acc_weak"].sort_index()
    mid_ceil = rows[(rows["strong"] == MID)].set_index("seed")["acc_ceiling"].sort_index()
    pd.testing.assert_series_equal(mid_weak, mid_ceil, check_names=False)
    assert rows["features_s_strong"].notna().all()
    summary = ladder_summary(rows, n_boot=200)
    assert len(summary) == 3 and (summary["n_seeds"] == 2).all()
    for _, r in summary.iterrows():
        g = rows[rows["pair"] == r["pair"]]
        w, s, c = g["acc_weak"].mean(), g["acc_w2s"].mean(), g["acc_ceiling"].mean()
        if c > w:
            assert math.isclose(r["pgr"], (s - w) / (c - w), rel_tol=1e-9)
        else:  # tiny random models: a ceiling below its weak model leaves PGR undefined
            assert math.isnan(r["pgr"])
    folder = write_ladder(tmp_path, cfg, rows, summary)
    assert (folder / "ladder.csv").is_file() and (folder / "ladder.png").is_file()


def test_cli_ladder_and_default_is_equal_ground_truth(tmp_path, capsys):
    from bayes_w2s.neural.cli import main

    rc = main(
        ["ladder", "--models", f"{WEAK},{STRONG}", "--dataset", "synthetic:n=300",
         "--n-weak-train", "100", "--n-weak-label", "100", "--n-test", "100", "--max-length", "16",
         "--seeds", "0", "--out", str(tmp_path / "runs"), "--cache", str(tmp_path / "c"),
         "--no-progress"]
    )  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert f"{WEAK}->{STRONG}" in out
    from bayes_w2s.neural.pipeline import W2SConfig

    assert W2SConfig().n_weak_gt is None


def test_ladder_sweep_grid_is_resumable(tmp_path, monkeypatch):
    from bayes_w2s.harness.sweeps import run_sweep

    monkeypatch.setenv("BAYES_W2S_CACHE", str(tmp_path / "cache"))
    base = {
        "models": (WEAK, STRONG), "dataset": "synthetic:n=300", "n_weak_train": 100, "n_weak_label": 100,
        "n_test": 100, "max_length": 16,
    }  # fmt: skip
    grid = {"method": ["xent", "ve+budget:budget=40"]}
    kw = {"base": base, "executor": "serial", "progress": False, "figures": True}
    first = run_sweep("neural_ladder", grid, [0, 1], tmp_path / "sweep", **kw)
    assert first.n_cells == 4 and first.n_computed == 4
    t = first.table
    assert set(t["method"]) == {"xent", "ve+budget:budget=40"}
    assert sorted(t["seed"].unique()) == [0, 1]
    again = run_sweep("neural_ladder", grid, [0, 1], tmp_path / "sweep", **kw)
    assert again.n_resumed == 4 and again.n_computed == 0
    pd.testing.assert_frame_equal(first.table, again.table)
    assert (tmp_path / "sweep" / "ladder.png").is_file()


def test_best_checkpoint_is_recorded_and_no_worse_than_final(tiny_cfg, cache):
    from dataclasses import replace

    from bayes_w2s.neural.pipeline import run_seed

    cfg = replace(tiny_cfg, eval_every=3, val_frac=0.2)
    row = run_seed(cfg, 0, cache=cache)
    assert 0 <= row["student_best_step"] <= row["steps"]
    assert row["student_val_acc_best"] >= row["student_val_acc_final"]
    assert row["student_n_evals"] >= row["steps"] // 3
    assert row["n_weak_label"] == 80  # the validation fifth is held out of the student's data
    # early stopping is a student setting: the weak model and the ceiling keep all their data
    assert "weak_best_step" not in row and "ceiling_best_step" not in row
    with pytest.raises(ValueError, match="val_frac"):
        replace(tiny_cfg, val_frac=0.7)
    with pytest.raises(ValueError, match="eval_every"):
        replace(tiny_cfg, eval_every=-1)
