"""Student recipes: one typed, frozen value per compare row, parsed from and printed to a label.

A recipe fixes everything about how the *student* trains on the weak labels, and nothing about
the weak model or the ceiling: loss x strength schedule (+ what it indexes) x optimizer x lr x
regularizer (weight decay, L2 or KL anchor, movement cap) x steps x early stopping, and at most
one knob whose value is *selected* inside the run from a grid, scored on a validation split the
student never trains on (scikit-learn's ``PredefinedSplit`` semantics: fit on train, score on
the predefined validation split, nothing refit on test).

Grammar (``[]`` optional, ``*`` repeated)::

    recipe   := base ('+' part)* ('@' option)*
    base     := 'centroid' | LOSS            LOSS in xent, logconf, product, ve, tempered
    part     := SCHEDULE                     ve/tempered only: 'budget(40)', 'geometric(3,0.995)'
                                             or the old 'budget:budget=40'
              | 'wd(' v ')'                  SGD/Adam weight decay (toward 0 = the zero init)
              | 'l2(' v ')' | 'kl(' v ')'    anchor to the initial weights / predictions
              | 'cap(' v ')'                 projected SGD: ||theta - theta_0|| <= v after each step
              | 'stop(' RULE ')'             early stopping: best checkpoint on the RULE split
    option   := 'lr=' v | 'steps=' v | 'epochs=' x | 'sgd' | 'adam'
              | 'visits' | 'steps' | 'per_pass'   what a schedule indexes (default visits)
    v        := NUMBER | 'select' [':' RULE] | V1 '|' V2 '|' ... [':' RULE]
    RULE     := 'weak-val' | 'gt-val'

Examples: ``xent``, ``xent+wd(10)``, ``xent@lr=1e-4``, ``ve+budget(4000)``, ``centroid``,
``xent+stop(weak-val)``, ``xent+wd(select:weak-val)``, ``ve+budget(4|40|400:weak-val)``.
``select`` uses :data:`DEFAULT_GRIDS`; a written grid replaces it. The label printed back is
canonical (``parse(label(r)) == r``); the old :class:`~.methods.MethodSpec` strings parse.

Selection rules: ``weak-val`` scores agreement with the weak model's argmax labels on a held-out
fraction of the weak-labelled split (no ground truth); ``gt-val`` scores accuracy on a small
ground-truth validation set (its size is a pipeline setting and is written in every row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from bayes_w2s.core.schedules import SCHEDULES, make_schedule

from .losses import LOSSES, NEEDS_STRENGTHS
from .methods import DEFAULT_SCHEDULES, MethodSpec
from .train import OVER

__all__ = [
    "DEFAULT_GRIDS",
    "KNOBS",
    "RULES",
    "Recipe",
    "Selection",
    "parse_recipe",
    "split_recipes",
]

RULES = ("weak-val", "gt-val")
# knob -> default grid, ordered from most to least regularized (ties go to the first)
# The budget grid reaches 40,000 and the lr grid the default SGD lr 0.1: a first run with the
# budget capped at 4,000 selected the cap in every seed on two pairs (an edge selection), and
# selection must be free to pick "no regularization". The test-tuned values (budget 40
# / 4000, weight decay 1 / 10, lr 1e-4 / 3e-3, cap ~0.04) lie inside.
DEFAULT_GRIDS: dict[str, tuple[float, ...]] = {
    "budget": (4.0, 40.0, 400.0, 4000.0, 40000.0),
    "wd": (10.0, 1.0, 0.1, 0.01),
    "l2": (10.0, 1.0, 0.1, 0.01),
    "kl": (10.0, 1.0, 0.1, 0.01),
    "cap": (0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    "lr": (1e-4, 1e-3, 1e-2, 1e-1),
    "steps": (10.0, 30.0, 100.0, 300.0, 1000.0),
}
KNOBS = tuple(DEFAULT_GRIDS)
_PARTS = ("wd", "l2", "kl", "cap", "stop")


@dataclass(frozen=True)
class Selection:
    """Which knob is selected, from which grid, scored by which rule."""

    knob: str
    grid: tuple[float, ...]
    rule: str = "weak-val"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"selection rule must be one of {RULES}, got {self.rule!r}")
        if len(self.grid) < 1 or not all(math.isfinite(v) and v >= 0 for v in self.grid):
            raise ValueError(f"a selection grid needs finite values >= 0, got {self.grid}")

    def text(self) -> str:
        if self.knob in DEFAULT_GRIDS and tuple(self.grid) == DEFAULT_GRIDS[self.knob]:
            return f"select:{self.rule}"
        return "|".join(_num(v) for v in self.grid) + f":{self.rule}"


@dataclass(frozen=True)
class Recipe:
    """How the student trains; ``None`` fields take the pipeline config's default.

    ``schedule`` is a canonical schedule spec (``"budget:budget=40"``) for ``ve``/``tempered``;
    ``anchor`` is ``"l2"`` (``a/2 ||theta - theta_0||^2``) or ``"kl"`` (``a KL(p_theta || p_0)``)
    with weight ``anchor_weight``; ``cap`` projects the head back into ``||theta - theta_0|| <=
    cap`` after every step; ``stop`` keeps the best checkpoint on the ``stop`` rule's split.
    ``select`` names the one knob chosen from a grid (its fixed field is then ignored).
    """

    loss: str = "xent"
    schedule: str | None = None
    over: str = "visits"
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float = 0.0
    anchor: str | None = None
    anchor_weight: float = 0.0
    cap: float | None = None
    steps: int | None = None
    epochs: float | None = None
    stop: str | None = None
    select: Selection | None = None

    def __post_init__(self) -> None:
        if self.loss != "centroid" and self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; known: centroid, {', '.join(LOSSES)}")
        if self.loss in NEEDS_STRENGTHS and self.schedule is None:
            raise ValueError(f"{self.loss} needs a schedule (e.g. {self.loss}+budget(40))")
        if self.loss not in NEEDS_STRENGTHS and self.schedule is not None:
            raise ValueError(f"{self.loss} takes no schedule (only {sorted(NEEDS_STRENGTHS)})")
        if self.over not in OVER:
            raise ValueError(f"a schedule indexes one of {OVER}, got {self.over!r}")
        if self.optimizer not in (None, "sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {self.optimizer!r}")
        if self.anchor not in (None, "l2", "kl"):
            raise ValueError(f"anchor must be l2 or kl, got {self.anchor!r}")
        for name in ("lr", "cap", "epochs"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if self.weight_decay < 0 or self.anchor_weight < 0:
            raise ValueError("weight decay and anchor weight must be >= 0")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.stop is not None and self.stop not in RULES:
            raise ValueError(f"stop rule must be one of {RULES}, got {self.stop!r}")
        plain = (None, "visits", None, None, 0.0, None, 0.0, None, None, None, None)
        if (
            self.loss == "centroid"
            and (
                self.schedule,
                self.over,
                self.optimizer,
                self.lr,
                self.weight_decay,
                self.anchor,
                self.anchor_weight,
                self.cap,
                self.steps,
                self.epochs,
                self.stop,
            )
            != plain
        ):
            raise ValueError(
                "centroid is closed-form: it takes no schedule, optimizer or regularizer"
            )
        if self.select is not None and self.select.knob not in self.knobs():
            raise ValueError(
                f"{self.label()}: cannot select {self.select.knob!r}; it has {self.knobs()}"
            )
        if self.cap is not None and self.cap > 0 and self.optimizer == "adam":
            raise ValueError("a movement cap is projected SGD: use it with sgd")

    # --- structure -------------------------------------------------------------------------
    def knobs(self) -> tuple[str, ...]:
        """The knobs this recipe has a value for (the ones a selection may pick)."""
        if self.loss == "centroid":
            return ()
        out = ["lr", "steps"]
        sched = self.schedule_obj()
        if sched is not None:
            numeric = [f.name for f in fields(sched)]
            if len(numeric) == 1:
                out.append(numeric[0])
        if self.weight_decay or (self.select and self.select.knob == "wd"):
            out.append("wd")
        if self.anchor:
            out.append(self.anchor)
        if self.cap is not None:
            out.append("cap")
        return tuple(out)

    def is_regularized_baseline(self) -> bool:
        """A non-Bayesian regularized baseline: no VE/tempered schedule, and a regularizer
        (centroid, weight decay, anchor, cap, early stopping, or a set/selected lr or steps)."""
        if self.loss in NEEDS_STRENGTHS:
            return False
        sel = self.select.knob if self.select else None
        return bool(
            self.loss == "centroid"
            or self.weight_decay
            or self.anchor
            or self.cap is not None
            or self.stop
            or self.lr is not None
            or self.steps is not None
            or sel
        )

    def schedule_obj(self):
        return make_schedule(self.schedule) if self.schedule else None

    def method_spec(self) -> MethodSpec:
        """The loss and schedule as the training code's :class:`~.methods.MethodSpec`."""
        if self.loss == "centroid":
            raise ValueError("centroid has no training method")
        sched = self.schedule_obj()
        return MethodSpec(self.loss, sched, self.over)

    def grid(self) -> tuple[Recipe, ...]:
        """The concrete recipes a selection trains (one per grid value); ``(self,)`` if none."""
        if self.select is None:
            return (self,)
        return tuple(self.with_value(self.select.knob, v) for v in self.select.grid)

    def with_value(self, knob: str, value: float) -> Recipe:
        """This recipe with ``knob`` fixed to ``value`` and no selection."""
        base = replace(self, select=None)
        if knob == "lr":
            return replace(base, lr=float(value))
        if knob == "steps":
            return replace(base, steps=round(value))
        if knob == "wd":
            return replace(base, weight_decay=float(value))
        if knob in ("l2", "kl"):
            return replace(base, anchor=knob, anchor_weight=float(value))
        if knob == "cap":
            return replace(base, cap=float(value))
        sched = self.schedule_obj()
        if sched is not None and knob in {f.name for f in fields(sched)}:
            return replace(base, schedule=_sched_spec(replace(sched, **{knob: float(value)})))
        raise ValueError(f"{self.label()} has no knob {knob!r}")

    # --- text ------------------------------------------------------------------------------
    def label(self) -> str:
        """The canonical short label; :func:`parse_recipe` inverts it."""
        sel = self.select

        def val(knob: str, v) -> str:
            return sel.text() if sel is not None and sel.knob == knob else _num(v)

        parts = [self.loss]
        sched = self.schedule_obj()
        if sched is not None:
            vals = [getattr(sched, f.name) for f in fields(sched)]
            knob = fields(sched)[0].name if len(vals) == 1 else None
            inner = val(knob, vals[0]) if knob else ",".join(_num(v) for v in vals)
            parts.append(f"{sched.name}({inner})")
        if self.weight_decay or (sel and sel.knob == "wd"):
            parts.append(f"wd({val('wd', self.weight_decay)})")
        if self.anchor:
            parts.append(f"{self.anchor}({val(self.anchor, self.anchor_weight)})")
        if self.cap is not None:
            parts.append(f"cap({val('cap', self.cap)})")
        if self.stop:
            parts.append(f"stop({self.stop})")
        text = "+".join(parts)
        opts = []
        if self.lr is not None or (sel and sel.knob == "lr"):
            opts.append(f"lr={val('lr', self.lr)}")
        if self.steps is not None or (sel and sel.knob == "steps"):
            opts.append(f"steps={val('steps', self.steps)}")
        if self.epochs is not None:
            opts.append(f"epochs={_num(self.epochs)}")
        if self.optimizer:
            opts.append(self.optimizer)
        if self.over != "visits":
            opts.append(self.over)
        return text + "".join("@" + o for o in opts)

    def __str__(self) -> str:
        return self.label()

    @classmethod
    def parse(cls, text: str) -> Recipe:
        return parse_recipe(text)


