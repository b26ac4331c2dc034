"""What a model is: a :class:`ModelSpec`, and the task / family vocabulary."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from ..core.errors import OpenClosedError

TASKS = ("sentiment", "text-generation", "image-generation")
FAMILIES = ("open", "served", "closed")
BACKENDS = ("vader", "embedding", "transformers", "diffusers", "openai", "llamacpp")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to run a model and to say exactly which model it was.

    ``ref`` is a hub id, a local folder, an API model id, or the name of an
    offline asset; ``revision`` pins it (a hub commit, a package version, or
    ``local`` for a folder). ``family`` is ``open`` (weights run in this
    kernel), ``served`` (open weights behind an OpenAI-compatible server) or
    ``closed`` (a vendor API).
    """

    name: str
    tasks: tuple[str, ...]
    family: str
    backend: str
    ref: str
    revision: str | None = None
    source: str = "hub"  # hub | hub-file (one file of a hub repository) | folder | file | asset | package | api
    arch: str = ""  # classifier | causal-lm | embedding | lexicon | diffusion | chat
    params_m: float | None = None  # parameter count, millions
    size_mb: float | None = None  # size on disk
    ram_gb: float | None = None  # memory needed to run on CPU
    license: str = "unknown"
    base_url: str | None = None
    api_key_env: str | None = None
    provider: str | None = None  # genai-prices provider id for closed models
    profiles: tuple[str, ...] = ()
    random_weights: bool = False
    asset: str | None = None  # name in catalog.assets.ASSETS for models that do not come from the Hub
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        """Name as shown to users; random-weight models say so."""
        return f"{self.name} (random weights)" if self.random_weights else self.name

    def does(self, task: str) -> bool:
        return task in self.tasks

    def record(self) -> dict[str, Any]:
        """JSON-safe description for manifests (no clients, no keys)."""
        d = asdict(replace(self, extra={}))  # extra may hold an http client: never deep-copied
        d.pop("extra")
        d["tasks"] = list(self.tasks)
        d["profiles"] = list(self.profiles)
        return d

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ModelSpec:
        """The spec a :meth:`record` describes: its exact inverse
        (``ModelSpec.from_record(spec.record()) == spec``), e.g. to make a
        saved run's models again in a fresh kernel. Keys this version does not
        know are ignored; missing optional ones take their defaults. ``extra``
        (an http client) is never recorded, so it comes back empty."""
        names = {f.name for f in fields(cls)} - {"extra"}
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [k for k in required if k not in rec]
        if missing:
            raise OpenClosedError(f"the model record {rec.get('name', '?')!r} has no {', '.join(missing)}",
                                  "pass a record made by ModelSpec.record() (a manifest's model_specs)")
        kw = {k: v for k, v in rec.items() if k in names}
        kw["tasks"] = tuple(kw["tasks"])
        kw["profiles"] = tuple(kw.get("profiles") or ())
        return cls(**kw)


