"""Backends run one model on a batch of inputs and emit one Result per input.

Each backend is a module with a ``run(spec, items, ctx)`` function; this
package maps backend names to modules and imports them only when used.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = {
    "vader": "vader_backend",
    "embedding": "embedding_backend",
    "transformers": "transformers_backend",
    "diffusers": "diffusers_backend",
    "openai": "openai_backend",
}


def get_backend(name: str) -> ModuleType:
    """The backend module called ``name`` (imported on first use)."""
    if name not in _MODULES:
        from ..errors import OpenClosedError

        raise OpenClosedError(f"unknown backend {name!r}", f"use one of {', '.join(_MODULES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