def _num(v) -> str:
    """``%g`` without a ``+`` in the exponent (``1e+06`` -> ``1e06``): ``+`` joins recipe parts."""
    return f"{float(v):g}".replace("e+", "e")


def _sched_spec(sched) -> str:
    return f"{sched.name}:" + ",".join(
        f"{f.name}={getattr(sched, f.name)!r}" for f in fields(sched)
    )


def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """Split at ``seps`` outside parentheses: ``[(sep_before, token), ...]``."""
    out, depth, start, sep = [], 0, 0, ""
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in recipe {text!r}")
        elif ch in seps and depth == 0:
            out.append((sep, text[start:i]))
            sep, start = ch, i + 1
    if depth:
        raise ValueError(f"unbalanced '(' in recipe {text!r}")
    out.append((sep, text[start:]))
    return out


def _value(text: str, knob: str, where: str):
    """A number, or a :class:`Selection` from ``select[:RULE]`` / ``v1|v2[:RULE]``."""
    text = text.strip()
    body, colon, rule = text.partition(":")
    if body == "select" or "|" in body or colon:
        if body == "select":
            if knob not in DEFAULT_GRIDS:
                raise ValueError(f"{where}: no default grid for {knob!r}; write one, e.g. 1|10|100")
            grid = DEFAULT_GRIDS[knob]
        else:
            grid = tuple(_float(t, where) for t in body.split("|"))
        return Selection(knob, tuple(float(g) for g in grid), rule or "weak-val")
    return _float(body, where)


