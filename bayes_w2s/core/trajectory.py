"""Trajectory engine: posteriors after n = 1..N weak labels, many replicates and rules at once.

For replicate r and rule k the unnormalized log posterior after n observations is

    log prior(h) + sum_{i <= n} term_k(s_i; z_{r,i}, y_{r,i}, h)

with the per-observation terms of :func:`bayes_w2s.core.updates.observation_logliks`. Data are
drawn in fixed chunks (so the stream does not depend on the checkpoints) and folded in
by category ``c = z * K + y``:

* hard Bayes, tempering and constant-strength virtual evidence are linear in the weighted
  category counts ``W[r, c] = sum_i s_i [c_{r,i} = c]``: one ``bincount`` and one
  ``(R, C) @ (C, H)`` product per segment;
* virtual evidence with a varying strength sums ``log(1 + (r_i - 1) P_c(h))`` by category
  with indicator matrix products when there are few categories, and by a blocked gather
  otherwise.

Posteriors are recorded only at (log-spaced) checkpoints, so N = 10^6 runs in memory
``O(n_rules * R * T * H)``. Virtual-evidence terms with ``s > 30`` are the shifted ones
(:func:`bayes_w2s.core.updates.weak_label_shifted_loglik`, in ``[-s, 0]``), so posteriors stay
normalized for any strength; inputs are checked as in :func:`bayes_w2s.core.updates.condition`, and a tempered
sum that leaves float64 raises :class:`~bayes_w2s.core.validation.NumericalOverflowError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from bayes_w2s.core.schedules import Schedule, make_schedule
from bayes_w2s.core.updates import _SAFE_LOG, RULES, ImpossibleEvidenceError, _overflow, _ve_term
from bayes_w2s.core.validation import ValidationError, as_count, as_log_prior, as_log_probs

__all__ = ["Rule", "log_checkpoints", "Trajectories", "run_trajectories"]

_FEW_CATEGORIES = 16
_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class Rule:
    """An update rule with its per-observation strengths.

    ``kind`` is ``"bayes"`` (no schedule), ``"ve"`` (strength = log r) or ``"tempered"``
    (strength = w). ``label`` names the rule in tables; defaults to kind + schedule.
    """

    kind: str
    schedule: Schedule | str | dict | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ValidationError(f"unknown rule kind {self.kind!r}; known: {', '.join(RULES)}")
        if self.kind == "bayes":
            if self.schedule is not None:
                raise ValidationError("hard Bayes takes no schedule")
        else:
            if self.schedule is None:
                raise ValidationError(f"rule {self.kind!r} needs a schedule")
            sched = make_schedule(self.schedule)
            if sched.needs_confidence:
                raise ValidationError(
                    "confidence-weighted schedules need the whole dataset's confidences: "
                    "use bayes_w2s.core.updates.condition with schedule.strengths(N, confidence=...)"
                )
            object.__setattr__(self, "schedule", sched)
        if self.label is None:
            name = self.kind if self.schedule is None else f"{self.kind} {self.schedule.describe()}"
            object.__setattr__(self, "label", name)


def log_checkpoints(n_max: int, per_decade: int = 10) -> NDArray[np.int64]:
    """Sorted unique integers ``1 <= n <= n_max``, about ``per_decade`` per factor of 10."""
    n_max = as_count(n_max, "n_max")
    per_decade = as_count(per_decade, "per_decade")
    count = int(np.ceil(np.log10(n_max) * per_decade)) + 1
    return np.unique(np.round(np.logspace(0, np.log10(n_max), max(count, 2))).astype(np.int64))


@dataclass(frozen=True, eq=False)
class Trajectories:
    """Posteriors at checkpoints.

    Attributes
    ----------
    checkpoints : (T,) int
        Numbers of observations n at which posteriors were recorded.
    rules : tuple[str, ...]
        Rule labels, in the order of the first axis below.
    log_posterior : (n_rules, n_replicates, T, n_hypotheses)
        Normalized ``log P(h | first n labels)``.
    influence : (n_rules, T)
        Total strength spent ``sum_{i<=n} s_i`` (``inf`` for hard Bayes): for virtual
        evidence, a bound on the Chan–Darwiche distance from the prior.
    log_prior : (n_hypotheses,)
    """

    checkpoints: NDArray[np.int64]
    rules: tuple[str, ...]
    log_posterior: NDArray[np.float64]
    influence: NDArray[np.float64]
    log_prior: NDArray[np.float64]

    def to_frame(self, metrics: Mapping[str, Callable[[NDArray[np.float64]], NDArray[np.float64]]]) -> pd.DataFrame:
        """Tidy table ``(replicate, n, rule, metric, value)``.

        Each metric maps ``log_posterior (R, T, H)`` of one rule to values ``(R, T)``.
        """
        n_rep, n_t = self.log_posterior.shape[1:3]
        frames = []
        for k, rule in enumerate(self.rules):
            for name, fn in metrics.items():
                values = np.asarray(fn(self.log_posterior[k]), dtype=float)
                if values.shape != (n_rep, n_t):
                    raise ValidationError(f"metric {name!r} returned shape {values.shape}, need {(n_rep, n_t)}", "metrics")
                frames.append(
                    pd.DataFrame(
                        {
                            "replicate": np.repeat(np.arange(n_rep), n_t),
                            "n": np.tile(self.checkpoints, n_rep),
                            "rule": rule,
                            "metric": name,
                            "value": values.ravel(),
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)


def _finite_split(log_p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``log_p`` with -inf set to 0, and the 0/1 mask of where it was -inf."""
    impossible = np.isneginf(log_p)
    return np.where(impossible, 0.0, log_p), impossible.astype(float)


