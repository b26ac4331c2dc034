"""Where the lab keeps its files: one rule for the cache folder, used by the
settings, the asset builder, the Makefile and Binder's ``postBuild``."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$OPENCLOSED_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/openclosed``,
    else ``~/.cache/openclosed`` (``~`` expanded in every case)."""
    env = os.environ.get("OPENCLOSED_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "openclosed"
