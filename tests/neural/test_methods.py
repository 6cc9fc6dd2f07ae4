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

from bayes_w2s.core.schedules import Geometric


def test_method_spec_parsing():
    m = MethodSpec.parse("ve+geometric:first=2,ratio=0.5@steps")
    assert m.loss == "ve" and m.schedule == Geometric(2, 0.5) and m.over == "steps"
    assert MethodSpec.parse("tempered").schedule is not None  # default schedule
    assert MethodSpec.parse("xent").schedule is None
    assert MethodSpec.parse("ve+budget:budget=1").over == "visits"  # run-level by default
    assert MethodSpec.parse("ve+budget:budget=1@per_pass").over == "per_pass"
    assert MethodSpec.parse("ve+budget:budget=1@per_pass").label().endswith("@per_pass")
    with pytest.raises(ValueError, match="@visits .*@steps or @per_pass"):
        MethodSpec.parse("ve+budget:budget=1@epochs")
    with pytest.raises(ValueError, match="unknown schedule"):
        MethodSpec.parse("ve+harmonic:c=1")


def test_method_strengths_budget_confidence_and_steps():
    q = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.6, 0.4]])
    # per pass: (N,) = B / N, the same each epoch
    s = method_strengths(MethodSpec.parse("ve+budget:budget=2@per_pass"), q, n_steps=7)
    np.testing.assert_allclose(s, 0.5)
    # visits: 7 steps x batch 2 = 14 visits of 4 examples -> 4 epochs touched, B / (4 N)
    s = method_strengths(MethodSpec.parse("ve+budget:budget=2"), q, n_steps=7, batch_size=2)
    assert s.shape == (16,)
    np.testing.assert_allclose(s, 2 / 16)
    conf = weak_confidence(q)
    np.testing.assert_allclose(conf, [0.8, 0.0, 0.6, 0.2])
    s = method_strengths(MethodSpec.parse("ve+confidence:budget=3@per_pass"), q, n_steps=7)
    np.testing.assert_allclose(s, 3 * conf / conf.sum())
    s = method_strengths(MethodSpec.parse("ve+confidence:budget=3"), q, n_steps=4, batch_size=2)
    np.testing.assert_allclose(s, np.tile(3 * conf / conf.sum(), 2) / 2)  # 2 epochs
    s = method_strengths(MethodSpec.parse("ve+geometric:first=1,ratio=0.5@steps"), q, n_steps=3)
    np.testing.assert_allclose(s, [1, 0.5, 0.25])
    assert method_strengths(MethodSpec.parse("xent"), q, n_steps=3) is None
    with pytest.raises(ValueError, match="indexes examples"):
        method_strengths(MethodSpec.parse("ve+confidence:budget=3@steps"), q, n_steps=3)


BOUNDED = [
    "ve+budget:budget=5",
    "ve+confidence:budget=5",
    "ve+geometric:first=0.5,ratio=0.9",
    "ve+pseries:c=1,p=2",
    "tempered+budget:budget=5",
    "tempered+confidence:budget=5",
    "ve+geometric:first=0.5,ratio=0.9@steps",
    "ve+budget:budget=5@per_pass",
]


@pytest.mark.parametrize("spec", BOUNDED)
@pytest.mark.parametrize(
    "epochs, steps", [(1.0, None), (3.0, None), (10.0, None), (2.5, None), (1.0, 37)]
)
def test_a_run_never_spends_more_than_its_limit(spec, epochs, steps):
    """Train for real (a linear head, tiny): the recorded influence is <= the run's limit, and
    for run-level (visit) schedules that limit is the schedule's own, whatever the epochs."""
    import torch
    from bayes_w2s.neural.features import FeatureHead
    from bayes_w2s.neural.losses import get_loss
    from bayes_w2s.neural.methods import run_limit
    from bayes_w2s.neural.train import TrainConfig, train

    rng = np.random.default_rng(0)
    n = 50
    x = torch.tensor(rng.normal(size=(n, 4)), dtype=torch.float32)
    q = softmax(rng.normal(size=(n, 2)))
    m = MethodSpec.parse(spec)
    cfg = TrainConfig(batch_size=8, epochs=epochs, steps=steps, lr=0.1, optimizer="sgd")
    n_steps = cfg.n_steps(n)
    s = method_strengths(m, q, n_steps, cfg.batch_size)
    log = train(FeatureHead(4, 2), {"features": x}, q, get_loss(m.loss), cfg, seed=1,
                strengths=s, strengths_over=m.over)
    limit = run_limit(m, n, n_steps, cfg.batch_size)
    assert log.influence <= limit + 1e-9
    assert sum(log.extra["influence_per_epoch"]) == pytest.approx(log.influence)
    if m.over == "visits":
        assert limit == m.schedule.limit()  # the schedule's total bounds the whole run
    if m.over == "per_pass" and epochs >= 2:
        assert log.influence > m.schedule.limit()  # the per-pass reading spends more: named so


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 2))
    labels = np.array([rng.choice(2, p=p) for p in softmax(logits / 2.5)])
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.15)


@pytest.mark.parametrize("mode", ["features", "probe", "finetune", "lora"])
def test_pipeline_spends_at_most_the_budget_in_every_mode(mode, tiny_cfg, cache):
    """End to end: every bounded method's recorded influence <= its run-level limit."""
    from dataclasses import replace

    from bayes_w2s.neural.pipeline import run

    cfg = replace(tiny_cfg, mode=mode, n_weak_train=40, n_weak_label=40, n_test=40, epochs=2.5)
    methods = ("ve+budget:budget=3", "tempered+confidence:budget=3",
               "ve+geometric:first=0.5,ratio=0.9@steps", "ve+budget:budget=3@per_pass")
    df = run(cfg, (0,), cache=cache, methods=methods).set_index("method")
    assert (df.influence <= df.influence_limit + 1e-9).all()
    assert df.loc["ve+budget(3)", "influence_limit"] == 3  # whatever the 2.5 epochs
    assert df.loc["ve+budget(3)@per_pass", "influence"] > 3  # the per-pass reading: 2.5 x 3
    per_epoch = [float(v) for v in df.loc["ve+budget(3)", "influence_per_epoch"].split()]
    steps = df.loc["ve+budget(3)", "steps"]  # 4 full batches of 32 = 128 visits: 4 epochs
    assert len(per_epoch) == -(-steps * 32 // 40)
    assert sum(per_epoch) == pytest.approx(df.loc["ve+budget(3)", "influence"])
