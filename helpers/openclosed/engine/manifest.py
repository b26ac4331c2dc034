"""The manifest: how a :class:`~openclosed.engine.results.Comparison` was
made, as one JSON-safe dict (``run.manifest``, ``manifest.json`` in a saved
run). :func:`build_manifest` is the one place that writes it.

What it holds:

* ``task``, ``models``, ``inputs``, ``params`` (validated, defaults filled in)
  and ``seed`` - enough for ``oc.rerun(run.manifest)``;
* ``model_specs`` - each model's :meth:`~openclosed.catalog.specs.ModelSpec.record`
  (backend, source, hub id or folder or endpoint, pinned revision, the *name*
  of the env var holding its key - never a key), which
  :meth:`~openclosed.catalog.specs.ModelSpec.from_record` turns back into the
  same spec in a fresh kernel;
* where it ran: ``profile``, ``device``, ``dtype``, ``threads``, ``settings``
  (keys masked), ``versions``, ``python``, ``platform``, ``openclosed``;
* ``response_cache`` (the mode), ``prices`` (source, overrides, local $/hour);
* when: ``created_at``, ``started_at``, ``wall_s``;
* what happened, where it applies: ``label_maps`` (sentiment: each model's
  labels -> ours), ``endpoints`` (API models: where the inputs went, requests
  and tokens), ``loaded`` (local models: folder, dtype, device, stand-in or not).
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from typing import Any

from ..catalog.specs import ModelSpec
from ..core.settings import Settings, package_versions
from .pricing import overrides, price_source


def build_manifest(task: str, specs: list[ModelSpec], texts: list[str], params: dict[str, Any], settings: Settings,
                   *, response_cache: str, created_at: datetime, started_at: float, wall_s: float,
                   label_maps: dict[str, dict[str, str]] | None = None,
                   endpoints: dict[str, dict[str, Any]] | None = None,
                   loaded: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The manifest of a run of ``specs`` on ``texts`` (see the module docstring for its keys)."""
    manifest: dict[str, Any] = {
        "openclosed": package_versions().get("openclosed", ""),
        "created_at": created_at.isoformat(timespec="seconds"),
        "task": task,
        "model_specs": [m.record() for m in specs],
        "params": params,
        "seed": params.get("seed"),
        "profile": settings.profile, "device": settings.device, "dtype": settings.dtype, "threads": settings.threads,
        "response_cache": response_cache,
        "prices": {"source": price_source(), "overrides": overrides(),
                   "local_usd_per_hour": settings.local_usd_per_hour},
        "versions": package_versions(), "python": platform.python_version(), "platform": platform.platform(),
        "settings": settings.as_dict(),
        "started_at": datetime.fromtimestamp(started_at, timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 4),
    }
    if label_maps:
        manifest["label_maps"] = label_maps
    if endpoints:
        manifest["endpoints"] = endpoints
    if loaded:
        manifest["loaded"] = loaded
    manifest["models"], manifest["inputs"] = [s.name for s in specs], texts  # enough for oc.rerun(run.manifest)
    return manifest


__all__ = ["build_manifest"]