def _float(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{where}: expected a number, 'select' or a grid a|b|c, got {text!r}"
        ) from None


def parse_recipe(text: str) -> Recipe:
    """Parse a recipe label (module docstring grammar); clear errors for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty recipe {text!r}")
    text = text.strip()
    tokens = _split_top(text, "+@")
    base = tokens[0][1].strip()
    if base != "centroid" and base not in LOSSES:
        raise ValueError(
            f"unknown method {base!r} in {text!r}; known: centroid, {', '.join(LOSSES)}"
        )
    kw: dict = {"loss": base}
    selects: list[Selection] = []

    def put(key, value, knob):
        if isinstance(value, Selection):
            selects.append(value)
            return
        kw[key] = value

    for sep, tok in tokens[1:]:
        tok = tok.strip()
        name, paren, rest = tok.partition("(")
        if sep == "+":
            if paren and not rest.endswith(")"):
                raise ValueError(f"{text!r}: {tok!r} must end with ')'")
            inner = rest[:-1] if paren else ""
            if name in _PARTS and paren:
                if name == "stop":
                    kw["stop"] = inner.strip() or "weak-val"
                elif name == "wd":
                    put("weight_decay", _value(inner, "wd", text), "wd")
                elif name in ("l2", "kl"):
                    kw["anchor"] = name
                    put("anchor_weight", _value(inner, name, text), name)
                else:
                    put("cap", _value(inner, "cap", text), "cap")
                continue
            if base not in NEEDS_STRENGTHS:
                raise ValueError(f"method {base!r} takes no schedule ({tok!r} in {text!r})")
            if "schedule" in kw:
                raise ValueError(f"{text!r}: two schedules")
            sname = tok.partition(":")[0].partition("(")[0]
            if sname not in SCHEDULES:
                raise ValueError(
                    f"{text!r}: unknown part {tok!r}; schedules: {', '.join(SCHEDULES)}; "
                    f"regularizers: {', '.join(_PARTS)}"
                )
            if paren:
                names = [f.name for f in fields(SCHEDULES[sname])]
                args = [a for a in inner.split(",")] if inner.strip() else []
                if len(args) > len(names):
                    raise ValueError(f"{text!r}: {sname} takes {len(names)} parameters {names}")
                params = {}
                for n_, a in zip(names, args):
                    v = _value(a, n_, text)
                    if isinstance(v, Selection):
                        selects.append(v)
                        v = v.grid[0]  # placeholder: the selection sets it per grid value
                    params[n_] = v
                sched = SCHEDULES[sname](**params)
            else:
                sched = make_schedule(tok)
            kw["schedule"] = _sched_spec(sched)
        elif sep == "@":
            key, eq, v = tok.partition("=")
            if not eq:
                if key in ("sgd", "adam"):
                    kw["optimizer"] = key
                elif key in OVER:
                    kw["over"] = key
                else:
                    raise ValueError(
                        f"{text!r}: unknown option @{tok}; use @lr=, @steps=, @epochs=, "
                        f"@sgd, @adam or @{'/@'.join(OVER)}"
                    )
            elif key == "lr":
                put("lr", _value(v, "lr", text), "lr")
            elif key == "steps":
                val = _value(v, "steps", text)
                put("steps", val if isinstance(val, Selection) else int(val), "steps")
            elif key == "epochs":
                kw["epochs"] = _float(v, text)
            else:
                raise ValueError(f"{text!r}: unknown option @{key}=")
    if base in NEEDS_STRENGTHS and "schedule" not in kw:
        kw["schedule"] = _sched_spec(make_schedule(DEFAULT_SCHEDULES[base]))
    if len(selects) > 1:
        raise ValueError(f"{text!r}: select one knob per recipe, got {[s.knob for s in selects]}")
    if selects:
        kw["select"] = selects[0]
        if selects[0].knob == "cap":
            kw.setdefault("cap", selects[0].grid[0])
        if selects[0].knob in ("l2", "kl"):
            kw.setdefault("anchor_weight", selects[0].grid[0])
    return Recipe(**kw)


def split_recipes(text: str) -> tuple[str, ...]:
    """Split a comma- (or ``;``-) separated list of recipes, respecting parentheses and the
    old ``NAME+SCHEDULE:k=v,k=v`` form (a ``k=v`` token continues the previous spec)."""
    sep = ";" if ";" in text else ","
    out: list[str] = []
    for _, tok in _split_top(text, sep):
        tok = tok.strip()
        if not tok:
            continue
        head = tok.split("@")[0]
        if (
            sep == ","
            and out
            and "=" in head
            and "+" in out[-1]
            and "+" not in tok
            and "(" not in tok
        ):
            out[-1] += "," + tok
        else:
            out.append(tok)
    return tuple(out)
