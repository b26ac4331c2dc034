"""Arena votes on disk: one JSON Lines file per voter, merged by an
instructor with one call. (Used in ``02b_inside_chat_models.ipynb``.)

Each student's votes go to ``<votes folder>/<voter>.jsonl``, one vote per
line, appended as they are cast (a kernel restart loses nothing). A vote
holds the prompt, the two contestants (``model_a`` was shown on the left,
``model_b`` on the right), the vote (``A``, ``B``, ``tie`` or ``both bad``),
a UTC timestamp, each side's settings (model, temperature, system prompt,
seed...) and answers, and who really answered. Every string is passed
through the key redactor before it is written, so no API key can reach a
vote file.

The instructor collects the files into one folder and calls
``oc.merge_votes("collected_votes")``: one DataFrame, duplicates (the same
vote id in two files) counted once, ready for ``oc.leaderboard(votes)``.
"""

from __future__ import annotations

import getpass
import json
import re
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.errors import BadInputError
from ..core.secrets import redact
from .ratings import OUTCOMES

VOTE_FIELDS = ("id", "voter", "timestamp", "prompt", "model_a", "model_b", "winner", "settings_a", "settings_b",
               "answer_a", "answer_b", "answered_by_a", "answered_by_b", "arena_seed", "round", "simulated")


def safe_name(text: str) -> str:
    """``text`` as a file-name-safe voter id (letters, digits, ``-_.@``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.@-]+", "-", text).strip("-.")
    return cleaned[:80] or "anonymous"


def default_voter() -> str:
    """``user@host``: on Binder every pod has its own host name, so each student gets their own file."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "student"
    return safe_name(f"{user}@{socket.gethostname()}")


def _clean(value: Any) -> Any:
    """``value`` with every string redacted (keys never reach a vote file)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(value)


def check_vote(vote: dict[str, Any]) -> None:
    """Raise :class:`BadInputError` for a vote the leaderboard could not use."""
    if vote.get("winner") not in OUTCOMES:
        raise BadInputError(f"vote winner {vote.get('winner')!r} is not one of {', '.join(map(repr, OUTCOMES))}",
                            "vote 'A' (left), 'B' (right), 'tie' or 'both bad'")
    for side in ("model_a", "model_b"):
        if not isinstance(vote.get(side), str) or not vote[side]:
            raise BadInputError(f"the vote has no {side}", "record which contestant was on each side")
    if vote["model_a"] == vote["model_b"]:
        raise BadInputError("both sides of the vote are the same contestant", "an arena round needs two contestants")


def vote_record(**fields: Any) -> dict[str, Any]:
    """A vote as written to disk: the known fields in order, a timestamp if none, strings redacted."""
    unknown = sorted(set(fields) - set(VOTE_FIELDS))
    if unknown:
        raise BadInputError(f"unknown vote field(s) {', '.join(unknown)}", f"use {', '.join(VOTE_FIELDS)}")
    rec = {k: fields.get(k) for k in VOTE_FIELDS}
    rec["timestamp"] = rec["timestamp"] or datetime.now(timezone.utc).isoformat(timespec="seconds")
    rec["simulated"] = bool(rec["simulated"])
    check_vote(rec)
    return _clean(rec)


def append_vote(folder: str | Path, voter: str, vote: dict[str, Any]) -> Path:
    """Append ``vote`` (a :func:`vote_record`) to ``folder/<voter>.jsonl``; returns the file."""
    path = Path(folder) / f"{safe_name(voter)}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(vote, ensure_ascii=False) + "\n")
    return path


def read_votes(path: str | Path) -> list[dict[str, Any]]:
    """The votes in one ``.jsonl`` file; a broken line is an error naming the file and line."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            vote = json.loads(line)
            check_vote(vote)
        except (json.JSONDecodeError, BadInputError) as exc:
            raise BadInputError(f"{path.name} line {n} is not a usable vote ({exc})",
                                f"fix or delete line {n} of {path}, then merge again") from exc
        out.append(vote)
    return out


def merge_votes(*sources: str | Path):
    """Every vote in the given folders (all ``*.jsonl`` files in them) and
    files, as one DataFrame sorted by time; a vote found in several files
    (same ``id``) is counted once. This is the instructor's one call after
    collecting the students' files into a folder."""
    import pandas as pd

    if not sources:
        raise BadInputError("no folder or file given", 'e.g. oc.merge_votes("collected_votes")')
    files: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            files += sorted(p.glob("*.jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            raise BadInputError(f"no folder or file at {p}", "pass the folder the vote files (*.jsonl) were collected in")
    rows, seen = [], set()
    for f in files:
        for vote in read_votes(f):
            key = vote.get("id") or json.dumps(vote, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            rows.append({**{k: vote.get(k) for k in VOTE_FIELDS}, "file": f.name})
    df = pd.DataFrame(rows, columns=[*VOTE_FIELDS, "file"])
    if len(df):
        df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df["simulated"] = df["simulated"].fillna(False).astype(bool)
    return df


__all__ = ["VOTE_FIELDS", "append_vote", "check_vote", "default_voter", "merge_votes", "read_votes", "safe_name",
           "vote_record"]
