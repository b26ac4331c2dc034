"""The same model at 16, 8 and 4 bits: speed, memory and how much the answers
change, measured in one run. (Introduced in ``02c_quantization.ipynb``.)

:func:`quantization_table` runs SmolLM2-135M-Instruct in transformers (in
both number types a CPU offers) and through llama.cpp as GGUF files of
different widths, on the same prompts, in alternating rounds (the order of
the models rotates each round, so a slow moment of the machine does not
land on one model), and reports per model:

* file size, the weights' size in memory and the process's peak memory;
* load time, time to first token and tokens/s for one prompt, and tokens/s
  over several prompts (transformers batches them; llama.cpp's Python API
  answers one after another);
* greedy answers identical to the reference model's (default: the 16-bit
  GGUF, whose numbers are the 4-bit file's values exactly), with a 95% Wilson
  interval, and top-1 agreement: reading one fixed text, how often the model's
  most likely next token is the reference's (interval over positions, which
  are not independent: read it as a rough range).

Everything is measured through ``oc.compare``, as any other model.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends import get_backend
from ..catalog.registry import add_spec, all_models, get_model
from ..core.errors import BadParameterError
from ..core.formatting import with_interval
from ..core.tables import ReadableFrame
from ..engine.modelcache import model_cache
from ..engine.stats import wilson
from .compare import compare
from .loading import estimate_bytes, load_model
from .setup import get_settings

PROMPTS = (
    "What is the capital of France?",
    "Name three colours.",
    "Give me one tip for sleeping well.",
    "What is 12 plus 7?",
    "Write one sentence about the sea.",
    "What do bees make?",
    "Say hello in Spanish.",
    "Which planet is closest to the Sun?",
)
"""The prompts every model answers (greedy, so each answer is reproducible)."""

FIXED_TEXT = (
    "The library opened at nine in the morning. A few students were already waiting at the door, holding coffee "
    "and notes for the exam. Inside, the quiet rooms slowly filled, and by noon every table near the windows was "
    "taken."
)
"""The text every model reads for top-1 agreement (same tokens for every model of one tokenizer)."""

DEFAULT_MODELS = ("smollm2-135m", "smollm2-135m-f16", "smollm2-135m-q8_0", "smollm2-135m-q4_1")
REFERENCE = "smollm2-135m-f16"
TRANSFORMERS_DTYPES = ("bfloat16", "float32")


@dataclass
class QuantizationRun:
    """What :func:`quantization_table` measured: ``rows`` (one dict of raw numbers per model), the greedy
    ``answers`` per model, the ``reference`` model and the settings. ``table`` shows it readably."""

    rows: list[dict[str, Any]]
    answers: dict[str, list[str]]
    reference: str
    prompts: list[str]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> ReadableFrame:
        """One row per model, readable (rates, sizes and times formatted; agreement with its 95% interval)."""
        return ReadableFrame.of(self.rows, max_chars=60)

    def fastest(self, column: str = "tokens/s (1 prompt)") -> dict[str, Any]:
        """The row with the highest ``column`` (e.g. for a sentence written from the run)."""
        return max((r for r in self.rows if r.get(column) is not None), key=lambda r: r[column])

    def answers_frame(self):
        """The greedy answers, one row per prompt, one column per model."""
        import pandas as pd

        return pd.DataFrame({m: a for m, a in self.answers.items()}, index=self.prompts)

    def findings(self) -> str:
        """What this run says, in sentences computed from its numbers (nothing typed in advance)."""
        speed = "tokens/s (1 prompt)"
        ran = [r for r in self.rows if r.get(speed) is not None]
        if not ran:
            return "No model produced tokens in this run: see the error column."
        fast, lines = self.fastest(speed), []
        ref = self.row(self.reference)
        if ref.get(speed):
            lines.append(f"Fastest for one prompt: {fast['model']} at {fast[speed]:.1f} tokens/s, "
                         f"{fast[speed] / ref[speed]:.1f}x the reference {self.reference} ({ref[speed]:.1f} tokens/s), "
                         f"from a {fast['file (MB)']:.0f} MB file instead of {ref['file (MB)']:.0f} MB.")
        else:
            lines.append(f"Fastest for one prompt: {fast['model']} at {fast[speed]:.1f} tokens/s (the reference "
                         f"{self.reference} did not run: {ref.get('error')}).")
        for r in self.rows:
            if "same greedy answer" in r:
                top1 = (f"{with_interval(r['top-1 agreement'], r['top-1 agreement_low'], r['top-1 agreement_high'])}"
                        f" ({r['positions compared']} positions)" if "top-1 agreement" in r else "not measured")
                same = with_interval(r["same greedy answer"], r["same greedy answer_low"],
                                     r["same greedy answer_high"])
                lines.append(f"{r['model']}: the same greedy answer as {self.reference} on {r['answers compared']} "
                             f"prompts, {same}; top-1 agreement {top1}.")
            elif r.get("error"):
                lines.append(f"{r['model']}: did not run ({r['error']}).")
        return "\n".join(lines)

    def row(self, model: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["model"] == model)

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


def _variants(names: list[str]) -> list[str]:
    """Catalog names, a transformers model expanded into one entry per number type (registered, labelled)."""
    out = []
    settings = get_settings()
    for name in names:
        spec = get_model(name, "text-generation")
        if spec.backend != "transformers":
            out.append(spec.name)
            continue
        for dtype in TRANSFORMERS_DTYPES:
            if settings.device != "cpu" and dtype == "float32":
                continue
            variant = f"{spec.name} ({dtype})"
            add_spec(replace(spec, name=variant, profiles=(), extra={**spec.extra, "dtype": dtype},
                             notes=f"{spec.name} in transformers, loaded in {dtype}"), replace_existing=True)
            out.append(variant)
    return out


def _file_mb(name: str) -> float | None:
    spec = get_model(name)
    if spec.backend == "llamacpp":
        from ..backends.llamacpp import gguf_path

        return Path(gguf_path(spec, get_settings())).stat().st_size / 2**20
    return spec.size_mb


def _weights_mb(name: str) -> float:
    spec = get_model(name)
    if spec.backend == "llamacpp":
        return (_file_mb(name) or 0.0)
    return estimate_bytes(spec, spec.extra.get("dtype") or get_settings().dtype) / 2**20


def _top1(preds: dict[str, tuple[list[int], list[int]] | None], reference: str) -> dict[str, tuple[int, int] | None]:
    """Per model: (positions whose most likely next token is the reference's, positions compared) over
    :data:`FIXED_TEXT`; None when the model read the text as other tokens (or has no such reading)."""
    ref = preds.get(reference)
    out: dict[str, tuple[int, int] | None] = {}
    for name, got in preds.items():
        if got is None or ref is None or got[0] != ref[0]:
            out[name] = None
        else:
            out[name] = (sum(a == b for a, b in zip(got[1], ref[1], strict=True)), len(ref[1]))
    return out


def quantization_table(models: list[str] | tuple[str, ...] = DEFAULT_MODELS, prompts: list[str] | None = None, *,
                       reference: str = REFERENCE, rounds: int = 2, max_tokens: int = 24,
                       batch_max_tokens: int = 12, progress: bool = True) -> QuantizationRun:
    """Measure ``models`` (a transformers model runs once per number type) on ``prompts`` (default
    :data:`PROMPTS`) in ``rounds`` alternating rounds: one prompt with ``max_tokens`` new tokens, then all
    prompts with ``batch_max_tokens`` each (greedy). Medians over rounds; agreement with ``reference``."""
    from tqdm.auto import tqdm

    prompts = list(prompts or PROMPTS)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 20:
        raise BadParameterError(f"rounds={rounds!r} is out of range", "use 1 to 20 rounds, e.g. rounds=2")
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise BadParameterError("prompts must be non-empty texts", "e.g. prompts=['Name three colours.']")
    names = _variants(list(models))
    if reference not in names:
        raise BadParameterError(f"the reference {reference!r} is not among the models measured",
                                f"add it to models=, or pick one of {', '.join(names)}")
    # One model in memory at a time (a 2 GB pod holds the kernel and one of these, not all five): each model is
    # loaded, measured and released in its turn, so its load time is measured every round too.
    model_cache().clear()
    loads: dict[str, list[float]] = {n: [] for n in names}
    measured: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    answers: dict[str, list[str]] = {}
    preds: dict[str, tuple[list[int], list[int]] | None] = {}
    errors: dict[str, str] = {}
    bar = tqdm(total=rounds * len(names), desc="quantization: rounds x models", disable=not progress, leave=False)
    for rnd in range(rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]  # the order rotates every round
        for name in order:
            one = compare("text-generation", [name], prompts[:1], max_tokens=max_tokens, cache="off",
                          progress=False, on_loaded=lambda _n, sec, name=name: loads[name].append(sec))
            t0 = time.perf_counter()
            many = compare("text-generation", [name], prompts, max_tokens=batch_max_tokens, cache="off",
                           progress=False)
            wall = time.perf_counter() - t0
            failed = [r for r in one.results + many.results if not r.ok]
            if failed:
                errors[name] = str(failed[0].error)
            else:
                r = one.results[0]
                m = measured[name]
                for key, value in (("ttft", r.ttft_s), ("tps1", r.tokens_per_s),
                                   ("tps_many", sum(x.output_tokens or 0 for x in many.results) / wall),
                                   ("peak", max(x.peak_memory_mb or 0 for x in one.results + many.results))):
                    if value is not None:
                        m.setdefault(key, []).append(value)
                answers.setdefault(name, [x.output for x in many.results])
                if name not in preds:
                    backend = get_backend(get_model(name).backend)
                    preds[name] = (backend.text_predictions(load_model(name), FIXED_TEXT)
                                   if hasattr(backend, "text_predictions") else None)
            model_cache().clear()
            bar.update(1)
    bar.close()
    top1 = _top1(preds, reference)
    ref_answers = answers.get(reference)
    rows = []
    for name in names:
        spec, m = get_model(name), measured[name]
        med = {k: statistics.median(v) for k, v in m.items() if v}
        row: dict[str, Any] = {
            "model": name, "engine": "llama.cpp" if spec.backend == "llamacpp" else spec.backend,
            "stored as": spec.extra.get("gguf") or spec.extra.get("dtype") or "",
            "file (MB)": _file_mb(name), "weights in memory (MB)": _weights_mb(name),
            "process peak (MB)": med.get("peak"),
            "load (s)": statistics.median(loads[name]) if loads[name] else None,
            "time to first token (s)": med.get("ttft"), "tokens/s (1 prompt)": med.get("tps1"),
            "tokens/s (all prompts)": med.get("tps_many"),
        }
        if med.get("tps1"):  # every generated token reads every weight once
            row["weights read (GB/s)"] = row["weights in memory (MB)"] * med["tps1"] / 1024
        if ref_answers is not None and name in answers:
            same = sum(a == b for a, b in zip(answers[name], ref_answers, strict=True))
            lo, hi = wilson(same, len(ref_answers))
            row.update({"same greedy answer": same / len(ref_answers), "same greedy answer_low": lo,
                        "same greedy answer_high": hi, "answers compared": f"{same} of {len(ref_answers)}"})
        got = top1.get(name)
        if got is not None:
            lo, hi = wilson(*got)
            row.update({"top-1 agreement": got[0] / got[1], "top-1 agreement_low": lo, "top-1 agreement_high": hi,
                        "positions compared": f"{got[0]} of {got[1]}"})
        row["error"] = errors.get(name)
        rows.append(row)
    return QuantizationRun(rows, answers, reference, prompts,
                           {"rounds": rounds, "max_tokens": max_tokens, "batch_max_tokens": batch_max_tokens,
                            "threads": get_settings().threads})


def weights_before_after(tensor: str = "blk.0.ffn_down.weight", kinds: tuple[str, ...] = ("F16", "Q8_0", "Q4_0"),
                         model: str = "smollm2-135m", first: int = 64):
    """One layer's weights as each GGUF stores them: a plotly figure with the histogram of the 16-bit values
    and, for each narrower format, the rounding error it adds to them; and the first ``first`` weights of
    the 16-bit file beside their 8- and 4-bit versions (a table)."""
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..backends.llamacpp import gguf_path
    from ..catalog.gguf_requant import tensor_values

    values = {k: tensor_values(gguf_path(get_model(f"{model}-{k.lower()}"), get_settings()), tensor).ravel()
              for k in kinds}
    base = values[kinds[0]]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"{tensor}: the {kinds[0]} values",
                                                        "rounding error added by each narrower format"))
    fig.add_trace(go.Histogram(x=base, nbinsx=200, name=kinds[0]), row=1, col=1)
    for k in kinds[1:]:
        fig.add_trace(go.Histogram(x=values[k] - base, nbinsx=200, name=f"{k} - {kinds[0]}", opacity=0.6),
                      row=1, col=2)
    fig.update_layout(barmode="overlay", height=330, margin=dict(t=40, b=30))
    rows = pd.DataFrame({k: values[k][:first] for k in kinds})
    stats = pd.DataFrame([{"stored as": k, "distinct values in the layer": int(np.unique(values[k]).size),
                           "mean |error| vs " + kinds[0]: float(np.abs(values[k] - base).mean()),
                           "max |error|": float(np.abs(values[k] - base).max())} for k in kinds])
    return fig, rows, stats


def gguf_models() -> list[str]:
    """The catalog's GGUF models (llama.cpp)."""
    return [m.name for m in all_models() if m.backend == "llamacpp"]
