"""The weak-to-strong pipeline and labeler classes at their edges (issue 18: mutation testing).

``fit`` against :func:`bayes_w2s.core.updates.condition` for a schedule that needs the
dataset size *and* varies along it (a user-defined :class:`Schedule`), checkpoints at n = 1,
float checkpoints and an unnormalized prior; ``label_mass`` on a batch of posteriors;
``score_fit``'s table index; and the validation of labeler classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from bayes_w2s.core.schedules import Budget, Schedule
from bayes_w2s.core.trajectory import Rule
from bayes_w2s.core.updates import condition
from bayes_w2s.toys.labelers import LabelerClass, halfspaces, likelihood_values, noisy_space
from bayes_w2s.toys.w2s import Stream, fit, label_mass, match_weights, score_fit


@dataclass(frozen=True)
class Ramp(Schedule):
    """``s_n = B * 2 n / (N (N + 1))``: a budget spent increasingly late (sums to B for every N)."""

    budget: float = 2.0
    name: ClassVar[str] = "ramp"
    needs_n_total: ClassVar[bool] = True

    def strength(self, n, *, n_total=None, confidence=None):
        n = np.asarray(n, dtype=float)
        return self.budget * 2 * n / (n_total * (n_total + 1))

    def limit(self) -> float:
        return float(self.budget)


def _setup(seed=0, k=3, n=10):
    rng = np.random.default_rng(seed)
    cls = LabelerClass(rng.integers(0, k, (5, 4)), n_labels=k)
    stream = Stream(rng.integers(0, 4, n), rng.integers(0, k, n))
    lp = np.log(rng.dirichlet(np.ones(5)))
    return cls, stream, lp


@pytest.mark.parametrize("kind", ["ve", "tempered"])
def test_fit_with_a_size_dependent_varying_schedule_equals_condition(kind):
    cls, stream, lp = _setup()
    eps, cps = 0.2, np.array([1, 4, 10])
    rules = [Rule(kind, Ramp(2.0)), Rule(kind, Budget(2.0))]
    out = fit(lp, cls, eps, stream, rules, cps)
    space = noisy_space(cls, eps)
    for r, rule in enumerate(rules):
        for t, m in enumerate(cps):
            s = rule.schedule.strengths(int(m))  # the posterior at m is that of a dataset of m labels
            want = condition(lp, space.log_probs, stream.contexts[:m], stream.labels[:m], rule=kind, strengths=s)
            np.testing.assert_allclose(out.log_posterior[r, t], want.log_posterior, atol=1e-10)
            assert out.spent[r, t] == pytest.approx(2.0)


def test_fit_takes_float_checkpoints_and_normalizes_the_prior():
    cls, stream, lp = _setup(1, k=2)
    rules = [Rule("bayes"), Rule("ve", Budget(1.0))]
    ints = fit(lp, cls, 0.1, stream, rules, [3, 10])
    floats = fit(lp + 3.0, cls, 0.1, stream, rules, np.array([3.0, 10.0]))  # unnormalized prior, float n
    np.testing.assert_array_equal(floats.checkpoints, [3, 10])
    np.testing.assert_allclose(floats.log_posterior, ints.log_posterior, atol=1e-12)
    np.testing.assert_allclose(floats.log_prior, lp - logsumexp(lp), atol=1e-12)
    assert logsumexp(floats.log_prior) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_label_mass_of_a_batch_of_posteriors_matches_a_loop(k):
    rng = np.random.default_rng(k)
    labels = rng.integers(0, k, (4, 6))
    lpost = np.log(rng.dirichlet(np.ones(4), size=(2, 3)))  # (2, 3, H): a batch
    mass = label_mass(labels, lpost, k)
    assert mass.shape == (2, 3, 6, k)
    for b in np.ndindex(2, 3):
        p = np.exp(lpost[b])
        want = np.array([[p[labels[:, z] == y].sum() for y in range(k)] for z in range(6)])
        np.testing.assert_allclose(mass[b], want, atol=1e-12)


def test_match_weights_default_to_two_labels():
    hit, miss = likelihood_values(0.1)
    assert match_weights(Rule("bayes"), None, 0.1) == pytest.approx(np.log(hit / miss))
    np.testing.assert_allclose(match_weights(Rule("tempered", Budget(1.0)), [0.5, 2.0], 0.1), np.array([0.5, 2.0]) * np.log(hit / miss))


def test_score_fit_table_has_a_fresh_index():
    cls, stream, lp = _setup(2, k=2)
    rules = [Rule("bayes"), Rule("ve", Budget(1.0))]
    w2s = fit(lp, cls, 0.1, stream, rules, [3, 10])
    ceiling = fit(lp, cls, 0.1, stream, [Rule("bayes")], [3, 10])
    df = score_fit(w2s, ceiling, cls, np.array([0, 1, 1, 0]), np.array([0, 0, 1, 1]), np.arange(4))
    assert df.index.equals(pd.RangeIndex(len(df)))  # one row per (rule, n, metric), addressable by position
    assert len(df) == 2 * 2 * 8


def test_counts_must_be_true_integers():
    x = np.random.default_rng(0).random((5, 2))
    for bad in (2.5, True):
        with pytest.raises(ValueError, match="^n_angles must be an integer >= 1"):
            halfspaces(x, bad, 1)
    with pytest.raises(ValueError, match="^n_labels must be an integer >= 2"):
        likelihood_values(0.1, 1)
    with pytest.raises(ValueError, match="^n_labels must be an integer >= 2"):
        LabelerClass([[0, 1]], n_labels=1)


def test_labeler_class_copies_casts_and_checks_its_table():
    table = np.array([[0, 1, 1], [1, 0, 1]], dtype=np.int8)
    cls = LabelerClass(table, n_labels=3.0)
    assert cls.labels.dtype == np.int8 and type(cls.n_labels) is int and cls.n_labels == 3
    table[0, 0] = 1  # the caller's array stays its own: writable, and not shared
    assert cls.labels[0, 0] == 0 and table.flags.writeable
    assert LabelerClass(np.array([[0, 1]], dtype=np.int64)).labels.dtype == np.int8
    assert LabelerClass([[1]]).labels.shape == (1, 1)  # one labeler on one context is a class
    with pytest.raises(ValueError, match="non-empty"):
        LabelerClass(np.zeros((2, 2, 2), dtype=int))
