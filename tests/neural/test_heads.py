"""Batched heads equal the one-at-a-time loop: train_heads vs train.train, head by head."""

import math

import numpy as np
import pytest
import torch
from bayes_w2s.neural.heads import HeadSpec, head_schedule, train_heads
from bayes_w2s.neural.losses import NEEDS_STRENGTHS
from bayes_w2s.neural.train import minibatch_order, n_epochs_touched, strengths_length

from ._heads_ref import reference

N, D, N_TRAIN, B = 260, 7, 90, 16
TOL = 1e-6


def _world(c, seed=0):
    rng = np.random.default_rng(seed)
    # anisotropic, off-centre features: the standardization matters
    feats = (rng.normal(size=(N, D)) * rng.uniform(0.3, 4, D) + rng.normal(0, 2, D))
    return rng, feats.astype(np.float32)


def _targets(rng, n, c):
    q = torch.softmax(torch.tensor(rng.normal(0, 2, (n, c))), -1).numpy()
    q[: n // 4] = np.eye(c)[rng.integers(0, c, n // 4)]  # some hard labels (exact zeros)
    return q.astype(np.float32)


def _spec(rng, loss, opt, *, wd=0.0, schedule="cosine", over="visits", steps=23, seed=0, cap=None):
    s = None
    if loss in NEEDS_STRENGTHS or over != "visits":
        s = rng.uniform(0.02, 2.5, strengths_length(over, N_TRAIN, steps, B))
    return HeadSpec(loss, lr=0.4 if opt == "sgd" else 0.03, n_steps=steps, seed=seed,
                    optimizer=opt, lr_schedule=schedule, weight_decay=wd, max_distance=cap,
                    strengths=s, over=over, batch_size=B)


def _check(res, m, feats, tidx, tg, spec, **kw):
    model, log, keeper = reference(feats, tidx, tg, spec, **kw)
    w_ref = model.net.weight.detach().numpy().T  # (D, C)
    np.testing.assert_allclose(res.weight[m].numpy(), w_ref, atol=TOL, rtol=0)
    np.testing.assert_allclose(res.bias[m].numpy(), model.net.bias.detach().numpy(), atol=TOL)
    x = torch.as_tensor(feats)
    np.testing.assert_allclose(res.predict(np.arange(N), heads=[m])[0],
                               model(x).detach().numpy(), atol=10 * TOL)
    mine = res.log(m)
    assert mine.n_steps == log.n_steps and mine.influence == pytest.approx(log.influence, rel=1e-12)
    if np.isfinite(mine.losses).all():  # with record_losses
        np.testing.assert_allclose(mine.losses, log.losses, atol=10 * TOL)
    for key in ("param_distance", "lr_strength_sum", "distance_bound", "kl_from_init", "kl_bound"):
        a, b = mine.extra[key], log.extra[key]
        if key in ("distance_bound", "kl_bound") and spec.weight_decay > 0:
            assert math.isnan(a)  # a decayed head's bounds come from certify_head (test below)
            continue
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-5, abs=1e-9), key
    assert mine.extra["certificate"] == log.extra["certificate"]
    assert mine.extra["movement_step"] == log.extra["movement_step"]
    np.testing.assert_allclose(mine.extra["influence_per_epoch"], log.extra["influence_per_epoch"],
                               rtol=1e-12)
    if keeper is not None:
        assert mine.extra["checkpoint"] == keeper.summary()
    return model


CASES = [
    (loss, opt, wd, sched)
    for loss in ("xent", "logconf", "product", "ve", "tempered")
    for opt in ("sgd", "adam")
    for wd, sched in ((0.0, "cosine"), (0.05, "constant"))
]


@pytest.mark.parametrize("c", [2, 3])
def test_every_loss_optimizer_decay_and_schedule_equals_the_one_head_loop(c):
    # all 20 combinations in one call: mixed losses, optimizers, decays, schedules, step counts,
    # seeds and training rows; each head equals train.train on its own
    rng, feats = _world(c, seed=c)
    specs = [_spec(rng, loss, opt, wd=wd, schedule=sched, steps=15 + 2 * i, seed=i % 3)
             for i, (loss, opt, wd, sched) in enumerate(CASES)]
    tidx = np.array([rng.permutation(N)[:N_TRAIN] if i % 3 else np.arange(N_TRAIN)
                     for i in range(len(specs))])
    tg = np.array([_targets(rng, N_TRAIN, c) for _ in specs])
    held = np.tile(np.arange(N - 60, N), (len(specs), 1))
    res = train_heads(feats, tidx, tg, specs, heldout=held, record_losses=True)
    assert np.isfinite(res.losses[0, : specs[0].n_steps]).all()
    for m, spec in enumerate(specs):
        _check(res, m, feats, tidx[m], tg[m], spec, heldout=held[m])


