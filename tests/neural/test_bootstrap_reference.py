"""The paired bootstrap against a direct resampling written out by hand: the same generator
stream (``default_rng(seed).integers(0, K, (n_boot, K))``), one resample at a time, the
statistic recomputed from scratch, ``np.quantile`` in float64. Also: the documented defaults
(2000 resamples, seed 0) are what a call without them uses, boundary sample sizes (K = 2 seeds,
one resample), float32 inputs computed in float64, a PGR gap of exactly zero, and which argument
an alignment error names."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.neural.stats import bootstrap_ci, paired_pgr_diff

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None)


def _direct(data, stat_one, n_boot, seed, level):
    """Percentile bootstrap by a loop: resample K rows with replacement, n_boot times."""
    data = np.asarray(data, float)
    k = len(data)
    idx = np.random.default_rng(seed).integers(0, k, size=(n_boot, k))
    reps = np.array([stat_one(data[i]) for i in idx], float)
    reps = reps[np.isfinite(reps)]
    a = (1 - level) / 2
    return stat_one(data), np.quantile(reps, a), np.quantile(reps, 1 - a)


def _pgr(w, s, c):
    return (s - w) / (c - w)


def _pgr_diff_one(rows):
    w, c, a, b = rows.mean(0)
    return _pgr(w, a, c) - _pgr(w, b, c) if c > w else math.nan


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 9), n_boot=st.integers(1, 60),
       level=st.floats(0.5, 0.99))
def test_paired_pgr_diff_is_a_direct_joint_resampling_of_the_seeds(seed, k, n_boot, level):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 0.7, k)
    c = w + rng.uniform(0.05, 0.3, k)
    a = w + rng.uniform(-0.05, 0.3, k)
    b = w + rng.uniform(-0.05, 0.3, k)
    got = paired_pgr_diff(w, c, a, b, n_boot=n_boot, seed=seed % 7, level=level)
    want = _direct(np.stack([w, c, a, b], 1), _pgr_diff_one, n_boot, seed % 7, level)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_defaults_are_2000_resamples_with_seed_0():
    # 30 seeds: resampled means take enough distinct values that the seed and the number of
    # resamples move the quantiles (with 4 or 5 seeds they land on the same atoms)
    rng = np.random.default_rng(1)
    data = rng.normal(size=(30, 1))
    stat = lambda s: s[..., 0].mean(-1)  # noqa: E731
    want = _direct(data, lambda r: r[:, 0].mean(), 2000, 0, 0.95)
    assert bootstrap_ci(data, stat) == pytest.approx(want, rel=1e-12)
    w, c = np.full(30, 0.6), np.full(30, 0.9)
    a, b = rng.uniform(0.6, 0.9, 30), rng.uniform(0.6, 0.9, 30)
    want = _direct(np.stack([w, c, a, b], 1), _pgr_diff_one, 2000, 0, 0.95)
    assert paired_pgr_diff(w, c, a, b) == pytest.approx(want, rel=1e-12)
    for other in (dict(n_boot=2001), dict(seed=1)):  # the case tells these apart
        assert paired_pgr_diff(w, c, a, b, **other) != pytest.approx(want, rel=1e-12)
        assert bootstrap_ci(data, stat, **other) != pytest.approx(
            _direct(data, lambda r: r[:, 0].mean(), 2000, 0, 0.95), rel=1e-12)


def test_two_seeds_get_an_interval_and_one_resample_is_allowed():
    data = np.array([[1.0], [3.0]])
    stat = lambda s: s[..., 0].mean(-1)  # noqa: E731
    point, lo, hi = bootstrap_ci(data, stat, n_boot=200, seed=4, level=0.9)
    assert point == 2.0 and lo == 1.0 and hi == 3.0  # the resamples {1,1}, {1,3}, {3,3} all occur
    point, lo, hi = bootstrap_ci(np.array([[1.0], [3.0], [8.0]]), stat, n_boot=1, seed=0)
    i = np.random.default_rng(0).integers(0, 3, size=(1, 3))[0]
    assert lo == hi == pytest.approx(np.array([1.0, 3.0, 8.0])[i].mean())


def test_float32_inputs_and_statistics_are_resolved_in_float64():
    # a float32 column whose float32 mean rounds differently from its float64 mean
    x32 = np.array([[0.1], [0.7], [1e4 + 0.3], [3.3], [1e-3]], np.float32)
    x64 = x32.astype(float)
    point, _, _ = bootstrap_ci(x32, lambda s: s[..., 0].mean(-1), n_boot=5)
    assert point == x64[:, 0].mean()
    assert x32[:, 0].mean() != x64[:, 0].mean()  # the case does distinguish the two
    # a statistic returning float32: its replicates' quantiles are taken in float64
    data = np.random.default_rng(0).normal(size=(9, 2))
    stat32 = lambda s: s[..., 0].mean(-1).astype(np.float32)  # noqa: E731
    _, lo, hi = bootstrap_ci(data, stat32, n_boot=301, seed=2, level=0.83)
    _, lo_w, hi_w = _direct(data, lambda r: np.float32(r[:, 0].mean()), 301, 2, 0.83)
    assert (lo, hi) == (lo_w, hi_w)


def test_zero_gap_gives_nan_and_non_finite_accuracies_raise_no_warning():
    # mean ceiling == mean weak exactly: PGR undefined for every method
    d, lo, hi = paired_pgr_diff([0.6, 0.7], [0.7, 0.6], [0.8, 0.9], [0.7, 0.7], n_boot=50)
    assert math.isnan(d)
    # an infinite accuracy on one seed: its replicates are dropped, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d, lo, hi = paired_pgr_diff([0.5, 0.6, 0.55], [0.8, 0.9, 0.85], [math.inf, 0.7, 0.75],
                                    [math.inf, 0.6, 0.6], n_boot=200, seed=1)
    assert math.isnan(d) and math.isfinite(lo) and math.isfinite(hi)


def test_data_must_be_rows_of_seeds():
    stat = lambda s: s[..., 0].mean(-1)  # noqa: E731
    with pytest.raises(ValueError, match=r"\(K, m\)"):
        bootstrap_ci(np.ones(3), stat)
    with pytest.raises(ValueError, match=r"\(K, m\)"):
        bootstrap_ci(np.ones((0, 2)), stat)


@pytest.mark.parametrize("bad", [0, 1, 2, 3])
def test_an_alignment_error_names_the_misaligned_argument(bad):
    names = ("acc_weak", "acc_ceiling", "acc_method", "acc_ref")
    args = [np.full(3, 0.5) for _ in names]
    args[bad] = np.full(2, 0.5)
    # acc_weak sets the expected shape: a short acc_weak makes every other argument the odd one
    culprit = "acc_ceiling" if bad == 0 else names[bad]
    with pytest.raises(ValueError, match=rf"^{culprit} must be \(K,\) aligned with acc_weak"):
        paired_pgr_diff(*args)
    args[bad] = np.full((3, 1), 0.5)
    with pytest.raises(ValueError, match=rf"^{names[bad]} must be \(K,\)"):
        paired_pgr_diff(*args)
