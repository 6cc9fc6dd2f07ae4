"""Metrics at their edges (issue 18: mutation testing): batches where only one row is special,
warnings that must not leak, the caller's line in a warning, errors that name the argument."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bayes_w2s.core.metrics import (
    PGRUndefinedWarning,
    accuracy,
    agreement,
    influence_distance,
    kl_divergence,
    pgr,
    posterior_mass,
)
from bayes_w2s.core.validation import ValidationError


def _quiet():
    """Every numpy RuntimeWarning is an error; PGR's own warning is allowed."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error", RuntimeWarning)
    warnings.filterwarnings("ignore", category=PGRUndefinedWarning)
    return ctx


def test_influence_distance_rows_are_independent():
    p = np.log(np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]))
    q = p.copy()
    q[1, 2] = -np.inf  # row 1: one-sided zero -> inf; row 0 untouched -> 0
    np.testing.assert_array_equal(influence_distance(p, q), [0.0, np.inf])
    both = np.log(np.array([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5]]))
    both_q = np.log(np.array([[0.8, 0.2, 0.0], [0.25, 0.25, 0.5]]))
    ctx = _quiet()
    try:
        out = influence_distance(both, both_q)  # -inf in both on row 0: ignored, no warning
    finally:
        ctx.__exit__(None, None, None)
    assert out[0] == pytest.approx(np.log(1.6) - np.log(0.4)) and out[1] == 0.0
    dead = np.log(np.array([[0.0, 0.0], [0.5, 0.5]]))
    for a, b in ((dead, np.zeros((2, 2))), (np.zeros((2, 2)), dead)):
        with pytest.raises(ValidationError, match="every hypothesis"):
            influence_distance(a, b)
    with pytest.raises(ValidationError, match="do not broadcast") as err:
        influence_distance(np.zeros(3), np.zeros(2))
    assert err.value.argument == "log_q"
    with pytest.raises(ValidationError, match="scalars"):
        influence_distance(0.0, 0.0)
    assert influence_distance(np.zeros((2, 3)), np.zeros(3)).shape == (2,)


def test_pgr_scalar_type_warning_location_and_no_numpy_warnings():
    out = pgr(0.5, 0.6, 0.7)
    assert type(out) is float and out == pytest.approx(0.5)
    with pytest.warns(PGRUndefinedWarning) as rec:
        pgr(0.6, 0.7, 0.6)
    assert not rec[0].filename.endswith("core/metrics.py")  # stacklevel points past pgr itself
    assert "(1 case(s))" in str(rec[0].message)
    ctx = _quiet()
    try:
        both = pgr(np.array([0.6, 0.5, 0.6]), np.array([0.6, 0.75, 0.7]), np.array([0.6, 1.0, 0.5]))
    finally:
        ctx.__exit__(None, None, None)
    assert np.isnan(both[0]) and both[1] == pytest.approx(0.5) and np.isnan(both[2])
    with pytest.raises(ValidationError, match="do not broadcast"):
        pgr([0.1, 0.2], [0.1, 0.2, 0.3], 0.5)


def test_kl_and_posterior_mass_keep_leading_axes():
    p = np.array([[0.5, 0.5], [0.9, 0.1]])
    q = np.array([[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(kl_divergence(p, q), [0.0, 0.9 * np.log(1.8) + 0.1 * np.log(0.2)])
    with pytest.raises(ValidationError, match="do not match along axis 0"):
        kl_divergence(np.ones((2, 2)) / 2, np.ones((3, 2)) / 2, axis=0)
    post = np.log(np.array([[0.1, 0.9], [0.6, 0.4]]))
    np.testing.assert_allclose(posterior_mass(post, [1]), [0.9, 0.4])
    with pytest.raises(ValidationError, match="scalar"):
        posterior_mass(0.0, [0])
    with pytest.raises(ValidationError, match=r"mask has shape \(3,\), need \(2,\)"):
        posterior_mass(post, np.array([True, False, True]))


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: influence_distance(np.zeros(2), "ab"), "log_q"),
        (lambda: influence_distance([0.0, np.inf], np.zeros(2)), "log_p"),
        (lambda: kl_divergence([0.5, 0.5], [0.5, 1.5]), "q"),
        (lambda: kl_divergence([-0.5, 1.5], [0.5, 0.5]), "p"),
        (lambda: agreement([0, -1], [0, 1]), "pred_a"),
        (lambda: agreement([0, 1], [0, 1.5]), "pred_b"),
        (lambda: accuracy("probs", [0]), "probs"),
        (lambda: accuracy([[0.5, np.nan]], [0]), "probs"),
        (lambda: accuracy([[0.5, 0.5]], [2]), "labels"),
        (lambda: accuracy([[0.5, 0.5]], [0, 1]), "probs"),
        (lambda: posterior_mass([0.0, np.nan], [0]), "log_posterior"),
        (lambda: posterior_mass(np.log([0.5, 0.5]), [2]), "hypotheses"),
        (lambda: pgr(1.5, 0.5, 0.7), "acc_weak"),
        (lambda: pgr(0.5, -0.5, 0.7), "acc_w2s"),
        (lambda: pgr(0.5, 0.5, np.nan), "acc_ceiling"),
    ],
)
def test_metric_errors_name_the_argument(call, argument):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.argument == argument
    assert argument in str(err.value)
