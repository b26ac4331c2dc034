"""Load open models once per kernel, through the model cache: the dtype
chosen per device (and, on a CPU, bfloat16 instead of float32 when that is
what fits the memory budget), safetensors only, no remote code.
(``oc.load_model`` is described in the README, "Add a model".)"""

from __future__ import annotations

import dataclasses
import threading

from ..backends import get_backend
from ..catalog.registry import get_model
from ..catalog.specs import ModelSpec
from ..core.errors import ModelTooLargeError, OpenClosedError
from ..core.settings import Settings
from ..engine.loaded import DTYPE_BYTES, Loaded
from ..engine.modelcache import GB, model_cache
from .setup import get_settings

# Models load one at a time (they still run concurrently): transformers resolves its classes lazily and that is
# not thread-safe on first use (two threads loading MiniLM and SmolLM2 at once sometimes got "module
# 'transformers' has no attribute 'AutoModelForCausalLM'"), and two loads at once would double the memory peak.
_LOAD_LOCK = threading.RLock()


def estimate_bytes(spec: ModelSpec, dtype: str) -> int:
    """Memory ``spec`` needs loaded in ``dtype``: what its backend says (``memory_bytes(spec, dtype)``, e.g. a
    4-bit GGUF file is not 2-4 bytes per weight), else parameters x bytes per parameter; 0 when unknown."""
    backend = get_backend(spec.backend)
    if hasattr(backend, "memory_bytes"):
        said = backend.memory_bytes(spec, dtype)
        if said is not None:
            return int(said)
    return int((spec.params_m or 0) * 1e6 * DTYPE_BYTES[dtype])


def fitting_dtype(spec: ModelSpec, s: Settings, dtype: str | None = None) -> tuple[str, str]:
    """(dtype to load ``spec`` in, note or ""): the session's dtype, or on a CPU
    bfloat16 when only that fits the memory budget. Raises ModelTooLargeError
    when nothing fits."""
    chosen = dtype or s.dtype
    budget = s.model_budget_gb * GB
    need = estimate_bytes(spec, chosen)
    if need <= budget:
        return chosen, ""
    forced = dtype is not None or s.dtype_reason == "chosen by you"
    if not forced and s.device == "cpu" and chosen == "float32" and estimate_bytes(spec, "bfloat16") <= budget:
        return "bfloat16", (f"loaded in bfloat16: in float32 its {need / GB:.2f} GB of weights would not fit the "
                            f"{s.model_budget_gb:g} GB model budget (bfloat16 is slower on this CPU)")
    half = estimate_bytes(spec, "bfloat16")
    raise ModelTooLargeError(
        f"{spec.label} needs about {need / GB:.2f} GB in {chosen}"
        + (f" ({half / GB:.2f} GB in bfloat16)" if chosen == "float32" else "")
        + f", more than the model memory budget of {s.model_budget_gb:g} GB ({s.budget_reason})",
        "pick a smaller model, or raise oc.setup(model_budget_gb=...) if this machine really has the memory")


def load_model(name: str | ModelSpec, *, dtype: str | None = None, device: str | None = None) -> Loaded:
    """The loaded model called ``name``, from memory after the first call.

    Returns a :class:`~openclosed.engine.loaded.Loaded` with ``.model`` (and
    ``.tokenizer``) - the plain transformers / diffusers /
    sentence-transformers objects, for looking inside. Closed models have no
    weights to load.
    """
    spec = get_model(name)
    backend = get_backend(spec.backend)
    if not backend.LOCAL:
        raise OpenClosedError(f"{spec.name!r} is {spec.family}: its weights are not on this machine",
                              "that is the point of the comparison; use oc.compare() to call it")
    s = get_settings()
    dtype = dtype or spec.extra.get("dtype")  # a catalog entry may fix its own (e.g. one model in two dtypes)
    device = device or s.device
    if device == "cpu" and dtype == "float16":
        raise OpenClosedError("float16 on CPU is slow and inaccurate", "use dtype='bfloat16' or 'float32' on CPU")
    s = dataclasses.replace(s, device=device)
    chosen, note = fitting_dtype(spec, s, dtype)
    s = dataclasses.replace(s, dtype=chosen)
    key = f"{spec.backend}|{spec.ref}|{spec.revision}|{spec.arch}|{spec.asset}|{chosen}|{device}"

    def load() -> Loaded:
        try:
            with _LOAD_LOCK:  # one load at a time: see _LOAD_LOCK
                loaded = backend.load(spec, s)
        except OpenClosedError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            where = spec.ref if spec.source in ("hub", "folder") else spec.name
            raise OpenClosedError(
                f"could not load {spec.name!r} from {where}: {type(exc).__name__}: {exc}",
                "check that the folder holds a complete save_pretrained() output (config, weights, tokenizer), "
                "or for a hub model that the id and revision exist and the Hub is reachable (or the model is cached)",
            ) from exc
        if note:
            loaded.notes.append(note)
        return loaded

    return model_cache().get_or_load(key, load, label=spec.label, estimate_bytes=estimate_bytes(spec, chosen))


def release_models() -> None:
    """Free the memory of every model loaded in this kernel (each loads again when next used), e.g.
    before starting a server with ``oc.serve``: it is a second process with its own copy of the weights."""
    model_cache().clear()