def _train_on_all_rows(rng, feats, specs):
    """Train ``specs`` on every training row with one set of two-class targets; check each."""
    tidx = np.tile(np.arange(N_TRAIN), (len(specs), 1))
    tg = np.tile(_targets(rng, N_TRAIN, 2), (len(specs), 1, 1))
    res = train_heads(feats, tidx, tg, specs)
    for m, spec in enumerate(specs):
        _check(res, m, feats, tidx[m], tg[m], spec)
    return res


@pytest.mark.parametrize("over", ["visits", "per_pass", "steps"])
def test_strengths_over_visits_per_pass_and_steps(over):
    rng, feats = _world(2, seed=7)
    specs = [_spec(rng, loss, "sgd", over=over, steps=31, seed=s)
             for loss in ("ve", "tempered") for s in (0, 1)]
    res = _train_on_all_rows(rng, feats, specs)
    # strengths that differ only in one visit's value change only the influence by that value
    assert res.influence[0] != res.influence[2]


def test_early_stopping_equals_best_checkpoint():
    rng, feats = _world(3, seed=3)
    specs = [_spec(rng, loss, opt, steps=40 + 3 * i, seed=i)
             for i, (loss, opt) in enumerate([("xent", "sgd"), ("logconf", "sgd"),
                                              ("ve", "adam"), ("product", "adam")])]
    m = len(specs)
    tidx = np.tile(np.arange(N_TRAIN), (m, 1))
    tg = np.array([_targets(rng, N_TRAIN, 3) for _ in specs])
    v_idx = np.tile(np.arange(N_TRAIN, N_TRAIN + 50), (m, 1))
    v_t = np.array([_targets(rng, 50, 3) for _ in specs])
    held = np.tile(np.arange(N - 40, N), (m, 1))
    res = train_heads(feats, tidx, tg, specs, val=(v_idx, v_t), eval_every=6, heldout=held)
    steps = []
    for h, spec in enumerate(specs):
        _check(res, h, feats, tidx[h], tg[h], spec, val=(v_idx[h], v_t[h]), eval_every=6,
               heldout=held[h])
        steps.append(res.best_step[h])
    assert any(s < spec.n_steps for s, spec in zip(steps, specs))  # it does stop early


def test_movement_cap_is_projected_sgd_and_binds():
    rng, feats = _world(2, seed=5)
    specs = [_spec(rng, "xent", opt, steps=30, cap=cap)
             for opt in ("sgd", "adam") for cap in (None, 0.1, 0.3)]
    res = _train_on_all_rows(rng, feats, specs)
    free = res.param_distance[[0, 3]]
    assert np.all(free > 0.35)  # the caps below bind
    np.testing.assert_allclose(res.param_distance[[1, 4]], 0.1, rtol=1e-5)
    assert np.all(res.param_distance[[2, 5]] <= 0.3 * (1 + 1e-6))  # may end back inside


def test_caps_in_some_columns_of_some_streams():
    # the projection touches only the head columns holding a capped head; a column capped in
    # one stream (seed) and free in another must stay free there
    rng, feats = _world(2, seed=6)
    specs = [HeadSpec("xent", lr=2.0, n_steps=80, seed=sd, lr_schedule="constant",
                      max_distance=cap, batch_size=B)
             for sd, cap in ((0, None), (0, 0.1), (1, 0.1), (1, None), (1, None))]
    res = _train_on_all_rows(rng, feats, specs)
    capped = res.param_distance[[1, 2]]
    assert np.all((capped > 0.09) & (capped <= 0.1 * (1 + 1e-6)))  # bound (may end back inside)
    free = res.param_distance[[0, 3, 4]]
    # the free ones go past the cap, one past 1 (the radius the engine stores for "no cap")
    assert np.all(free > 0.5) and free.max() > 1.0


