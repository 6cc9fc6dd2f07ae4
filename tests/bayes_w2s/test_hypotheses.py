import numpy as np
import pytest

from bayes_w2s import HypothesisSpace, Model, containment


def coins(biases, names=None):
    b = np.asarray(biases, float)
    return HypothesisSpace(np.stack([b, 1 - b], axis=1), names)


def test_essay_coinflip_containment_reads_yes_no():
    weak = Model(coins([1.0, 0.0], ["all-heads", "all-tails"]), prior=[0.5, 0.5])
    strong = Model(coins([0.0, 1.0, 0.9]))
    report = containment(strong, weak)
    assert str(report) == "contains every weak hypothesis: yes; represents the weak mixture: no"
    assert report.matches == (1, 0)
    np.testing.assert_allclose(weak.predictive(), [[0.5, 0.5]])


def test_containment_finds_the_mixture_and_unmatched_hypotheses():
    weak = Model(coins([0.8, 0.2], ["h", "t"]))
    strong = Model(coins([0.5, 0.8]))
    report = containment(strong, weak)
    assert report.unmatched == ("t",) and not report.contains_all
    assert report.mixture_match == 0 and report.represents_mixture
    assert "unmatched: t" in str(report)


def test_model_predictive_is_the_prior_mixture_per_context():
    probs = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.6, 0.4]]])
    model = Model(HypothesisSpace(probs), prior=[0.25, 0.75])
    np.testing.assert_allclose(model.predictive(), 0.25 * probs[0] + 0.75 * probs[1])
    assert model.space.n_contexts == 2 and model.space.n_labels == 2
    np.testing.assert_allclose(Model(HypothesisSpace(probs), log_prior=np.log([0.25, 0.75])).prior, [0.25, 0.75])
    assert model.space.index("hypothesis1") == 1
    assert model.space.subset([1]).n_hypotheses == 1


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: HypothesisSpace([[0.5, 0.6]]), "sums to 1.1"),
        (lambda: HypothesisSpace([[1.2, -0.2]]), r"lie in \[0, 1\]"),
        (lambda: HypothesisSpace([[np.nan, 1.0]]), r"lie in \[0, 1\]"),
        (lambda: HypothesisSpace([[1.0]]), "at least 2 labels"),
        (lambda: HypothesisSpace(np.ones((2, 2, 2, 2)) / 2), "shape"),
        (lambda: HypothesisSpace([[0.5, 0.5], [0.5, 0.5]], ["a", "a"]), "unique"),
        (lambda: HypothesisSpace([[0.5, 0.5]], ["a", "b"]), "got 2, need 1"),
        (lambda: Model(coins([0.5, 0.6]), prior=[0.5, 0.6]), "prior sums to 1.1"),
        (lambda: Model(coins([0.5, 0.6]), prior=[0.5]), "shape"),
        (lambda: Model(coins([0.5, 0.6]), prior=[1.5, -0.5]), r"\[0, 1\]"),
        (lambda: Model(coins([0.5, 0.6]), log_prior=[0.0, 0.0]), "does not normalize"),
        (lambda: Model(coins([0.5, 0.6]), prior=[0.5, 0.5], log_prior=np.log([0.5, 0.5])), "not both"),
        (lambda: containment(Model(coins([0.5])), Model(HypothesisSpace(np.full((1, 2, 2), 0.5)))), "share contexts"),
    ],
)
def test_bad_input_raises_a_clear_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_space_is_immutable():
    space = coins([0.5, 0.6])
    with pytest.raises(ValueError):
        space.probs[0, 0, 0] = 1.0
