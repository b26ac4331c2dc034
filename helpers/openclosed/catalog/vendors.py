"""Closed vendors as data: where each one's OpenAI-compatible endpoint is,
which key belongs to it, what its endpoint honours (capabilities), and when
each closed model retires (lifecycle). One table read by the request builder
(``backends/openai/request.py``), ``oc.models()``, ``oc.capabilities()``,
``oc.lifecycle()`` and ``oc.setup()``. (Shown in ``00_start_here.ipynb`` and
``05_cost_privacy_transparency.ipynb``.)

Every fact carries where it was read and when (``CHECKED``); a vendor changes
them without notice, so the dates matter as much as the values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from ..core.errors import OpenClosedError

CHECKED = "2026-12-06"  # the day the facts below were read from their sources
RETIRE_WARN_DAYS = 60  # oc.setup() warns when a default model retires within this many days


@dataclass(frozen=True)
class Capabilities:
    """What an OpenAI-compatible endpoint honours. ``structured``: the
    ``response_format`` it takes (``json_schema``, ``json_object``, or
    ``none``: ask with a strict prompt and parse the answer)."""

    structured: str = "json_schema"
    logprobs: bool = True
    seed: bool = True
    stream_usage: bool = True  # stream_options={"include_usage": True} gives a final usage chunk
    n: bool = True  # more than one choice per request
    temperature: tuple[float, float] = (0.0, 2.0)
    max_tokens_param: str = "max_tokens"
    sampling_extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    image_sizes: tuple[str, ...] = ()
    source: str = ""
    documented: bool = True  # False: assumed (a self-hosted server), so answers are read leniently

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["temperature"] = list(self.temperature)
        d["image_sizes"] = list(self.image_sizes)
        return d


@dataclass(frozen=True)
class Vendor:
    id: str  # the genai-prices provider id
    name: str
    base_url: str
    key_env: str
    terms_url: str
    caps: Capabilities

    @property
    def host(self) -> str:
        return urlparse(self.base_url).hostname or ""


VENDORS: dict[str, Vendor] = {
    "openai": Vendor(
        "openai", "OpenAI", "https://api.openai.com/v1", "OPENAI_API_KEY", "https://openai.com/policies/services-agreement/",
        Capabilities("json_schema", True, True, True, True, (0.0, 2.0), "max_completion_tokens",
                     source=f"https://platform.openai.com/docs/api-reference/chat/create (checked {CHECKED})")),
    "anthropic": Vendor(
        "anthropic", "Anthropic", "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY",
        "https://www.anthropic.com/legal/commercial-terms",
        Capabilities("none", False, False, True, False, (0.0, 1.0), "max_tokens",
                     source="https://docs.anthropic.com/en/api/openai-sdk: response_format, logprobs, seed ignored; "
                            f"temperature capped at 1; n must be 1; 'for testing and comparing' (checked {CHECKED})")),
    "google": Vendor(
        "google", "Google (Gemini)", "https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY",
        "https://ai.google.dev/gemini-api/terms",
        Capabilities("json_schema", False, True, True, True, (0.0, 2.0), "max_tokens",
                     source="https://ai.google.dev/gemini-api/docs/openai: response_format with a schema, "
                            f"stream_options; no logprobs documented (checked {CHECKED})")),
    "mistral": Vendor(
        "mistral", "Mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "https://mistral.ai/terms/",
        Capabilities("json_schema", False, True, True, True, (0.0, 1.5), "max_tokens",
                     source="https://docs.mistral.ai/api/ (chat completions: response_format json_schema, "
                            f"random_seed; no logprobs; temperature 0-1.5) (checked {CHECKED})")),
}

SERVED = Capabilities("json_schema", True, True, True, True, (0.0, 2.0), "max_tokens",
                      source="an OpenAI-compatible server (vLLM, Ollama, TGI, transformers serve): the full chat "
                             "API is assumed; a server that refuses response_format is asked again in plain text",
                      documented=False)

# OpenAI's reasoning models take temperature, top_p and logprobs only with reasoning turned off
# (https://platform.openai.com/docs/guides/latest-model "parameter compatibility"; GPT-6.1 Terra's reasoning
# effort runs from none to max, https://apidog.com/blog/what-is-gpt-6-1-terra/, checked 2026-12-06).
_OPENAI_REASONING = replace(VENDORS["openai"].caps, sampling_extra={"reasoning_effort": "none"},
                            source=VENDORS["openai"].caps.source + "; reasoning model: temperature/top_p/logprobs "
                                   "only with reasoning_effort='none' (sent with them)")
_OPENAI_IMAGES = replace(VENDORS["openai"].caps, image_sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
                         source=f"https://platform.openai.com/docs/guides/image-generation (checked {CHECKED})")
MODEL_CAPS: dict[str, Capabilities] = {
    "gpt-6-luna": _OPENAI_REASONING, "gpt-6.1-terra": _OPENAI_REASONING, "gpt-image-2": _OPENAI_IMAGES,
}


@dataclass(frozen=True)
class Lifecycle:
    """A closed model's announced dates (ISO strings; None: none announced when checked)."""

    model: str
    vendor: str
    deprecated: str | None
    shutdown: str | None
    replacement: str | None
    source: str
    checked: str = CHECKED

    def status(self, today: dt.date) -> str:
        if self.shutdown and today >= dt.date.fromisoformat(self.shutdown):
            return "retired"
        if self.deprecated or self.shutdown:
            return "deprecated"
        return "active"

    def days_left(self, today: dt.date) -> int | None:
        return (dt.date.fromisoformat(self.shutdown) - today).days if self.shutdown else None


