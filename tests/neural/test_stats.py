"""The paired bootstrap against cases whose answer is known."""

import math

import numpy as np
import pandas as pd
import pytest
from bayes_w2s.neural.evaluate import pgr_summary
from bayes_w2s.neural.stats import bootstrap_ci, paired_pgr_diff


def test_bootstrap_of_a_mean_matches_the_normal_theory_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=400)
    point, lo, hi = bootstrap_ci(x[:, None], lambda s: s[..., 0].mean(-1), n_boot=4000, seed=3)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))  # ~0.196
    assert point == pytest.approx(x.mean())
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)
    assert (lo + hi) / 2 == pytest.approx(x.mean(), abs=0.05)


def test_paired_difference_is_exact_for_a_constant_shift_and_pairing_matters():
    rng = np.random.default_rng(1)
    k = 12
    w = 0.65 + rng.normal(0, 0.02, k)  # seed-level noise shared by every method
    c = w + 0.10
    ref = w + 0.02 + rng.normal(0, 0.001, k)
    better = ref + 0.01  # exactly one point better on every seed
    d, lo, hi = paired_pgr_diff(w, c, better, ref, n_boot=1000)
    assert d == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    # seed noise that is shared cancels when paired; an unpaired resample would not cancel it
    noisy = ref + 0.01 + rng.normal(0, 0.003, k)
    d, lo, hi = paired_pgr_diff(w, c, noisy, ref, n_boot=2000, seed=2)
    assert lo > 0  # excludes 0
    idx = np.random.default_rng(5).integers(0, k, size=(2000, k))
    jdx = np.random.default_rng(6).integers(0, k, size=(2000, k))
    unpaired = (noisy[idx].mean(1) - ref[jdx].mean(1)) / 0.1  # seeds resampled separately
    assert np.quantile(unpaired, 0.975) - np.quantile(unpaired, 0.025) > 3 * (hi - lo)


def test_no_difference_gives_an_interval_covering_zero_about_90_percent_of_the_time():
    rng = np.random.default_rng(7)
    cover = 0
    for rep in range(100):
        w = 0.65 + rng.normal(0, 0.02, 10)
        a = w + 0.05 + rng.normal(0, 0.01, 10)
        b = w + 0.05 + rng.normal(0, 0.01, 10)
        _, lo, hi = paired_pgr_diff(w, w + 0.1, a, b, n_boot=400, seed=rep)
        cover += lo <= 0 <= hi
    # percentile bootstrap with K = 10 undercovers: ~P(|t_9| < 1.96 sqrt(9/10)) = 0.90 in theory
    assert 78 <= cover <= 97


def test_validation_and_small_samples():
    with pytest.raises(ValueError, match="acc_ref"):
        paired_pgr_diff([0.6, 0.6], [0.8, 0.8], [0.7, 0.7], [0.7])
    d, lo, hi = paired_pgr_diff([0.6], [0.8], [0.7], [0.65])
    assert d == pytest.approx(0.25) and math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(np.ones((3, 1)), lambda s: s.mean((-1, -2)), level=1.5)


def test_pgr_summary_reports_paired_differences_from_xent():
    rng = np.random.default_rng(3)
    seeds = np.arange(10)
    w = 0.65 + rng.normal(0, 0.02, 10)
    rows = []
    for m, shift in (("xent", 0.0), ("ve", 0.02), ("same", 0.0)):
        acc = w + 0.03 + shift + rng.normal(0, 0.002, 10)
        rows += [dict(method=m, seed=s, acc_weak=w[i], acc_ceiling=w[i] + 0.1, acc_w2s=acc[i])
                 for i, s in enumerate(seeds)]
    t = pgr_summary(pd.DataFrame(rows), n_boot=500).set_index("method")
    assert t.loc["xent", "pgr_diff"] == 0 and not t.loc["xent", "diff_excludes_0"]
    assert t.loc["ve", "diff_excludes_0"] and t.loc["ve", "diff_lo"] > 0.1
    assert not t.loc["same", "diff_excludes_0"]
