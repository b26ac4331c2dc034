"""The on-disk response cache: rerunning a cell makes no model call and no
API request. Keys cover everything that changes an answer (model ref,
revision, backend, endpoint, parameters, input); values are stored results.

Instructors can record closed-API answers once (:func:`export_cache`) and
students without a key replay them (:func:`import_cache`); replayed results
say ``cache="replay"`` and carry their original date.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.errors import OpenClosedError
from ..core.settings import Settings

_lock = threading.Lock()
_caches: dict[str, Any] = {}
FORMAT = "openclosed-response-cache/2"  # /2: keys include the endpoint actually called


def _cache(folder: Path):
    import diskcache

    key = str(folder)
    with _lock:
        if key not in _caches:
            folder.mkdir(parents=True, exist_ok=True)
            _caches[key] = diskcache.Cache(key, size_limit=2**31)
        return _caches[key]


def response_key(spec, task: str, text: str, params: dict[str, Any], endpoint: str | None = None) -> str:
    """A stable hash of everything that determines an answer, including the
    endpoint actually called (so a local server's answer is never served as
    the vendor's, and the reverse)."""
    ident = {
        "ref": spec.ref, "revision": spec.revision, "backend": spec.backend, "arch": spec.arch,
        "base_url": spec.base_url, "endpoint": endpoint, "task": task, "input": text,
        "params": {k: v for k, v in sorted(params.items()) if not callable(v)},
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """A view of the response cache for one mode (readwrite/read/write/off)."""

    def __init__(self, folder: Path, mode: str = "readwrite") -> None:
        self.folder = folder
        self.mode = mode

    @property
    def reads(self) -> bool:
        return self.mode in ("readwrite", "read")

    @property
    def writes(self) -> bool:
        return self.mode in ("readwrite", "write")

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.reads:
            return None
        return _cache(self.folder).get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        if self.writes:
            entry = dict(entry, stored_at=entry.get("stored_at") or datetime.now(timezone.utc).isoformat(timespec="seconds"))
            _cache(self.folder).set(key, entry)

    def __len__(self) -> int:
        return len(_cache(self.folder))

    def clear(self) -> None:
        _cache(self.folder).clear()


def active_cache(settings: Settings, mode: str | None = None) -> ResponseCache:
    """The response cache of ``settings`` in ``mode`` (default: the settings' mode)."""
    return ResponseCache(settings.responses_dir, mode or settings.response_cache)


def export_cache(settings: Settings, path: str | Path, models: list[str] | None = None,
                 family: str | None = "closed") -> int:
    """Write cached answers to one gzipped JSON-lines file and return how many.

    By default only closed-model answers (what students without a key need);
    ``family=None`` exports everything, ``models=[...]`` picks by name.
    """
    cache = _cache(settings.responses_dir)
    n = 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"format": FORMAT}) + "\n")
        for key in cache.iterkeys():
            entry = cache.get(key)
            if entry is None:
                continue
            if family and entry.get("family") != family:
                continue
            if models and entry.get("model") not in models:
                continue
            f.write(json.dumps({"key": key, "entry": entry}, default=str) + "\n")
            n += 1
    return n


def recorded_models(settings: Settings, task: str) -> set[str]:
    """Names of the models with answers for ``task`` imported from a recording into the active cache."""
    cache = _cache(settings.responses_dir)
    return {e.get("model") for e in map(cache.get, cache.iterkeys())
            if e is not None and e.get("imported") and e.get("task") == task}


def recording_dates(path: str | Path) -> list[str]:
    """The days (YYYY-MM-DD) the answers in a file written by :func:`export_cache` were first stored."""
    with gzip.open(Path(path), "rt", encoding="utf-8") as f:
        f.readline()
        return sorted({str(json.loads(line)["entry"].get("stored_at") or "")[:10] for line in f} - {""})


def import_cache(settings: Settings, path: str | Path) -> int:
    """Merge a file written by :func:`export_cache`; its answers replay as ``cache="replay"``."""
    path = Path(path)
    if not path.exists():
        raise OpenClosedError(f"no cache file at {path}", "ask your instructor for the .jsonl.gz file, or check the path")
    cache = _cache(settings.responses_dir)
    n = 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline() or "{}")
        if header.get("format") == "openclosed-response-cache/1":
            raise OpenClosedError(f"{path} was recorded before answers carried their endpoint: its answers could "
                                  "be replayed as another server's", "re-record it with oc.export_cache(path)")
        if header.get("format") != FORMAT:
            raise OpenClosedError(f"{path} is not an openclosed response cache", "export one with oc.export_cache(path)")
        for line in f:
            item = json.loads(line)
            cache.set(item["key"], dict(item["entry"], imported=True))
            n += 1
    return n
