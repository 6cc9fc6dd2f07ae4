"""The linearized path bound (B3) of :mod:`.certificate_linear`, walked for several runs at once.

For each run on the training rows ``u (N, D+1)`` (``K = u u^T``) the walk keeps, step by step,
the reference path ``R_t`` and the bound ``xi_t(i) >= ||delta_t u_i||`` on the remainder:

    move_tk = ||R_t u_k|| + xi_t(k),       beta_tk = min(L_tk move_tk, g_tk + ||e0_tk||),
    xi_{t+1} = |rho_t| xi_t + eta_t / B sum_k beta_tk |K_k.|,
    R_{t+1} = rho_t R_t - eta_t (G0_t + lambda Theta_0),   G0_t = (1/B) sum_k e0_tk u_k^T,

and ``b_j = sum_{visits (t, k) of j} |c_t| beta_tk / B`` (module docstring of
:mod:`.certificate_linear`; with two classes ``L_tk`` is the local bound at the margin moved by
``sqrt 2 move_tk``, :func:`~.certificate.binary_local_apply`). A movement cap keeps the bound
only while ``||R_t|| + sum of the remainder's steps <= cap`` (the projection never acts).

Cost. Each step reads the ``B`` rows of ``|K|`` its batch touches (``B x N`` floats) for the
``xi`` update; that gather is the walk's main cost. Runs are stacked along a first axis (H):
runs whose minibatch orders are prefixes of one order (one seed, one batch size: the heads a
selection grid trains on one seed) share each step's gather, so H runs cost little more than
one. A shorter run is padded with steps of zero learning rate, which leave its state exactly
as it was (``rho = 1``, ``c = 0``; its own ``c_t`` are computed from its own steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .certificate import SQRT2, binary_local_apply

__all__ = ["PathRun", "PathState", "walk_paths"]


@dataclass(frozen=True, eq=False)
class PathRun:
    """One run's inputs to the walk (all a-priori, :mod:`.certificate_linear`): ``order (T, B)``,
    ``lrs``/``rho``/``abs_c`` ``(T,)``, ``g (T, B)`` the gradient bounds, ``e0 (T, B, C)`` the
    initial logit gradients, ``lip (T, B)`` the global ``L`` (used when ``C != 2``), ``local``
    the two-class coefficients ``(kind, a (T, B), b (T, B) or None)``
    (:func:`~.certificate.binary_local_coeffs` per visit; None when ``C != 2``), ``d0 (N,)`` the
    absolute initial margins, ``theta0 (C, D+1)``, ``weight_decay`` and ``cap`` (inf: none)."""

    order: np.ndarray
    lrs: np.ndarray
    rho: np.ndarray
    abs_c: np.ndarray
    g: np.ndarray
    e0: np.ndarray
    lip: np.ndarray
    local: tuple | None
    d0: np.ndarray
    theta0: np.ndarray
    weight_decay: float
    cap: float


@dataclass(frozen=True, eq=False)
class PathState:
    """A walked run: ``r_mat`` ``R_T (C, D+1)``, ``beta_acc`` ``b (N,)`` and whether the
    uncapped path provably never reached the cap (always True without a cap)."""

    r_mat: np.ndarray
    beta_acc: np.ndarray
    never_capped: bool


@threadpool_limits.wrap(limits=1, user_api="blas")
def walk_paths(u: np.ndarray, kabs: np.ndarray, norms: np.ndarray, runs) -> list[PathState]:
    """Walk every run of ``runs`` (:class:`PathRun`) over the rows ``u (N, D+1)`` with ``|K|``
    ``kabs (N, N)`` and row norms ``norms (N,)``; runs of one class count and batch size go
    together (one stack), and share their gathers when their orders are prefixes of one.
    numpy's BLAS runs on one thread here: the walk is thousands of small products, for which
    a second OpenBLAS thread only spins (a compare's walks took 2.4-3.1 s with two threads on
    a loaded 2-core machine, 2.4 s with one; and the same on a quiet one)."""
    runs = list(runs)
    out: list = [None] * len(runs)
    groups: dict = {}
    for i, r in enumerate(runs):
        groups.setdefault((r.theta0.shape[0], r.order.shape[1]), []).append(i)
    for members in groups.values():
        for i, state in zip(members, _walk_stack(u, kabs, norms, [runs[i] for i in members])):
            out[i] = state
    return out


def _pad(arrays, t_max: int, fill=0.0) -> np.ndarray:
    """Stack per-run arrays ``(T_h, ...)`` to ``(H, t_max, ...)``, padding the steps with ``fill``."""
    first = np.asarray(arrays[0])
    out = np.full((len(arrays), t_max, *first.shape[1:]), fill, dtype=np.result_type(*arrays))
    for h, a in enumerate(arrays):
        out[h, : len(a)] = a
    return out


def _walk_stack(u, kabs, norms, runs) -> list[PathState]:
    """The walk of runs with one class count ``C`` and batch size ``B``, stacked (H runs)."""
    n_runs, n = len(runs), len(u)
    lengths = [len(r.lrs) for r in runs]
    t_max, bsz = max(lengths), runs[0].order.shape[1]
    longest = runs[int(np.argmax(lengths))].order
    shared = all(np.array_equal(r.order, longest[: len(r.order)]) for r in runs)
    order = longest if shared else _pad([r.order for r in runs], t_max, 0).astype(np.int64)
    lrs = _pad([r.lrs for r in runs], t_max)  # padded steps: eta = 0 ...
    rho = _pad([r.rho for r in runs], t_max, 1.0)  # ... rho = 1 ...
    arho = np.abs(rho)
    abs_c = _pad([r.abs_c for r in runs], t_max)  # ... and c = 0: the state stays as it was
    active = _pad([np.ones(k, bool) for k in lengths], t_max, False)  # (H, T)
    e0 = _pad([r.e0 for r in runs], t_max)  # (H, T, B, C)
    ceil = _pad([r.g for r in runs], t_max) + np.linalg.norm(e0, axis=3)  # g + ||e0|| (H, T, B)
    two = runs[0].local is not None
    if two:
        kinds = np.array([r.local[0] == "ve" for r in runs])  # else "sigmoid"
        la = _pad([np.broadcast_to(r.local[1], r.order.shape) for r in runs], t_max)
        lb = _pad([r.local[2] if r.local[2] is not None else np.zeros(r.order.shape)
                   for r in runs], t_max)
        d0 = np.stack([r.d0 for r in runs])  # (H, N)
    else:
        lip = _pad([r.lip for r in runs], t_max)
    theta0 = np.stack([r.theta0 for r in runs])  # (H, C, D1)
    decay = np.array([r.weight_decay for r in runs])[:, None, None] * theta0  # lambda Theta_0
    caps = np.array([r.cap for r in runs], float)
    capped = np.isfinite(caps)
    any_cap = bool(capped.any())
    rows = np.arange(n_runs)[:, None]
    lr_b = lrs / bsz  # eta_t / B (H, T)
    if two:  # the two-class L of each kind on its runs (all runs, unselected, when one kind)
        parts = [(kind, sel) for kind, sel in (("sigmoid", ~kinds), ("ve", kinds)) if sel.any()]
        one_kind = parts[0][0] if len(parts) == 1 else None

    r_mat = np.zeros_like(theta0)  # R_t (H, C, D1)
    xi = np.zeros((n_runs, n))  # xi_t(i) >= ||delta_t u_i||
    rem = np.zeros(n_runs)  # running bound on ||delta_t||
    beta_acc = np.zeros((n_runs, n))
    never_capped = np.ones(n_runs, bool)
    for t in range(t_max):
        idx = order[t] if shared else order[:, t]  # (B,) or (H, B)
        ug = u[idx]  # (B, D1) or (H, B, D1)
        ru = np.linalg.norm(np.matmul(ug, r_mat.transpose(0, 2, 1)), axis=2)  # (H, B)
        if any_cap:
            r_norm = np.sqrt((r_mat * r_mat).sum((1, 2)))
            never_capped &= ~capped | (r_norm + rem <= caps)
        at = (rows, idx)  # every run's visited rows
        move = ru + xi[at]  # (H, B) bound on ||Delta_t u_k||
        if two:
            d0_t, w = d0[at], SQRT2 * move
            if one_kind is not None:
                lip_t = binary_local_apply(one_kind, la[:, t], lb[:, t], d0_t, w)
            else:
                lip_t = np.empty_like(move)
                for kind, sel in parts:
                    lip_t[sel] = binary_local_apply(kind, la[sel, t], lb[sel, t], d0_t[sel], w[sel])
        else:
            lip_t = lip[:, t]
        beta = np.where(active[:, t, None], np.minimum(lip_t * move, ceil[:, t]), 0.0)  # (H, B)
        np.add.at(beta_acc, at, abs_c[:, t, None] * beta / bsz)  # a row may repeat in a batch
        step = lr_b[:, t, None] * beta  # (H, B)
        if shared:
            gathered = step @ kabs[idx]  # (H, N): one gather of B rows for all runs
        else:
            gathered = np.matmul(step[:, None, :], kabs[idx.ravel()].reshape(n_runs, bsz, n))[:, 0]
        xi *= arho[:, t, None]  # |K| symmetric
        xi += gathered
        rem = arho[:, t] * rem + lr_b[:, t] * (beta * norms[idx]).sum(1)
        grad0 = np.matmul(e0[:, t].transpose(0, 2, 1), ug) / bsz  # G0_t (H, C, D1)
        r_mat = rho[:, t, None, None] * r_mat - lrs[:, t, None, None] * (grad0 + decay)
    if capped.any():
        r_norm = np.sqrt((r_mat * r_mat).sum((1, 2)))
        never_capped &= ~capped | (r_norm + rem <= caps)
    return [PathState(r_mat[h], beta_acc[h], bool(never_capped[h])) for h in range(n_runs)]

