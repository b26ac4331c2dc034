"""The model catalog: the built-ins plus the models registered in this
kernel, looked up by name; :func:`register` adds your own.

A model name means the same thing everywhere: in :func:`openclosed.compare`,
in the widgets, in saved manifests. (Introduced in ``00_start_here.ipynb``;
adding your own model is shown in the README.)
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..core.errors import ModelTaskError, OpenClosedError, UnknownModelError
from .builtin import BUILTIN
from .specs import TASKS, ModelSpec
from .vendors import VENDORS, capability_matrix, key_env_for, lifecycle_of, lifecycle_table, vendor_of

_lock = threading.Lock()
_registry: dict[str, ModelSpec] = {}


def _ensure_loaded() -> dict[str, ModelSpec]:
    """The registry, filled with the built-ins on first use (takes ``_lock``: do not hold it)."""
    with _lock:
        if not _registry:
            _registry.update({m.name: m for m in BUILTIN})
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


def default_models(task: str, profile: str) -> list[str]:
    """Names of the models ``profile`` shows for ``task`` by default."""
    if task not in TASKS:
        raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    return [m.name for m in all_models() if m.does(task) and profile in m.profiles]


def models(task: str | None = None, profile: str | None = None):
    """The catalog as a pandas DataFrame, one row per model (raw numbers; shown
    readably in a notebook: sizes in MB or GB, "—" where not applicable).

    ``task`` filters by task; ``profile`` keeps only that profile's defaults.
    """
    from ..core.tables import ReadableFrame

    if task is not None and task not in TASKS:
        raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    rows = []
    builtin = {m.name for m in BUILTIN}
    for m in all_models():
        if (task and not m.does(task)) or (profile and profile not in m.profiles):
            continue
        vendor, lc = vendor_of(m), lifecycle_of(m)
        rows.append({
            "name": m.label, "tasks": ", ".join(m.tasks), "family": m.family, "backend": m.backend,
            "ref": m.ref, "revision": m.revision or "-", "params (M)": m.params_m, "size (MB)": m.size_mb,
            "RAM (GB)": m.ram_gb, "license": m.license,
            "profiles": ", ".join(m.profiles) or ("(by name)" if m.name in builtin else "(registered)"),
            "vendor": vendor.name if vendor is not None and m.family == "closed" else "-",
            "retires": ("-" if m.family != "closed" else "not in the lifecycle table" if lc is None
                        else f"{lc.shutdown}, use {lc.replacement}" if lc.shutdown
                        else f"none announced (checked {lc.checked})"),
            "notes": m.notes,
        })
    return ReadableFrame.of(rows, max_chars=400, columns=None if rows else [
        "name", "tasks", "family", "backend", "ref", "revision", "params (M)", "size (MB)", "RAM (GB)", "license",
        "profiles", "vendor", "retires", "notes"])


def capabilities(names: list[str] | None = None):
    """What each closed model's endpoint honours (structured output, logprobs,
    seed, usage in streams, n, temperature range, max-tokens name), with sources.
    Default: every closed model in the catalog."""
    specs = [get_model(n) for n in names] if names else [m for m in all_models() if m.family == "closed"]
    return capability_matrix(specs)


def lifecycle(names: list[str] | None = None, today: str | None = None):
    """Each closed model's announced deprecation and shutdown dates, its status
    on ``today`` (default: the real date) and what to use instead, with sources.
    Default: every closed model in the catalog, and the retired ids the table knows."""
    specs = [get_model(n) for n in names] if names else [m for m in all_models() if m.family == "closed"]
    return lifecycle_table(specs, today, include_retired_ids=not names)


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
    backend: str | None = None,
    replace_existing: bool = False,
    **details: Any,
) -> ModelSpec:
    """Add a model to the catalog in one call and return its spec.

    * a hub model: ``register("my-clf", task="sentiment", model="org/name", revision="<commit>")``
    * a local folder: ``register("my-clf", task="sentiment", path="runs/finetuned")``
    * a single model file (a GGUF, run by llama.cpp):
      ``register("my-gguf", task="text-generation", path="models/model.Q4_K_M.gguf")``
    * an OpenAI-compatible server (vLLM, Ollama, TGI, ``transformers serve``):
      ``register("my-vllm", task="text-generation", base_url="http://host:8000/v1", model="<served name>")``

    ``arch`` picks how a transformers model is used for sentiment:
    ``"classifier"`` (a sequence-classification head, the default) or
    ``"causal-lm"`` (zero-shot prompting). ``http_client`` (an ``httpx2.Client``)
    is handed to the openai client, e.g. for a proxy or a custom CA.
    ``backend`` picks another backend module (see ``openclosed.backends.BACKENDS``).
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
        _check_url(base_url)
        if not model:
            raise OpenClosedError("a server needs model=, the name it serves the model under",
                                  "e.g. model='meta-llama/Llama-3.1-8B-Instruct' for vLLM, 'llama3.2' for Ollama")
        provider = details.pop("provider", None)
        if family == "closed":  # a vendor's key goes to that vendor's host only: the variable must be named
            api_key_env = key_env_for(base_url, api_key_env, name)
            vendor = next((v for v in VENDORS.values() if v.host == urlparse(base_url).hostname), None)
            provider = provider or (vendor.id if vendor else None)
        spec = ModelSpec(name, task_list, family or "served", "openai", model, revision, source="api",
                         arch="diffusion" if image else "chat", base_url=base_url.rstrip("/"),
                         api_key_env=api_key_env, license=license, notes=notes, provider=provider,
                         profiles=(), **details)
    elif path is not None and Path(path).expanduser().is_file():
        spec = _single_file_spec(name, Path(path).expanduser().resolve(), task_list, family, revision, license,
                                 notes, details)
    elif path is not None:
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise OpenClosedError(f"no folder or file at {folder}",
                                  "pass the folder you saved with save_pretrained(), or a single .gguf model file")
        spec = ModelSpec(name, task_list, family or "open", "diffusers" if image else "transformers", str(folder),
                         revision or "local", source="folder", arch=arch or _guess_arch(folder, task_list),
                         license=license, notes=notes, profiles=(), **details)
    elif model is not None:
        if family == "closed":
            spec = ModelSpec(name, task_list, "closed", "openai", model, revision, source="api",
                             arch="diffusion" if image else "chat", api_key_env=api_key_env or "OPENAI_API_KEY",
                             provider=details.pop("provider", "openai"), license=license, notes=notes, **details)
        else:
            _check_revision(revision)
            if revision is None:
                notes = (notes + " " if notes else "") + "Revision not pinned (main): pass revision= to pin it."
            spec = ModelSpec(name, task_list, family or "open", "diffusers" if image else "transformers", model,
                             revision or "main", source="hub",
                             arch=arch or ("diffusion" if image else "classifier" if task_list == ("sentiment",) else "causal-lm"),
                             license=license, notes=notes, **details)
    else:
        raise OpenClosedError("register() needs model= (hub id or API id), path= (a folder) or base_url= (a server)",
                              'e.g. oc.register("my-clf", task="sentiment", model="org/name", revision="...")')
    if backend is not None:
        spec = replace(spec, backend=backend)
    if http_client is not None:
        spec = replace(spec, extra={"http_client": http_client})
    return add_spec(spec, replace_existing=True)  # the name was checked above


