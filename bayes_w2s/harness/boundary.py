"""The command line's error boundary and logging: how an exception becomes one line.

:func:`error_line` maps every error a user can cause to ONE line (``None`` for a bug): bad
options (:class:`~bayes_w2s.harness.options.UsageError`, naming the option as typed), the
project's error classes (``ValidationError``, ``ImpossiblePriorError``,
``NumericalOverflowError``, ``ImpossibleEvidenceError``, bad run folders and sweeps, all
``ValueError``), and foreseeable OS and resource errors (permissions, missing or full disks,
``MemoryError``, undecodable text). :func:`bayes_w2s.harness.cli.main` prints it with exit
status 2. ``-q/--quiet`` and ``-v/--verbose`` set the level of the ``bayes_w2s`` logger
(:func:`apply_logging`), on which progress reports are built.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bayes_w2s.harness.options import UsageError

__all__ = ["LOGGER", "add_logging_options", "apply_logging", "error_line"]

LOGGER = logging.getLogger("bayes_w2s")


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is *now* (tests and callers swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` and ``-v/--verbose``: the level of the ``bayes_w2s`` logger."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors (logging level WARNING)")
    group.add_argument("-v", "--verbose", action="store_true", help="debug messages too (logging level DEBUG)")


def apply_logging(args: argparse.Namespace) -> None:
    """Set the ``bayes_w2s`` logger's level from ``--quiet`` / ``--verbose`` (default INFO) and
    give it one stderr handler."""
    level = logging.WARNING if getattr(args, "quiet", False) else (
        logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    LOGGER.setLevel(level)
    if not any(getattr(h, "_bayes_w2s", False) for h in LOGGER.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        handler._bayes_w2s = True  # type: ignore[attr-defined]
        LOGGER.addHandler(handler)
        LOGGER.propagate = False


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _os_message(err: OSError) -> str:
    where = f"{err.filename}: " if getattr(err, "filename", None) else ""
    return f"{where}{err.strerror or _one_line(err)}"


def error_line(err: BaseException) -> str | None:
    """The one line shown for an error the boundary knows, or None for an unexpected one."""
    from bayes_w2s.core.updates import ImpossibleEvidenceError
    from bayes_w2s.core.validation import ImpossiblePriorError, NumericalOverflowError, ValidationError

    if isinstance(err, UsageError):
        return _one_line(err)
    if isinstance(err, (ImpossiblePriorError, ImpossibleEvidenceError, NumericalOverflowError)):
        return f"{type(err).__name__}: {_one_line(err)}"
    if isinstance(err, ValidationError):
        return f"invalid input: {_one_line(err)}"
    if isinstance(err, UnicodeDecodeError):
        return f"cannot decode text ({err.encoding}, byte {err.start}): {err.reason}"
    if isinstance(err, MemoryError):
        return ("out of memory" + (f" ({_one_line(err)})" if str(err) else "")
                + ": lower the sizes (--n, --replicates, ...)")
    if isinstance(err, PermissionError):
        return f"permission denied: {_os_message(err)}"
    if isinstance(err, OSError):
        return _os_message(err)
    if isinstance(err, (ValueError, OverflowError)):
        return _one_line(err)
    return None
