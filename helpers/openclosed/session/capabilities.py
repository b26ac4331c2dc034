"""``oc.capabilities``: what closed models' endpoints honour, from the lab's
table (given model names), or as measured in a run (given a Comparison): what
was sent, what was left out and why, what the answers honoured, what it cost,
whether it was replayed from a recording, and when each model retires
(notebooks 00 and 05)."""

from __future__ import annotations

from typing import Any

from ..catalog.registry import capabilities as documented
from ..engine.manifest import measured_capabilities
from ..engine.results import Comparison


def capabilities(models: Comparison | list[str] | None = None) -> Any:
    """A DataFrame, one row per model. ``models``: names (default: every closed model in the catalog) for what
    each endpoint is documented to honour, with sources; or a run (``oc.compare(...)``) for what its API models
    were actually sent and honoured, as measured."""
    if isinstance(models, Comparison):
        measured = measured_capabilities(models)
        if measured.empty:  # say why the table is empty instead of showing a bare header
            print(f"No API model answered in this run ({', '.join(models.models)}): nothing was sent to a vendor, "
                  "so there is nothing measured to show. Add a key or import a recording (oc.import_recording()), "
                  "or read the documented table: oc.capabilities().")
        return measured
    return documented(models)


__all__ = ["capabilities"]
