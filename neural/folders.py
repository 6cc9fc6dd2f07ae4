"""Names of neural run folders: ``<kind>__<tag>__<mode>__<hash of the config>``.

Its own module so that :mod:`.compare`, :mod:`.ladder` and :mod:`.mimicry` name folders the same
way without importing each other (:mod:`.figures` reads :mod:`.ladder`, which compare imports).
"""

from __future__ import annotations

from bayes_w2s.harness.runs import config_to_dict

from .cache import cache_key

__all__ = ["folder_name"]


def folder_name(kind: str, cfg, tag: str | None = None) -> str:
    """``<kind>__<tag>__<mode>__<hash of cfg>``; ``tag`` defaults to ``<weak>_to_<strong>``."""
    b = cfg.base
    tag = (tag or f"{b.weak}_to_{b.strong}").replace("/", "-").replace(":", "-")
    return f"{kind}__{tag}__{b.mode}__{cache_key(config_to_dict(cfg))[:8]}"
