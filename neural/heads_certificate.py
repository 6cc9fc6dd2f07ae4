"""The data-dependent certificate of heads trained by :func:`~.heads.train_heads`.

:func:`certify_heads` gives each certified head (momentum-free SGD, a trained bias) the columns
:func:`~.train.train` records for the same run (:mod:`.certificate_columns`): its order,
learning rates and strengths come from :func:`~.heads.head_schedule` up to the step its weights
come from, its rows are standardized as its forward sees them. Heads on the same training and
held-out rows share the Gram products and are certified together (:mod:`.certificate_path`).
"""

from __future__ import annotations

import numpy as np
import torch

from .certificate_grams import LinearGrams, linear_grams
from .heads import HeadsResult, _frozen_bias, head_schedule, standardized_rows

__all__ = ["certify_head", "certify_heads", "grams_key", "rows_grams"]


def certify_head(res: HeadsResult, m: int, targets, *, grams: dict | None = None) -> dict:
    """Head ``m``'s data-dependent certificate columns (:func:`~.certificate_columns.certificate_columns`):
    ``distance_bound_data``, ``kl_bound_data``, ``flip_bound``, ``flips_measured`` and the parts,
    from its training rows' standardized features, its weak targets ``(n, C)``, its minibatch
    order and learning rates (:func:`head_schedule`) up to the step its weights come from, and
    its held-out rows. The same columns :func:`~.train.train` records; empty when the head is
    not certified (Adam). Costs ``n x n`` Gram products (:func:`~.certificate_grams.linear_grams`):
    call it for the heads you report, with one ``grams`` dict for heads trained on the same
    rows (it keeps their products, keyed by training and held-out rows); several heads at once:
    :func:`certify_heads`."""
    return certify_heads([(res, m)], targets, grams=grams)[0]


def certify_heads(heads, targets, *, grams: dict | None = None) -> list[dict]:
    """:func:`certify_head` of several heads ``[(HeadsResult, m), ...]`` whose training rows
    have the weak targets ``targets (n, C)``; heads on the same training and held-out rows (and
    standardization) are certified together (:func:`~.certificate_columns.runs_certificate_columns`:
    one pass over their Gram products, one walk of their paths)."""
    from .certificate import certificate_valid
    from .certificate_columns import runs_certificate_columns

    grams = {} if grams is None else grams
    targets = np.asarray(targets, float)
    out: list = [{} for _ in heads]
    groups: dict = {}  # rows key -> [(position, res, m)]
    for pos, (res, m) in enumerate(heads):
        spec = res.specs[m]
        if certificate_valid(spec.train_config()) or _frozen_bias(spec):
            continue
        heldout = None if res.heldout is None else res.heldout[m]
        key = grams_key(res.train_idx[m], heldout, res.mean[m], res.std[m])
        groups.setdefault(key, []).append((pos, res, m, heldout))
    for key, members in groups.items():
        _, res, m, heldout = members[0]
        shared = grams.get(key)
        if shared is None:  # standardize the rows once and keep their Gram products
            shared = grams[key] = rows_grams(res.features, res.train_idx[m], heldout,
                                             res.mean[m], res.std[m])
        train = shared.u[:, :-1]
        held = shared.heldout_u[:, :-1] if shared.heldout_u is not None else None
        runs = [_certificate_run(res, m, targets) for _, res, m, _ in members]
        finals = [None] * len(members)
        if held is not None:  # the trained heads' held-out logits: one product per result
            by_res: dict = {}
            for i, (_, res, m, _) in enumerate(members):
                by_res.setdefault(id(res), (res, []))[1].append((i, m))
            for res, pairs in by_res.values():
                logits = res.predict(res.heldout[pairs[0][1]], heads=[m for _, m in pairs])
                for (i, _), z in zip(pairs, logits):
                    finals[i] = z
        for (pos, *_), row in zip(members, runs_certificate_columns(
                train, runs, heldout=held, final_logits=finals, grams=shared)):
            out[pos] = row
    return out


def _certificate_run(res: HeadsResult, m: int, targets: np.ndarray) -> dict:
    """Head ``m``'s run as :func:`~.certificate_linear.certify_linear_heads` takes it: its
    order, learning rates and strengths up to the step its weights come from, and its init."""
    spec = res.specs[m]
    at = int(res.movement_step[m])
    sch = head_schedule(spec, res.train_idx.shape[1])
    w0 = (res.init_weight[m] if res.init_weight is not None else torch.zeros_like(res.weight[m]))
    b0 = (res.init_bias[m] if res.init_bias is not None else torch.zeros_like(res.bias[m]))
    strengths = sch["strengths"]
    return {
        "targets": targets,
        "order": np.asarray(sch["idx"][:at], np.int64),
        "lrs": np.asarray(sch["lrs"][:at], float),
        "loss": spec.loss,
        "strengths": None if strengths is None else np.asarray(strengths[:at], float),
        "weight_decay": spec.weight_decay,
        "cap": spec.max_distance,
        "init": np.hstack([w0.double().cpu().numpy().T, b0.double().cpu().numpy()[:, None]]),
    }


def grams_key(train_idx, heldout, mean: torch.Tensor, std: torch.Tensor) -> tuple:
    """What heads sharing Gram products share: training rows, held-out rows (or none) and the
    standardization ``(mu, sd)`` of their forward (bytes, so equal only when bitwise equal)."""
    held = b"" if heldout is None else np.asarray(heldout, np.int64).tobytes()
    return (np.asarray(train_idx, np.int64).tobytes(), held,
            mean.cpu().numpy().tobytes(), std.cpu().numpy().tobytes())


def rows_grams(features: torch.Tensor, train_idx, heldout, mean: torch.Tensor,
               std: torch.Tensor) -> LinearGrams:
    """:func:`~.certificate_grams.linear_grams` of the rows ``x~ = (x - mu) / sd`` of
    ``features`` (:func:`~.heads.standardized_rows`: float32 as a head's forward sees them,
    then float64)."""
    def standardized(rows):
        return standardized_rows(features, rows, mean, std).double().cpu().numpy()  # (n, D)

    return linear_grams(standardized(train_idx),
                        None if heldout is None else standardized(heldout))

