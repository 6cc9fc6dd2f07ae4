"""Trajectory engine: posteriors after n = 1..N weak labels, many replicates and rules at once.

For replicate r and rule k the unnormalized log posterior after n observations is

    log prior(h) + sum_{i <= n} term_k(s_i; z_{r,i}, y_{r,i}, h)

with the per-observation terms of :func:`bayes_w2s.core.updates.observation_logliks`. Data are
drawn in fixed chunks (so the stream does not depend on the checkpoints; pre-drawn labels are
read as one chunk) and folded in by category ``c = z * K + y``:

* hard Bayes, tempering and constant-strength virtual evidence are linear in the weighted
  category counts ``W[r, c] = sum_i s_i [c_{r,i} = c]``: per chunk one ``bincount`` (a sum for
  two categories) and a ``cumsum`` give the counts at every checkpoint; integer counts times
  an exactly split table (:func:`_exact_split`) give ``W @ T`` *exactly*;
* virtual evidence with a varying strength sums ``log(1 + (r_i - 1) P_c(h))`` by category
  with indicator matrix products when there are few categories, and by a blocked gather
  otherwise, accumulated in double-double (:mod:`bayes_w2s.core._compensated`).

A checkpoint normalizes relative to the best hypothesis, ``d = (hi - max hi) + lo``,
``log post = d - log sum exp d``, so ``|sum_h post - 1|`` stays ~``H eps`` and the log posterior
within a few ulps of the exactly summed terms however large N grows (measured at H = 1000,
N = 10^6: 2.2e-16 relative, against 1e-10 for ``u - logsumexp(u)`` with a float running sum).

Posteriors are recorded only at (log-spaced) checkpoints, so N = 10^6 runs in memory
``O(n_rules * R * T * H)``. Virtual-evidence terms with ``s > 30`` are the shifted ones
(:func:`bayes_w2s.core.updates.weak_label_shifted_loglik`, in ``[-s, 0]``), so posteriors stay
normalized for any strength; inputs are checked as in :func:`bayes_w2s.core.updates.condition`, and a tempered
sum that leaves float64 raises :class:`~bayes_w2s.core.validation.NumericalOverflowError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from bayes_w2s.core._compensated import dd_add, two_sum
from bayes_w2s.core._trajectory_terms import (
    _exact_split,
    _finite_split,
    _linear_value,
    _lse,
    _segment_counts,
    _ve_segments,
)
from bayes_w2s.core.schedules import Schedule, make_schedule
from bayes_w2s.core.updates import _SAFE_LOG, RULES, ImpossibleEvidenceError, _overflow, _ve_term
from bayes_w2s.core.validation import ValidationError, as_count, as_log_prior, as_log_probs

__all__ = ["Rule", "Trajectories", "log_checkpoints", "run_trajectories"]

# A VE term of strength s lies in [-s, s] (direct terms in [0, s], shifted ones in [-s, 0]), so
# sums of VE terms whose total strength stays below this cannot leave float64 (no flags needed).
_VE_SAFE_TOTAL = 1e300
# exp(-700) = 9.9e-305 is normal, and numpy's vectorized exp takes its fast path only up to
# about -707.5 (below, where results near or below 2^-1022, it is ~15x slower per element)
_EXP_FLOOR = -700.0



@dataclass(frozen=True)
class Rule:
    """An update rule with its per-observation strengths: hard Bayes, virtual evidence or tempering.

    ``"bayes"``: ``log P(y|z,h)`` per label; ``"ve"``: ``log(1 + (r_n - 1) P(y|z,h))`` with
    ``log r_n = s_n``; ``"tempered"``: ``s_n log P(y|z,h)``; ``s_n`` from the schedule.

    ``kind`` is ``"bayes"`` (no schedule), ``"ve"`` (strength = log r) or ``"tempered"``
    (strength = w). ``label`` names the rule in tables; defaults to kind + schedule.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> [bw.Rule("bayes").label, bw.Rule("ve", "pseries:c=1,p=2").label, bw.Rule("tempered", bw.Constant(0.1)).label]
    ['bayes', 've pseries(c=1, p=2)', 'tempered constant(value=0.1)']
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
    """Sorted unique integers ``1 <= n <= n_max``, about ``per_decade`` per factor of 10.

    The grid ``round(10^(k / per_decade))`` for ``k = 0, 1, ...``, deduplicated, with ``n_max``
    always included: where trajectories record their posteriors.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.log_checkpoints(1000, per_decade=3)
    array([   1,    2,    5,   10,   22,   46,  100,  215,  464, 1000])
    """
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

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))
    >>> draw = bw.label_sampler(weak, np.random.default_rng(0), n_replicates=2)
    >>> traj = bw.run_trajectories(weak.log_prior, weak.space.log_probs, draw, 1000,
    ...                            [bw.Rule("bayes"), bw.Rule("ve", bw.PSeries(c=1, p=2))])
    >>> traj.log_posterior.shape == (2, 2, len(traj.checkpoints), 2)
    True
    >>> bool(np.all(traj.influence[1] <= np.pi ** 2 / 6))     # the p-series' bounded total
    True
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


