"""Models on the Hugging Face Hub: is a pinned revision already on disk, and
which of a profile's models are missing. Nothing here downloads."""

from __future__ import annotations

import re
from pathlib import Path

from .hub_files import hub_files
from .registry import all_models
from .specs import ModelSpec

FULL_REVISION = re.compile(r"[0-9a-f]{40}")


def is_pinned(revision: str | None) -> bool:
    """True for a full 40-hex commit: the only kind of hash the Hub accepts as ``revision``."""
    return bool(revision and FULL_REVISION.fullmatch(revision))


def local_snapshot(spec: ModelSpec) -> Path | None:
    """The folder of ``spec``'s files in the local Hugging Face cache, or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(spec.ref, revision=spec.revision or "main", local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def hub_models(profile: str) -> list[ModelSpec]:
    """The open hub models ``profile`` shows by default."""
    return [m for m in all_models() if profile in m.profiles and m.source == "hub" and m.family == "open"]


def has_weights(spec: ModelSpec, snapshot: Path) -> bool:
    """Whether ``snapshot`` holds every weight file of ``spec``'s file record (True without a record)."""
    record = hub_files(spec)
    return record is None or all((snapshot / w).is_file() for w in record.weights)


def missing_hub_models(profile: str) -> list[str]:
    """Hub models of ``profile`` that are not (completely) in the local Hugging Face cache."""
    out = []
    for m in hub_models(profile):
        snapshot = local_snapshot(m)
        if snapshot is None or not has_weights(m, snapshot):
            out.append(m.name)
    return out
