"""What a run returns: a :class:`Result` per (model, input) and a
:class:`Comparison` that holds them all, with a table, a summary, a rich
display, a manifest, and save/load. (Introduced in ``00_start_here.ipynb``.)
"""

from __future__ import annotations

import dataclasses
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.secrets import redact
from .images import image_from_b64, image_to_b64, save_png  # noqa: F401 - re-exported

RESULTS_FILE = "results.parquet"
MANIFEST_FILE = "manifest.json"


@dataclass
class ErrorInfo:
    """Why a result has no (complete) output, and what to do about it."""

    type: str
    message: str
    hint: str = ""
    retryable: bool = False

    def __post_init__(self) -> None:
        self.message = redact(self.message)
        self.hint = redact(self.hint)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" + (f" — {self.hint}" if self.hint else "")


@dataclass
class Result:
    """One model's answer to one input, with how it was made and what it cost.

    ``output`` is the label (sentiment), the text (text generation) or ``None``
    (images: see ``image``). A failed call has ``error`` set and keeps any
    partial ``output`` (e.g. the text a broken stream had produced).
    """

    model: str
    task: str
    input_index: int
    input: str
    output: Any = None
    scores: dict[str, float] | None = None  # sentiment: label -> probability
    confidence: float | None = None
    image: Any = None  # PIL.Image for image generation
    family: str = ""
    backend: str = ""
    ref: str = ""
    revision: str | None = None
    answered_by: str = ""  # the model that actually answered (API's reported model, folder, ...)
    random_weights: bool = False
    stand_in: bool = False  # random weights with a real model's configuration (a rehearsal)
    started_at: float | None = None  # epoch seconds
    ended_at: float | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    cost_basis: str = ""
    peak_memory_mb: float | None = None
    cache: str = "miss"  # miss | hit | replay | off
    cached_at: str | None = None  # original ISO date of a cached/replayed answer
    finish_reason: str | None = None
    system_fingerprint: str | None = None  # closed APIs: the backend configuration that answered (with a seed)
    generation: str | None = None  # JSON: the settings that made this output again (images: seed, steps, ...)
    notes: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_record(self) -> dict[str, Any]:
        """A flat, JSON-safe dict (the image is left out; see Comparison.save)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("image", "error")}
        d["error_type"] = self.error.type if self.error else None
        d["error"] = str(self.error) if self.error else None
        d["error_hint"] = self.error.hint if self.error else None
        d["notes"] = "; ".join(self.notes)
        d["scores"] = json.dumps(self.scores) if self.scores else None
        if self.output is not None and not isinstance(self.output, (str, int, float, bool)):
            d["output"] = json.dumps(self.output, default=str)
        return d

    @classmethod
    def from_record(cls, d: dict[str, Any], image: Any = None) -> Result:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: _none_if_nan(v) for k, v in d.items() if k in names and k not in ("error", "notes", "scores")}
        err = None
        if _none_if_nan(d.get("error_type")):
            msg = str(d.get("error") or "")
            prefix = f"{d['error_type']}: "
            msg = msg[len(prefix):] if msg.startswith(prefix) else msg
            hint = d.get("error_hint") or ""
            msg = msg.split(" — ")[0] if hint else msg
            err = ErrorInfo(d["error_type"], msg, hint)
        scores = json.loads(d["scores"]) if _none_if_nan(d.get("scores")) else None
        notes = [n for n in str(_none_if_nan(d.get("notes")) or "").split("; ") if n]
        return cls(**kw, error=err, notes=notes, scores=scores, image=image)

    # ------------------------------------------------------------ response cache
    def to_cache_entry(self, *, endpoint: str | None = None, label_map: dict[str, str] | None = None) -> dict[str, Any]:
        """What the response cache stores for this answer: :meth:`to_record`,
        the picture as base64 PNG (``image_b64``), the ``endpoint`` that
        answered (``export_cache`` files say where answers came from) and, for
        sentiment, the model's ``label_map`` (labels -> ours) so a cached answer
        still says how its label was mapped."""
        entry = self.to_record()
        if self.image is not None:
            entry["image_b64"] = image_to_b64(self.image)
        entry["endpoint"] = endpoint
        if label_map:
            entry["label_map"] = label_map
        return entry

    @classmethod
    def from_cache_entry(cls, entry: dict[str, Any], *, model: str, input_index: int, input: str) -> Result:
        """The inverse of :meth:`to_cache_entry` for a cache hit on (``model``,
        ``input_index``, ``input``): ``cache`` is ``"replay"`` for an answer
        imported with ``oc.import_cache`` and ``"hit"`` otherwise, and
        ``cached_at`` is when the answer was first stored."""
        img = image_from_b64(entry["image_b64"]) if entry.get("image_b64") else None
        r = cls.from_record({k: v for k, v in entry.items() if k not in _CACHE_ONLY}, image=img)
        r.model, r.input_index, r.input = model, input_index, input
        r.cache = "replay" if entry.get("imported") else "hit"
        r.cached_at = entry.get("stored_at")
        return r


_CACHE_ONLY = ("image_b64", "stored_at", "imported")  # cache-entry keys that are not Result fields' values


def weights_label(r: Result) -> str:
    """" (stand-in, random weights)", " (random weights)" or "": what a user must know about the weights."""
    if r.stand_in:
        return " (stand-in, random weights)"
    return " (random weights)" if r.random_weights else ""


def _none_if_nan(v: Any) -> Any:
    try:
        import math

        if isinstance(v, float) and math.isnan(v):
            return None
    except TypeError:
        pass
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        return v.item()
    return v


TABLE_COLUMNS = [
    "model", "input_index", "input", "output", "confidence", "latency_s", "ttft_s", "tokens_per_s",
    "input_tokens", "output_tokens", "cost_usd", "peak_memory_mb", "cache", "answered_by", "family", "error",
]


class Comparison:
    """All results of one :func:`openclosed.compare` call plus its manifest.

    ``table``: one row per (model, input); ``summary()``: one row per model;
    ``save(dir)`` / :func:`load`; ``to_csv`` / ``to_html``; shows itself as a
    side-by-side table in a notebook.
    """

    def __init__(self, task: str, models: list[str], inputs: list[str], results: list[Result],
                 manifest: dict[str, Any]) -> None:
        self.task = task
        self.models = models
        self.inputs = inputs
        self.results = results
        self.manifest = manifest

    # ------------------------------------------------------------ views
    @property
    def table(self):
        """One row per (model, input), in input order within each model."""
        import pandas as pd

        df = pd.DataFrame([r.to_record() for r in self.results])
        if df.empty:
            return pd.DataFrame(columns=TABLE_COLUMNS)
        cols = TABLE_COLUMNS + [c for c in df.columns if c not in TABLE_COLUMNS]
        return df[cols]

    def result(self, model: str, input_index: int = 0) -> Result:
        """The result of ``model`` on input number ``input_index``."""
        for r in self.results:
            if r.model == model and r.input_index == input_index:
                return r
        raise KeyError(f"no result for model {model!r}, input {input_index}")

    def errors(self) -> list[Result]:
        return [r for r in self.results if r.error]

    def outputs(self):
        """Outputs side by side: one row per input, one column per model."""
        df = self.table
        wide = df.pivot(index="input_index", columns="model", values="output")
        wide.insert(0, "input", [self.inputs[i] for i in wide.index])
        return wide[["input"] + [m for m in self.models if m in wide.columns]]

    def summary(self):
        """One row per model: calls, errors, latency, time to first token,
        tokens/s, total and per-input cost, cache hits, peak memory, first error.

        A :class:`~openclosed.engine.summary.Summary`: a DataFrame of raw
        numbers (seconds, dollars, MB; ``None`` where not measured) for
        analysis, shown readably in a notebook (see :meth:`summary_table`)."""
        from .summary import make_summary

        rows = []
        for m in self.models:
            rs = [r for r in self.results if r.model == m]
            ok = [r for r in rs if r.ok]
            fresh = [r for r in ok if r.cache == "miss"]

            def mean(attr: str, pool=fresh or ok) -> float | None:
                vals = [getattr(r, attr) for r in pool if getattr(r, attr) is not None]
                return sum(vals) / len(vals) if vals else None

            costs = [r.cost_usd for r in rs if r.cost_usd is not None]
            mems = [r.peak_memory_mb for r in rs if r.peak_memory_mb is not None]
            first = rs[0] if rs else None
            rows.append({
                "model": first.model + weights_label(first) if first else m,
                "family": first.family if first else "",
                "answered_by": ", ".join(sorted({r.answered_by for r in ok if r.answered_by})) or "-",
                "inputs": len(rs), "ok": len(ok), "errors": len(rs) - len(ok),
                "mean latency (s)": mean("latency_s"), "mean TTFT (s)": mean("ttft_s"),
                "tokens/s": mean("tokens_per_s"),
                "cost ($)": sum(costs) if costs else None,
                "$ per 1k inputs": (sum(costs) / len(costs) * 1000) if costs else None,
                "cached": sum(r.cache in ("hit", "replay") for r in rs),
                "peak memory (MB)": max(mems) if mems else None,
                "first error": str(next((r.error for r in rs if r.error), "")) or "",
            })
        return make_summary(rows, self.task)

    def summary_table(self):
        """The summary as text for people: "$0.0012", "< $0.000001", "84 ms",
        "1.21 GB", "—" where a measurement does not apply, no columns that mean
        nothing for the task, the first error in full. For numbers use :meth:`summary`."""
        return self.summary().readable()

    def _repr_html_(self) -> str:
        from .report import comparison_html

        return comparison_html(self)

    def __repr__(self) -> str:
        n_err = len(self.errors())
        return (f"<Comparison {self.task}: {len(self.models)} models x {len(self.inputs)} inputs, "
                f"{len(self.results)} results, {n_err} errors>")

    # ------------------------------------------------------------ export
    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(path, index=False)
        return path

    def to_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!doctype html><meta charset='utf-8'><title>openclosed {html.escape(self.task)}</title>"
                        + self._repr_html_(), encoding="utf-8")
        return path

    def image_meta(self, r: Result) -> dict[str, Any]:
        """What made image result ``r``, for its PNG text metadata: enough for ``oc.rerun_image(png)``."""
        params = self.manifest.get("params", {})
        meta = {k: params.get(k) for k in ("seed", "steps", "guidance_scale", "scheduler", "negative_prompt", "size",
                                           "quality") if params.get(k) is not None}
        meta.update(json.loads(r.generation) if r.generation else {})
        meta.update(model=r.model, prompt=r.input, ref=r.ref, revision=r.revision, answered_by=r.answered_by,
                    family=r.family, seconds=r.latency_s, cost_usd=r.cost_usd, task=self.task,
                    openclosed=self.manifest.get("openclosed"), created_at=self.manifest.get("created_at"))
        return meta

    def save(self, folder: str | Path) -> Path:
        """Write ``manifest.json``, ``results.parquet`` and ``images/*.png``;
        :func:`openclosed.load` reads them back."""
        folder = Path(folder)
        (folder / "images").mkdir(parents=True, exist_ok=True)
        df = self.table.copy()
        df["image_file"] = None
        for i, r in enumerate(self.results):
            if r.image is not None:
                name = f"images/{_safe(r.model)}-{r.input_index}.png"
                save_png(r.image, folder / name, self.image_meta(r))
                df.loc[i, "image_file"] = name
        df.to_parquet(folder / RESULTS_FILE, index=False)
        # a run's manifest comes from engine.manifest.build_manifest; a Comparison built by hand still needs
        # task/models/inputs for load() and oc.rerun()
        manifest = dict(self.manifest, task=self.task, models=self.models, inputs=self.inputs)
        (folder / MANIFEST_FILE).write_text(redact(json.dumps(manifest, indent=2, default=str)), encoding="utf-8")
        return folder


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def load(folder: str | Path) -> Comparison:
    """Read a folder written by :meth:`Comparison.save`."""
    import pandas as pd

    folder = Path(folder)
    if not (folder / MANIFEST_FILE).exists():
        from ..core.errors import OpenClosedError

        raise OpenClosedError(f"no {MANIFEST_FILE} in {folder}", "pass a folder written by run.save(folder)")
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    df = pd.read_parquet(folder / RESULTS_FILE)
    results = []
    for rec in df.to_dict("records"):
        img = None
        if _none_if_nan(rec.get("image_file")):
            from PIL import Image

            with Image.open(folder / rec["image_file"]) as im:
                img = im.copy()
        results.append(Result.from_record(rec, image=img))
    return Comparison(manifest["task"], manifest["models"], manifest["inputs"], results, manifest)
