"""Pairwise reward models on features: Bradley-Terry logits, training, the W2S run and its summary."""

import numpy as np
import pytest
import torch
from bayes_w2s.neural.features import FeatureHead
from bayes_w2s.neural.reward import (
    RewardConfig,
    pair_logits,
    plot_reward,
    predict,
    preference_pairs,
    run_reward,
    summarize_reward,
    train_head,
)


def _synthetic(n=600, d=8, seed=0, weak_noise=2.0):
    """Features whose first coordinate carries the label; the weak copy is noisier."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    strong = rng.normal(size=(n, d)).astype(np.float32)
    strong[:, 0] += 2.0 * (2 * y - 1)
    weak = strong + weak_noise * rng.normal(size=(n, d)).astype(np.float32)
    return weak, strong, y


def test_preference_pairs_compare_a_fresh_with_a_rotten_snippet():
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    pairs, y = preference_pairs(labels, np.arange(8), 500, np.random.default_rng(0))
    first_fresh = labels[pairs[:, 0]] == 1
    np.testing.assert_array_equal(y, first_fresh.astype(int))
    assert np.all(labels[pairs[:, 0]] != labels[pairs[:, 1]])
    assert 0.4 < y.mean() < 0.6  # random order
    with pytest.raises(ValueError, match="both classes"):
        preference_pairs(labels, np.array([0, 2, 3]), 5, np.random.default_rng(0))


def test_pair_logits_are_bradley_terry_and_antisymmetric():
    head = FeatureHead(3, 1, seed=0)
    gen = torch.Generator().manual_seed(0)  # seeded: the global generator differs per process
    torch.nn.init.normal_(head.net.weight, generator=gen)
    xa, xb = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    p = torch.softmax(pair_logits(head, xa, xb), -1)[:, 1]
    want = torch.sigmoid(head(xa)[:, 0] - head(xb)[:, 0])
    torch.testing.assert_close(p, want)
    swapped = torch.softmax(pair_logits(head, xb, xa), -1)[:, 1]
    torch.testing.assert_close(swapped, 1 - p)


def test_reward_head_learns_the_order_and_bounded_ve_moves_less():
    _, feats, y = _synthetic()
    pairs, py = preference_pairs(y, np.arange(400), 400, np.random.default_rng(1))
    test_pairs, ty = preference_pairs(y, np.arange(400, 600), 300, np.random.default_rng(2))
    cfg = RewardConfig(steps=150, batch_size=32, lr=1e-2)
    target = np.stack([1 - py, py], 1).astype(np.float32)
    head = train_head(feats, pairs, target, "xent", cfg, seed=0)
    p = predict(head, feats, test_pairs)
    assert np.mean((p > 0.5) == (ty == 1)) > 0.9
    sgd = RewardConfig(steps=150, batch_size=32, lr=0.5, optimizer="sgd")
    full = predict(train_head(feats, pairs, target, "ve+budget:budget=4000", sgd, seed=0), feats, test_pairs)
    tiny = predict(train_head(feats, pairs, target, "ve+budget:budget=4", sgd, seed=0), feats, test_pairs)
    assert np.mean((full > 0.5) == (ty == 1)) > 0.9
    # with SGD the bounded VE gradient times a small budget moves the head only a little
    assert np.abs(tiny - 0.5).mean() < 0.5 * np.abs(full - 0.5).mean()


def test_run_and_summary_on_synthetic_features():
    weak, strong, y = _synthetic(n=900)
    cfg = RewardConfig(seeds=(0, 1), n_weak_train=40, n_weak_label=300, n_test=300, steps=80, batch_size=32, lr=1e-2,
                       methods=("xent", "ve+budget:budget=20"))
    rows = run_reward(cfg, weak, strong, y)
    assert set(rows.task) == {"preference", "classification"} and len(rows) == 2 * 2 * 2
    assert rows[["acc_weak", "acc_w2s", "acc_ceiling"]].stack().between(0, 1).all()
    first = rows[rows.seed == 0].reset_index(drop=True)
    again = run_reward(RewardConfig(**{**cfg.__dict__, "seeds": (0,)}), weak, strong, y)
    assert first.equals(again)  # seeded
    assert (rows.acc_ceiling > rows.acc_weak).all()  # the weak model is weak: few labels, noisy features
    summary = summarize_reward(rows, n_boot=200)
    diff = summary[summary.task == "difference"].set_index("method")
    per = rows.assign(pgr=(rows.acc_w2s - rows.acc_weak) / (rows.acc_ceiling - rows.acc_weak))
    want = per.pivot_table(index=["method", "seed"], columns="task", values="pgr")
    want = (want.preference - want.classification).groupby(level="method").mean()
    np.testing.assert_allclose(diff.loc[want.index, "pgr"], want)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close(plot_reward(summary))


def test_config_validation():
    with pytest.raises(ValueError, match="n_test"):
        RewardConfig(n_test=1)
    with pytest.raises(ValueError):
        RewardConfig(methods=("nonsense",))
    with pytest.raises(ValueError, match="optimizer"):
        RewardConfig(optimizer="lbfgs")


def test_ladder_options_equal_gt_student_optimizer_and_pair_metric():
    weak, strong, y = _synthetic(n=900)
    base = {"seeds": (0, 1), "n_weak_train": 200, "n_weak_label": 300, "n_test": 300, "steps": 60,
            "batch_size": 32, "lr": 1e-2, "methods": ("xent", "ve+budget:budget=20")}
    rows = run_reward(RewardConfig(**base, equal_gt=True, pair_metric=True, student_optimizer="sgd",
                                   student_lr=0.5), weak, strong, y)
    assert set(rows.task) == {"preference", "classification", "classification@pairs"} and len(rows) == 2 * 3 * 2
    # equal ground truth changes only the ceiling: the weak model and its labels are the same
    plain = run_reward(RewardConfig(**base, pair_metric=True, student_optimizer="sgd", student_lr=0.5), weak, strong, y)
    np.testing.assert_array_equal(rows.acc_weak, plain.acc_weak)
    np.testing.assert_array_equal(rows.acc_w2s, plain.acc_w2s)
    assert not np.array_equal(rows.acc_ceiling, plain.acc_ceiling)
    # the student optimizer moves only the students
    adam = run_reward(RewardConfig(**base, equal_gt=True, pair_metric=True), weak, strong, y)
    np.testing.assert_array_equal(rows.acc_ceiling, adam.acc_ceiling)
    assert not np.array_equal(rows.acc_w2s, adam.acc_w2s)
    # scored on pairs, a classifier's accuracy is its AUC on those pairs; the weak model's
    # pair accuracy differs from its single-snippet accuracy
    pairs = rows[rows.task == "classification@pairs"].set_index(["seed", "method"])
    single = rows[rows.task == "classification"].set_index(["seed", "method"])
    assert pairs.acc_ceiling.between(0.5, 1).all() and not np.allclose(pairs.acc_weak, single.acc_weak)
    summary = summarize_reward(rows, n_boot=100)
    assert {"difference", "difference@pairs"} <= set(summary.task)


def test_pair_scores_rank_by_class_margin():
    head = FeatureHead(1, 2, seed=0)
    with torch.no_grad():
        head.net.weight.copy_(torch.tensor([[-1.0], [1.0]]))
    feats = np.array([[0.0], [1.0], [2.0]], np.float32)
    from bayes_w2s.neural.reward import pair_scores

    p = pair_scores(head, feats, np.array([[2, 0], [0, 1]]))
    assert p[0] > 0.5 > p[1]


def test_run_level_budget_is_spent_once_over_the_run():
    from bayes_w2s.neural.methods import MethodSpec, method_strengths

    q = np.full((300, 2), 0.5, np.float32)
    cfg = RewardConfig(steps=100, batch_size=64)
    s = method_strengths(MethodSpec.parse("ve+budget:budget=40"), q, cfg.steps, cfg.batch_size)
    # 100 steps x 64 visits drawn from 300 examples: every visit index exists, total <= 40
    assert s.size >= cfg.steps * cfg.batch_size and s[: cfg.steps * cfg.batch_size].sum() <= 40 + 1e-9