def _check_draw(out, m: int, n_ctx: int, n_lab: int, what: str = "draw({m}) must return"):
    """``draw(m)`` must return integer ``(contexts, labels)`` of one shape ``(R, m)`` in range
    (``contexts`` may be None when there is one context).

    Returns the categories ``z * K + y`` (``y`` itself for one context).
    """
    if not isinstance(out, tuple) or len(out) != 2:
        raise ValidationError(f"draw(m) must return (contexts, labels), got {type(out).__name__}", "draw")
    if out[0] is None and n_ctx != 1:
        raise ValidationError(f"contexts may be None only for one context, not {n_ctx}", "draw")
    y = np.asarray(out[1])
    z = y if out[0] is None else np.asarray(out[0])
    if z.shape != y.shape or z.ndim != 2 or z.shape[1] != m or z.shape[0] < 1:
        raise ValidationError(f"{what.format(m=m)} two (R, {m}) arrays, got {z.shape} and {y.shape}", "draw")
    for arr, size, name in ((y, n_lab, "label"), (None if out[0] is None else z, n_ctx, "context")):
        if arr is None:
            continue
        # one pass: as unsigned integers, negative indices are huge, so max < size checks both ends
        if arr.dtype.kind not in "iu" or arr.view(arr.dtype.str.replace("i", "u")).max() >= size:
            raise ValidationError(f"draw returned {name} indices outside integers [0, {size})", "draw")
    return y if n_ctx == 1 else z * n_lab + y