def _linear_segment(weights_rc, log_pc, log_pc_finite, impossible_c):
    """``(W @ log P, overflowed)``: ``W > 0`` on an impossible category gives ``-inf``; where
    the finite sum itself leaves float64 the entry is ``-inf`` and flagged in ``overflowed``,
    for the caller's one overflow policy (tempered raises; hard Bayes drops the hypothesis)."""
    if not np.all(np.isfinite(weights_rc)):
        raise _overflow("the summed tempering weight of one (context, label)", f"max {np.max(weights_rc):.6g}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = weights_rc @ log_pc_finite  # (R, H)
    dead = (weights_rc > 0).astype(float) @ impossible_c > 0  # (R, H)
    overflowed = ~np.isfinite(out) & ~dead
    out[dead | overflowed] = -np.inf
    return out, overflowed


def _segment_loglik(kind, s, cat, n_cat, log_pc, log_pc_finite, impossible_c):
    """Summed log-likelihood terms of one data segment, ``cat (R, m)``, ``s (m,)``:
    ``(terms (R, H), overflowed (R, H) or None)`` (see :func:`_linear_segment`)."""
    n_rep, m = cat.shape
    flat = (np.arange(n_rep)[:, None] * n_cat + cat).ravel()
    if kind in ("bayes", "tempered"):
        w = None if kind == "bayes" else np.broadcast_to(s, cat.shape).ravel()
        with np.errstate(over="ignore"):
            weights = np.bincount(flat, weights=w, minlength=n_rep * n_cat).reshape(n_rep, n_cat)
        return _linear_segment(weights, log_pc, log_pc_finite, impossible_c)
    # virtual evidence
    if np.all(s == s[0]):
        counts = np.bincount(flat, minlength=n_rep * n_cat).reshape(n_rep, n_cat).astype(float)
        return counts @ _ve_term(log_pc, s[0])[0], None  # VE terms up to a per-observation constant
    if n_cat <= _FEW_CATEGORIES:
        out = np.zeros((n_rep, log_pc.shape[1]))
        for c in np.unique(cat):
            hits = (cat == c).astype(float)  # (R, m)
            out += hits @ _ve_term(log_pc[c][None, :], s[:, None])[0]  # (R, m) @ (m, H)
        return out, None
    out = np.zeros((n_rep, log_pc.shape[1]))
    step = max(1, _BLOCK_ELEMENTS // (n_rep * log_pc.shape[1]))
    for start in range(0, m, step):
        block = cat[:, start : start + step]  # (R, b)
        terms = _ve_term(log_pc[block], s[start : start + step, None])[0]  # (R, b, H)
        out += terms.sum(axis=1)
    return out, None


def _check_draw(out, m: int, n_ctx: int, n_lab: int):
    """``draw(m)`` must return integer ``(contexts, labels)`` of one shape ``(R, m)`` in range."""
    if not isinstance(out, tuple) or len(out) != 2:
        raise ValidationError(f"draw(m) must return (contexts, labels), got {type(out).__name__}", "draw")
    z, y = np.asarray(out[0]), np.asarray(out[1])
    if z.shape != y.shape or z.ndim != 2 or z.shape[1] != m or z.shape[0] < 1:
        raise ValidationError(f"draw({m}) must return two (R, {m}) arrays, got {z.shape} and {y.shape}", "draw")
    for arr, size, what in ((z, n_ctx, "context"), (y, n_lab, "label")):
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= size:
            raise ValidationError(f"draw returned {what} indices outside integers [0, {size})", "draw")
    return z, y


def _check_checkpoints(checkpoints: ArrayLike, n_obs: int) -> NDArray[np.int64]:
    """Sorted unique integer checkpoints in ``[1, n_obs]``."""
    raw = np.asarray(checkpoints)
    if raw.ndim != 1 or raw.size == 0 or raw.dtype == bool or not np.issubdtype(raw.dtype, np.number):
        raise ValidationError(f"checkpoints must be a non-empty 1-D array of integers, got {raw!r}", "checkpoints")
    values = raw.astype(float)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 1) | (values > n_obs)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"checkpoints[{i}] = {raw[i].item()!r}: checkpoints must be integers in [1, {n_obs}]", "checkpoints")
    return np.unique(values.astype(np.int64))