_OPENAI_DEP = "https://platform.openai.com/docs/deprecations"
_GEMINI_DEP = "https://ai.google.dev/gemini-api/docs/deprecations"
_CLAUDE_DEP = "https://docs.anthropic.com/en/docs/about-claude/model-deprecations"
_MISTRAL_DEP = "https://docs.mistral.ai/getting-started/models/"
LIFECYCLE: dict[str, Lifecycle] = {lc.model: lc for lc in (
    Lifecycle("gpt-6-luna", "openai", None, None, None, _OPENAI_DEP + " (not listed)"),
    Lifecycle("gpt-6.1-terra", "openai", None, None, None, _OPENAI_DEP + " (not listed; released 2026-10-26)"),
    Lifecycle("gpt-image-2", "openai", None, None, None, _OPENAI_DEP + " (not listed)"),
    Lifecycle("gpt-4o-mini", "openai", "2026-10-14", "2027-01-14", "gpt-6-luna", _OPENAI_DEP),
    Lifecycle("gpt-4.1-mini", "openai", "2026-10-14", "2027-01-14", "gpt-6-luna", _OPENAI_DEP),
    Lifecycle("gpt-5-mini", "openai", "2026-06-11", "2026-12-11", "gpt-6.1-terra", _OPENAI_DEP),
    Lifecycle("gpt-5-nano", "openai", "2026-06-11", "2026-12-11", "gpt-6-luna", _OPENAI_DEP),
    Lifecycle("gpt-image-1", "openai", None, "2026-10-23", "gpt-image-2", _OPENAI_DEP),
    Lifecycle("dall-e-3", "openai", None, "2026-05-12", "gpt-image-2", _OPENAI_DEP),
    Lifecycle("claude-haiku-4-5", "anthropic", None, None, None, _CLAUDE_DEP + " (no retirement listed)"),
    Lifecycle("claude-sonnet-4-6", "anthropic", None, None, None, _CLAUDE_DEP + " (no retirement listed)"),
    Lifecycle("gemini-3.5-flash-lite", "google", None, None, None,
              _GEMINI_DEP + " ('No shutdown date announced'; released 2026-07-21)"),
    Lifecycle("gemini-3.8-flash", "google", None, None, None,
              _GEMINI_DEP + " ('No shutdown date announced'; released 2026-09-02)"),
    Lifecycle("gemini-2.5-flash", "google", None, "2026-12-01", "gemini-3.5-flash-lite", _GEMINI_DEP),
    Lifecycle("mistral-small-2603", "mistral", None, None, None, _MISTRAL_DEP + " (Mistral Small 4, 2026-03-16)"),
    Lifecycle("mistral-large-2512", "mistral", None, None, None, _MISTRAL_DEP + " (Mistral Large 3)"),
)}


def vendor_of(spec) -> Vendor | None:
    """The closed vendor ``spec`` talks to: its genai-prices provider, else the host of its base_url."""
    if spec.provider in VENDORS:
        return VENDORS[spec.provider]
    host = urlparse(spec.base_url or "").hostname or ""
    return next((v for v in VENDORS.values() if host and host == v.host), None)


def capabilities(spec) -> Capabilities:
    """What ``spec``'s endpoint honours: the model's own entry, its vendor's, or a generic server's."""
    if spec.ref in MODEL_CAPS and spec.family == "closed":
        return MODEL_CAPS[spec.ref]
    if spec.family != "closed":
        return SERVED
    v = vendor_of(spec)
    return v.caps if v is not None else VENDORS["openai"].caps


def lifecycle_of(spec) -> Lifecycle | None:
    if spec.family != "closed":
        return None
    return LIFECYCLE.get(spec.ref)


def today_from(value: str | dt.date | None) -> dt.date:
    """``value`` as a date (a fixed day for tests and for rehearsing a date), else today."""
    if value is None:
        return dt.date.today()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def check_not_retired(spec, today: str | dt.date | None = None) -> None:
    """Refuse a closed model past its announced shutdown date, naming the replacement."""
    lc = lifecycle_of(spec)
    if lc is None or lc.status(today_from(today)) != "retired":
        return
    from ..core.errors import ModelRetiredError

    raise ModelRetiredError(
        f"{spec.name!r} ({lc.vendor} model {lc.model}) was retired on {lc.shutdown}; no request was sent",
        f"use {lc.replacement or 'another model'} (source: {lc.source}, checked {lc.checked}), or replay "
        "answers recorded before the shutdown with oc.import_cache(path)")