def _check_checkpoints(checkpoints: ArrayLike, n_obs: int) -> NDArray[np.int64]:
    """Sorted unique integer checkpoints in ``[1, n_obs]``."""
    raw = np.asarray(checkpoints)
    if raw.ndim == 1 and raw.size and raw.dtype.kind in "iu":  # integers: only the range to check
        cps = raw.astype(np.int64) if raw.size == 1 else np.unique(raw.astype(np.int64))  # sorted
        if cps[0] >= 1 and cps[-1] <= n_obs:
            return cps
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
    draw: Callable[[int], tuple[NDArray[np.int64], NDArray[np.int64]]] | tuple[ArrayLike, ArrayLike],
    n_obs: int,
    rules: Sequence[Rule],
    *,
    checkpoints: ArrayLike | None = None,
    chunk: int = 8192,
) -> Trajectories:
    """Run every rule on the same label streams and record posteriors at checkpoints.

    For each rule, replicate and checkpoint ``n``: ``log post_n(h) = log prior(h) +
    sum_{i <= n} term_i(h) - log Z_n`` with the rule's term (:class:`Rule`), computed in
    chunks of labels so memory does not grow with ``n``.

    Parameters
    ----------
    log_prior : (H,)
        Normalized log prior of the learner.
    log_probs : (H, Z, K) or (H, K)
        ``log P(y | z, h)`` of the learner's space.
    draw : callable or tuple of two (R, N) int arrays
        ``draw(m) -> (contexts, labels)``, each ``(R, m)``, continuing R streams (see
        :func:`bayes_w2s.core.labels.label_sampler`); or the pre-drawn ``(contexts, labels)``
        of all N labels (checked once; same result as a ``draw`` that returns their slices;
        ``contexts`` may be None for a space with one context).
    n_obs : int
        N, the number of labels per replicate.
    rules : sequence of Rule
    checkpoints : (T,) ints in [1, N], optional
        Defaults to :func:`log_checkpoints`; always recorded in increasing order.
    chunk : int
        Labels drawn per call of ``draw``; fixes the random stream (pre-drawn labels are
        read as one chunk).

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))
    >>> draw = bw.label_sampler(weak, np.random.default_rng(0), n_replicates=4)
    >>> traj = bw.run_trajectories(weak.log_prior, weak.space.log_probs, draw, 10_000, [bw.Rule("bayes")],
    ...                            checkpoints=[10, 10_000])
    >>> traj.checkpoints
    array([   10, 10000])
    """
    log_probs = as_log_probs(log_probs, "log_probs", ndim=(2, 3), clip=True)
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
    if isinstance(draw, tuple):  # pre-drawn labels: checked once, read as one chunk (no stream to fix)
        all_cat = _check_draw(draw, n_obs, log_probs.shape[1], log_probs.shape[2], "pre-drawn (contexts, labels) must be")
        chunk = n_obs

        def draw_cat(m):
            return all_cat
    elif callable(draw):
        def draw_cat(m):
            return _check_draw(draw(m), m, log_probs.shape[1], log_probs.shape[2])
    else:
        raise ValidationError(
            f"draw must be callable draw(m) -> (contexts, labels) or a tuple of pre-drawn (R, N) arrays, got {draw!r}", "draw"
        )

    n_hyp, n_ctx, n_lab = log_probs.shape
    log_pc = log_probs.reshape(n_hyp, n_ctx * n_lab).T.copy()  # (C, H)
    uniform = lp.min() == lp.max()
    with np.errstate(all="ignore"):  # overflow is judged explicitly (tempered raises, VE/Bayes drop)
        post, infl = _run(lp, uniform, log_pc, draw_cat, n_obs, rules, labels, cps, chunk)
    return Trajectories(
        checkpoints=cps,
        rules=tuple(labels),
        log_posterior=post,  # (n_rules, R, T, H)
        influence=infl,  # (n_rules, T)
        log_prior=np.full(lp.shape, -math.log(lp.size)) if uniform else lp - _lse(lp),
    )