def test_init_weights_and_standardize_off():
    rng, feats = _world(3, seed=9)
    specs = [_spec(rng, "xent", "sgd", steps=12, seed=s) for s in (0, 1)]
    tidx = np.tile(np.arange(N_TRAIN), (2, 1))
    tg = np.array([_targets(rng, N_TRAIN, 3) for _ in specs])
    w0 = rng.normal(0, 0.3, (2, D, 3)).astype(np.float32)
    b0 = rng.normal(0, 0.3, (2, 3)).astype(np.float32)
    res = train_heads(feats, tidx, tg, specs, init=(w0, b0))
    for m, spec in enumerate(specs):
        _check(res, m, feats, tidx[m], tg[m], spec, init=(w0[m], b0[m]))
    np.testing.assert_allclose(res.predict(np.arange(5), init=True)[1],
                               ((feats[:5] - res.mean[1].numpy()) / res.std[1].numpy()) @ w0[1]
                               + b0[1], atol=1e-5)
    raw = train_heads(feats, tidx, tg, specs, standardize=False)
    assert torch.all(raw.mean == 0) and torch.all(raw.std == 1)
    assert not torch.allclose(raw.weight, train_heads(feats, tidx, tg, specs).weight)


def test_head_schedule_is_the_loop_order_and_its_bookkeeping():
    spec = HeadSpec("ve", 0.1, n_steps=20, seed=4, batch_size=B,
                    strengths=np.linspace(0.1, 1, strengths_length("visits", 50, 20, B)))
    plan = head_schedule(spec, 50)
    idx, epoch = plan["idx"], plan["epoch"]
    assert idx.shape == epoch.shape == (20, B)
    # the permutations the old lazy loop drew, read in order
    gen = torch.Generator().manual_seed(4)
    perms = torch.cat([torch.randperm(50, generator=gen) for _ in range(n_epochs_touched(50, 20, B))])
    assert torch.equal(idx.ravel(), perms[: 20 * B])
    assert torch.equal(epoch.ravel(), torch.arange(20 * B) // 50)
    # a shorter run's order is a prefix of a longer one's (so heads of different lengths share)
    assert torch.equal(minibatch_order(50, 7, B, 4)[0], idx[:7])
    s = spec.strengths[(epoch * 50 + idx).numpy()]
    assert plan["influence"] == pytest.approx(s.sum(), rel=1e-12)
    np.testing.assert_allclose(plan["influence_per_epoch"].sum(), s.sum(), rtol=1e-12)
    g = math.sqrt(2) * np.minimum(1, s).mean(1)
    assert plan["lr_strength_cum"][-1] == pytest.approx((plan["lrs"] * g).sum(), rel=1e-12)
    assert plan["lrs"][0] == pytest.approx(0.1) and plan["lrs"][-1] < 0.01  # cosine


def test_shared_streams_and_padding_give_the_same_heads():
    # heads trained alone, or alongside others that share (or not) their minibatches, agree
    rng, feats = _world(2, seed=11)
    # three heads share a stream (rows and seed) with different lengths, schedules, losses
    specs = [_spec(rng, "xent", "sgd", steps=18), _spec(rng, "ve", "sgd", steps=25),
             _spec(rng, "tempered", "sgd", steps=11, schedule="constant", over="steps"),
             _spec(rng, "xent", "sgd", steps=18, seed=1)]
    tidx = np.tile(np.arange(N_TRAIN), (4, 1))
    tg = np.array([_targets(rng, N_TRAIN, 2) for _ in specs])
    together = train_heads(feats, tidx, tg, specs)
    for m in range(4):
        _check(together, m, feats, tidx[m], tg[m], specs[m])
        alone = train_heads(feats, tidx[m : m + 1], tg[m : m + 1], [specs[m]])
        np.testing.assert_allclose(together.weight[m], alone.weight[0], atol=TOL)


def test_bad_inputs_are_refused_with_clear_errors():
    rng, feats = _world(2)
    spec = _spec(rng, "xent", "sgd", steps=5)
    tidx, tg = np.arange(N_TRAIN)[None], _targets(rng, N_TRAIN, 2)[None]
    with pytest.raises(ValueError, match="needs strengths"):
        HeadSpec("ve", 0.1, 5, 0)
    with pytest.raises(ValueError, match="optimizer"):
        HeadSpec("xent", 0.1, 5, 0, optimizer="rmsprop")
    with pytest.raises(ValueError, match="max_distance"):
        HeadSpec("xent", 0.1, 5, 0, max_distance=0.0)
    with pytest.raises(ValueError, match="lr"):
        HeadSpec("xent", -1.0, 5, 0)
    with pytest.raises(ValueError, match="targets"):
        train_heads(feats, tidx, tg[:, :10], [spec])
    with pytest.raises(ValueError, match="outside"):
        train_heads(feats, tidx + N, tg, [spec])
    with pytest.raises(ValueError, match="M=1"):
        train_heads(feats, np.tile(tidx, (2, 1)), tg, [spec])
    with pytest.raises(ValueError, match="eval_every"):
        train_heads(feats, tidx, tg, [spec], val=(tidx, tg))
    with pytest.raises(ValueError, match="needs val"):
        train_heads(feats, tidx, tg, [spec], eval_every=3)
    bad = HeadSpec("ve", 0.1, 5, 0, strengths=np.ones(3))
    with pytest.raises(ValueError, match="strengths over 'visits'"):
        train_heads(feats, tidx, tg, [bad])


@pytest.mark.parametrize("name", ["xent", "logconf", "product", "ve", "tempered"])
@pytest.mark.parametrize("c", [2, 3])
def test_batched_loss_values_and_closed_form_gradients_match_the_one_head_losses(name, c):
    from bayes_w2s.neural.head_losses import LOSS_VALUES, logconf_c, loss_grad
    from bayes_w2s.neural.losses import get_loss

    rng = np.random.default_rng(c)
    s_, b, h = 3, 24, 4  # streams, batch, heads: layout (S, B, H, C)
    z = torch.tensor(rng.normal(0, 4, (s_, b, h, c)), dtype=torch.float32)
    q = torch.softmax(torch.tensor(rng.normal(0, 3, (s_, b, h, c))), -1).float()
    q[:, :6] = torch.eye(c)[rng.integers(0, c, (s_, 6, h))]  # hard labels
    st = torch.tensor(rng.uniform(0, 3, (s_, b, h)), dtype=torch.float32)
    st[0, 0] = 0.0  # strength zero: no evidence, no gradient
    frac = rng.uniform(0, 0.2, (s_, h))  # logconf's ramp and its plateau
    cw = logconf_c(frac)
    conf = (torch.tensor(cw, dtype=torch.float32), torch.tensor(1 - cw, dtype=torch.float32))
    value = LOSS_VALUES[name](z, q, conf, st)  # (S, H)
    grad = loss_grad(name, z, q, conf, st)  # (S, B, H, C)
    for i in range(s_):
        for j in range(h):
            zz = z[i, :, j].clone().requires_grad_(True)
            one = get_loss(name)(zz, q[i, :, j], step_frac=float(frac[i, j]),
                                 strengths=st[i, :, j])
            (g,) = torch.autograd.grad(one, zz)
            one = one.detach()
            assert float(value[i, j]) == pytest.approx(one.item(), rel=1e-6, abs=1e-7)
            torch.testing.assert_close(grad[i, :, j], g, rtol=1e-5, atol=1e-7)


def test_spec_from_a_train_config_round_trips():
    from bayes_w2s.neural.train import TrainConfig

    cfg = TrainConfig(batch_size=16, epochs=3, lr=0.2, optimizer="sgd", weight_decay=0.01,
                      lr_schedule="constant", threads=1)
    spec = HeadSpec.from_train_config("xent", cfg, n=100, seed=3, max_distance=0.5)
    assert spec.n_steps == cfg.n_steps(100) == 19 and spec.max_distance == 0.5
    back = spec.train_config()
    for f in ("batch_size", "lr", "optimizer", "weight_decay", "lr_schedule"):
        assert getattr(back, f) == getattr(cfg, f), f
    with pytest.raises(ValueError, match="anchor"):
        HeadSpec.from_train_config("xent", TrainConfig(anchor="l2", anchor_weight=1.0), n=10,
                                   seed=0)


def test_certify_head_equals_train_train_certificate():
    # the batched head's data-dependent certificate is the one train.train records
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(N, 5)).astype(np.float32)
    tidx = np.stack([rng.permutation(N)[:40] for _ in range(2)])
    tg = rng.dirichlet(np.ones(3), size=(2, 40)).astype(np.float32)
    specs = [HeadSpec("ve", 0.5, 12, seed=1, batch_size=8,
                      strengths=np.full(strengths_length("visits", 40, 12, 8), 0.05)),
             HeadSpec("xent", 0.5, 12, seed=2, batch_size=8, weight_decay=0.3)]
    held = np.stack([np.arange(20), np.arange(20, 40)])
    res = train_heads(feats, tidx, tg, specs, heldout=held)
    from bayes_w2s.neural.heads_certificate import certify_head

    for m, spec in enumerate(specs):
        _, log, _ = reference(feats, tidx[m], tg[m], spec, heldout=held[m])
        cert = certify_head(res, m, tg[m])
        for key in ("distance_bound", "distance_bound_data", "kl_bound_data", "flip_bound"):
            a, b = cert[key], log.extra[key]
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-4, abs=1e-7), key
        assert res.param_distance[m] <= cert["distance_bound_data"] * (1 + 1e-5)
