"""Temperature scaling searches the documented grid: 241 log-spaced temperatures from 0.05 to
20, and returns the grid point of least NLL (checked against a loop over that grid, in three
classes, and at both ends of the grid)."""

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
