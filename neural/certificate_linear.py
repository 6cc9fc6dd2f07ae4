"""A-priori movement and prediction bounds for SGD on a linear head over frozen features.

Everything here is a pure function of what is known *before* training: the standardized
training features, the weak targets, the minibatch order ``(T, B)``, the per-step learning
rates ``(T,)``, the per-visit strengths ``(T, B)``, the loss, weight decay, an L2 anchor, a
movement cap, the initial head and the held-out features. (Order and learning rates are
deterministic given the seed.)

The path. Write ``u_i = (x~_i, 1)``, ``Theta = [W | b]`` ``(C, D+1)`` and ``Delta_t = Theta_t -
Theta_0``. Momentum-free SGD with weight decay ``lambda`` (toward 0, as ``torch.optim.SGD``) and
an L2 anchor ``a/2 ||Theta - Theta_0||^2`` steps

    Delta_{t+1} = rho_t Delta_t - eta_t (G_t + lambda Theta_0),
    G_t = (1/B) sum_{k in b_t} e_tk u_k^T,   rho_t = 1 - eta_t (lambda + a),

with ``e_tk = dl/dz`` of example ``k`` at step ``t`` (``||e_tk|| <= g_tk``, ``||e(z) - e(z')|| <=
L_tk ||z - z'||``: :mod:`.certificate`). Unrolled, with ``c_t = eta_t prod_{u>t} rho_u``,

    Delta_T = -sum_t c_t (G_t + lambda Theta_0).                                         (P)

Weight decay on a zero init is exactly this contraction: ``|c_t|`` shrinks geometrically into
the past, so even cross-entropy gets a finite bound. A movement cap (projection onto ``||Delta||
<= cap``) multiplies ``Delta`` by ``gamma_t in (0, 1]`` after a step, which only shrinks every
``|c_t|``; so (B0)-(B2) below stay valid under a cap (and are min'ed with it).

Movement bounds (``drift = lambda ||Theta_0|| sum_t |c_t|``, 0 for a zero init):

* (B0) old constants: ``sum_t |c_t| mean_k g_old(s_tk) max_i ||u_i|| + drift`` with
  ``g_old = sqrt 2 min(1, s)`` etc. (equal to the first certificate when ``lambda = a = 0``);
* (B1) per-example: ``sum_t |c_t| / B sum_k g_tk ||u_k|| + drift``, ``g`` from the targets;
* (B2) Gram: collect (P) by example, ``Delta_T = -sum_j E_j u_j^T + drift term`` with
  ``||E_j|| <= alpha_j = sum_{visits (t,k) of j} |c_t| g_tk / B``; then
  ``||sum_j E_j u_j^T||_F^2 = sum_jl <E_j, E_l> K_jl <= alpha^T |K| alpha``, ``K = U U^T``.
  (B2+) Two-class VE with every ``c_t >= 0``: ``e = -A p_1 p_2 delta (1, -1) / (1 + A m)``,
  ``delta = q_1 - q_2``, points along ``-sign(delta) (1, -1)`` whatever the prediction (the
  loss is monotone in ``m``), so ``E_j = sigma_j t_j (1, -1)/sqrt 2`` with known signs
  ``sigma_j`` and ``t_j in [0, alpha_j]``; then ``||.||^2 = t^T S K S t <= alpha^T (S K S)_+
  alpha`` (negative entries can only lower it), often much less than with ``|K|``;
* (B3) linearized: split ``e_tk = e0_tk + (e_tk - e0_tk)``, ``e0`` the gradient at the
  *initial* logits (known a priori). The first part gives the reference path ``R_T = -sum_t c_t
  (G0_t + lambda Theta_0)``, computed exactly (for a zero init and small strengths it is the
  weak-label centroid direction: one full-batch gradient step, weighted by the visit order).
  The rest is ``delta_T = Delta_T - R_T`` with ``||e_tk - e0_tk|| <= beta_tk :=
  min(L_tk ||Delta_t u_k||, g_tk + ||e0_tk||)``, and ``||Delta_t u_k|| <= ||R_t u_k|| +
  xi_t(k)`` where ``xi_t(i) >= ||delta_t u_i||`` follows the recursion

      xi_{t+1}(i) = |rho_t| xi_t(i) + eta_t / B sum_k beta_tk |K_ik|,      xi_0 = 0;

  then ``||Delta_T|| <= ||R_T|| + sqrt(b^T |K| b)``, ``b_j = sum_{visits of j} |c_t| beta_tk / B``.
  Needs ``L`` (xent, tempered, VE; NaN for logconf/product). Under a cap it holds only if
  the uncapped path provably never reaches the cap (then the projection never acts).

``distance_bound`` is the least of (B0)-(B3) and the cap.

Held-out predictions. For a held-out ``u~`` the logits move by ``Delta_T u~ = R_T u~ +
delta_T u~``, ``||delta_T u~|| <= r(x) = sum_j b_j |<u~, u_j>|``; without linearizing,
``||Delta_T u~|| <= sum_j alpha_j |<u~, u_j>| + lambda sum_t |c_t| ||Theta_0 u~||``. The *reference
classifier* ``z_ref(x) = (Theta_0 + R_T) u~`` is computable before training; the trained head's
argmax can differ from it only where the reference margin ``z_top - z_second <= sqrt 2 r(x)``
(a logit difference changes by at most ``sqrt 2 ||delta||``). ``flip_bound`` counts those inputs:
*the trained head's predictions differ from the reference on at most ``flip_bound`` inputs*, and
its accuracy is within ``flip_bound / m`` of the reference's. Floating point: training runs in
float32, so ``1e-5 (1 + ||z_ref||)`` is added to ``sqrt 2 r(x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .certificate import (
    SQRT2,
    _binary_local,
    _old_g,
    count_flips,
    kl_bound_per_input,
    logit_grad,
    logit_grad_bound_data,
    logit_hessian_bound,
)

__all__ = [
    "LinearCertificate",
    "LinearGrams",
    "certificate_columns",
    "certify_linear_head",
    "linear_grams",
    "sgd_coefficients",
]

_FLOAT_TOL = 1e-5


@dataclass(frozen=True)
class LinearCertificate:
    """Bounds on ``||Theta_T - Theta_0||_F`` and on held-out predictions (module docstring).

    ``distance_bound_{max, norms, gram, linear}`` are (B0)-(B3); ``distance_bound`` their
    least (and the cap). ``reference`` ``(C, D+1)`` is ``Theta_0 + R_T`` (NaN-filled when (B3)
    does not apply). Held-out (``(m,)`` arrays, None without held-out inputs):
    ``logit_bound`` bounds ``||z_T(x) - z_0(x)||``; ``remainder_bound`` ``r(x)`` bounds
    ``||z_T(x) - z_ref(x)||``; ``reference_logits`` ``(m, C)``; ``may_flip`` marks inputs whose
    reference margin is within ``sqrt 2 r(x)``; ``flip_bound`` is their number (NaN when (B3)
    does not apply); ``kl_bound`` the mean over held-out inputs of
    ``min(d^2/4, sqrt 2 d)`` with ``d`` the least of the two logit bounds.
    """

    distance_bound_max: float
    distance_bound_norms: float
    distance_bound_gram: float
    distance_bound_linear: float
    distance_bound: float
    reference_distance: float
    reference: np.ndarray
    logit_bound: np.ndarray | None = None
    remainder_bound: np.ndarray | None = None
    reference_logits: np.ndarray | None = None
    may_flip: np.ndarray | None = None
    flip_bound: float = math.nan
    kl_bound: float = math.nan


@dataclass(frozen=True, eq=False)
class LinearGrams:
    """The products of the data alone that a certificate needs, shared by every head trained
    on the same standardized rows: ``u = (x~, 1) (N, D+1)``, ``K = u u^T`` and ``|K|``
    ``(N, N)``, and for held-out inputs ``u~ (m, D+1)`` and ``|u~ u^T| (m, N)``. Computing them
    is most of a certificate's cost (two ``N x N x D`` products); :func:`linear_grams`.
    ``gram_pos`` is ``K_+ = max(K, 0)`` (then ``K_- = |K| - K_+``), for (B2+)."""

    u: np.ndarray
    gram_abs: np.ndarray
    gram_pos: np.ndarray
    heldout_u: np.ndarray | None = None
    heldout_abs: np.ndarray | None = None


def linear_grams(features: np.ndarray, heldout: np.ndarray | None = None) -> LinearGrams:
    """:class:`LinearGrams` of standardized training ``features (N, D)`` and ``heldout (m, D)``."""
    import torch  # float64 products through torch's BLAS: ~2x numpy's here, same precision

    u = _augment(features)
    tu = torch.from_numpy(u)
    gram = (tu @ tu.T).numpy()
    gram_pos = np.maximum(gram, 0.0)
    np.abs(gram, out=gram)
    uh = kh = None
    if heldout is not None:
        uh = _augment(heldout)
        if uh.shape[1] != u.shape[1]:
            raise ValueError(f"heldout has {uh.shape[1] - 1} features, training {u.shape[1] - 1}")
        kh = (torch.from_numpy(uh) @ tu.T).abs_().numpy()
    return LinearGrams(u, gram, gram_pos, uh, kh)


def _grams_for(features, heldout, grams: LinearGrams | None) -> LinearGrams:
    """``grams`` if it was computed from these very inputs (checked, O(N D)), else fresh."""
    if grams is None:
        return linear_grams(features, heldout)
    x = np.asarray(features, float)
    same = grams.u.shape == (*x.shape[:1], x.shape[1] + 1) and np.array_equal(grams.u[:, :-1], x)
    if heldout is not None:
        h = np.asarray(heldout, float)
        same = same and grams.heldout_u is not None and grams.heldout_u.shape[0] == len(h)
        same = same and np.array_equal(grams.heldout_u[:, :-1], h)
    if not same:
        raise ValueError("grams were computed from other features or held-out inputs")
    return grams


def sgd_coefficients(lrs: np.ndarray, weight_decay: float = 0.0, anchor_weight: float = 0.0):
    """``(rho (T,), c (T,))``: ``rho_t = 1 - eta_t (lambda + a)``,
    ``c_t = eta_t prod_{u>t} rho_u``."""
    lrs = np.asarray(lrs, float)
    if lrs.ndim != 1 or np.any(lrs < 0) or not np.all(np.isfinite(lrs)):
        raise ValueError("lrs must be a finite non-negative (T,) array")
    if weight_decay < 0 or anchor_weight < 0:
        raise ValueError("weight_decay and anchor_weight must be non-negative")
    rho = 1.0 - lrs * (weight_decay + anchor_weight)
    suffix = np.ones(len(lrs))
    if len(lrs) > 1:
        suffix[:-1] = np.cumprod(rho[::-1])[::-1][1:]  # prod_{u > t} rho_u
    return rho, lrs * suffix


def _augment(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    if x.ndim != 2:
        raise ValueError(f"features must be (n, D), got shape {x.shape}")
    return np.hstack([x, np.ones((len(x), 1))])  # (n, D+1)


def _quad(v: np.ndarray, kabs: np.ndarray) -> float:
    return math.sqrt(max(float(v @ (kabs @ v)), 0.0))


def certify_linear_head(
    features: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    lrs: np.ndarray,
    loss: str,
    *,
    strengths: np.ndarray | None = None,
    weight_decay: float = 0.0,
    anchor_weight: float = 0.0,
    cap: float | None = None,
    init: np.ndarray | None = None,
    heldout: np.ndarray | None = None,
    grams: LinearGrams | None = None,
) -> LinearCertificate:
    """Certify a momentum-free SGD run of a linear head before it happens.

    Parameters
    ----------
    features : (N, D) standardized training features ``x~`` (as the head's forward sees them).
    targets : (N, C) weak targets ``q``.
    order : (T, B) int, the example of each batch slot; ``lrs`` : (T,) step sizes.
    loss : ``"xent"``, ``"tempered"``, ``"ve"``, ``"logconf"`` or ``"product"``.
    strengths : (T, B) per-visit strengths (VE, tempered).
    weight_decay, anchor_weight : ``lambda`` (toward 0) and the L2 anchor ``a`` (toward
        ``Theta_0``); cap : the radius of projected SGD, if any.
    init : (C, D+1) ``Theta_0 = [W_0 | b_0]``; zeros by default.
    heldout : (m, D) standardized held-out features.
    grams : :func:`linear_grams` of ``(features, heldout)``, to share between heads trained
        on the same rows (checked against the inputs); computed when not given.
    """
    if np.ndim(features) != 2:
        raise ValueError(f"features must be (n, D), got shape {np.shape(features)}")
    grams = _grams_for(features, heldout, grams)
    u = grams.u  # (N, D1)
    q = np.asarray(targets, float)
    n, d1 = u.shape
    if q.ndim != 2 or len(q) != n:
        raise ValueError(f"targets must be ({n}, C), got {q.shape}")
    c_cls = q.shape[1]
    order = np.asarray(order)
    if order.ndim != 2 or order.size == 0 or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(f"order must be a non-empty (T, B) integer array, got {order.shape}")
    if order.min() < 0 or order.max() >= n:
        raise ValueError("order indexes outside the training set")
    t_steps, bsz = order.shape
    lrs = np.asarray(lrs, float)
    rho, c = sgd_coefficients(lrs, weight_decay, anchor_weight)
    if len(rho) != t_steps:
        raise ValueError(f"lrs has {len(rho)} steps, order {t_steps}")
    s = None
    if strengths is not None:
        s = np.asarray(strengths, float)
        if s.shape != order.shape:
            raise ValueError(f"strengths must be {order.shape} like order, got {s.shape}")
    if cap is not None and not cap > 0:
        raise ValueError(f"cap must be > 0, got {cap}")
    theta0 = np.zeros((c_cls, d1)) if init is None else np.asarray(init, float)
    if theta0.shape != (c_cls, d1):
        raise ValueError(f"init must be ({c_cls}, {d1}), got {theta0.shape}")

    q_v = q[order].reshape(-1, c_cls)  # (T*B, C) targets per visit
    s_v = None if s is None else s.ravel()
    g = logit_grad_bound_data(loss, q_v, s_v).reshape(t_steps, bsz)  # (T, B)
    g_old = np.broadcast_to(_old_g(loss, s), (t_steps, bsz))
    norms = np.sqrt((u * u).sum(1))  # (N,)
    abs_c = np.abs(c)
    drift = weight_decay * float(np.linalg.norm(theta0)) * float(abs_c.sum())
    b0 = float(abs_c @ g_old.mean(1)) * float(norms.max()) + drift
    b1 = float(abs_c @ (g * norms[order]).mean(1)) + drift
    kabs = grams.gram_abs  # (N, N) |K|, K = u u^T
    alpha = np.bincount(order.ravel(), (abs_c[:, None] * g / bsz).ravel(), minlength=n)
    b2_signed = math.inf
    if loss == "ve" and c_cls == 2 and np.all(c >= 0):  # (B2+): signs known a priori
        # sum_jl (sigma_j sigma_l K_jl)_+ alpha_j alpha_l: same-sign pairs keep K_+, opposite-
        # sign pairs K_- = |K| - K_+ (a zero sign contributes nothing)
        sign = np.sign(q[:, 1] - q[:, 0])  # (N,)
        a_pos, a_neg = alpha * (sign > 0), alpha * (sign < 0)
        kp = grams.gram_pos
        total = a_pos @ (kp @ a_pos) + a_neg @ (kp @ a_neg)
        total += 2.0 * (a_pos @ (kabs @ a_neg) - a_pos @ (kp @ a_neg))
        b2_signed = math.sqrt(max(float(total), 0.0)) + drift
    b2 = min(_quad(alpha, kabs) + drift, b2_signed)

    lip = logit_hessian_bound(loss, q_v, s_v).reshape(t_steps, bsz)
    b3, ref_dist, reference, never_capped = math.nan, math.nan, np.full_like(theta0, np.nan), True
    beta_acc = None
    if np.all(np.isfinite(lip)):
        z0 = u @ theta0.T  # (N, C)
        d0 = z0[:, 0] - z0[:, -1]  # (N,) initial margins (two classes)
        e0 = logit_grad(loss, z0[order].reshape(-1, c_cls), q_v, s_v).reshape(t_steps, bsz, c_cls)
        e0_norm = np.linalg.norm(e0, axis=2)  # (T, B)
        r_mat = np.zeros_like(theta0)  # R_t (C, D1)
        xi = np.zeros(n)  # xi_t(i) >= ||delta_t u_i||
        rem = 0.0  # running bound on ||delta_t||
        beta_acc = np.zeros(n)
        for t in range(t_steps):
            idx = order[t]
            ru = np.linalg.norm(u[idx] @ r_mat.T, axis=1)  # (B,) ||R_t u_k||
            if cap is not None and never_capped:
                never_capped = float(np.linalg.norm(r_mat)) + rem <= cap
            move = ru + xi[idx]  # (B,) bound on ||Delta_t u_k||
            lip_t = lip[t]
            if c_cls == 2:  # the margin moves by at most sqrt 2 * move: a local L
                lip_t = _binary_local(
                    loss, q[idx], None if s is None else s[t], np.abs(d0[idx]), SQRT2 * move
                )
            beta = np.minimum(lip_t * move, g[t] + e0_norm[t])  # (B,)
            np.add.at(beta_acc, idx, abs_c[t] * beta / bsz)
            lr_t = float(lrs[t])
            xi = abs(rho[t]) * xi + (lr_t / bsz * beta) @ kabs[idx]  # (N,); |K| symmetric
            rem = abs(rho[t]) * rem + lr_t / bsz * float(beta @ norms[idx])
            r_mat = rho[t] * r_mat - lr_t * (e0[t].T @ u[idx] / bsz + weight_decay * theta0)
        if cap is not None and never_capped:
            never_capped = float(np.linalg.norm(r_mat)) + rem <= cap
        ref_dist = float(np.linalg.norm(r_mat))
        if never_capped:
            b3 = ref_dist + _quad(beta_acc, kabs)
            reference = theta0 + r_mat
    best = float(np.nanmin([b0, b1, b2, b3]))
    if cap is not None:
        best = min(best, float(cap))
    out = dict(
        distance_bound_max=b0,
        distance_bound_norms=b1,
        distance_bound_gram=b2,
        distance_bound_linear=b3,
        distance_bound=best,
        reference_distance=ref_dist,
        reference=reference,
    )
    if heldout is None:
        return LinearCertificate(**out)
    uh, kh = grams.heldout_u, grams.heldout_abs  # (m, D1), |u~ u^T| (m, N)
    adv = kh @ alpha
    rem_h = kh @ beta_acc if beta_acc is not None and not np.isnan(b3) else np.full(len(uh), np.nan)
    adv += weight_decay * float(abs_c.sum()) * np.linalg.norm(uh @ theta0.T, axis=1)
    if cap is not None:
        adv = np.minimum(adv, cap * np.linalg.norm(uh, axis=1))
    delta = adv
    ref_logits = may_flip = None
    flip_bound = math.nan
    if not np.isnan(b3):
        ref_logits = uh @ reference.T  # (m, C)
        delta = np.minimum(adv, np.linalg.norm(uh @ (reference - theta0).T, axis=1) + rem_h)
        top2 = np.sort(ref_logits, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        tol = _FLOAT_TOL * (1.0 + np.linalg.norm(ref_logits, axis=1))
        may_flip = margin <= SQRT2 * rem_h + tol
        flip_bound = float(may_flip.sum())
    return LinearCertificate(
        **out,
        logit_bound=adv,
        remainder_bound=rem_h if not np.isnan(b3) else None,
        reference_logits=ref_logits,
        may_flip=may_flip,
        flip_bound=flip_bound,
        kl_bound=float(np.mean(kl_bound_per_input(delta))),
    )


def certificate_columns(
    features: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    lrs: np.ndarray,
    loss: str,
    *,
    strengths: np.ndarray | None = None,
    weight_decay: float = 0.0,
    anchor_weight: float = 0.0,
    cap: float | None = None,
    init: np.ndarray | None = None,
    heldout: np.ndarray | None = None,
    final_logits: np.ndarray | None = None,
    grams: LinearGrams | None = None,
) -> dict:
    """A run's certificate columns from :func:`certify_linear_head` (same arguments, ``grams``
    included) and the trained head's held-out logits ``final_logits (m, C)``.

    ``distance_bound`` (B0), ``distance_bound_data`` (the least bound) and its parts
    ``distance_bound_{norms,gram,linear}``, ``reference_distance`` ``||R_T||``; with held-out
    inputs ``kl_bound`` (from (B0)), ``kl_bound_data``, ``flip_bound`` and ``flips_measured``
    (disagreements of ``final_logits`` with the reference classifier). An empty ``order``
    (``(0, B)``: the initial weights) gives zeros.
    """
    order = np.asarray(order)
    held = heldout is not None
    if order.ndim == 2 and order.shape[0] == 0:
        out = dict.fromkeys(("distance_bound", "distance_bound_data", "distance_bound_norms",
                             "distance_bound_gram", "distance_bound_linear",
                             "reference_distance"), 0.0)
        if held:
            out.update(kl_bound=0.0, kl_bound_data=0.0, flip_bound=0.0, flips_measured=0)
        return out
    cert = certify_linear_head(
        features, targets, order, lrs, loss, strengths=strengths, weight_decay=weight_decay,
        anchor_weight=anchor_weight, cap=cap, init=init, heldout=heldout, grams=grams,
    )
    out = {
        "distance_bound": cert.distance_bound_max,
        "distance_bound_data": cert.distance_bound,
        "distance_bound_norms": cert.distance_bound_norms,
        "distance_bound_gram": cert.distance_bound_gram,
        "distance_bound_linear": cert.distance_bound_linear,
        "reference_distance": cert.reference_distance,
    }
    if held:
        scales = np.linalg.norm(_augment(heldout), axis=1)  # sqrt(||x~||^2 + 1)
        out["kl_bound"] = float(np.mean(kl_bound_per_input(cert.distance_bound_max * scales)))
        out["kl_bound_data"] = cert.kl_bound
        out["flip_bound"] = cert.flip_bound
        out["flips_measured"] = (
            count_flips(final_logits, cert.reference_logits)
            if final_logits is not None and cert.reference_logits is not None
            else math.nan
        )
    return out
