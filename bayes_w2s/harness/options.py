"""Command-line options as declarative validators: one object builds the help and checks the value.

An :class:`Option` states what a value *means*, its *kind* (integer, number, true/false, text,
one of a few choices, or a comma-separated list of one of those), its *range* with open or
closed ends, and its default. The same object

* converts command-line text (or a value read from a ``--config`` file) and refuses what is
  out of range, with one line naming the option as the user typed it
  (``--n: must be an integer ≥ 10, got 9``);
* writes the option's help (``number of flips; integer ≥ 10 (default: 100000)``);
* lists the boundary values a test can try (:meth:`Option.boundary_cases`): the documented
  ends must be accepted and the values just outside refused.

So the help and the check cannot disagree. :class:`Parser` is an ``argparse.ArgumentParser``
whose errors raise :class:`UsageError` (one line, exit status 2, no usage block) instead of
printing the usage and exiting.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["UsageError", "OptionError", "Option", "Parser", "add_option", "flag", "plain", "options_of"]

KINDS = ("int", "float", "bool", "text")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class UsageError(ValueError):
    """Bad command-line input, reported as one line with exit status 2."""


class OptionError(UsageError):
    """A bad option value; the message names the option as typed (``--weak-labels``)."""


def flag(name: str) -> str:
    """``weak_labels`` -> ``--weak-labels``: the option as the user types it."""
    return "--" + name.strip("-").replace("_", "-")


def plain(text: str) -> str:
    """Docstring text without reStructuredText markup, for ``--help``: double-backquoted text and
    ``:func:`x``` become ``x``, a trailing ``::`` becomes ``:``."""
    import re

    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = text.replace("``", "").replace("::\n", ":\n")
    return re.sub(r"`([^`]+)`", r"\1", text)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclasses.dataclass(frozen=True)
class Option:
    """One option: meaning, kind, range ``[low, high]`` (ends open or closed), default.

    Parameters
    ----------
    meaning : str
        What the value means, in a few words (plain text, no markup).
    kind : {"int", "float", "bool", "text"}
        Integers accept ``12``, ``1_000`` and integral scientific notation (``1e6``); numbers
        must be finite.
    low, high : float, optional
        Range of an integer or number; ``low_open`` / ``high_open`` exclude the end.
    choices : tuple of str
        For text: the accepted values (help says "one of: ...").
    sequence : bool
        A comma-separated (``sep``) non-empty list of values of ``kind``, each in range;
        ``distinct`` refuses repeats.
    check : callable, optional
        Extra check of the converted value (raises ValueError with a reason); ``check_text``
        says in the help what it requires.
    default : object
        Shown in the help (``default_text`` overrides how).
    """

    meaning: str
    kind: str = "text"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    sequence: bool = False
    sep: str = ","
    distinct: bool = False
    check: Callable[[Any], Any] | None = None
    check_text: str = ""
    default: Any = None
    default_text: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Option kind must be one of {KINDS}, got {self.kind!r}")
        if not self.meaning.strip():
            raise ValueError("every Option needs a meaning")

    # -- help -------------------------------------------------------------------------
    def range_text(self) -> str:
        """``≥ 10``, ``in (0, 0.5)``, ``> 0``: the range as the help states it."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return f"in {'(' if self.low_open else '['}{_num(lo)}, {_num(hi)}{')' if self.high_open else ']'}"
        if lo is not None:
            return f"{'>' if self.low_open else '≥'} {_num(lo)}"
        if hi is not None:
            return f"{'<' if self.high_open else '≤'} {_num(hi)}"
        return ""

    def kind_text(self) -> str:
        """The kind and range in words: ``integer ≥ 10``, ``one of: a, b``."""
        if self.choices:
            text = "one of: " + ", ".join(self.choices)
        else:
            base = {"int": "integer", "float": "number", "bool": "true/false", "text": "text"}[self.kind]
            if self.kind == "float" and self.low is None and self.high is None:
                base = "finite number"
            rng = self.range_text()
            text = f"{base} {rng}" if rng else base
        if self.check_text:
            text += f", {self.check_text}"
        if self.sequence:
            sep = "comma" if self.sep == "," else f"'{self.sep}'"
            text = f"{sep}-separated list, each {text}" + (", no repeats" if self.distinct else "")
        return text

    def kind_phrase(self) -> str:
        """:meth:`kind_text` with an article: ``an integer ≥ 10``, ``a number in (0, 0.5)``."""
        text = self.kind_text()
        if text.startswith("one of"):
            return text
        return ("an " if text[0] in "aeiou" else "a ") + text

    def shown_default(self) -> str:
        if self.default_text is not None:
            return self.default_text
        value = self.default
        if isinstance(value, (tuple, list)):
            return self.sep.join(map(str, value))
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return _num(value) if math.isfinite(value) else str(value)
        return str(value)

    def help(self) -> str:
        """``meaning; kind and range (default: value)`` with ``%`` escaped for argparse."""
        return f"{self.meaning}; {self.kind_text()} (default: {self.shown_default()})".replace("%", "%%")

    # -- conversion ---------------------------------------------------------------------
    def _one(self, value: Any, name: str) -> Any:
        """Convert and range-check one scalar (text or an already typed value)."""
        shown = repr(value)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise OptionError(f"{name}: expected true/false, got {shown}")
        if self.kind == "text":
            if not isinstance(value, str):
                raise OptionError(f"{name}: expected text, got {shown}")
            text = value.strip()
            if not text:
                raise OptionError(f"{name}: must not be empty")
            if self.choices and text not in self.choices:
                raise OptionError(f"{name}: must be one of: {', '.join(self.choices)}; got {shown}")
            return text
        if isinstance(value, bool):
            raise OptionError(f"{name}: expected {self.kind_phrase()}, got {shown}")
        if self.kind == "int":
            number = _as_int(value)
            if number is None:
                raise OptionError(f"{name}: expected an integer, got {shown}")
        else:
            try:
                number = float(value.strip() if isinstance(value, str) else value)
            except (TypeError, ValueError, OverflowError):
                raise OptionError(f"{name}: expected a number, got {shown}") from None
            if not math.isfinite(number):
                raise OptionError(f"{name}: expected a finite number, got {shown}")
        if not self.in_range(number):
            raise OptionError(f"{name}: must be {self.kind_phrase()}, got {_num(number)}")
        return number

    def in_range(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        if self.high is not None and (x > self.high or (self.high_open and x == self.high)):
            return False
        return True

    def convert(self, value: Any, name: str) -> Any:
        """``value`` (command-line text or a config-file value) typed and checked; raises
        :class:`OptionError` naming ``name`` (the option as typed)."""
        if self.sequence:
            if isinstance(value, str):
                items = [t for t in value.split(self.sep) if t.strip()]
            elif isinstance(value, (list, tuple)):
                items = list(value)
            else:
                items = [value]
            if not items:
                raise OptionError(f"{name}: expected {self.kind_phrase()}, got {value!r}")
            out = tuple(self._one(item, name) for item in items)
            if self.distinct and len(set(out)) != len(out):
                dup = next(v for i, v in enumerate(out) if v in out[:i])
                raise OptionError(f"{name}: repeats {dup!r}; give each value once")
        else:
            out = self._one(value, name)
        if self.check is not None:
            try:
                self.check(out)
            except (ValueError, TypeError, KeyError) as err:
                raise OptionError(f"{name}: {_first_line(err)}") from None
        return out

    def argparse_type(self, name: str) -> Callable[[str], Any]:
        """A converter for ``argparse`` ``type=`` (errors keep the option's name)."""

        def parse(text: str):
            try:
                return self.convert(text, name)
            except OptionError as err:  # argparse prefixes "argument --name: " itself
                raise argparse.ArgumentTypeError(str(err).removeprefix(f"{name}: ")) from None

        parse.__name__ = self.kind
        parse.option = self  # type: ignore[attr-defined] - read back by options_of
        return parse

    def metavar(self) -> str:
        if self.choices:
            return "{" + ",".join(self.choices) + "}"
        base = {"int": "INT", "float": "X", "bool": "BOOL", "text": "TEXT"}[self.kind]
        return f"{base}{self.sep}..." if self.sequence else base

    # -- what a test should try -----------------------------------------------------------
    def boundary_cases(self) -> tuple[list[str], list[str]]:
        """``(accepted, refused)`` command-line texts at the documented ends of the range."""
        ok: list[str] = []
        bad: list[str] = []
        if self.kind == "bool":
            ok, bad = ["true", "false"], ["maybe"]
            if self.check is not None:  # a flag fixed by the experiment: the other value is refused
                for text in list(ok):
                    try:
                        self.convert(text, "probe")
                    except OptionError:
                        ok.remove(text)
                        bad.append(text)
        elif self.kind == "text":
            ok, bad = list(self.choices), ["", "  "]
            if self.choices:
                bad.append("no-such-choice")
        else:
            step = (lambda x, d: x + d) if self.kind == "int" else (lambda x, d: math.nextafter(x, d * math.inf))
            fmt = (lambda x: str(int(x))) if self.kind == "int" else repr
            for end, is_open, out in ((self.low, self.low_open, -1), (self.high, self.high_open, 1)):
                if end is None:
                    continue
                inside, outside = (step(end, -out), end) if is_open else (end, step(end, out))
                ok.append(fmt(inside))
                bad.append(fmt(outside))
            bad += ["nan", "inf", "abc"] + (["1.5"] if self.kind == "int" else [])
        if self.sequence:
            bad.append(self.sep)
        return ok, bad


def _as_int(value: Any) -> int | None:
    """An integer from ``12``, ``"1_000"``, ``"1e6"``, ``12.0``; None if not integral."""
    if isinstance(value, int):
        return int(value)
    text = value.strip() if isinstance(value, str) else value
    try:
        return int(text)
    except (TypeError, ValueError):
        pass
    try:
        number = float(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or number != int(number) or abs(number) >= 2**63:
        return None
    return int(number)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose usage errors raise :class:`UsageError` (one line, no usage
    block, no ``SystemExit``); ``--help`` still prints and exits with status 0."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _get_values(self, action, arg_strings):  # argparse would drop a lone "--" and pass []
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, got '--'")
        return super()._get_values(action, arg_strings)

    def error(self, message: str):  # noqa: D401 - argparse hook
        raise UsageError(f"{self.prog}: error: {message}")


def add_option(
    parser: argparse._ActionsContainer, name: str, option: Option, *, dest: str | None = None, default: Any = None
) -> argparse.Action:
    """``--name`` with ``type``, ``help`` and ``metavar`` built from ``option``.

    ``default`` is what the namespace holds when the option is not given (None by default, so
    a caller can tell "not given" from "given the default", as ``--config`` merging needs).
    """
    typed = flag(name)
    return parser.add_argument(
        typed, dest=dest or name.replace("-", "_"), type=option.argparse_type(typed), default=default,
        metavar=option.metavar(), help=option.help(),
    )


def options_of(parser: argparse.ArgumentParser) -> Sequence[tuple[str, Option]]:
    """``(flag, Option)`` for every option of ``parser`` built by :func:`add_option`."""
    return [(a.option_strings[0], a.type.option) for a in parser._actions  # no public list in argparse
            if isinstance(getattr(a.type, "option", None), Option)]