def run_trajectories(
    log_prior: ArrayLike,
    log_probs: ArrayLike,
    draw: Callable[[int], tuple[NDArray[np.int64], NDArray[np.int64]]],
    n_obs: int,
    rules: Sequence[Rule],
    *,
    checkpoints: ArrayLike | None = None,
    chunk: int = 8192,
) -> Trajectories:
    """Run every rule on the same label streams and record posteriors at checkpoints.

    Parameters
    ----------
    log_prior : (H,)
        Normalized log prior of the learner.
    log_probs : (H, Z, K) or (H, K)
        ``log P(y | z, h)`` of the learner's space.
    draw : callable
        ``draw(m) -> (contexts, labels)``, each ``(R, m)``, continuing R streams (see
        :func:`bayes_w2s.core.labels.label_sampler`).
    n_obs : int
        N, the number of labels per replicate.
    rules : sequence of Rule
    checkpoints : (T,) ints in [1, N], optional
        Defaults to :func:`log_checkpoints`; always recorded in increasing order.
    chunk : int
        Labels drawn per call of ``draw``; fixes the random stream.
    """
    log_probs = np.minimum(as_log_probs(log_probs, "log_probs", ndim=(2, 3)), 0.0)
    if log_probs.ndim == 2:
        log_probs = log_probs[:, None, :]
    lp = as_log_prior(log_prior, n_hypotheses=log_probs.shape[0])
    if lp.ndim != 1:
        raise ValidationError(f"log_prior must be 1-D (H,), got shape {lp.shape}", "log_prior")
    n_obs = as_count(n_obs, "n_obs")
    chunk = as_count(chunk, "chunk")
    if callable(rules) or isinstance(rules, (str, Rule)):
        raise ValidationError(f"rules must be a non-empty sequence of Rule, got {rules!r}", "rules")
    rules = list(rules)
    if not rules or not all(isinstance(r, Rule) for r in rules):
        raise ValidationError("rules must be a non-empty sequence of Rule", "rules")
    labels = [r.label for r in rules]
    if len(set(labels)) != len(labels):
        raise ValidationError(f"rule labels must be unique, got {labels}", "rules")
    cps = log_checkpoints(n_obs) if checkpoints is None else _check_checkpoints(checkpoints, n_obs)
    if not callable(draw):
        raise ValidationError(f"draw must be callable draw(m) -> (contexts, labels), got {draw!r}", "draw")

    n_hyp, n_ctx, n_lab = log_probs.shape
    n_cat = n_ctx * n_lab
    log_pc = log_probs.reshape(n_hyp, n_cat).T.copy()  # (C, H)
    log_pc_finite, impossible_c = _finite_split(log_pc)

    acc = None  # (n_rules, R, H) running sums of terms
    spent = np.zeros(len(rules))
    out_post, out_infl = [], []
    n_done, next_cp = 0, 0
    while next_cp < cps.size:
        z, y = _check_draw(draw(min(chunk, n_obs - n_done)), min(chunk, n_obs - n_done), n_ctx, n_lab)
        cat = z * n_lab + y  # (R, m)
        if acc is None:
            acc = np.zeros((len(rules), cat.shape[0], n_hyp))
            overflowed = np.zeros(acc.shape, dtype=bool)
        pos = 0
        while pos < cat.shape[1]:
            stop = min(cat.shape[1], pos + int(cps[next_cp] - n_done)) if next_cp < cps.size else cat.shape[1]
            seg = cat[:, pos:stop]
            idx = np.arange(n_done + 1, n_done + seg.shape[1] + 1)
            for k, rule in enumerate(rules):
                s = np.ones(idx.shape) if rule.kind == "bayes" else rule.schedule.strength(idx, n_total=n_obs)
                seg_ll, seg_over = _segment_loglik(rule.kind, s, seg, n_cat, log_pc, log_pc_finite, impossible_c)
                with np.errstate(over="ignore", invalid="ignore"):
                    new = acc[k] + seg_ll
                over = ~np.isfinite(new) & np.isfinite(acc[k]) & np.isfinite(seg_ll)
                if seg_over is not None:
                    over |= seg_over & np.isfinite(acc[k])
                if over.any() and rule.kind == "tempered":
                    raise _overflow(f"rule {labels[k]!r}: the tempered sum", f"by observation {n_done + seg.shape[1]}")
                overflowed[k] |= over
                acc[k] = np.where(over, -np.inf, new)
                with np.errstate(over="ignore"):
                    spent[k] = np.inf if rule.kind == "bayes" else spent[k] + s.sum()
            n_done += seg.shape[1]
            pos = stop
            if next_cp < cps.size and n_done == cps[next_cp]:
                unnorm = lp + acc  # (n_rules, R, H)
                log_z = logsumexp(unnorm, axis=-1, keepdims=True)
                if np.any(np.isneginf(log_z)):
                    k, r = np.argwhere(np.isneginf(log_z[..., 0]))[0]
                    raise ImpossibleEvidenceError(
                        f"impossible evidence: rule {labels[k]!r}, replicate {r} has no possible "
                        f"hypothesis left by observation {n_done}",
                        index=int(n_done),
                    )
                best = np.max(np.where(overflowed, -np.inf, unnorm), axis=-1)  # (n_rules, R)
                if np.any(overflowed.any(axis=-1) & (best < _SAFE_LOG)):
                    raise _overflow("a summed virtual-evidence term", f"by observation {n_done}")
                out_post.append(unnorm - log_z)
                out_infl.append(spent.copy())
                next_cp += 1
    return Trajectories(
        checkpoints=cps,
        rules=tuple(labels),
        log_posterior=np.stack(out_post, axis=2),  # (n_rules, R, T, H)
        influence=np.stack(out_infl, axis=1),  # (n_rules, T)
        log_prior=lp - logsumexp(lp),
    )
