"""``redraw(run_dir)`` rebuilds every figure of a neural run folder from its stored tables."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bayes_w2s.harness.runs import RunFolderError


@pytest.fixture(scope="module")
def compare_folder(tmp_path_factory):
    from bayes_w2s.neural.cache import ArrayCache
    from bayes_w2s.neural.compare import CompareConfig, run_compare, write_compare
    from bayes_w2s.neural.pipeline import W2SConfig

    from .conftest import STRONG, WEAK

    tmp_path = tmp_path_factory.mktemp("cmp")
    base = W2SConfig(weak=WEAK, strong=STRONG, dataset="synthetic:n=300", mode="features",
                     n_weak_train=100, n_weak_label=100, n_test=100, max_length=16, epochs=3.0)
    cfg = CompareConfig(base=base, methods=("xent", "ve+budget:budget=5"), seeds=(0, 1, 2),
                        n_boot=200)
    rows, summary = run_compare(cfg, cache=ArrayCache(tmp_path / "cache"))
    return write_compare(tmp_path / "runs", cfg, rows, summary), rows, summary


def test_compare_folder_has_paired_table_and_certified_rows(compare_folder):
    folder, rows, summary = compare_folder
    s = summary.set_index("method")
    assert s.loc["xent", "pgr_diff"] == 0
    cols = ["pgr_diff", "diff_lo", "diff_hi"]
    assert np.isfinite(s.loc["ve+budget(5)", cols].astype(float)).all()
    assert (rows.optimizer == "sgd").all() and (rows.certificate.fillna("") == "").all()
    assert (rows.param_distance <= rows.distance_bound).all()
    assert (rows.kl_from_init <= rows.kl_bound).all()
    assert (rows[rows.bounded].influence <= rows[rows.bounded].influence_limit + 1e-9).all()
    from bayes_w2s.neural.compare import summary_markdown

    md = summary_markdown(summary)
    assert md.count("\n") == 2 + len(summary) and "ve+budget(5)" in md


def test_redraw_compare_rebuilds_every_figure(compare_folder):
    from bayes_w2s.neural.figures import redraw

    folder, _, _ = compare_folder
    for f in folder.glob("*.png"):
        f.unlink()
    written = redraw(folder)
    names = sorted(p.name for p in written)
    assert names == ["movement.pdf", "movement.png", "pgr.pdf", "pgr.png"]
    assert all(p.stat().st_size > 1000 for p in written)
    (folder / "pgr.csv").unlink()  # a table the completion marker lists is gone: damaged folder
    with pytest.raises(RunFolderError, match="pgr.csv"):
        redraw(folder)


def test_redraw_mimicry_and_refuse_other_folders(tiny_cfg, cache, tmp_path):
    from bayes_w2s.neural.figures import redraw
    from bayes_w2s.neural.mimicry import MimicryConfig, run_mimicry, write_mimicry
    from bayes_w2s.harness.runs import write_run

    cfg = MimicryConfig(base=replace(tiny_cfg, n_weak_label=100), methods=("xent",), seeds=(0,),
                        n_grid=(25, 100), steps_grid=(5, 20))
    folder, _ = write_mimicry(tmp_path, cfg, run_mimicry(cfg, cache=cache))
    (folder / "mimicry.png").unlink()
    assert sorted(p.name for p in redraw(folder)) == ["mimicry.pdf", "mimicry.png"]
    other = write_run(tmp_path / "coin", "coinflip", cfg.base, pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="run_dir"):
        redraw(other)
    with pytest.raises(RunFolderError):
        redraw(tmp_path / "nothing")
