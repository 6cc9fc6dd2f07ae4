"""PGR edge cases, bootstrap CIs and AUROC against hand computations."""

import warnings

import numpy as np
import pandas as pd
import pytest
from bayes_w2s.neural.evaluate import agreement_on_weak_errors, auroc, bootstrap_pgr, pgr_summary

from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr


def test_pgr_edge_cases():
    assert pgr(0.7, 0.8, 0.9) == pytest.approx(0.5)
    assert pgr(0.7, 0.95, 0.9) == pytest.approx(1.25)  # student beats the ceiling
    assert pgr(0.7, 0.6, 0.9) == pytest.approx(-0.5)  # worse than its teacher
    for ceiling in (0.7, 0.6):
        with pytest.warns(PGRUndefinedWarning):
            assert np.isnan(pgr(0.7, 0.8, ceiling))


def test_bootstrap_pgr():
    w, s, c = [0.70, 0.72, 0.71], [0.80, 0.78, 0.79], [0.90, 0.88, 0.91]
    point, lo, hi = bootstrap_pgr(w, s, c, n_boot=500, seed=1)
    assert point == pytest.approx((np.mean(s) - np.mean(w)) / (np.mean(c) - np.mean(w)))
    assert lo <= point <= hi and hi - lo > 0
    assert bootstrap_pgr(w, s, c, n_boot=500, seed=1) == (point, lo, hi)  # seeded
    one = bootstrap_pgr([0.7], [0.8], [0.9])
    assert one[0] == pytest.approx(0.5) and np.isnan(one[1]) and np.isnan(one[2])


def _loop_bootstrap_pgr(w, s, c, n_boot, seed, level=0.95):
    # the loop bootstrap_pgr had before it called stats.bootstrap_ci: results must not change
    w, s, c = (np.asarray(a, float) for a in (w, s, c))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        point = pgr(w.mean(), s.mean(), c.mean())
        idx = np.random.default_rng(seed).integers(0, len(w), size=(n_boot, len(w)))
        reps = pgr(w[idx].mean(1), s[idx].mean(1), c[idx].mean(1))
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return float(point), float("nan"), float("nan")
    a = (1 - level) / 2
    return float(point), float(np.quantile(reps, a)), float(np.quantile(reps, 1 - a))


@pytest.mark.parametrize("seed", [0, 1, 5, 42])
@pytest.mark.parametrize("k", [2, 3, 10, 17])
def test_bootstrap_pgr_is_bit_identical_to_the_loop(seed, k):
    rng = np.random.default_rng(seed + 100 * k)
    w, c, s = rng.uniform(0.5, 0.75, k), rng.uniform(0.7, 0.95, k), rng.uniform(0.5, 0.95, k)
    for n_boot, level in ((200, 0.95), (2000, 0.9)):
        got = bootstrap_pgr(w, s, c, n_boot=n_boot, seed=seed, level=level)
        want = _loop_bootstrap_pgr(w, s, c, n_boot, seed, level)
        np.testing.assert_array_equal(np.array(got), np.array(want))


def test_pgr_summary_flags_undefined_gap():
    df = pd.DataFrame(
        {
            "method": ["a", "a", "b", "b"],
            "acc_weak": [0.7, 0.7, 0.8, 0.8],
            "acc_w2s": [0.75, 0.8, 0.8, 0.8],
            "acc_ceiling": [0.9, 0.9, 0.8, 0.8],
        }
    )
    with pytest.warns(PGRUndefinedWarning, match="b"):
        table = pgr_summary(df, n_boot=200)
    assert table.set_index("method").loc["a", "pgr"] == pytest.approx(0.275 / 0.2 - 1)
    assert np.isnan(table.set_index("method").loc["b", "pgr"])


def test_auroc_hand_cases():
    labels = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.4, 0.35, 0.8])
    probs = np.stack([1 - p1, p1], 1)
    assert auroc(probs, labels) == pytest.approx(0.75)  # pairs: (.35>.1) (.35<.4) (.8>.1) (.8>.4)
    assert auroc(probs[:, ::-1], labels) == pytest.approx(0.25)
    assert auroc(np.full((4, 2), 0.5), labels) == pytest.approx(0.5)  # all ties
    assert np.isnan(auroc(probs, np.ones(4, int)))


def test_agreement_on_weak_errors():
    y = np.array([0, 1, 1, 0, 1])
    weak = np.array([0, 0, 0, 1, 1])  # errors at 1, 2, 3
    student = np.array([1, 0, 1, 1, 0])  # repeats weak at 1 and 3
    assert agreement_on_weak_errors(student, weak, y) == pytest.approx(2 / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(agreement_on_weak_errors(student, y, y))
