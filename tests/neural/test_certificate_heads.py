"""Several runs certified together (certify_linear_heads, the walk of certificate_path) give
each run's certificate as certifying it alone: shared orders (prefixes), other orders, mixed
losses, caps, decay, inits, class counts and batch sizes in one call."""

import math

import numpy as np
import pytest

from bayes_w2s.neural.certificate_columns import runs_certificate_columns
from bayes_w2s.neural.certificate_linear import certify_linear_head, certify_linear_heads, linear_grams

FIELDS = ("distance_bound_max", "distance_bound_norms", "distance_bound_gram",
          "distance_bound_linear", "distance_bound", "reference_distance", "flip_bound",
          "kl_bound")
ARRAYS = ("reference", "logit_bound", "remainder_bound", "reference_logits", "may_flip")


def _runs(seed, n=50, d=4, steps=30, b=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, d)
    held = rng.normal(size=(25, d))
    q2 = rng.dirichlet(np.ones(2), size=n)
    q2[:5] = 0.5  # rows without a sign: (B2+) drops them
    q3 = rng.dirichlet(np.ones(3), size=n)
    perms = np.concatenate([rng.permutation(n) for _ in range(steps * b // n + 2)])
    order = perms[: steps * b].reshape(steps, b)  # one seed's order: runs use prefixes
    other = rng.permutation(np.concatenate([rng.permutation(n) for _ in range(4)])[: steps * b])
    other = other.reshape(steps, b)
    lrs = np.linspace(0.4, 0.05, steps)
    s = rng.uniform(0.01, 0.6, (steps, b))
    init2 = rng.normal(0, 0.3, (2, d + 1))
    runs = [
        dict(targets=q2, order=order, lrs=lrs, loss="ve", strengths=s),
        dict(targets=q2, order=order[:17], lrs=lrs[:17], loss="xent", weight_decay=0.3),
        dict(targets=q2, order=order[:23], lrs=lrs[:23], loss="xent", cap=30.0),
        dict(targets=q2, order=order[:9], lrs=lrs[:9], loss="tempered", strengths=s[:9],
             init=init2, anchor_weight=0.2),
        dict(targets=q2, order=order, lrs=lrs, loss="logconf"),  # no (B3): no walk
        dict(targets=q2, order=order, lrs=3.0 * lrs, loss="ve", strengths=50 * s, cap=0.05),
    ]
    return x, held, q3, order, other, lrs, s, runs


def _same(a, b, rel=1e-10):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=rel, abs=1e-13), f
    for f in ARRAYS:
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float), rtol=rel,
                                       atol=1e-13, equal_nan=True, err_msg=f)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_runs_together_equal_runs_alone(seed):
    x, held, _, _, _, _, _, runs = _runs(seed)
    together = certify_linear_heads(x, runs, heldout=held)
    assert len(together) == len(runs)
    for run, cert in zip(runs, together):
        alone = certify_linear_head(x, **run, heldout=held)
        _same(cert, alone)
    # the cases do what they are there for: a capped run whose path reaches the cap loses
    # (B3), the others keep it, logconf has none
    assert math.isnan(together[4].distance_bound_linear)
    assert math.isnan(together[5].distance_bound_linear)
    assert all(math.isfinite(together[h].distance_bound_linear) for h in range(4))


def test_other_orders_class_counts_and_batch_sizes_in_one_call():
    x, held, q3, order, other, lrs, s, runs = _runs(7)
    mixed = [
        runs[0],
        dict(targets=runs[0]["targets"], order=other, lrs=lrs, loss="ve", strengths=s),
        dict(targets=q3, order=order, lrs=lrs, loss="xent", weight_decay=0.1),
        dict(targets=q3, order=other[:11], lrs=lrs[:11], loss="ve", strengths=s[:11]),
        dict(targets=q3, order=order.reshape(-1, 3)[:40], lrs=np.full(40, 0.2), loss="xent"),
    ]
    grams = linear_grams(x, held)
    together = certify_linear_heads(x, mixed, heldout=held, grams=grams)
    for run, cert in zip(mixed, together):
        _same(cert, certify_linear_head(x, **run, heldout=held))


def test_columns_of_several_runs_and_empty_orders():
    x, held, _, order, _, lrs, s, runs = _runs(3)
    empty = dict(runs[1], order=order[:0], lrs=lrs[:0])
    final = np.zeros((len(held), 2))
    rows = runs_certificate_columns(x, [runs[0], empty, runs[1]], heldout=held,
                                    final_logits=[final, None, final])
    assert rows[1]["distance_bound_data"] == 0.0 and rows[1]["flips_measured"] == 0
    assert rows[0]["distance_bound_data"] > 0 and rows[2]["distance_bound_data"] > 0
    assert rows[0]["flips_measured"] >= 0 and rows[2]["flips_measured"] >= 0
    assert certify_linear_heads(x, [], heldout=held) == []
    with pytest.raises(ValueError, match="final_logits"):
        runs_certificate_columns(x, runs[:2], heldout=held, final_logits=[final])
    with pytest.raises(ValueError, match="order indexes"):
        certify_linear_heads(x, [runs[0], dict(runs[1], order=order[:17] + 100)])
