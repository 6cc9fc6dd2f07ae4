"""Names of neural run folders: the one scheme of every command
(:func:`bayes_w2s.harness.naming.run_folder_name`: ``<kind>`` plus ``__field=value`` for each
config field that differs from its default).

Its own module so that :mod:`.compare`, :mod:`.ladder` and :mod:`.mimicry` name folders the same
way without importing each other (:mod:`.figures` reads :mod:`.ladder`, which compare imports).
"""

from __future__ import annotations

from bayes_w2s.harness.naming import run_folder_name

__all__ = ["folder_name"]


def folder_name(kind: str, cfg, tag: str | None = None) -> str:
    """The run folder's name, :func:`~bayes_w2s.harness.naming.run_folder_name` of ``cfg``;
    ``tag`` is accepted for old callers and ignored (the config names what differs)."""
    return run_folder_name(kind, cfg)
