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
  and tokens), ``loaded`` (local models: folder, dtype, device, stand-in or not), ``sent_and_honoured``
  (API models: the parameters each request carried, what was left out because the endpoint does not honour it -
  "seed: not supported by anthropic (not sent)" -, what the answers showed was honoured, who answered, what it
  cost, and how many answers were fresh, cached or replayed from a recording and when that was recorded).

:func:`measured_capabilities` shows ``sent_and_honoured`` as a table, one row per API model, with each closed
model's retirement date (``oc.capabilities(run)``).
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from ..catalog.specs import ModelSpec
from ..catalog.vendors import lifecycle_of, vendor_of
from ..core.settings import Settings, package_versions
from .pricing import overrides, price_source


def build_manifest(task: str, specs: list[ModelSpec], texts: list[str], params: dict[str, Any], settings: Settings,
                   *, response_cache: str, created_at: datetime, started_at: float, wall_s: float,
                   label_maps: dict[str, dict[str, str]] | None = None,
                   endpoints: dict[str, dict[str, Any]] | None = None,
                   loaded: dict[str, dict[str, Any]] | None = None,
                   results: list[Any] | None = None) -> dict[str, Any]:
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
    used = sent_and_honoured(specs, results or [])
    if used:
        manifest["sent_and_honoured"] = used
    manifest["models"], manifest["inputs"] = [s.name for s in specs], texts  # enough for oc.rerun(run.manifest)
    return manifest


def _request_record(r: Any) -> dict[str, Any] | None:
    """What an API result kept of its request (``Result.generation``: sent / not sent / honoured), else None."""
    try:
        rec = json.loads(r.generation) if r.generation else None
    except (TypeError, ValueError):
        return None
    return rec if isinstance(rec, dict) and "sent" in rec else None


def sent_and_honoured(specs: list[ModelSpec], results: list[Any]) -> dict[str, dict[str, Any]]:
    """Per API model of a run: what its requests carried and what the answers showed (the manifest's
    ``sent_and_honoured``). Cached and replayed answers keep the record of the request that made them."""
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        rs = [r for r in results if r.model == spec.name]
        recs = [rec for rec in map(_request_record, rs) if rec is not None]
        if not recs:
            continue
        sent: dict[str, Any] = {}
        for rec in recs:
            for k, v in rec["sent"].items():
                sent[k] = v if sent.get(k, v) == v else "varied"
        honoured: dict[str, dict[str, int]] = {}
        for rec in recs:
            for k, v in rec.get("honoured", {}).items():
                honoured.setdefault(k, Counter())[v] += 1
        costs = [r.cost_usd for r in rs if r.cost_usd is not None]
        vendor = vendor_of(spec) if spec.family == "closed" else None
        recorded = sorted({str(r.cached_at)[:10] for r in rs if r.cache == "replay" and r.cached_at})
        out[spec.name] = {
            "vendor": vendor.name if vendor is not None else f"{spec.family} ({spec.base_url or 'server'})",
            "sent": sent,
            "not sent": sorted({n for rec in recs for n in rec.get("not sent", [])}),
            "honoured": {k: dict(v) for k, v in honoured.items()},
            "answered_by": sorted({r.answered_by for r in rs if r.ok and r.answered_by}),
            "answers": len(rs), "ok": sum(r.ok for r in rs),
            "cost_usd": sum(costs) if costs else None,
            "fresh": sum(r.cache in ("miss", "off") for r in rs), "cached": sum(r.cache == "hit" for r in rs),
            "replayed": sum(r.cache == "replay" for r in rs), "recorded": recorded,
        }
    return out


def measured_capabilities(run: Any) -> Any:
    """What a run's API models were sent and honoured, as measured (one row per API model): the parameters
    sent, those left out and why, what the answers honoured, who answered, the cost, whether the answers were
    replayed from a recording (and its date), and when the model retires."""
    import pandas as pd

    used = run.manifest.get("sent_and_honoured") or sent_and_honoured(
        [ModelSpec.from_record(rec) for rec in run.manifest.get("model_specs", [])], run.results)
    specs = {rec["name"]: rec for rec in run.manifest.get("model_specs", [])}
    rows = []
    for name, u in used.items():
        lc = lifecycle_of(ModelSpec.from_record(specs[name])) if name in specs else None
        answers = (f"replayed, recorded {', '.join(u['recorded'])}" if u["replayed"] == u["answers"] and u["recorded"]
                   else ", ".join(f"{n} {what}" for what, n in (("fresh", u["fresh"]), ("cached", u["cached"]),
                                                                ("replayed", u["replayed"])) if n)
                   + (f" (recorded {', '.join(u['recorded'])})" if u["recorded"] else ""))
        rows.append({
            "model": name, "vendor": u["vendor"],
            "answered by": ", ".join(u["answered_by"]) or "-",
            "ok": f"{u['ok']}/{u['answers']}",
            "sent": ", ".join(f"{k}={v}" for k, v in u["sent"].items()) or "-",
            "not sent": "; ".join(u["not sent"]) or "-",
            "honoured": "; ".join(f"{k}: " + ", ".join(f"{v} x{n}" for v, n in c.items())
                                  for k, c in u["honoured"].items()) or "-",
            "cost ($)": u["cost_usd"],
            "answers": answers or "-",
            "retires": ("-" if lc is None else f"{lc.shutdown}, use {lc.replacement}" if lc.shutdown
                        else f"none announced (checked {lc.checked})"),
        })
    return pd.DataFrame(rows, columns=["model", "vendor", "answered by", "ok", "sent", "not sent", "honoured",
                                       "cost ($)", "answers", "retires"])


__all__ = ["build_manifest", "measured_capabilities", "sent_and_honoured"]
