"""Progress of long work: a tqdm bar on a terminal, periodic one-line log records elsewhere.

Every loop that can take more than a few seconds (the replicates / worlds of a simulation, the
cells of a sweep, the runs of a neural compare) reports through one helper::

    from bayes_w2s.harness.progress import progress

    for rep in progress(range(cfg.replicates), desc="misspecification", unit="world"):
        ...

    with Progress(total=len(cells), desc="sweep misfit", unit="cell") as bar:
        for ... in ...:
            bar.update()

What it shows depends on where stderr goes and on the level of the ``bayes_w2s`` logger:

* logger not enabled for ``INFO`` (``--quiet`` sets ``WARNING``): nothing at all;
* stderr is a terminal: a tqdm bar with count, elapsed time and ETA;
* otherwise (piped, redirected, a batch job): a log record on logger ``bayes_w2s`` at most
  every ``interval`` seconds (default 10 s, environment ``BAYES_W2S_PROGRESS_INTERVAL``)::

      misspecification: 12/40 worlds, 8 s elapsed, ~19 s left

  and a closing ``... done in 27 s`` record once a periodic record was written. The ETA is the
  mean time per finished item times the items left: ``left = elapsed / done * (total - done)``.

Nesting: progress opened inside another one (a simulation's worlds inside a serial sweep
cell) or inside :func:`silenced` (a sweep cell in a worker process) stays silent, so one
overall count is shown. If nothing configured logging (no handler on ``bayes_w2s`` or the
root logger), the first progress call attaches a stderr handler to ``bayes_w2s`` and, if its
level is unset, sets it to ``INFO`` (:func:`configure_logging`); a command-line entry point can
call :func:`configure_logging` itself with the level from ``--quiet`` / ``--verbose``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["LOGGER_NAME", "Progress", "progress", "silenced", "configure_logging", "format_seconds"]

LOGGER_NAME = "bayes_w2s"
INTERVAL_ENV = "BAYES_W2S_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0

T = TypeVar("T")

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("bayes_w2s_progress_depth", default=0)
_silent: contextvars.ContextVar[bool] = contextvars.ContextVar("bayes_w2s_progress_silent", default=False)
_HANDLER_TAG = "_bayes_w2s_progress_handler"


def configure_logging(level: int | str | None = None, stream=None) -> logging.Logger:
    """Give logger ``bayes_w2s`` one stderr handler (``HH:MM:SS message``) and a level.

    Idempotent: the handler is added once. ``level=None`` keeps a level already set and
    sets ``INFO`` where none is (progress records are ``INFO``; ``WARNING`` silences them,
    ``DEBUG`` adds detail). Returns the logger.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, _HANDLER_TAG, False) for h in logger.handlers):
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        setattr(handler, _HANDLER_TAG, True)
        logger.addHandler(handler)
    if level is not None:
        logger.setLevel(level)
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger


def _logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.hasHandlers():  # nobody configured logging: progress would go nowhere
        configure_logging()
    return logger


def format_seconds(seconds: float) -> str:
    """``8 s``, ``3 min 20 s``, ``1 h 05 min`` (rounded to whole seconds / minutes)."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def _interval() -> float:
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{INTERVAL_ENV} must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{INTERVAL_ENV} must be finite and >= 0, got {text!r}")
    return value


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Progress opened inside this block shows nothing (e.g. one sweep cell in a worker)."""
    token = _silent.set(True)
    try:
        yield
    finally:
        _silent.reset(token)


def _plural(unit: str, count: int | None) -> str:
    if count == 1 or unit.endswith("s") or not unit:
        return unit
    return unit + "s"


