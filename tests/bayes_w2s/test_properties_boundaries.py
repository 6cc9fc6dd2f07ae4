"""Boundary cases of the core's public constructors and asymptotics (issue 18: mutation testing).

Values exactly on a boundary (a probability of 0 or 1, ``atol = 0``, a zero weight) are
accepted; values just outside are rejected with a :class:`ValidationError` (or ``ValueError``)
that names the offending argument. Mutants that moved a boundary, dropped one clause of a
range check or renamed the argument in the error survived the earlier tests.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from bayes_w2s.core.asymptotics import beta_bernoulli_posterior, kl_projection
from bayes_w2s.core.hypotheses import HypothesisSpace, Model, containment
from bayes_w2s.core.validation import ValidationError


def _names_argument(call, argument, match=None):
    with pytest.raises(ValidationError, match=match) as err:
        call()
    assert err.value.argument == argument
    assert argument in str(err.value)
    return err.value


# --- HypothesisSpace ------------------------------------------------------------------------

def test_space_accepts_exact_zeros_and_ones_and_keeps_float_probabilities():
    space = HypothesisSpace(np.array([[1, 0], [0, 1]]))  # integers: read as probabilities
    assert space.probs.dtype == np.float64 and space.probs.shape == (2, 1, 2)
    assert space.label_names == ("label0", "label1") and space.hypothesis_names == ("hypothesis0", "hypothesis1")
    assert not space.probs.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert space.log_probs[0, 0, 1] == -np.inf


@pytest.mark.parametrize(
    "row, where",
    [([-0.1, 0.6, 0.5], "(0, 0, 0)"), ([0.5, 0.6, -0.1], "(0, 0, 2)"), ([0.2, 1.2, -0.4], "(0, 0, 1)"),
     ([0.5, np.nan, 0.5], "(0, 0, 1)")],
)
def test_space_range_errors_point_at_the_first_bad_entry(row, where):
    with pytest.raises(ValidationError, match=r"\[0, 1\]") as err:
        HypothesisSpace(np.array([[[1 / 3, 1 / 3, 1 / 3]], [row]])[::-1])
    assert f"probs{where} = " in str(err.value) and "np." not in str(err.value)


def test_space_only_above_one_is_rejected_as_out_of_range():
    with pytest.raises(ValidationError, match=r"must lie in \[0, 1\]; probs\(1, 0, 0\)"):
        HypothesisSpace(np.array([[[0.5, 0.5]], [[1.5, 0.0]]]))


def test_space_normalization_tolerance_and_where_it_fails():
    near = HypothesisSpace([[[0.5, 0.5 + 5e-7]]])
    np.testing.assert_allclose(near.probs.sum(-1), 1.0, rtol=0, atol=1e-15)  # renormalized
    assert near.probs[0, 0, 1] < 0.5 + 5e-7
    with pytest.raises(ValidationError, match=r"P\(\. \| z=1, h=0\) sums to 1\.5"):
        HypothesisSpace([[[0.5, 0.5], [0.75, 0.75]], [[0.5, 0.5], [0.5, 0.5]]])


def test_space_names_and_subsets():
    space = HypothesisSpace(np.eye(3)[:, None, :].repeat(2, 1), ["a", "b", "c"], ["x", "y", "z"])
    assert space.label_names == ("x", "y", "z")
    with pytest.raises(ValidationError, match="label names: got 2, need 3"):
        HypothesisSpace(np.eye(3), label_names=["x", "y"])
    with pytest.raises(ValidationError, match="hypothesis names must be unique"):
        HypothesisSpace(np.eye(3), ["a", "a", "b"])
    sub = space.subset(np.array([False, True, True]))
    assert sub.hypothesis_names == ("b", "c") and sub.label_names == ("x", "y", "z")
    np.testing.assert_array_equal(sub.probs, space.probs[1:])
    assert space.subset([2, 0]).hypothesis_names == ("c", "a")
    _names_argument(lambda: space.subset(np.array([True, False])), "hypotheses", "mask has shape")
    _names_argument(lambda: space.subset([5]), "hypotheses")
    _names_argument(lambda: space.subset(np.array([], dtype=int)), "hypotheses", "empty")
    _names_argument(lambda: space.subset(np.zeros(3, bool)), "hypotheses", "empty")


# --- Model priors ---------------------------------------------------------------------------

def test_prior_boundaries_normalization_and_read_only():
    space = HypothesisSpace(np.eye(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a zero prior is log 0 = -inf, silently
        m = Model(space, prior=[1.0, 0.0, 0.0])
    assert m.log_prior[0] == 0.0 and np.all(np.isneginf(m.log_prior[1:]))
    assert not m.log_prior.flags.writeable
    near = Model(space, prior=[0.5, 0.25, 0.25 + 5e-7])
    assert logsumexp(near.log_prior) == pytest.approx(0.0, abs=1e-15)
    assert near.prior.sum() == pytest.approx(1.0, abs=1e-15)
    near_log = Model(space, log_prior=np.log([0.5, 0.25, 0.25]) + 5e-7)
    assert logsumexp(near_log.log_prior) == pytest.approx(0.0, abs=1e-15)
    for bad in ([0.5, -0.1, 0.6], [1.2, -0.1, -0.1], [0.5, 0.5, np.nan]):
        with pytest.raises(ValidationError, match=r"prior probabilities must lie in \[0, 1\]"):
            Model(space, prior=bad)
    with pytest.raises(ValidationError, match="prior sums to 1.1"):
        Model(space, prior=[0.5, 0.3, 0.3])
    with pytest.raises(ValidationError, match="logsumexp"):
        Model(space, log_prior=np.log([0.5, 0.3, 0.3]))
    _names_argument(lambda: Model(space, prior="abc"), "prior")
    _names_argument(lambda: Model(space, log_prior="abc"), "log_prior")
    _names_argument(lambda: Model(space, log_prior=[0.0, np.nan, 0.0]), "log_prior")
    with pytest.raises(ValidationError, match=r"prior must have shape \(3,\), got \(0,\)"):
        Model(space, prior=[])
    with pytest.raises(ValidationError, match=r"log_prior must have shape \(3,\), got \(0,\)"):
        Model(space, log_prior=[])
    post = m.with_log_prior(np.log([0.2, 0.3, 0.5]))
    assert post.space is space
    np.testing.assert_allclose(post.prior, [0.2, 0.3, 0.5])


# --- containment ----------------------------------------------------------------------------

def test_containment_at_zero_tolerance_and_its_report():
    weak = Model(HypothesisSpace([[0.9, 0.1], [0.2, 0.8]]), prior=[0.5, 0.5])
    strong = Model(HypothesisSpace([[0.2, 0.8], [0.55, 0.45], [0.3, 0.7]]))
    report = containment(strong, weak, atol=0.0)
    assert report.matches == (None, 0) and report.mixture_match == 1
    assert "unmatched: hypothesis0" in str(report) and "represents the weak mixture: yes" in str(report)
    two = containment(Model(HypothesisSpace([[0.5, 0.5]])), weak)
    assert str(two).endswith("(unmatched: hypothesis0, hypothesis1)")
    assert "contains every weak hypothesis: no" in str(two)
    assert str(containment(weak, weak)) == (
        "contains every weak hypothesis: yes; represents the weak mixture: no"
    )
    for bad in (math.inf, math.nan, -1e-12):
        _names_argument(lambda: containment(strong, weak, atol=bad), "atol")


# --- asymptotics ----------------------------------------------------------------------------

def test_kl_projection_input_boundaries():
    space = HypothesisSpace([[[0.9, 0.05, 0.05]], [[0.1, 0.1, 0.8]]])
    assert kl_projection(space, [1.0, 0.0, 0.0]).index == (0,)  # exact 0 and 1 are valid
    for bad in ([-0.1, 0.6, 0.5], [0.5, 0.6, 0.1], [0.6, 0.6, -0.2], [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]):
        with pytest.raises(ValueError):
            kl_projection(space, bad)
    two = HypothesisSpace([[[0.9, 0.1], [0.5, 0.5]], [[0.5, 0.5], [0.9, 0.1]]])
    q = [[0.7, 0.3], [0.7, 0.3]]
    np.testing.assert_allclose(kl_projection(two, q).kl, kl_projection(two, q, [0.5, 0.5]).kl)
    assert kl_projection(two, q, [1.0, 0.0]).index == (1,)  # a context may carry no weight
    for mu in ([1.2, -0.2], [0.6, 0.6], [0.5, 0.25, 0.25], [0.5, 0.5 + 1e-6]):
        with pytest.raises(ValueError, match="context_probs"):
            kl_projection(two, q, mu)


def test_beta_bernoulli_boundaries_and_default_weight():
    assert beta_bernoulli_posterior(1.0, 1.0, np.array([1, 0, 1])) == (3.0, 2.0)
    assert beta_bernoulli_posterior(1.0, 1.0, np.array([1, 0]), np.array([0.0, 0.0])) == (1.0, 1.0)
    for a, b in ((0.0, 1.0), (1.0, 0.0), (math.inf, 1.0), (1.0, math.nan)):
        with pytest.raises(ValueError, match="positive"):
            beta_bernoulli_posterior(a, b, np.array([1]))
    for w in (np.array([math.nan]), np.array([math.inf]), np.array([-0.5])):
        with pytest.raises(ValueError, match="non-negative"):
            beta_bernoulli_posterior(1.0, 1.0, np.array([1]), w)
    for y in (np.array([[1, 0]]), np.array([2, 0])):
        with pytest.raises(ValueError, match="0/1"):
            beta_bernoulli_posterior(1.0, 1.0, y)
