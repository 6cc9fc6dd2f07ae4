"""A run's certificate as table columns: what :func:`~.train.train` and the batched heads record.

:func:`certificate_columns` turns one run's :class:`~.certificate_linear.LinearCertificate`
(and the trained head's held-out logits) into the columns of a results row;
:func:`runs_certificate_columns` does it for several runs on the same rows, certified together.

The certificate bounds SGD in exact arithmetic; the heads train in float32. So the movement
bounds recorded next to the measured ``param_distance`` (``distance_bound``,
``distance_bound_data``) carry a stated float32 allowance, ``(1 + FLOAT32_ALLOWANCE)``, the
tolerance the flip bound and the tests already use: without it, a capped head's float32
projection landed up to 2.2e-7 (relative) outside the cap the bound reported, and with tiny VE
budgets (bound = the reference path) float32 training exceeded it by 1.9-2.8e-7 (issue 15's
referee). The parts (``distance_bound_{norms,gram,linear}``, ``reference_distance``) are the
exact-arithmetic values.
"""

from __future__ import annotations

import math

import numpy as np

from .certificate import count_flips, kl_bound_per_input
from .certificate_grams import LinearGrams, augment
from .certificate_linear import certify_linear_heads

FLOAT32_ALLOWANCE = 1e-5  # relative: float32 training against the exact-arithmetic bound

__all__ = ["certificate_columns", "runs_certificate_columns"]


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
    (``(0, B)``: the initial weights) gives zeros. Several runs: :func:`runs_certificate_columns`.
    """
    run = {"targets": targets, "order": order, "lrs": lrs, "loss": loss, "strengths": strengths,
           "weight_decay": weight_decay, "anchor_weight": anchor_weight, "cap": cap, "init": init}
    return runs_certificate_columns(features, [run], heldout=heldout,
                                    final_logits=[final_logits], grams=grams)[0]


def runs_certificate_columns(features: np.ndarray, runs, *, heldout: np.ndarray | None = None,
                             final_logits=None, grams: LinearGrams | None = None) -> list[dict]:
    """:func:`certificate_columns` of several runs on the same rows, certified together
    (:func:`certify_linear_heads`; ``runs`` as there, ``final_logits`` one per run or None)."""
    runs = list(runs)
    held = heldout is not None
    finals = list(final_logits) if final_logits is not None else [None] * len(runs)
    if len(finals) != len(runs):
        raise ValueError(f"{len(finals)} final_logits for {len(runs)} runs")
    empty = [np.ndim(r["order"]) == 2 and np.shape(r["order"])[0] == 0 for r in runs]
    todo = [r for r, e in zip(runs, empty) if not e]
    certs = iter(certify_linear_heads(features, todo, heldout=heldout, grams=grams) if todo else [])
    scales = np.linalg.norm(augment(heldout), axis=1) if held else None  # sqrt(||x~||^2 + 1)
    out = []
    for e, final in zip(empty, finals):
        if e:
            row = dict.fromkeys(("distance_bound", "distance_bound_data", "distance_bound_norms",
                                 "distance_bound_gram", "distance_bound_linear",
                                 "reference_distance"), 0.0)
            if held:
                row.update(kl_bound=0.0, kl_bound_data=0.0, flip_bound=0.0, flips_measured=0)
            out.append(row)
            continue
        cert = next(certs)
        row = {
            "distance_bound": cert.distance_bound_max * (1 + FLOAT32_ALLOWANCE),
            "distance_bound_data": cert.distance_bound * (1 + FLOAT32_ALLOWANCE),
            "distance_bound_norms": cert.distance_bound_norms,
            "distance_bound_gram": cert.distance_bound_gram,
            "distance_bound_linear": cert.distance_bound_linear,
            "reference_distance": cert.reference_distance,
        }
        if held:
            row["kl_bound"] = float(np.mean(kl_bound_per_input(cert.distance_bound_max * scales)))
            row["kl_bound_data"] = cert.kl_bound
            row["flip_bound"] = cert.flip_bound
            row["flips_measured"] = (
                count_flips(final, cert.reference_logits)
                if final is not None and cert.reference_logits is not None
                else math.nan
            )
        out.append(row)
    return out
