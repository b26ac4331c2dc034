"""Load open models once per kernel: by hub id + revision, from a local
folder, or from an offline asset. Safetensors only, no remote code, the
dtype chosen per device and shown. (``oc.load_model`` is introduced in
``04_customize_an_open_model.ipynb``.)"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import ModelSpec, get_model
from .errors import OpenClosedError
from .modelcache import model_cache

# Models load one at a time (they still run concurrently): transformers resolves its classes lazily and that is
# not thread-safe on first use (two threads loading MiniLM and SmolLM2 at once sometimes got "module
# 'transformers' has no attribute 'AutoModelForCausalLM'"), and two loads at once would double the memory peak.
_LOAD_LOCK = threading.RLock()


@dataclass
class Loaded:
    """A loaded model: the library objects plus how they were loaded."""

    spec: ModelSpec
    model: Any  # transformers model, diffusers pipeline, SentenceTransformer, VADER analyzer
    tokenizer: Any = None
    folder: str = ""
    dtype: str = ""
    device: str = "cpu"
    load_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    _oc_walk = True  # lets the model cache count the tensors inside

    def __repr__(self) -> str:
        rw = " RANDOM WEIGHTS" if self.spec.random_weights else ""
        return (f"<Loaded {self.spec.name}{rw}: {type(self.model).__name__} from {self.folder or self.spec.ref} "
                f"({self.dtype or 'n/a'} on {self.device}, loaded in {self.load_s:.2f} s)>")


def resolve_folder(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """(what to pass to from_pretrained, extra kwargs) for ``spec``."""
    from .settings import get_settings

    if spec.source == "hub":
        return spec.ref, {"revision": spec.revision or "main"}
    if spec.source == "folder":
        if not Path(spec.ref).is_dir():
            raise OpenClosedError(f"the folder of {spec.name!r} is gone: {spec.ref}", "register it again with path=")
        return spec.ref, {}
    from . import assets

    cache_dir = get_settings().cache_dir
    builders = {"smollm2-135m": lambda: assets.smollm2_folder(cache_dir),
                "tiny-sd-random": lambda: assets.tiny_sd_folder(cache_dir),
                "minilm-lr": assets.minilm_folder}
    if spec.name not in builders:
        raise OpenClosedError(f"no offline asset for {spec.name!r}", "register the model with model= or path=")
    return str(builders[spec.name]()), {}


def _torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[name]


def _load(spec: ModelSpec, dtype: str, device: str) -> Loaded:
    started = time.perf_counter()
    if spec.backend == "vader":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return Loaded(spec, SentimentIntensityAnalyzer(), folder="vaderSentiment package", load_s=time.perf_counter() - started)
    where, kw = resolve_folder(spec)
    common = {"use_safetensors": True, **kw}
    if spec.backend == "embedding":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(where, device=device, trust_remote_code=False)
        return Loaded(spec, model, folder=where, dtype="float32", device=device, load_s=time.perf_counter() - started)
    if spec.backend == "diffusers":
        import diffusers

        pipe = diffusers.DiffusionPipeline.from_pretrained(where, dtype=_torch_dtype(dtype), **common)
        pipe.set_progress_bar_config(disable=True)
        pipe = pipe.to(device)
        return Loaded(spec, pipe, folder=where, dtype=dtype, device=device, load_s=time.perf_counter() - started)
    import transformers

    auto = (transformers.AutoModelForSequenceClassification if spec.arch == "classifier"
            else transformers.AutoModelForCausalLM)
    tok = transformers.AutoTokenizer.from_pretrained(where, trust_remote_code=False, **kw)
    model = auto.from_pretrained(where, dtype=_torch_dtype(dtype), trust_remote_code=False, **common)
    model.to(device).eval()
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return Loaded(spec, model, tokenizer=tok, folder=where, dtype=dtype, device=device,
                  load_s=time.perf_counter() - started)


def load_model(name: str | ModelSpec, *, dtype: str | None = None, device: str | None = None) -> Loaded:
    """The loaded model called ``name``, from memory after the first call.

    Returns a :class:`Loaded` with ``.model`` (and ``.tokenizer``) - the plain
    transformers / diffusers / sentence-transformers objects, for looking
    inside. Closed models have no weights to load.
    """
    from .settings import get_settings

    spec = get_model(name)
    if spec.backend == "openai":
        raise OpenClosedError(f"{spec.name!r} is {spec.family}: its weights are not on this machine",
                              "that is the point of the comparison; use oc.compare() to call it")
    s = get_settings()
    dtype = dtype or s.dtype
    device = device or s.device
    if device == "cpu" and dtype == "float16":
        raise OpenClosedError("float16 on CPU is slow and inaccurate", "use dtype='bfloat16' or 'float32' on CPU")
    key = f"{spec.backend}|{spec.ref}|{spec.revision}|{spec.arch}|{dtype}|{device}"
    bytes_per = {"float32": 4, "bfloat16": 2, "float16": 2}[dtype]
    estimate = int((spec.params_m or 0) * 1e6 * bytes_per)
    def load() -> Loaded:
        try:
            with _LOAD_LOCK:  # one load at a time: see _LOAD_LOCK
                return _load(spec, dtype, device)
        except OpenClosedError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            where = spec.ref if spec.source in ("hub", "folder") else spec.name
            raise OpenClosedError(
                f"could not load {spec.name!r} from {where}: {type(exc).__name__}: {exc}",
                "check that the folder holds a complete save_pretrained() output (config, weights, tokenizer), "
                "or for a hub model that the id and revision exist and the Hub is reachable (or the model is cached)",
            ) from exc

    return model_cache().get_or_load(key, load, label=spec.label, estimate_bytes=estimate)
