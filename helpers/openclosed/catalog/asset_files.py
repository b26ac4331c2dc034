"""Asset folders on disk: built in a temporary sibling and renamed into
place (an interrupted build never leaves half a folder), marked finished by an
``openclosed_asset.json`` that records where the files came from, and checked
against the sha256 the asset table expects."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ASSET_FILE = "openclosed_asset.json"
"""Name of the small JSON file that marks a finished asset folder."""

def write_asset_info(folder: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as ``folder/openclosed_asset.json`` and return its path."""
    path = Path(folder) / ASSET_FILE
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_asset_info(folder: Path) -> dict[str, Any] | None:
    """The ``openclosed_asset.json`` of ``folder``, or ``None`` if it has none."""
    path = Path(folder) / ASSET_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def folder_size_mb(folder: Path) -> float:
    """Total size of the files under ``folder`` in MB (2**20 bytes)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(folder: Path, pattern: str) -> str:
    """One sha256 over every file under ``folder`` matching ``pattern`` (their relative paths and sha256s, sorted)."""
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob(pattern)):
        h.update(f"{path.relative_to(folder).as_posix()} {sha256_file(path)}\n".encode())
    return h.hexdigest()


def is_ready(folder: Path, version: int | None = None) -> bool:
    """A finished asset folder (has its marker file), built by builder ``version`` if given."""
    info = read_asset_info(folder) if folder.is_dir() else None
    return info is not None and (version is None or info.get("asset_version") == version)


def _make_readable(root: Path) -> None:
    """chmod ``root`` and everything under it to the usual 0o755 / 0o644 (minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        mode = 0o777 if path.is_dir() else 0o666
        path.chmod((mode & ~umask) | (0o700 if path.is_dir() else 0o600))


def build_atomically(folder: Path, build: Callable[[Path], None], version: int | None = None) -> bool:
    """Build ``folder`` with ``build(tmp)`` in a temporary sibling, then rename it into place.

    Returns ``True`` when this call built the folder, ``False`` when it was
    already there (or another process finished it first). ``build`` must write
    ``openclosed_asset.json`` (the marker of a finished folder), with
    ``"asset_version": version`` when a version is given; a folder from another
    builder version is replaced.
    """
    folder = Path(folder)
    if is_ready(folder, version):
        return False
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        build(tmp)
        if not (tmp / ASSET_FILE).is_file():
            raise RuntimeError(f"internal error: building {folder.name} wrote no {ASSET_FILE}")
        if is_ready(folder, version):  # another process finished first: keep its folder
            return False
        if folder.exists():
            # No marker, or an older builder version: move it aside (then
            # delete it) rather than mixing files.
            stale = Path(tempfile.mkdtemp(prefix=f".{folder.name}.stale-", dir=folder.parent))
            os.replace(folder, stale / folder.name)
            shutil.rmtree(stale, ignore_errors=True)
        _make_readable(tmp)  # mkdtemp makes 0700 folders; caches may be shared
        try:
            os.replace(tmp, folder)  # atomic on one filesystem
        except OSError:
            if is_ready(folder, version):  # another process won the race: use its folder
                return False
            raise
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


