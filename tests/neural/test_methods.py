"""Method specs, schedule-driven strengths, weak confidence and temperature scaling."""

import numpy as np
import pytest
from bayes_w2s.neural.methods import (
    MethodSpec,
    fit_temperature,
    method_strengths,
    softmax,
    weak_confidence,
)

from bayes_w2s.schedules import Geometric


def test_method_spec_parsing():
    m = MethodSpec.parse("ve+geometric:first=2,ratio=0.5@steps")
    assert m.loss == "ve" and m.schedule == Geometric(2, 0.5) and m.over == "steps"
    assert MethodSpec.parse("tempered").schedule is not None  # default schedule
    assert MethodSpec.parse("xent").schedule is None
    with pytest.raises(ValueError, match="@examples or @steps"):
        MethodSpec.parse("ve+budget:budget=1@epochs")
    with pytest.raises(ValueError, match="unknown schedule"):
        MethodSpec.parse("ve+harmonic:c=1")


def test_method_strengths_budget_confidence_and_steps():
    q = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.6, 0.4]])
    s = method_strengths(MethodSpec.parse("ve+budget:budget=2"), q, n_steps=7)
    np.testing.assert_allclose(s, 0.5)  # B / N
    conf = weak_confidence(q)
    np.testing.assert_allclose(conf, [0.8, 0.0, 0.6, 0.2])
    s = method_strengths(MethodSpec.parse("ve+confidence:budget=3"), q, n_steps=7)
    np.testing.assert_allclose(s, 3 * conf / conf.sum())
    s = method_strengths(MethodSpec.parse("ve+geometric:first=1,ratio=0.5@steps"), q, n_steps=3)
    np.testing.assert_allclose(s, [1, 0.5, 0.25])
    assert method_strengths(MethodSpec.parse("xent"), q, n_steps=3) is None
    with pytest.raises(ValueError, match="indexes examples"):
        method_strengths(MethodSpec.parse("ve+confidence:budget=3@steps"), q, n_steps=3)


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 2))
    labels = np.array([rng.choice(2, p=p) for p in softmax(logits / 2.5)])
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.15)
