"""Suite-wide switch: with ``BAYES_W2S_STRICT_IMPORTS=1`` (set by ``.ci/run``) nothing may skip.

Locally a missing optional extra (torch, pymc, ray, ...) skips the tests that need it. In CI
that would hide a broken import, so under the flag:

* ``pytest.importorskip(name)`` imports ``name`` directly: a missing or broken module raises
  its own ``ImportError`` (with the traceback of the line that failed), which fails the test
  or the collection of the module that asked for it;
* any other skip (``pytest.skip``, ``skipif`` marks, module-level skips) is reported as a
  failure naming the skip's reason. Expected failures (``xfail``) are left alone.
"""

from __future__ import annotations

import functools
import importlib
import os

import pytest

pytest_plugins = ["pytester"]

STRICT_ENV = "BAYES_W2S_STRICT_IMPORTS"


def strict_imports() -> bool:
    """True when the environment asks for a suite in which nothing may skip."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _strict_importorskip(original):
    @functools.wraps(original)
    def importorskip(modname, minversion=None, reason=None, **kwargs):
        importlib.import_module(modname)  # missing or broken: its own ImportError, not a skip
        try:
            return original(modname, minversion=minversion, reason=reason, **kwargs)
        except pytest.skip.Exception as exc:  # e.g. too old for minversion
            raise ImportError(f"{STRICT_ENV}=1: {exc.msg}") from None

    importorskip.strict = True
    return importorskip


if strict_imports() and not getattr(pytest.importorskip, "strict", False):
    pytest.importorskip = _strict_importorskip(pytest.importorskip)


def _failed_skip(report, where: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{STRICT_ENV}=1 forbids skips; {where} skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if strict_imports() and report.skipped and not hasattr(report, "wasxfail"):
        _failed_skip(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if strict_imports() and report.skipped:
        _failed_skip(report, collector.nodeid or "collection")