def retiring_soon(names: list[str], specs: dict[str, Any], today: str | dt.date | None = None,
                  days: int = RETIRE_WARN_DAYS) -> list[str]:
    """One line per model of ``names`` that retires within ``days`` (or has retired)."""
    day = today_from(today)
    out = []
    for name in names:
        lc = lifecycle_of(specs[name])
        left = lc.days_left(day) if lc is not None else None
        if left is not None and left <= days:
            when = f"retired on {lc.shutdown}" if left <= 0 else f"retires on {lc.shutdown} (in {left} days)"
            out.append(f"{name} {when}: use {lc.replacement or 'another model'} (source: {lc.source})")
    return out


def key_env_for(base_url: str | None, api_key_env: str | None, name: str) -> str:
    """The key variable a closed model at ``base_url`` may use; refuses to send a
    vendor's key to another vendor's host, and a closed model at a non-default
    host that names no key variable (its key would otherwise go to the wrong host)."""
    host = urlparse(base_url or "").hostname or ""
    if api_key_env:
        owner = next((v for v in VENDORS.values() if v.key_env == api_key_env), None)
        other = next((v for v in VENDORS.values() if host and v.host == host), None)
        if owner is not None and other is not None and owner.id != other.id:
            raise OpenClosedError(
                f"{name!r}: {api_key_env} belongs to {owner.name} ({owner.host}), not to {host}",
                f"pass api_key_env={other.key_env!r} for {other.name}'s endpoint")
        return api_key_env
    if not base_url:
        return VENDORS["openai"].key_env
    vendor = next((v for v in VENDORS.values() if v.host == host), None)
    hint = (f"pass api_key_env={vendor.key_env!r} (the variable that holds your {vendor.name} key)" if vendor
            else "pass api_key_env='NAME_OF_THE_VARIABLE' that holds the key for this host")
    raise OpenClosedError(f"{name!r} is a closed model at {host or base_url} but names no key variable; "
                          "no key is sent to a host it does not belong to", hint)


def capability_matrix(specs: list[Any]) -> Any:
    """A DataFrame: what each model's endpoint honours (one row per model)."""
    import pandas as pd

    rows = []
    for s in specs:
        c, v = capabilities(s), vendor_of(s)
        lo, hi = c.temperature
        rows.append({"model": s.name, "vendor": v.name if v else s.family, "structured output":
                     {"none": "prompt + parser (fallback)"}.get(c.structured, c.structured),
                     "logprobs": c.logprobs, "seed": c.seed, "usage in streams": c.stream_usage, "n > 1": c.n,
                     "temperature": f"{lo:g}-{hi:g}", "max tokens as": c.max_tokens_param,
                     "also sent": ", ".join(f"{k}={val}" for k, val in c.sampling_extra.items()) or "-",
                     "source": c.source})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Ref:
    """A model id with no catalog entry (for the lifecycle table)."""

    ref: str
    family: str = "closed"
    provider: str | None = None

    @property
    def name(self) -> str:
        return f"{self.ref} (not in the catalog)"


def lifecycle_table(specs: list[Any], today: str | dt.date | None = None, include_retired_ids: bool = False) -> Any:
    """A DataFrame: each closed model's announced deprecation and shutdown dates, status on ``today``."""
    import pandas as pd

    day = today_from(today)
    rows = []
    specs = list(specs)
    if include_retired_ids:  # the table's other entries, e.g. the retired models the catalog no longer offers
        refs = {s.ref for s in specs}
        specs += [_Ref(lc.model) for lc in LIFECYCLE.values() if lc.model not in refs]
    for s in specs:
        lc = lifecycle_of(s)
        if s.family != "closed":
            continue
        if lc is None:
            rows.append({"model": s.name, "vendor": s.provider or "?", "status": "unknown", "deprecated": "-",
                         "shutdown": "-", "days left": None, "use instead": "-",
                         "source": "not in the lab's lifecycle table: check the vendor's deprecations page",
                         "checked": "-"})
            continue
        left = lc.days_left(day)
        rows.append({"model": s.name, "vendor": lc.vendor, "status": lc.status(day),
                     "deprecated": lc.deprecated or "-", "shutdown": lc.shutdown or "none announced",
                     "days left": max(left, 0) if left is not None else None, "use instead": lc.replacement or "-",
                     "source": lc.source, "checked": lc.checked})
    table = pd.DataFrame(rows)
    if "days left" in table:  # whole days, blank where no shutdown is announced (not 39.0 / NaN)
        table["days left"] = table["days left"].astype("Int64")
    return table


__all__ = ["CHECKED", "LIFECYCLE", "MODEL_CAPS", "RETIRE_WARN_DAYS", "SERVED", "VENDORS", "Capabilities", "Lifecycle",
           "Vendor", "capabilities", "capability_matrix", "check_not_retired", "key_env_for", "lifecycle_of",
           "lifecycle_table", "retiring_soon", "today_from", "vendor_of"]