def _run(lp, uniform, log_pc, draw_cat, n_obs, rules, labels, cps, chunk):
    """The engine's loop over chunks (inputs checked): ``(log_posterior, influence)``.

    Per rule it keeps the weighted category counts of the current *linear block* (hard
    Bayes, tempering, VE while its strength stays constant) and a double-double sum of
    everything else (varying-strength VE, flushed blocks); a checkpoint evaluates
    ``counts @ table`` exactly (:func:`_exact_split`) and adds the double-double sum.
    ``uniform``: whether every entry of ``lp`` is the same (finite) number.
    """
    (n_cat, n_hyp), n_rules = log_pc.shape, len(rules)
    p_c = np.exp(log_pc) if any(r.kind == "ve" for r in rules) else None  # (C, H)
    impossible_c, log_pc_min = None, float(log_pc.min())
    if log_pc_min == -np.inf:
        log_pc_finite, impossible_c = _finite_split(log_pc)
        log_top = None
    else:
        log_pc_finite, log_top = log_pc, -log_pc_min  # max |log P| (every log P <= 0)
    lp_finite = uniform or lp.min() > -np.inf
    lp_or_none = None if uniform else lp
    tables = {}  # term table and its exact split of the linear rules, by VE strength (None: log P)
    acc_hi = acc_lo = over = counts = None
    lin_s: list[float | None] = [None] * n_rules
    used = [False] * n_rules  # whether acc holds anything
    spent = np.zeros(n_rules)
    out_post, out_infl = [], []
    n_done, next_cp = 0, 0
    while next_cp < cps.size:
        m = min(chunk, n_obs - n_done)
        cat = draw_cat(m)  # (R, m)
        last_cp = int(cps.searchsorted(n_done + m, side="right"))
        ends = cps[next_cp:last_cp] - n_done  # checkpoints inside this chunk, local 1..m
        stop = int(ends[-1]) if last_cp == cps.size else m  # labels after the last checkpoint are unused
        cat = cat[:, :stop]  # (R, stop)
        n_rep, n_end = cat.shape[0], ends.size
        bounds = np.array([0, *ends.tolist()] + ([] if n_end and ends[-1] == stop else [stop]), dtype=np.int64)
        n_seg = bounds.size - 1
        seg_of = np.repeat(np.arange(n_seg), np.diff(bounds)) if n_seg > 1 else 0  # (stop,)
        at = n_done + ends  # checkpoints reached in this chunk
        if counts is None:
            counts = np.zeros((n_rules, n_rep, n_cat))
        if acc_hi is None and not all(r.kind == "bayes" or r.kind == "tempered" for r in rules):
            acc_hi, acc_lo = np.zeros((n_rules, n_rep, n_hyp)), np.zeros((n_rules, n_rep, n_hyp))
            over = np.zeros((n_rules, n_rep, n_hyp), dtype=bool)
        x_hi = np.empty((n_rules, n_rep, n_end, n_hyp))  # unnormalized log posteriors at `at`
        x_lo, x_over, any_over, any_gone = np.empty_like(x_hi), None, False, False
        infl = np.full((n_rules, n_end), np.inf)
        idx = np.arange(n_done + 1, n_done + stop + 1) if any(r.kind != "bayes" for r in rules) else None
        for k, rule in enumerate(rules):
            s = None
            if rule.kind != "bayes":
                s = rule.schedule.strength(idx, n_total=n_obs)  # (stop,)
                cum_s = spent[k] + np.cumsum(np.add.reduceat(s, bounds[:-1]))  # (n_seg,)
                infl[k], spent[k] = cum_s[:n_end], cum_s[-1]
            linear = rule.kind != "ve" or (lin_s[k] in (None, s[0]) and np.all(s == s[0]))
            if rule.kind == "ve" and not linear and lin_s[k] is not None:  # the strength changed: flush
                h, lo_, o = _linear_value("ve", labels[k], counts[k], *tables[lin_s[k]], impossible_c, at)
                acc_hi[k], acc_lo[k] = dd_add(acc_hi[k], acc_lo[k], h, lo_)
                over[k] |= ~np.isfinite(acc_hi[k])
                counts[k], lin_s[k], used[k] = 0.0, None, True
            if linear:
                key = None
                if rule.kind == "ve":
                    key = lin_s[k] = float(s[0])
                if key not in tables:
                    t = log_pc_finite if key is None else _ve_term(log_pc, key)[0]  # (C, H)
                    tables[key] = (t, _exact_split(t, n_obs, log_top if key is None else None))
                cum = _segment_counts(cat, bounds, seg_of, n_cat, s if rule.kind == "tempered" else None)
                weights = counts[k][:, None, :] + cum  # (R, n_seg, C)
                counts[k] = weights[:, -1]
                if n_end:
                    h, lo_, o = _linear_value(rule.kind, labels[k], weights[:, :n_end], *tables[key], impossible_c, at)
                    any_gone = any_gone or impossible_c is not None
                    if used[k]:
                        x_hi[k], x_lo[k] = dd_add(acc_hi[k][:, None], acc_lo[k][:, None], h, lo_)
                        # flagged before, or two finite sums whose total leaves float64 here
                        left = np.isfinite(acc_hi[k])[:, None] & np.isfinite(h) & ~np.isfinite(x_hi[k])
                        flag = over[k][:, None] | left
                        o = flag if o is None else o | flag
                    else:
                        x_hi[k], x_lo[k] = h, lo_
                    if o is not None and o.any():
                        x_over = np.zeros(x_hi.shape, dtype=bool) if x_over is None else x_over
                        x_over[k], any_over = o, True
                continue
            seg = _ve_segments(s, cat, bounds, p_c, log_pc)  # (R, n_seg, H)
            if spent[k] <= _VE_SAFE_TOTAL:  # |every partial sum| <= total strength: nothing can overflow
                for j in range(n_seg):
                    if used[k] or j:
                        acc_hi[k], acc_lo[k] = dd_add(acc_hi[k], acc_lo[k], seg[:, j])
                    else:  # 0 + seg, exactly
                        acc_hi[k], acc_lo[k] = seg[:, 0], 0.0
                    if j < n_end:
                        x_hi[k][:, j], x_lo[k][:, j] = acc_hi[k], acc_lo[k]
                used[k] = True
                continue
            used[k] = True
            for j in range(n_seg):
                was_finite = np.isfinite(acc_hi[k])
                acc_hi[k], acc_lo[k] = dd_add(acc_hi[k], acc_lo[k], seg[:, j])
                over[k] |= was_finite & ~np.isfinite(acc_hi[k])  # VE terms are finite: a non-finite sum overflowed
                acc_hi[k][over[k]], acc_lo[k][over[k]] = -np.inf, 0.0
                if j < n_end:
                    x_hi[k][:, j], x_lo[k][:, j] = acc_hi[k], acc_lo[k]
                    if over[k].any():
                        x_over = np.zeros(x_hi.shape, dtype=bool) if x_over is None else x_over
                        x_over[k][:, j], any_over = over[k], True
        n_done += stop
        next_cp = last_cp
        if n_end:
            clean = lp_finite and not (any_gone or any_over)
            out_post.append(_normalize(lp_or_none, x_hi, x_lo, x_over, labels, at, clean))
            out_infl.append(infl)
    if len(out_post) == 1:
        return out_post[0], out_infl[0]
    return np.concatenate(out_post, axis=2), np.concatenate(out_infl, axis=1)


