"""The batched reward run (every head through train_heads) equals the one-head-at-a-time
reference (train_head per head), probability by probability, and so row by row."""

import numpy as np
import pandas as pd
import pytest
import torch
from bayes_w2s.neural.features import FeatureHead
from bayes_w2s.neural.heads import HeadSpec, train_heads
from bayes_w2s.neural.reward import (
    PAIR_SCORED,
    RewardConfig,
    predict,
    preference_pairs,
    run_reward,
    run_seed,
    seed_probs,
    seed_rows,
    standardization,
    train_head,
)
from bayes_w2s.neural.reward_batched import batched_probs

TOL = 1e-5


def _synthetic(n=700, d=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    strong = (rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(0, 2, d)).astype(np.float32)
    strong[:, 0] += 1.5 * (2 * y - 1)
    weak = (strong + 2.5 * rng.normal(size=(n, d))).astype(np.float32)
    return weak, strong, y


CONFIGS = [
    {"methods": ("xent", "logconf", "ve+budget:budget=20", "tempered", "ve@steps"), "optimizer": "adam",
     "lr": 1e-2},
    {"methods": ("xent", "logconf", "ve+budget:budget=20"), "optimizer": "adam", "lr": 1e-2,
     "student_optimizer": "sgd", "student_lr": 0.3, "equal_gt": True, "pair_metric": True},
    {"methods": ("xent", "ve+budget:budget=5@per_pass"), "optimizer": "sgd", "lr": 0.2,
     "pair_metric": True},
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_batched_run_equals_the_one_head_reference(kw):
    weak, strong, y = _synthetic()
    cfg = RewardConfig(seeds=(0, 3), n_weak_train=60, n_weak_label=200, n_test=150, steps=40,
                       batch_size=16, **kw)
    fast = batched_probs(cfg, weak, strong, y)
    ref_rows = []
    for seed in cfg.seeds:
        splits, ref = seed_probs(cfg, weak, strong, y, seed)
        ref_rows += seed_rows(cfg, seed, splits, ref)
        _, mine = fast[seed]
        assert mine.keys() == ref.keys()
        for key in ref:  # weak, ceiling and every student, each task and scoring
            np.testing.assert_allclose(mine[key], ref[key], atol=TOL, rtol=0, err_msg=str(key))
            assert np.abs(ref[key] - 0.5).max() > 0.01, key  # trained, not uniform
        # the students learn from the weak model's labels: their predictions differ from the ceiling's
        assert np.abs(ref[("preference", cfg.methods[0])] - ref[("preference", "ceiling")]).max() > 0.01
    rows, ref_rows = run_reward(cfg, weak, strong, y), pd.DataFrame(ref_rows)
    assert rows[["seed", "task", "method"]].equals(ref_rows[["seed", "task", "method"]])
    cols = ["acc_weak", "acc_w2s", "acc_ceiling"]
    # probabilities within 1e-5 may flip a prediction lying within 1e-5 of 0.5: at most one
    assert (np.abs(rows[cols].to_numpy() - ref_rows[cols].to_numpy()) <= 1 / cfg.n_test + 1e-12).all()
    assert set(rows.task) == {"preference", "classification"} | ({PAIR_SCORED} if cfg.pair_metric else set())


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_a_scalar_bradley_terry_head_is_a_bias_free_two_class_head_at_half_the_lr(opt):
    # the identity the batched path rests on, head by head: r(a) - r(b) of the scalar head
    # equals z_1 - z_0 of a two-class head without bias on x~_a - x~_b trained at lr / 2
    _, strong, y = _synthetic(seed=4)
    pairs, py = preference_pairs(y, np.arange(300), 300, np.random.default_rng(1))
    q = np.stack([1 - py, py], 1).astype(np.float32)
    cfg = RewardConfig(steps=60, batch_size=32, lr=0.3 if opt == "sgd" else 1e-2, optimizer=opt)
    head = train_head(strong, pairs, q, "logconf", cfg, seed=2)
    mean, std = standardization(strong, pairs)
    x = (torch.as_tensor(strong) - torch.as_tensor(mean)) / torch.as_tensor(std)
    diff = x[pairs[:, 0]] - x[pairs[:, 1]]  # (n, D): the training rows
    test = np.stack([np.arange(300, 400), np.arange(400, 500)], 1)
    feats = torch.cat([diff, x[test[:, 0]] - x[test[:, 1]]])
    res = train_heads(feats, np.arange(300)[None], q[None],
                      [HeadSpec("logconf", cfg.lr / 2, cfg.steps, 2, optimizer=opt, lr_schedule="constant",
                                batch_size=32, fit_bias=False)], standardize=False)
    w = res.weight[0].numpy()  # (D, 2)
    np.testing.assert_array_equal(res.bias[0].numpy(), 0.0)
    np.testing.assert_allclose(w[:, 0], -w[:, 1], atol=1e-7)  # antisymmetric, as argued
    np.testing.assert_allclose(2 * w[:, 1], head.net.weight.detach().numpy()[0], atol=1e-6)
    z = res.predict(np.arange(300, 400))[0]
    ref = predict(head, strong, test)
    np.testing.assert_allclose(torch.softmax(torch.as_tensor(z), -1)[:, 1].numpy(), ref, atol=TOL)
    # with a trained bias the two-class head is another model (b_1 - b_0 moves d)
    biased = train_heads(feats, np.arange(300)[None], q[None],
                         [HeadSpec("logconf", cfg.lr / 2, cfg.steps, 2, optimizer=opt,
                                   lr_schedule="constant", batch_size=32)], standardize=False)
    assert np.abs(np.diff(biased.bias[0].numpy())).max() > 1e-4


def test_reference_draws_seeded_epochs_without_replacement():
    # every pair is visited once per epoch (minibatch_order), so a run-level budget is spent
    # exactly: the VE head on 64 pairs with 4 steps of 16 = one epoch sees each pair once
    _, strong, y = _synthetic(seed=2)
    pairs, py = preference_pairs(y, np.arange(200), 64, np.random.default_rng(0))
    q = np.stack([1 - py, py], 1).astype(np.float32)
    seen = []
    orig = FeatureHead.forward

    def spy(self, x):
        seen.append(x.shape[0])
        return orig(self, x)

    FeatureHead.forward = spy
    try:
        train_head(strong, pairs, q, "xent", RewardConfig(steps=4, batch_size=16), seed=0)
    finally:
        FeatureHead.forward = orig
    assert seen == [16] * 8  # a and b of each of the 4 batches
    from bayes_w2s.neural.train import minibatch_order

    order = minibatch_order(64, 4, 16, 0)[0].numpy().ravel()
    assert sorted(order.tolist()) == list(range(64))


def test_the_batched_run_is_deterministic_and_batched_false_is_the_reference():
    weak, strong, y = _synthetic(seed=1)
    cfg = RewardConfig(seeds=(1, 2), n_weak_train=50, n_weak_label=150, n_test=100, steps=20, batch_size=16,
                       methods=("xent", "ve+budget:budget=10"))
    a, b = run_reward(cfg, weak, strong, y), run_reward(cfg, weak, strong, y)
    pd.testing.assert_frame_equal(a, b)
    ref = run_reward(cfg, weak, strong, y, batched=False)
    want = pd.concat([run_seed(cfg, weak, strong, y, s) for s in cfg.seeds], ignore_index=True)
    pd.testing.assert_frame_equal(ref, want)
    cols = ["acc_weak", "acc_w2s", "acc_ceiling"]
    assert (np.abs(a[cols].to_numpy() - ref[cols].to_numpy()) <= 1 / cfg.n_test + 1e-12).all()
