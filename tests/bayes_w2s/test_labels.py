import numpy as np
import pytest

from bayes_w2s import HypothesisSpace, Model, label_sampler, sample_labels


def weak_coins(eps=0.0):
    return Model(HypothesisSpace([[1 - eps, eps], [eps, 1 - eps]]), prior=[0.5, 0.5])


def test_per_token_labels_follow_the_predictive():
    draw = label_sampler(weak_coins(), np.random.default_rng(1), 4)
    z, y = draw(20_000)
    assert z.shape == y.shape == (4, 20_000) and np.all(z == 0)
    assert abs(y.mean() - 0.5) < 0.01  # the 50/50 mixture of all-heads / all-tails looks fair


def test_per_sequence_labels_come_from_one_hypothesis_each():
    draw = label_sampler(weak_coins(), np.random.default_rng(2), 40, mode="per-sequence")
    _, y = draw(50)
    assert np.all((y == y[:, :1]))  # each sequence is all heads or all tails
    assert 0 < y[:, 0].mean() < 1  # both hypotheses are drawn across sequences


def test_contexts_and_asymmetric_label_tables():
    probs = np.array([[[0.9, 0.1], [0.2, 0.8]]])
    model = Model(HypothesisSpace(probs))
    y = sample_labels(model, np.repeat([0, 1], 20_000), np.random.default_rng(3))
    assert abs((y[:20_000] == 0).mean() - 0.9) < 0.01
    assert abs((y[20_000:] == 1).mean() - 0.8) < 0.01
    z, _ = label_sampler(model, np.random.default_rng(4), 2, context_probs=[0.25, 0.75])(40_000)
    assert abs(z.mean() - 0.75) < 0.01


def test_same_seed_same_labels_and_streams_continue():
    a = label_sampler(weak_coins(0.1), np.random.default_rng(7), 3)
    b = label_sampler(weak_coins(0.1), np.random.default_rng(7), 3)
    first_a, first_b = a(10), b(10)
    np.testing.assert_array_equal(first_a[1], first_b[1])
    np.testing.assert_array_equal(a(5)[1], b(5)[1])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: label_sampler(weak_coins(), np.random.default_rng(0), 2, mode="per-word"), "unknown sampling mode"),
        (lambda: label_sampler(weak_coins(), np.random.default_rng(0), 0), "n_replicates"),
        (lambda: sample_labels(weak_coins(), [0, 1], np.random.default_rng(0)), "indices in"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sample_labels_takes_a_count_for_a_one_context_space():
    import numpy as np
    import pytest
    from bayes_w2s.core.hypotheses import HypothesisSpace, Model
    from bayes_w2s.core.labels import sample_labels
    from bayes_w2s.core.validation import ValidationError

    weak = Model(HypothesisSpace([[0.9, 0.1], [0.2, 0.8]]))
    a = sample_labels(weak, 7, np.random.default_rng(3))
    b = sample_labels(weak, np.zeros(7, dtype=np.int64), np.random.default_rng(3))
    assert a.dtype == np.int64 and a.tolist() == b.tolist()
    assert sample_labels(weak, np.int64(4), np.random.default_rng(0)).shape == (4,)
    assert sample_labels(weak, 0, np.random.default_rng(0)).shape == (0,)
    with pytest.raises(ValidationError) as err:
        sample_labels(weak, -1, np.random.default_rng(0))
    assert err.value.argument == "contexts" and "contexts" in str(err.value)
    with pytest.raises(ValidationError):
        sample_labels(weak, True, np.random.default_rng(0))  # a bool is not a count
    two = Model(HypothesisSpace(np.full((2, 2, 2), 0.5)))
    with pytest.raises(ValidationError, match="one-context") as err:
        sample_labels(two, 3, np.random.default_rng(0))
    assert err.value.argument == "contexts"
