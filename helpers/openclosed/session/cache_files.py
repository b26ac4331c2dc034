"""Record closed-model answers once and replay them without a key:
``oc.export_cache`` / ``oc.import_cache`` on the active response cache, and
:func:`import_recording`, which replays an instructor's recording when one is
where the notebooks look (``$OPENCLOSED_RECORDING``, or
``recorded_answers.jsonl.gz`` next to the notebooks)."""

from __future__ import annotations

import os
from pathlib import Path

from ..engine import responsecache
from .setup import get_settings


RECORDING_ENV = "OPENCLOSED_RECORDING"
RECORDING_FILE = "recorded_answers.jsonl.gz"


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


def recording_path() -> Path | None:
    """Where an instructor's recording is: the file ``$OPENCLOSED_RECORDING`` names, else
    ``recorded_answers.jsonl.gz`` in the working folder (the notebooks' folder when they run); None if neither."""
    named = os.environ.get(RECORDING_ENV)
    if named:
        return Path(named).expanduser()
    here = Path.cwd() / RECORDING_FILE
    return here if here.exists() else None


def import_recording(path: str | Path | None = None) -> int:
    """Replay an instructor's recorded closed-model answers if there is one (``path``, else
    :func:`recording_path`): merges it and says in one line how many answers and when they were recorded.
    With no recording it says so in one line and returns 0; nothing fails."""
    where = Path(path) if path is not None else recording_path()
    if where is None:
        print(f"No recording of closed-model answers (set {RECORDING_ENV}=path or put {RECORDING_FILE} next to "
              "the notebooks): closed models answer only with their key.")
        return 0
    n = import_cache(where)
    dates = responsecache.recording_dates(where)
    print(f"Replaying {n} recorded answers from {where.name}" + (f", recorded {', '.join(dates)}" if dates else "")
          + ": those rows say 'replay' and keep the date they were recorded.")
    return n
