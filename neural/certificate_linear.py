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
  alpha`` (negative entries can only lower it), often much less than with ``|K|``. With
  ``x_+ = (|x| + x) / 2`` it is ``(alpha'^T |K| alpha' + ||u^T S alpha||^2) / 2``, ``alpha'``
  alpha on the rows with a sign: one more product with ``|K|``, no ``N x N`` temporary;
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
    _old_g,
    binary_local_coeffs,
    kl_bound_per_input,
    logit_grad,
    logit_grad_bound_data,
    logit_hessian_bound,
)
from .certificate_grams import LinearGrams, bound_times, grams_for, linear_grams
from .certificate_path import PathRun, walk_paths

__all__ = [
    "LinearCertificate",
    "LinearGrams",
    "certify_linear_head",
    "certify_linear_heads",
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


def _forms(v: np.ndarray, kabs: np.ndarray) -> np.ndarray:
    """``v_h^T |K| v_h`` (clipped at 0) for the rows of ``v (H, N)``: one pass over ``|K|``."""
    if len(v) == 0:
        return np.zeros(0)
    return np.maximum(np.einsum("hn,nh->h", v, bound_times(kabs, v)), 0.0)  # |K| symmetric


@dataclass(eq=False)
class _Run:
    """One run's validated inputs and a-priori sums (:func:`certify_linear_heads`)."""

    q: np.ndarray
    order: np.ndarray
    lrs: np.ndarray
    loss: str
    s: np.ndarray | None
    weight_decay: float
    cap: float | None
    theta0: np.ndarray
    rho: np.ndarray
    abs_c: np.ndarray
    g: np.ndarray
    lip: np.ndarray
    drift: float
    b0: float
    b1: float
    alpha: np.ndarray
    signs: np.ndarray | None  # (N,) for (B2+), else None


def _prepare(grams: LinearGrams, targets, order, lrs, loss: str, *, strengths=None,
             weight_decay: float = 0.0, anchor_weight: float = 0.0, cap=None, init=None) -> _Run:
    """Validate one run and compute (B0), (B1) and the (B2) weights ``alpha``."""
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
    norms = grams.norms  # (N,)
    abs_c = np.abs(c)
    drift = weight_decay * float(np.linalg.norm(theta0)) * float(abs_c.sum())
    b0 = float(abs_c @ g_old.mean(1)) * float(norms.max()) + drift
    b1 = float(abs_c @ (g * norms[order]).mean(1)) + drift
    alpha = np.bincount(order.ravel(), (abs_c[:, None] * g / bsz).ravel(), minlength=n)
    signed = loss == "ve" and c_cls == 2 and np.all(c >= 0)  # (B2+): signs known a priori
    return _Run(
        q, order, lrs, loss, s, weight_decay, cap, theta0, rho, abs_c, g,
        logit_hessian_bound(loss, q_v, s_v).reshape(t_steps, bsz), drift, b0, b1, alpha,
        np.sign(q[:, 1] - q[:, 0]) if signed else None,
    )


def _path_run(u: np.ndarray, r: _Run) -> PathRun:
    """The (B3) walk's inputs of run ``r``: initial logit gradients and two-class coefficients."""
    t_steps, bsz = r.order.shape
    c_cls = r.q.shape[1]
    z0 = u @ r.theta0.T  # (N, C)
    q_v = r.q[r.order].reshape(-1, c_cls)
    s_v = None if r.s is None else r.s.ravel()
    e0 = logit_grad(r.loss, z0[r.order].reshape(-1, c_cls), q_v, s_v).reshape(t_steps, bsz, c_cls)
    local = None
    if c_cls == 2:  # the margin moves by at most sqrt 2 * move: a local L
        kind, a, b = binary_local_coeffs(r.loss, q_v, s_v)
        local = (kind, np.broadcast_to(a, (t_steps * bsz,)).reshape(t_steps, bsz),
                 None if b is None else b.reshape(t_steps, bsz))
    return PathRun(r.order, r.lrs, r.rho, r.abs_c, r.g, e0, r.lip, local,
                   np.abs(z0[:, 0] - z0[:, -1]), r.theta0, r.weight_decay,
                   math.inf if r.cap is None else float(r.cap))


def certify_linear_heads(features: np.ndarray, runs, *, heldout: np.ndarray | None = None,
                         grams: LinearGrams | None = None) -> list[LinearCertificate]:
    """Certify several momentum-free SGD runs of linear heads on the same training rows.

    ``runs``: one dict per run with the arguments of :func:`certify_linear_head` after
    ``features`` (``targets``, ``order``, ``lrs``, ``loss`` and the keywords ``strengths``,
    ``weight_decay``, ``anchor_weight``, ``cap``, ``init``); ``heldout`` and ``grams`` are
    shared. Each certificate is the one :func:`certify_linear_head` gives for its run; the work
    is shared: one pass over ``|K|`` (and ``|u~ u^T|``) for every run's quadratic forms, and the
    linearized paths walked together (:func:`~.certificate_path.walk_paths`: runs on one
    minibatch order share each step's gather of ``|K|`` rows).
    """
    if np.ndim(features) != 2:
        raise ValueError(f"features must be (n, D), got shape {np.shape(features)}")
    grams = grams_for(features, heldout, grams)
    preps = [_prepare(grams, **run) for run in runs]
    if not preps:
        return []
    u, kabs = grams.u, grams.gram_abs
    signed = [h for h, r in enumerate(preps) if r.signs is not None]
    # alpha^T |K| alpha of every run and, for (B2+), alpha'^T |K| alpha' (alpha' = alpha on the
    # rows with a sign): one pass over |K|
    forms = _forms(np.stack([r.alpha for r in preps] +
                            [preps[h].alpha * (preps[h].signs != 0) for h in signed]), kabs)
    drift = np.array([r.drift for r in preps])
    b2 = np.sqrt(forms[: len(preps)]) + drift
    for h, plain in zip(signed, forms[len(preps):]):
        # alpha^T (S K S)_+ alpha = (alpha'^T |K| alpha' + ||u^T S alpha||^2) / 2
        exact = u.T @ (preps[h].signs * preps[h].alpha)  # (D1,)
        b2[h] = min(b2[h], math.sqrt(0.5 * (float(plain) + float(exact @ exact))) + drift[h])

    linear = [h for h, r in enumerate(preps) if np.all(np.isfinite(r.lip))]
    states = dict(zip(linear, walk_paths(u, kabs, grams.norms, [_path_run(u, preps[h]) for h in linear])))
    kept = [h for h in linear if states[h].never_capped]  # (B3) holds for these runs
    b3 = dict(zip(kept, np.sqrt(_forms(np.stack([states[h].beta_acc for h in kept]) if kept
                                       else np.zeros((0, len(u))), kabs))))
    held = None
    if heldout is not None:  # |u~ u^T| alpha and |u~ u^T| b of every run: one pass
        vecs = np.stack([r.alpha for r in preps] + [states[h].beta_acc for h in kept])
        held = bound_times(grams.heldout_abs, vecs).T  # (H + kept, m)
    out = []
    for h, r in enumerate(preps):
        st = states.get(h)
        ref_dist = float(np.linalg.norm(st.r_mat)) if st is not None else math.nan
        path = None
        if h in b3:
            path = (float(ref_dist + b3[h]), r.theta0 + st.r_mat,
                    None if held is None else held[len(preps) + kept.index(h)])
        out.append(_certificate(grams, r, float(b2[h]), ref_dist, path,
                                None if held is None else held[h]))
    return out


def _certificate(grams: LinearGrams, r: _Run, b2: float, ref_dist: float, path, adv) -> LinearCertificate:
    """Assemble run ``r``'s certificate: ``path`` is ``(b3, reference, rem_h)`` when (B3)
    applies (``rem_h`` None without held-out inputs); ``adv`` ``|u~ u^T| alpha`` or None."""
    b3, reference, rem_h = path if path is not None else (math.nan, np.full_like(r.theta0, np.nan), None)
    best = float(np.nanmin([r.b0, r.b1, b2, b3]))
    if r.cap is not None:
        best = min(best, float(r.cap))
    out = {
        "distance_bound_max": r.b0,
        "distance_bound_norms": r.b1,
        "distance_bound_gram": b2,
        "distance_bound_linear": b3,
        "distance_bound": best,
        "reference_distance": ref_dist,
        "reference": reference,
    }
    if adv is None:
        return LinearCertificate(**out)
    uh = grams.heldout_u  # (m, D1)
    adv = adv + r.weight_decay * float(r.abs_c.sum()) * np.linalg.norm(uh @ r.theta0.T, axis=1)
    if r.cap is not None:
        adv = np.minimum(adv, r.cap * np.linalg.norm(uh, axis=1))
    delta = adv
    ref_logits = may_flip = None
    flip_bound = math.nan
    if path is not None:
        ref_logits = uh @ reference.T  # (m, C)
        delta = np.minimum(adv, np.linalg.norm(uh @ (reference - r.theta0).T, axis=1) + rem_h)
        top2 = np.sort(ref_logits, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        tol = _FLOAT_TOL * (1.0 + np.linalg.norm(ref_logits, axis=1))
        may_flip = margin <= SQRT2 * rem_h + tol
        flip_bound = float(may_flip.sum())
    return LinearCertificate(
        **out,
        logit_bound=adv,
        remainder_bound=rem_h,
        reference_logits=ref_logits,
        may_flip=may_flip,
        flip_bound=flip_bound,
        kl_bound=float(np.mean(kl_bound_per_input(delta))),
    )


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
        on the same rows (checked against the inputs); computed when not given. Several runs
        on the same rows: :func:`certify_linear_heads`.
    """
    run = {"targets": targets, "order": order, "lrs": lrs, "loss": loss, "strengths": strengths,
               "weight_decay": weight_decay, "anchor_weight": anchor_weight, "cap": cap, "init": init}
    return certify_linear_heads(features, [run], heldout=heldout, grams=grams)[0]