def add_spec(spec: ModelSpec, *, replace_existing: bool = False) -> ModelSpec:
    """Put ``spec`` in the catalog as it is (no defaults filled in, no
    guessing): e.g. ``add_spec(ModelSpec.from_record(rec))`` makes a saved
    run's model again, same backend, source, endpoint and revision."""
    reg = _ensure_loaded()
    with _lock:
        if spec.name in reg and not replace_existing:
            raise OpenClosedError(f"a model called {spec.name!r} exists already",
                                  "pick another name or pass replace_existing=True")
        reg[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registered model (built-ins come back on the next kernel)."""
    reg = _ensure_loaded()
    with _lock:
        reg.pop(name, None)


SINGLE_FILE_BACKENDS = {".gguf": "llamacpp"}
"""Model files that are a whole model on their own, by suffix -> the backend that runs them."""


def _single_file_spec(name: str, file: Path, tasks: tuple[str, ...], family: str | None, revision: str | None,
                      license: str, notes: str, details: dict[str, Any]) -> ModelSpec:
    """A model that is one file (a GGUF: weights, tokenizer and chat template together)."""
    backend = SINGLE_FILE_BACKENDS.get(file.suffix.lower())
    if backend is None:
        raise OpenClosedError(f"{file.name} is a single file that no backend runs on its own",
                              f"pass a {' or '.join(SINGLE_FILE_BACKENDS)} file, or the folder a model was saved to "
                              "with save_pretrained()")
    if "image-generation" in tasks:
        raise OpenClosedError(f"{file.name} is a language model file: it cannot do image-generation",
                              "register it for task='text-generation' or 'sentiment'")
    details.setdefault("size_mb", round(file.stat().st_size / 2**20, 1))
    return ModelSpec(name, tasks, family or "open", backend, str(file), revision or "local", source="file",
                     arch="causal-lm", license=license, notes=notes, profiles=(), **details)


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


_SHORT_HASH = re.compile(r"[0-9a-fA-F]{7,39}")


def _check_revision(revision: Any) -> None:
    """A hub revision must be a full 40-hex commit or a branch/tag name: the Hub
    does not resolve short commit hashes (they fail only at download time)."""
    if revision is None:
        return
    if not isinstance(revision, str) or not revision.strip():
        raise OpenClosedError(f"revision={revision!r} is not a commit, branch or tag",
                              "pass the full 40-character commit from the model's 'Files and versions' page")
    if _SHORT_HASH.fullmatch(revision):
        raise OpenClosedError(
            f"revision={revision!r} is a short commit hash; the Hub accepts only full 40-character commits",
            "pass the full commit (40 hex characters, from the model's 'Files and versions' page on the Hub, "
            "or `git rev-parse` in a clone), or a branch/tag name")


def _check_url(url: Any) -> None:
    from urllib.parse import urlparse

    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise OpenClosedError(f"base_url={url!r} is not an http(s) URL",
                              "pass the server's OpenAI-compatible address, e.g. base_url='http://127.0.0.1:8000/v1'")
