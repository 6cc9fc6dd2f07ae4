"""Property tests of the neural losses, the certificate's pieces and the paired bootstrap against
float64 numpy references (issue 18: mutation testing).

Multi-class (C = 3..5) and asymmetric cases throughout; the certificate's constant is checked to
be the *largest* scaled input norm of the training set (a mutant taking the smallest survived).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.neural import certificate as C
from bayes_w2s.neural import losses as L
from bayes_w2s.neural.stats import bootstrap_ci, paired_pgr_diff

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def _case(seed, b, c, hard=False):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(b, c))
    q = rng.dirichlet(np.ones(c), size=b)
    if hard:
        q = np.eye(c)[rng.integers(0, c, b)]
    return z, q


def _log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def _t(a):
    return torch.tensor(a, dtype=torch.float32)


# --- losses ---------------------------------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(1, 6), c=st.integers(2, 5))
def test_xent_and_tempered_match_numpy(seed, b, c):
    z, q = _case(seed, b, c)
    w = np.random.default_rng(seed + 1).uniform(0, 3, b)
    ce = -(q * _log_softmax(z)).sum(1)
    assert float(L.xent_loss(_t(z), _t(q))) == pytest.approx(ce.mean(), rel=1e-5, abs=1e-6)
    assert float(L.tempered_loss(_t(z), _t(q), strengths=_t(w))) == pytest.approx((w * ce).mean(), rel=1e-5, abs=1e-6)
    assert float(L.tempered_loss(_t(z), _t(q), strengths=torch.tensor(2.0))) == pytest.approx(2 * ce.mean(), rel=1e-5)


@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(1, 6), c=st.integers(2, 5), hard=st.booleans())
def test_ve_loss_is_minus_log_marginal_likelihood(seed, b, c, hard):
    z, q = _case(seed, b, c, hard)
    s = np.random.default_rng(seed + 2).uniform(0, 6, b)
    m = (np.exp(_log_softmax(z)) * q).sum(1)
    want = -np.log1p((np.exp(s) - 1) * m).mean()
    assert float(L.ve_loss(_t(z), _t(q), strengths=_t(s))) == pytest.approx(want, rel=1e-4, abs=1e-6)
    assert float(L.ve_loss(_t(z), _t(q), strengths=torch.zeros(b))) == 0.0  # r = 1: no evidence


def test_ve_loss_gradient_is_bounded_by_one_and_grows_with_the_strength():
    z, q = _case(3, 4, 3, hard=True)
    grads = []
    for s in (0.1, 1.0, 5.0, 30.0):
        zt = _t(z).requires_grad_()
        (L.ve_loss(zt, _t(q), strengths=torch.full((4,), s)) * 4).backward()
        grads.append(zt.grad.abs().max().item())
    assert all(g <= 1 + 1e-6 for g in grads)
    assert grads == sorted(grads)


@SETTINGS
@given(seed=st.integers(0, 10_000), b=st.integers(2, 8), c=st.integers(2, 4))
def test_product_loss_is_ce_to_the_normalized_product(seed, b, c):
    z, q = _case(seed, b, c)
    q[0] = np.eye(c)[c - 1]  # one hard label: the target stays hard
    log_t = _log_softmax(z) + np.log(np.where(q > 0, q, 1e-300))
    t = np.exp(_log_softmax(log_t))
    want = -(t * _log_softmax(z)).sum(1).mean()
    assert float(L.product_loss(_t(z), _t(q))) == pytest.approx(want, rel=1e-4, abs=1e-6)
    t2 = np.exp(_log_softmax(2 * _log_softmax(z) + 0.5 * np.log(np.where(q > 0, q, 1e-300))))
    want2 = -(t2 * _log_softmax(z)).sum(1).mean()
    assert float(L.product_loss(_t(z), _t(q), alpha=0.5, beta=2.0)) == pytest.approx(want2, rel=1e-4, abs=1e-6)
    # alpha = 0 ignores the weak labels: the target is the student itself (entropy of p)
    ent = -(np.exp(_log_softmax(z)) * _log_softmax(z)).sum(1).mean()
    assert float(L.product_loss(_t(z), _t(q), alpha=0.0)) == pytest.approx(ent, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize(
    "step_frac, want", [(-0.5, 0.0), (0.0, 0.0), (0.05, 0.25), (0.1, 0.5), (0.7, 0.5)]
)
def test_logconf_weight_ramps_linearly_to_aux_coef(step_frac, want):
    assert L.logconf_weight(step_frac) == pytest.approx(want)
    assert L.logconf_weight(step_frac, aux_coef=0.3, warmup_frac=0.0) == pytest.approx(0.3)
    assert L.logconf_weight(0.1, aux_coef=0.3, warmup_frac=0.4) == pytest.approx(0.075)


def test_harden_by_quantile_multi_class_is_argmax_and_binary_matches_the_balance():
    p3 = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.2, 0.7]])
    np.testing.assert_array_equal(L.harden_by_quantile(p3, p3).numpy(), np.eye(3)[[1, 0, 2]])
    p0 = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    probs = torch.stack([p0, 1 - p0], 1)
    weak = torch.tensor([[0.0, 1.0]] * 2 + [[1.0, 0.0]] * 6)  # 25% class 1
    hard = L.harden_by_quantile(probs, weak)
    assert hard[:, 1].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]  # the two least class-0 students
    weak = torch.tensor([[0.0, 1.0]] * 6 + [[1.0, 0.0]] * 2)  # 75% class 1
    assert L.harden_by_quantile(probs, weak)[:, 1].sum() == 6


def test_logconf_loss_matches_ce_to_the_mixed_target():
    z, q = _case(5, 6, 3)
    hard = np.eye(3)[z.argmax(1)]
    for frac in (0.0, 0.05, 1.0):
        c = L.logconf_weight(frac)
        target = (1 - c) * q + c * hard
        want = -(target * _log_softmax(z)).sum(1).mean()
        assert float(L.logconf_loss(_t(z), _t(q), step_frac=frac)) == pytest.approx(want, rel=1e-5)


def test_anchors_match_numpy():
    z, _ = _case(6, 5, 4)
    z0, _ = _case(7, 5, 4)
    lp, lp0 = _log_softmax(z), _log_softmax(z0)
    want = (np.exp(lp) * (lp - lp0)).sum(1).mean()
    assert float(L.kl_anchor(_t(z), _t(z0))) == pytest.approx(want, rel=1e-4)
    a, b = [torch.ones(2, 3), torch.zeros(4)], [torch.zeros(2, 3), torch.full((4,), 2.0)]
    assert float(L.l2_anchor(a, b)) == pytest.approx(0.5 * (6 + 16))
    assert float(L.l2_anchor([], [])) == 0.0


def test_strength_validation_and_registry():
    z, q = _t(np.zeros((3, 2))), _t(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="strengths"):
        L.ve_loss(z, q)
    with pytest.raises(ValueError, match=r"\(B,\)=3"):
        L.ve_loss(z, q, strengths=torch.ones(2))
    with pytest.raises(ValueError, match="non-negative"):
        L.tempered_loss(z, q, strengths=torch.tensor([1.0, -0.1, 1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        L.tempered_loss(z, q, strengths=torch.tensor([1.0, math.inf, 1.0]))
    with pytest.raises(ValueError, match=r"\(B, C\)"):
        L.xent_loss(z, q[:, :1])
    assert {n: L.get_loss(n) for n in L.LOSSES} == L.LOSSES
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        L.get_loss("nope")


# --- certificate pieces ---------------------------------------------------------------------

def test_logit_grad_bounds_per_loss_and_at_the_ve_kink():
    s = np.array([0.25, 1.0, 4.0])
    assert C.logit_grad_bound(L.ve_loss, s, 3) == pytest.approx(math.sqrt(2) * (0.25 + 1 + 1) / 3)
    assert C.logit_grad_bound(L.tempered_loss, s, 3) == pytest.approx(math.sqrt(2) * 5.25 / 3)
    for ce in (L.xent_loss, L.logconf_loss, L.product_loss):
        assert C.logit_grad_bound(ce, None, 3) == pytest.approx(math.sqrt(2))
        assert C.logit_grad_bound(ce, s, 3) == pytest.approx(math.sqrt(2))
    assert math.isnan(C.logit_grad_bound(L.ve_loss, None, 3))
    assert math.isnan(C.logit_grad_bound(lambda *a, **k: 0, s, 3))


def test_prediction_kl_and_param_distance_match_numpy():
    z, _ = _case(8, 6, 5)
    z0, _ = _case(9, 6, 5)
    lp, lp0 = _log_softmax(z), _log_softmax(z0)
    assert C.prediction_kl(z, z0) == pytest.approx((np.exp(lp) * (lp - lp0)).sum(1).mean())
    a = [torch.tensor([[1.0, 2.0]]), torch.tensor([3.0])]
    b = [torch.tensor([[0.0, 0.0]]), torch.tensor([-1.0])]
    assert C.param_distance(a, b) == pytest.approx(math.sqrt(1 + 4 + 16))


def test_kl_bound_takes_the_smaller_branch_per_input():
    # ||delta|| = 1: quadratic branch 1/4; ||delta|| = 10: linear branch 10 sqrt 2 < 25
    assert C.kl_bound(1.0, np.array([1.0, 10.0])) == pytest.approx((0.25 + 10 * math.sqrt(2)) / 2)
    assert C.kl_bound(2.0, np.array([1.0])) == pytest.approx(1.0)
    assert math.isnan(C.kl_bound(math.inf, np.array([1.0])))


def test_certificate_validity_boundaries():
    from bayes_w2s.neural.train import TrainConfig

    assert C.certificate_valid(TrainConfig(optimizer="sgd")) == ""
    assert C.certificate_valid(TrainConfig(optimizer="sgd", lr=0.5, anchor="l2", anchor_weight=4.0)) == ""
    # an overshooting anchor (eta * a > 2) is certified too: the path uses |1 - eta (lambda + a)|
    assert C.certificate_valid(TrainConfig(optimizer="sgd", lr=0.5, anchor="l2", anchor_weight=4.1)) == ""
    assert C.certificate_valid(TrainConfig(optimizer="sgd", weight_decay=10.0)) == ""  # decay is an anchor
    assert C.certificate_valid(TrainConfig(optimizer="sgd", anchor="kl", anchor_weight=0.0)) == ""
    assert C.certificate_valid(TrainConfig(optimizer="adam")).startswith("optimizer 'adam'")


def test_input_scales_and_the_certificate_constant_is_the_largest_input():
    from bayes_w2s.neural.features import FeatureHead
    from bayes_w2s.neural.train import TrainConfig, train

    rng = np.random.default_rng(0)
    n, d = 40, 3
    x = rng.normal(size=(n, d))
    x[0] *= 25.0  # one far input: the largest scale is far above the smallest
    xt = _t(x)
    head = FeatureHead(d, 3, mean=xt.mean(0), std=xt.std(0), seed=0)
    zs = (x - x.mean(0)) / x.std(0, ddof=1)
    scales = np.sqrt((zs**2).sum(1) + 1)
    np.testing.assert_allclose(C.input_scales(head, {"features": xt}), scales, rtol=1e-5)
    assert scales.max() > 3 * scales.min()
    q = rng.dirichlet(np.ones(3), size=n)
    cfg = TrainConfig(batch_size=8, steps=6, lr=0.2, optimizer="sgd", lr_schedule="constant")
    e = train(head, {"features": xt}, q, L.xent_loss, cfg, seed=0).extra
    assert e["lr_strength_sum"] == pytest.approx(6 * 0.2 * math.sqrt(2), rel=1e-6)
    from bayes_w2s.neural.certificate_columns import FLOAT32_ALLOWANCE as A

    # the old constant bound, recorded with the stated float32 allowance
    assert e["distance_bound"] == pytest.approx(e["lr_strength_sum"] * scales.max() * (1 + A),
                                                rel=1e-6)
    assert 0 < e["param_distance"] <= e["distance_bound"]


# --- paired bootstrap -----------------------------------------------------------------------

def _pgr(w, s, c):
    return (s - w) / (c - w)


def test_paired_pgr_diff_point_and_interval_match_a_brute_force_bootstrap():
    rng = np.random.default_rng(3)
    k = 6
    w = rng.uniform(0.6, 0.7, k)
    c = w + rng.uniform(0.1, 0.2, k)
    a = w + rng.uniform(0.05, 0.1, k)
    b = w + rng.uniform(0.0, 0.05, k)
    d, lo, hi = paired_pgr_diff(w, c, a, b, n_boot=300, seed=5, level=0.8)
    assert d == pytest.approx(_pgr(w.mean(), a.mean(), c.mean()) - _pgr(w.mean(), b.mean(), c.mean()))
    idx = np.random.default_rng(5).integers(0, k, size=(300, k))
    reps = [_pgr(w[i].mean(), a[i].mean(), c[i].mean()) - _pgr(w[i].mean(), b[i].mean(), c[i].mean()) for i in idx]
    assert (lo, hi) == pytest.approx((np.quantile(reps, 0.1), np.quantile(reps, 0.9)))
    assert lo < d < hi and lo > 0  # method a beats b on every seed: the interval excludes 0


def test_paired_pgr_diff_is_nan_without_a_gap_and_bootstrap_edge_cases():
    d, _, _ = paired_pgr_diff([0.7, 0.7], [0.6, 0.7], [0.8, 0.8], [0.7, 0.7])
    assert math.isnan(d)
    point, lo, hi = bootstrap_ci(np.array([[1.0, 2.0]]), lambda s: s[..., 0].mean(-1) + s[..., 1].mean(-1))
    assert point == 3.0 and math.isnan(lo) and math.isnan(hi)  # one seed: no interval
    data = np.array([[1.0], [2.0], [3.0], [10.0]])
    stat = lambda s: s[..., 0].mean(-1)  # noqa: E731
    point, lo, hi = bootstrap_ci(data, stat, n_boot=500, seed=1, level=0.5)
    idx = np.random.default_rng(1).integers(0, 4, size=(500, 4))
    reps = data[idx][..., 0].mean(-1)
    assert point == 4.0 and (lo, hi) == pytest.approx((np.quantile(reps, 0.25), np.quantile(reps, 0.75)))
    # non-finite replicates are dropped, not propagated
    _, lo2, hi2 = bootstrap_ci(data, lambda s: np.where(s[..., 0].max(-1) == 10.0, np.nan, s[..., 0].mean(-1)),
                               n_boot=500, seed=1)
    assert math.isfinite(lo2) and hi2 <= 3.0
    for bad in (dict(level=1.0), dict(level=0.0), dict(n_boot=0)):
        with pytest.raises(ValueError):
            bootstrap_ci(data, stat, **bad)
    with pytest.raises(ValueError, match=r"acc_ref must be \(K,\)"):
        paired_pgr_diff([0.1, 0.2], [0.3, 0.4], [0.2, 0.3], [0.2])


# --- methods: parsing, strengths per visit / pass / step, limits, confidences ------------------

def test_method_spec_parse_label_round_trip_and_errors():
    from bayes_w2s.core.schedules import Budget, Constant, Geometric
    from bayes_w2s.neural.methods import DEFAULT_SCHEDULES, MethodSpec

    m = MethodSpec.parse("ve+geometric:first=2,ratio=0.5@steps")
    assert (m.loss, m.schedule, m.over) == ("ve", Geometric(2.0, 0.5), "steps")
    assert m.label() == "ve+geometric(2,0.5)@steps"
    assert MethodSpec.parse("ve+budget:budget=4").label() == "ve+budget(4)"
    assert MethodSpec.parse("tempered+budget:budget=4@per_pass").label() == "tempered+budget(4)@per_pass"
    assert MethodSpec.parse("ve").schedule == Constant(3.0) and DEFAULT_SCHEDULES["ve"] == "constant:value=3"
    assert MethodSpec.parse("tempered").schedule == Constant(1.0)
    assert MethodSpec.parse("xent") == MethodSpec("xent") and MethodSpec("xent").label() == "xent"
    assert MethodSpec.parse("logconf@steps").over == "visits"  # no schedule: nothing to index
    assert MethodSpec.parse("ve+budget:budget=2").schedule == Budget(2.0)
    for text, match in [("ve@epochs", "@visits"), ("xent+budget:budget=1", "takes no schedule"),
                        ("magic", "unknown method")]:
        with pytest.raises(ValueError, match=match):
            MethodSpec.parse(text)


@pytest.mark.parametrize("over, n_steps, batch, length", [("visits", 7, 4, 30), ("per_pass", 7, 4, 10), ("steps", 7, 4, 7)])
def test_method_strengths_lengths_and_values(over, n_steps, batch, length):
    from bayes_w2s.neural.methods import MethodSpec, method_strengths, run_limit

    q = np.random.default_rng(0).dirichlet(np.ones(3), size=10)
    m = MethodSpec.parse(f"ve+budget:budget=6@{over}")
    s = method_strengths(m, q, n_steps, batch)
    np.testing.assert_allclose(s, np.full(length, 6 / length))
    epochs = math.ceil(n_steps * batch / 10)  # 3 passes touched
    want_limit = {"visits": 6.0, "per_pass": epochs * 6.0, "steps": batch * 6.0}[over]
    assert run_limit(m, 10, n_steps, batch) == pytest.approx(want_limit)
    g = MethodSpec.parse(f"tempered+geometric:first=1,ratio=0.5@{over}")
    np.testing.assert_allclose(method_strengths(g, q, n_steps, batch), 0.5 ** np.arange(length))
    assert method_strengths(MethodSpec.parse("xent"), q, n_steps, batch) is None
    assert run_limit(MethodSpec.parse("xent"), 10, n_steps, batch) == math.inf


def test_confidence_weighted_strengths_tile_per_epoch_and_not_per_step():
    from bayes_w2s.neural.methods import MethodSpec, method_strengths, weak_confidence

    q = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.0, 1.0]])
    conf = weak_confidence(q)
    np.testing.assert_allclose(conf, [0.8, 0.0, 0.4, 1.0])
    q3 = np.array([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(weak_confidence(q3), [0.0, 1.0, 0.25])
    m = MethodSpec.parse("ve+confidence:budget=2.2")
    s = method_strengths(m, q, n_steps=3, batch_size=2)  # 6 visits of 4 examples: 2 passes touched
    np.testing.assert_allclose(s, 2.2 * np.tile(conf, 2) / (2 * conf.sum()))
    with pytest.raises(ValueError, match="not steps"):
        method_strengths(MethodSpec.parse("ve+confidence:budget=1@steps"), q, 3, 2)


def test_softmax_and_temperature_fit():
    from bayes_w2s.neural.methods import fit_temperature, softmax

    z = np.array([[1000.0, 999.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(softmax(z), [[1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1)), 0.0],
                                            [1 / 3, 1 / 3, 1 / 3]], atol=1e-12)
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(logits / 2.0)])
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)
    hard = np.argmax(logits, 1)
    assert fit_temperature(logits, hard) == pytest.approx(0.05)  # always right: as sharp as the grid allows


def test_input_scales_only_for_a_linear_feature_head_and_loss_shape_checks():
    from bayes_w2s.neural.features import FeatureHead

    assert C.input_scales(torch.nn.Linear(3, 2), {"features": torch.zeros(2, 3)}) is None
    assert C.input_scales(FeatureHead(3, 2, hidden=4), {"features": torch.zeros(2, 3)}) is None
    head = FeatureHead(2, 2, mean=torch.tensor([1.0, -1.0]), std=torch.tensor([2.0, 0.5]))
    np.testing.assert_allclose(C.input_scales(head, {"features": torch.tensor([[3.0, -1.0], [1.0, 0.0]])}),
                               [math.sqrt(1 + 0 + 1), math.sqrt(0 + 4 + 1)], rtol=1e-6)
    for loss in (L.xent_loss, L.logconf_loss, L.product_loss, L.ve_loss, L.tempered_loss):
        with pytest.raises(ValueError, match=r"\(B, C\)"):
            loss(torch.zeros(3), torch.zeros(3), step_frac=0.0, strengths=torch.ones(3))
        with pytest.raises(ValueError, match=r"\(B, C\)"):
            loss(torch.zeros(3, 2), torch.zeros(3, 3), step_frac=0.0, strengths=torch.ones(3))