def _normalize(lp, x_hi, x_lo, overflowed, labels, at, clean=False):
    """Normalized ``log prior + x`` for double-double ``x = hi + lo``, ``(n_rules, R, T, H)``.

    With ``u = lp + x`` carried as ``u_hi + u_lo`` and ``m = max_h u_hi``,
    ``log post = d - log sum_h exp(d)``, ``d = (u_hi - m) + u_lo``: ``u_hi - m`` is exact for
    every hypothesis within a factor 2 of the best, so the normalized log posterior keeps
    ~1e-16 absolute precision however large ``|u|`` grows with N (the naive
    ``u - logsumexp(u)`` rounds ``log Z`` to ``ulp(|u|)``: 1e-10 at ``|u| = 10^6``).
    ``lp`` None stands for a uniform prior; ``overflowed`` is None when nothing overflowed;
    ``clean`` promises that no entry of ``lp + x`` is ``-inf``.
    """
    if lp is None:  # a uniform prior cancels in the normalization
        u_hi, u_lo = x_hi, x_lo
    else:
        u_hi, err = two_sum(x_hi, lp)
        u_lo = err + x_lo  # NaN where u_hi = -inf (two_sum of an infinity)
    top = u_hi.max(axis=-1, keepdims=True)  # (n_rules, R, T, 1)
    if not clean and top.min() == -np.inf:
        k, r, t = np.argwhere(np.isneginf(top[..., 0]))[0]
        raise ImpossibleEvidenceError(
            f"impossible evidence: rule {labels[k]!r}, replicate {r} has no possible "
            f"hypothesis left by observation {at[t]}",
            index=int(at[t]),
        )
    if overflowed is not None:
        best = np.max(np.where(overflowed, -np.inf, u_hi), axis=-1)  # (n_rules, R, T)
        bad = overflowed.any(axis=-1) & (best < _SAFE_LOG)
        if np.any(bad):
            raise _overflow("a summed virtual-evidence term", f"by observation {at[np.argwhere(bad)[0][2]]}")
    d = np.subtract(u_hi, top)
    d += u_lo
    if not clean:
        d[np.isneginf(u_hi)] = -np.inf
    # max d is u_lo of the best hypothesis: ~0, except for terms near 1e308, whose exact split
    # leaves low parts up to ~1e292 (exp(d) would underflow to 0 for every hypothesis)
    d -= d.max(axis=-1, keepdims=True)
    # log sum_h exp(d): the sum is >= 1 (max d = 0), so terms below exp(-700) = 1e-304 are far
    # below its rounding; they are summed as exp(-700) rather than underflowed, since an exp
    # that underflows is ~15x slower (and at large N most hypotheses lie that far behind)
    w = np.maximum(d, _EXP_FLOOR)
    d -= np.log(np.exp(w, out=w).sum(axis=-1, keepdims=True))
    return d
