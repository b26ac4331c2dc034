"""Layer 4: backends. One module per way of running a model, each with the
same interface:

* ``load(spec, settings) -> Loaded`` - the model (or API client), once;
* ``run(loaded, items, ctx) -> None`` - one Result per ``(index, text)`` item,
  handed to ``ctx.emit`` (a sentiment backend sets ``ctx.label_map`` first);
* ``LOCAL`` - True when the weights run in this process (loaded through the
  model cache, run on the calling thread), False for API calls;
* ``endpoint(spec)`` (API backends) - where requests go, part of the cache key;
* ``memory_bytes(spec, dtype)`` (optional) - memory the loaded model needs, when
  parameters x bytes per parameter is wrong (a 4-bit file holds ~0.6 bytes per weight).

Adding a backend = one module here + one line in :data:`BACKENDS` (and
``oc.register(..., backend="name")`` for models that use it).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..core.errors import OpenClosedError

BACKENDS = {
    "vader": ".vader",
    "embedding": ".embedding",
    "transformers": ".transformers",
    "diffusers": ".diffusers",
    "openai": ".openai",
    "llamacpp": ".llamacpp",
}
"""Backend name -> module (``.name``: in this package; or any importable module), imported on first use."""


def get_backend(name: str) -> ModuleType:
    """The backend module called ``name`` (imported on first use)."""
    if name not in BACKENDS:
        raise OpenClosedError(f"unknown backend {name!r}", f"use one of {', '.join(BACKENDS)}")
    module = importlib.import_module(BACKENDS[name], package=__name__)
    missing = [attr for attr in ("LOCAL", "load", "run") if not hasattr(module, attr)]
    if missing:
        raise OpenClosedError(f"backend module {module.__name__} lacks {', '.join(missing)}",
                              "a backend module defines LOCAL, load(spec, settings) and run(loaded, items, ctx)")
    return module
