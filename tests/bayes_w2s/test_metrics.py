import warnings

import numpy as np
import pytest

from bayes_w2s.core.metrics import PGRUndefinedWarning, accuracy, agreement, influence_distance, kl_divergence, pgr, posterior_mass


def test_pgr_values():
    assert pgr(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert pgr(0.6, 0.6, 0.8) == 0.0
    assert pgr(0.6, 0.8, 0.8) == pytest.approx(1.0)
    assert pgr(0.6, 0.5, 0.8) == pytest.approx(-0.5)  # worse than weak is negative, not clipped
    np.testing.assert_allclose(pgr([0.5, 0.6], [0.75, 0.7], [1.0, 0.8]), [0.5, 0.5])


@pytest.mark.parametrize("ceiling", [0.6, 0.5])
def test_pgr_is_nan_with_a_warning_when_the_ceiling_does_not_beat_weak(ceiling):
    with pytest.warns(PGRUndefinedWarning, match="ceiling <= weak"):
        assert np.isnan(pgr(0.6, 0.7, ceiling))


def test_pgr_no_warning_when_defined():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pgr(0.5, 0.6, 0.7)


def test_influence_distance_matches_hand_computation_and_bounds_odds():
    p = np.log([0.5, 0.3, 0.2])
    q = np.log([0.2, 0.3, 0.5])
    d = influence_distance(p, q)
    assert d == pytest.approx(np.log(2.5) - np.log(0.4))
    odds_change = (0.2 / 0.5) / (0.5 / 0.2)
    assert np.exp(-d) <= odds_change + 1e-12
    assert influence_distance(p, p) == 0
    assert influence_distance(p, np.log([0.5, 0.5, 0.0])) == np.inf


def test_kl_and_agreement_and_accuracy():
    assert kl_divergence([0.5, 0.5], [0.5, 0.5]) == 0
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert agreement([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert accuracy([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], [0, 1, 1]) == pytest.approx(2 / 3)
    assert posterior_mass(np.log([0.1, 0.2, 0.7]), [1, 2]) == pytest.approx(0.9)
    assert posterior_mass(np.log([0.1, 0.2, 0.7]), np.array([True, False, True])) == pytest.approx(0.8)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: agreement([0, 1], [0, 1, 1]), "one shape"),
        (lambda: agreement([0.5], [1]), "integer class indices"),
        (lambda: accuracy([[0.5, 0.5]], [0, 1]), "matching labels"),
    ],
)
def test_bad_metric_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
