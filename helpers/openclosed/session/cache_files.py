"""Record closed-model answers once and replay them without a key:
``oc.export_cache`` / ``oc.import_cache`` on the active response cache."""

from __future__ import annotations

from pathlib import Path

from ..engine import responsecache
from .setup import get_settings


def export_cache(path: str | Path, models: list[str] | None = None, family: str | None = "closed") -> int:
    """Write cached answers to one gzipped JSON-lines file and return how many.

    By default only closed-model answers (what students without a key need);
    ``family=None`` exports everything, ``models=[...]`` picks by name. Each
    answer carries the endpoint that gave it, and replays only for that endpoint.
    """
    return responsecache.export_cache(get_settings(), path, models=models, family=family)


def import_cache(path: str | Path) -> int:
    """Merge a file written by :func:`export_cache`; its answers replay as ``cache="replay"``."""
    return responsecache.import_cache(get_settings(), path)
