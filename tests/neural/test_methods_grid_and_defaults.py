"""Training methods against references: temperature scaling searches the documented grid (241
log-spaced temperatures from 0.05 to 20) and returns its point of least NLL (a loop over that
grid, three classes, both ends); weak confidence is never negative; strengths and run limits
default to the training batch size."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_w2s.neural.methods import fit_temperature, softmax

GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))


def _nll(logits, labels, t):
    return -np.log(softmax(logits / t)[np.arange(len(labels)), labels] + 1e-12).mean()


@pytest.mark.parametrize("seed,true_t", [(0, 0.7), (1, 1.9), (2, 4.3)])
def test_fit_temperature_is_the_grid_point_of_least_nll(seed, true_t):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(600, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(logits / true_t)])
    t = fit_temperature(logits, labels)
    best = GRID[np.argmin([_nll(logits, labels, g) for g in GRID])]
    assert t == best
    assert np.any(GRID == t)  # a point of the documented grid, not of another one


def test_fit_temperature_stops_at_the_ends_of_the_grid():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, size=(300, 3))
    # labels the model always gets wrong: the flatter the better, up to the grid's largest T
    wrong = (logits.argmax(1) + 1) % 3
    assert fit_temperature(logits, wrong) == pytest.approx(20.0, rel=1e-12)
    # labels it always gets right: the sharper the better, down to the smallest T
    assert fit_temperature(logits, logits.argmax(1)) == pytest.approx(0.05, rel=1e-12)


def test_weak_confidence_is_never_negative_for_a_row_just_below_uniform():
    from bayes_w2s.neural.methods import weak_confidence

    # five equal entries one ulp below float(0.2) (a normalization's rounding): confidence 0, not -4e-17
    below = np.nextafter(0.2, 0.0)
    q = np.array([[below] * 5, [0.2] * 5, [1.0, 0, 0, 0, 0]])
    conf = weak_confidence(q)
    assert conf[0] == 0.0 and conf[1] == 0.0 and conf[2] == 1.0


def test_strengths_and_limits_default_to_the_training_batch_size():
    # without batch_size, the visit count and the steps limit use TrainConfig's default batch
    import math

    from bayes_w2s.neural.methods import MethodSpec, method_strengths, run_limit
    from bayes_w2s.neural.train import TrainConfig

    b = TrainConfig().batch_size
    q = np.random.default_rng(0).dirichlet(np.ones(3), size=50)
    for spec in ("ve+budget:budget=5", "ve+budget:budget=5@steps", "tempered+budget:budget=2@per_pass"):
        m = MethodSpec.parse(spec)
        np.testing.assert_array_equal(method_strengths(m, q, 25), method_strengths(m, q, 25, b))
        assert run_limit(m, 50, 25) == run_limit(m, 50, 25, b)
    # and the batch size matters there: 25 steps of 32 touch 16 passes of 50 (of 33: 17)
    assert b == 32
    assert run_limit(MethodSpec.parse("ve+budget:budget=5@steps"), 50, 25) == 32 * 5.0
    assert run_limit(MethodSpec.parse("ve+budget:budget=5@per_pass"), 50, 25) == 16 * 5.0
    m = MethodSpec.parse("ve+budget:budget=5")
    assert len(method_strengths(m, q, 25)) == 50 * math.ceil(25 * 32 / 50) == 800
