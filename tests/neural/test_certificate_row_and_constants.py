"""A compare row's certificate columns are exactly those of ``certify_linear_head`` with every
argument passed through (weight decay, anchor, cap, init), the empty run's row is all zeros with
the same keys, and the per-example constants are each row's own and the least of the documented
formulas (module docstring of ``certificate.py``), including at an overflowing strength, with
their input checks and float64 contracts. (The linear certificate's edge cases:
``test_certificate_linear_edges.py``.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bayes_w2s.neural import certificate as C
from bayes_w2s.neural.certificate_columns import certificate_columns
from bayes_w2s.neural.certificate_linear import certify_linear_head

from ._certificate_world import small_world as _world

SQ2 = math.sqrt(2.0)
KEYS = {"distance_bound", "distance_bound_data", "distance_bound_norms", "distance_bound_gram",
        "distance_bound_linear", "reference_distance"}
HELD_KEYS = {"kl_bound", "kl_bound_data", "flip_bound", "flips_measured"}


@pytest.mark.parametrize("loss,c,wd,a,cap,with_init", [
    ("ve", 2, 0.0, 0.0, None, False), ("ve", 3, 0.3, 0.0, None, True),
    ("xent", 2, 0.0, 0.5, None, True), ("tempered", 3, 0.1, 0.2, 0.05, True),
    ("ve", 2, 0.0, 0.0, 0.02, False),
])
def test_row_columns_are_the_certificate_with_every_argument_passed(loss, c, wd, a, cap, with_init):
    x, q, order, lrs, s, held, init = _world(c * 7 + int(wd * 10), c=c, loss=loss)
    init = init if with_init else None
    kw = dict(strengths=s, weight_decay=wd, anchor_weight=a, cap=cap, init=init)
    cert = certify_linear_head(x, q, order, lrs, loss, heldout=held, **kw)
    final = cert.reference_logits + 0.3 if cert.reference_logits is not None else None
    row = certificate_columns(x, q, order, lrs, loss, heldout=held, final_logits=final, **kw)
    assert set(row) == KEYS | HELD_KEYS
    from bayes_w2s.neural.certificate_columns import FLOAT32_ALLOWANCE as A

    want = {  # the recorded movement bounds with the stated float32 allowance
        "distance_bound": cert.distance_bound_max * (1 + A),
        "distance_bound_data": cert.distance_bound * (1 + A),
        "distance_bound_norms": cert.distance_bound_norms,
        "distance_bound_gram": cert.distance_bound_gram,
        "distance_bound_linear": cert.distance_bound_linear,
        "reference_distance": cert.reference_distance, "kl_bound_data": cert.kl_bound,
        "flip_bound": cert.flip_bound,
    }
    for key, value in want.items():
        assert (math.isnan(row[key]) and math.isnan(value)) or row[key] == value, key
    # kl_bound: (2) at the old distance bound times each held-out input's sqrt(||x||^2 + 1)
    scales = np.sqrt((held**2).sum(1) + 1.0)
    d = cert.distance_bound_max * scales
    assert row["kl_bound"] == pytest.approx(np.mean(np.minimum(d**2 / 4, SQ2 * d)), rel=1e-12)
    if final is None:
        assert math.isnan(row["flips_measured"])  # a cap switches the reference classifier off
        assert cert.reference.shape == (c, x.shape[1] + 1) and np.isnan(cert.reference).all()
        assert cert.remainder_bound is None
    else:
        assert cert.remainder_bound.dtype == np.float64
        assert row["flips_measured"] == C.count_flips(final, cert.reference_logits)
        nofinal = certificate_columns(x, q, order, lrs, loss, heldout=held, **kw)
        assert math.isnan(nofinal["flips_measured"])
    # without held-out inputs: only the movement columns
    assert set(certificate_columns(x, q, order, lrs, loss, **kw)) == KEYS


def test_the_arguments_change_the_row():
    # weight decay, an anchor, a cap and a non-zero init each change some column
    x, q, order, lrs, s, held, init = _world(3)
    base = certificate_columns(x, q, order, lrs, "ve", strengths=s, heldout=held)
    for kw in (dict(weight_decay=0.5), dict(anchor_weight=0.5), dict(cap=1e-3), dict(init=init)):
        other = certificate_columns(x, q, order, lrs, "ve", strengths=s, heldout=held, **kw)
        assert any(other[k] != base[k] for k in ("distance_bound_data", "kl_bound", "kl_bound_data",
                                                  "distance_bound")), kw


def test_an_empty_run_has_zero_columns():
    x, q, order, lrs, s, held, _ = _world(1)
    row = certificate_columns(x, q, order[:0], lrs[:0], "ve", strengths=s[:0], heldout=held)
    assert row == dict.fromkeys(KEYS | HELD_KEYS - {"flips_measured"}, 0.0) | {"flips_measured": 0}
    assert isinstance(row["flips_measured"], int)
    bare = certificate_columns(x, q, order[:0], lrs[:0], "ve", strengths=s[:0])
    assert bare == dict.fromkeys(KEYS, 0.0)


# ---------------------------------------------------------------- per-example constants
def _ve_g_general(q, s):
    """The least of the three documented VE bounds (any number of classes)."""
    a = np.expm1(s)
    rho, qmin, qmax = q.max() - q.min(), q.min(), q.max()
    b1 = a * rho / (2 * SQ2 * (1 + a * qmin))
    b2 = np.sinh(s / 2)
    b3 = SQ2 * a * qmax / (1 + a * qmax)
    return min(b1, b2, b3)


def _ve_g_reference(q, s):
    """:func:`_ve_g_general`, and for two classes the exact sup over the margin if smaller."""
    a = np.expm1(s)
    rho, qmin = q.max() - q.min(), q.min()
    g = _ve_g_general(q, s)
    if len(q) == 2:  # the exact sup over the margin, by a fine grid
        x = np.linspace(0, 1, 200001)[1:-1]
        c = 1 + a * qmin
        g = min(g, float(np.max(SQ2 * a * rho * x * (1 - x) / (c + a * rho * x))))
    return g


def test_ve_constants_are_the_least_documented_bound_per_row():
    rng = np.random.default_rng(0)
    qs = [np.array([0.4, 0.3, 0.3]), np.array([1.0, 0.0, 0.0]), np.array([0.5, 0.45, 0.05]),
          np.array([0.2, 0.2, 0.3, 0.3]), np.array([0.7, 0.3]), np.array([0.55, 0.45])]
    for q in qs:
        for s in (1e-3, 0.3, 1.0, 2.4, 6.0):  # each of b1, sinh(s/2), b3 binds somewhere
            g = C.logit_grad_bound_data("ve", q[None], np.array([s]))[0]
            assert g == pytest.approx(_ve_g_reference(q, s), rel=1e-6), (q, s)
            # the VE Lipschitz constant: A rho / (2 (1 + A min q)) + g^2
            a = math.expm1(s)
            lip = C.logit_hessian_bound("ve", q[None], np.array([s]))[0]
            want = a * (q.max() - q.min()) / (2 * (1 + a * q.min())) + g**2
            assert lip == pytest.approx(want, rel=1e-9)
    # rows are independent: a batch of different labels gives each row's own constants
    for c in (2, 3):
        q = rng.dirichlet(np.full(c, 0.5), size=6)
        q[0] = np.eye(c)[0]
        s = rng.uniform(0.01, 4, 6)
        for fn in (C.logit_grad_bound_data, C.logit_hessian_bound):
            batch = fn("ve", q, s)
            rows = [fn("ve", q[i : i + 1], s[i : i + 1])[0] for i in range(6)]
            np.testing.assert_allclose(batch, rows, rtol=1e-12)


def test_two_class_local_bound_is_the_least_of_its_two_forms():
    # L = min(2 [k tanh((|d0| + w)/2) + k^2], 2 k + g^2), k = A rho / (4 (1 + A min q)), with g
    # the general (three-bound) VE constant: the global form, a little looser than
    # logit_hessian_bound's (which uses the exact two-class g) but valid
    for q in (np.array([0.9, 0.1]), np.array([1.0, 0.0]), np.array([0.35, 0.65])):
        for s in (0.01, 1.0, 3.0, 8.0):
            for d0, w in ((0.0, 0.1), (1.5, 0.5), (-2.0, 6.0), (0.0, 30.0)):
                a = math.expm1(s)
                k = a * (q.max() - q.min()) / (4 * (1 + a * q.min()))
                local = 2 * (k * math.tanh((abs(d0) + w) / 2) + k * k)
                glob = 2 * k + _ve_g_general(q, s) ** 2
                got = C.logit_hessian_bound_binary("ve", q[None], np.array([s]), np.array([d0]),
                                                   np.array([w]))[0]
                assert got == pytest.approx(min(local, glob), rel=1e-9), (q, s, d0, w)
    # both forms occur in these cases (a test that only ever saw one would miss the other)
    q, s = np.array([[1.0, 0.0]]), np.array([8.0])
    wide = C.logit_hessian_bound_binary("ve", q, s, np.zeros(1), np.array([30.0]))[0]
    a = math.expm1(8.0)
    k = a / 4
    assert 2 * k + _ve_g_general(q[0], 8.0) ** 2 < 2 * (k * math.tanh(15.0) + k * k)
    assert wide == pytest.approx(2 * k + _ve_g_general(q[0], 8.0) ** 2, rel=1e-12)


def test_an_overflowing_strength_gives_the_saturated_constants():
    # s = 800: A = e^s - 1 overflows to inf; the VE gradient bound is sqrt 2 max q / max q -> sqrt 2
    q3 = np.array([[1.0, 0.0, 0.0], [0.5, 0.3, 0.2]])
    q2 = np.array([[0.7, 0.3]])
    with np.errstate(over="ignore", invalid="ignore"):  # expm1 and A*A/(4(A+1)) at A = inf
        g3 = C.logit_grad_bound_data("ve", q3, np.array([800.0, 800.0]))
        g2 = C.logit_grad_bound_data("ve", q2, np.array([800.0]))
        lip2 = C.logit_hessian_bound_binary("ve", q2, np.array([800.0]), np.zeros(1), np.ones(1))
    np.testing.assert_allclose(g3, [SQ2, SQ2])
    assert g2[0] == pytest.approx(SQ2)  # the exact two-class sup is NaN -> inf there, not used
    assert lip2[0] == math.inf  # no bound, but not NaN


def test_the_old_constant_accepts_a_loss_name_or_function():
    s = np.array([0.2, 3.0])
    for name in ("ve", "tempered", "xent"):
        from bayes_w2s.neural.losses import get_loss

        assert C.logit_grad_bound(name, s, 2) == C.logit_grad_bound(get_loss(name), s, 2)


def test_validity_of_settings_and_the_linear_feature_head():
    from bayes_w2s.neural.features import FeatureHead
    from bayes_w2s.neural.train import TrainConfig

    reason = C.certificate_valid(TrainConfig(optimizer="sgd", anchor="kl", anchor_weight=0.5))
    assert reason.startswith("a KL anchor")
    assert C.certificate_valid(TrainConfig(optimizer="sgd", anchor="l2", anchor_weight=0.5)) == ""
    head = FeatureHead(3, 2, mean=torch.zeros(3), std=torch.ones(3))
    x = {"features": torch.tensor([[1.0, 2.0, 2.0]])}
    np.testing.assert_allclose(C.standardized_features(head, x), [[1.0, 2.0, 2.0]])
    assert C.standardized_features(head, {"input_ids": torch.zeros(1, 3)}) is None  # no features
    nobias = FeatureHead(3, 2, mean=torch.zeros(3), std=torch.ones(3))
    nobias.net = torch.nn.Linear(3, 2, bias=False)
    assert C.standardized_features(nobias, x) is None  # z = W x has no bias column


def test_constants_of_the_ce_type_losses():
    # the CE sup over the simplex for a uniform label is sqrt(1 - 1/C) (below 1), attained at a vertex
    for c in (2, 3, 5):
        q = np.full((1, c), 1 / c)
        g = C.logit_grad_bound_data("xent", q)[0]
        assert g == pytest.approx(math.sqrt(1 - 1 / c), rel=1e-12)
        z = np.zeros((1, c))
        z[0, 0] = 60.0
        assert np.linalg.norm(C.logit_grad("xent", z, q)) == pytest.approx(g, rel=1e-9)
    q = np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.5]])
    for name in ("logconf", "product"):  # targets that move with p: sqrt 2 per example
        np.testing.assert_array_equal(C.logit_grad_bound_data(name, q), np.full(3, SQ2))
        with pytest.raises(ValueError, match="no closed-form"):
            C.logit_grad(name, np.zeros((3, 2)), q)
    # the old constant resolves float32 strengths in float64
    s32 = np.array([0.13, 0.71, 0.29, 0.4], np.float32)
    for name in ("ve", "tempered"):
        assert C.logit_grad_bound(name, s32, 4) == C.logit_grad_bound(name, s32.astype(float), 4)


def test_logit_grad_and_prediction_kl_are_stable_per_row():
    # rows on very different scales: each is normalized by its own max (no underflow to -inf)
    z = np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 999.0], [-800.0, -801.0, -799.5]])
    z0 = np.array([[0.5, 0.0, 0.0], [1000.5, 1000.0, 1000.0], [-800.0, -800.0, -800.0]])
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p0 = np.exp(z0 - z0.max(1, keepdims=True))
    p0 /= p0.sum(1, keepdims=True)
    want = np.mean((p * np.log(p / p0)).sum(1))
    assert C.prediction_kl(z, z0) == pytest.approx(want, rel=1e-12)
    q = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(C.logit_grad("xent", z, q), p - q, atol=1e-15)
    # float32 logits give the float64 gradient of their values
    z32 = np.random.default_rng(0).normal(0, 3, (4, 3)).astype(np.float32)
    q4 = np.random.default_rng(1).dirichlet(np.ones(3), 4)
    for name, s in (("xent", None), ("ve", np.full(4, 0.7)), ("tempered", np.full(4, 0.7))):
        got = C.logit_grad(name, z32, q4, s)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, C.logit_grad(name, z32.astype(float), q4, s))


def test_the_constants_validate_targets_and_strengths():
    ok = np.array([[0.3, 0.7], [1.0, 0.0]])
    for bad in (np.array([0.3, 0.7]), np.array([[1.0], [1.0]]), np.array([[1.2, -0.2]]),
                np.array([[0.5, 0.5 + 3e-5]]), np.array([[0.5, 1.0]])):
        with pytest.raises(ValueError, match="targets must be"):
            C.logit_grad_bound_data("xent", bad)
    # a float32 softmax row's rounding (1 + 1.5e-5 here, within the tolerance) is accepted
    C.logit_grad_bound_data("xent", np.array([[0.5, 0.5 + 1.5e-5]]))
    for bad_s in (np.array([0.1, -0.1]), np.array([0.1, np.inf]), np.array([np.nan, 0.1])):
        with pytest.raises(ValueError, match="strengths must be"):
            C.logit_grad_bound_data("ve", ok, bad_s)
    assert np.all(C.logit_grad_bound_data("ve", ok, np.zeros(2)) == 0.0)  # s = 0: no evidence
    # float32 targets and strengths give the float64 constants of their values
    q32 = np.array([[0.31, 0.69], [0.2, 0.8], [1.0, 0.0]], np.float32)
    s32 = np.array([0.37, 1.3, 2.9], np.float32)
    for name in ("xent", "tempered", "ve"):
        for fn in (C.logit_grad_bound_data, C.logit_hessian_bound):
            got = fn(name, q32, s32)
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, fn(name, q32.astype(float), s32.astype(float)))
    # logconf and product: no Hessian constant (NaN per row)
    for name in ("logconf", "product"):
        out = C.logit_hessian_bound(name, ok)
        assert out.shape == (2,) and np.all(np.isnan(out))
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.all(C.logit_hessian_bound("ve", ok, np.array([800.0, 800.0])) == math.inf)