class Progress:
    """Count finished items of ``total`` (or an open count when ``total`` is None).

    Parameters
    ----------
    total : int or None
        Items expected; ``None`` shows a count without an ETA.
    desc : str
        What is being done, e.g. the experiment name; starts every log record.
    unit : str
        Singular name of one item (``"world"``, ``"cell"``, ``"run"``).
    initial : int
        Items already done (a resumed sweep).
    interval : float, optional
        Seconds between log records when not on a terminal (default 10, or
        ``BAYES_W2S_PROGRESS_INTERVAL``).
    stream : file, optional
        Where the tqdm bar goes and whose ``isatty()`` picks bar or log records (default
        ``sys.stderr``).
    disable : bool
        Show nothing (``--no-progress``).
    mode : {"bar", "log"}, optional
        Force a bar or log records instead of choosing by ``stream.isatty()`` (still nothing
        when disabled, nested, silenced or below INFO).

    Notes
    -----
    ETA after ``d`` of ``N`` items in ``t`` seconds: ``t / d * (N - d)`` (items of equal cost).
    The mode is fixed when the object is made: ``"off"``, ``"bar"`` or ``"log"``.
    """

    def __init__(self, total: int | None, desc: str = "", *, unit: str = "item", initial: int = 0,
                 interval: float | None = None, stream=None, disable: bool = False,
                 mode: str | None = None):
        if mode not in (None, "bar", "log"):
            raise ValueError(f"mode must be None, 'bar' or 'log', got {mode!r}")
        if total is not None and (isinstance(total, bool) or int(total) != total or total < 0):
            raise ValueError(f"total must be a non-negative integer or None, got {total!r}")
        if int(initial) != initial or initial < 0:
            raise ValueError(f"initial must be a non-negative integer, got {initial!r}")
        self.total = None if total is None else int(total)
        self.desc, self.unit = str(desc), str(unit)
        self.done = int(initial)
        self._initial = int(initial)
        self.interval = _interval() if interval is None else float(interval)
        self._stream = stream if stream is not None else sys.stderr
        self._start = self._last = time.monotonic()
        self._emitted = 0
        self._bar = None
        self._closed = False
        self.mode = "off" if disable else self._pick_mode(nested=_depth.get() > 0, force=mode)
        # only progress that shows something makes progress opened inside it nested
        self._token = _depth.set(_depth.get() + 1) if self.mode != "off" else None
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.done, desc=self.desc, unit=self.unit,
                             file=self._stream, dynamic_ncols=True, leave=True)

    def _pick_mode(self, nested: bool, force: str | None = None) -> str:
        if nested or _silent.get():
            return "off"
        self._log = _logger()
        if not self._log.isEnabledFor(logging.INFO):
            return "off"
        if force is not None:
            return force
        isatty = getattr(self._stream, "isatty", None)
        return "bar" if callable(isatty) and isatty() else "log"

    @property
    def elapsed(self) -> float:
        """Seconds since the object was made."""
        return time.monotonic() - self._start

    def eta(self) -> float:
        """Seconds left, ``elapsed / done_now * left`` (NaN before the first item or without a total)."""
        done_now = self.done - self._initial
        if self.total is None or done_now <= 0:
            return float("nan")
        return self.elapsed / done_now * max(self.total - self.done, 0)

    def message(self) -> str:
        """``desc: 12/40 worlds, 8 s elapsed, ~19 s left`` (the log record's text)."""
        head = f"{self.desc}: " if self.desc else ""
        if self.total is None:
            return f"{head}{self.done} {_plural(self.unit, self.done)}, {format_seconds(self.elapsed)} elapsed"
        text = f"{head}{self.done}/{self.total} {_plural(self.unit, self.total)}, {format_seconds(self.elapsed)} elapsed"
        eta = self.eta()
        return text + (f", ~{format_seconds(eta)} left" if math.isfinite(eta) else "")

    def update(self, n: int = 1) -> None:
        """Mark ``n`` more items done; may draw the bar or write a log record."""
        self.done += int(n)
        if self.mode == "bar":
            self._bar.update(n)
        elif self.mode == "log":
            now = time.monotonic()
            finished = self.total is not None and self.done >= self.total  # close() says "done in"
            if now - self._last >= self.interval and not finished:
                self._last = now
                self._emitted += 1
                self._log.info(self.message())

    def close(self) -> None:
        """Finish: close the bar, or write ``desc: ... done in T`` if any record was written."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "log" and (self._emitted or self.elapsed >= self.interval):
            head = f"{self.desc}: " if self.desc else ""
            count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
            self._log.info(f"{head}{count} {_plural(self.unit, self.total or self.done)} "
                           f"done in {format_seconds(self.elapsed)}")
        if self._token is not None:
            try:
                _depth.reset(self._token)
            except ValueError:  # closed in another context than it was opened in: restore by count
                _depth.set(max(_depth.get() - 1, 0))

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "", *, unit: str = "item",
             **kw) -> Iterator[T]:
    """Yield from ``iterable``, counting each item as done once the loop body returns.

    ``total`` defaults to ``len(iterable)`` where that exists; other keywords go to
    :class:`Progress`.
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(total, desc, unit=unit, **kw) as bar:
        for item in iterable:
            yield item
            bar.update()
