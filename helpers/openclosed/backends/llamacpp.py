"""Open models in this kernel through llama.cpp (``llama-cpp-python``): a
single GGUF file - weights at 16, 8 or 4 bits, tokenizer and chat template
together - the way Ollama and LM Studio run models on a laptop.
(Introduced in ``02c_quantization.ipynb``.)

* Text generation: the GGUF's own chat template, then tokens one at a time
  (``Llama.generate``) on the calling thread, fed to the engine's
  :class:`~openclosed.engine.stream.StreamMeter` like every streaming backend:
  time to first token, tokens/s, Stop, the deadline, seed, stop strings,
  ``max_tokens``. Prompts run one after another (llama.cpp's Python API has
  one sequence per context).
* Sentiment: the same zero-shot prompt as the transformers LLMs, scored by the
  next-token probabilities of the three label words (one forward pass).
* ``trace`` gives each generated token's probability and the top
  alternatives (for ``oc.look_inside``), read from the logits llama.cpp just
  computed, without ``logits_all`` (which would hold n_ctx x vocab floats).

When ``llama-cpp-python`` is not installed (or its compiled library does not
load on this CPU), its models fail in their own column with the fix, and
everything else runs.
"""

from __future__ import annotations

import atexit
import time
import weakref
from pathlib import Path
from typing import Any

from ..catalog.asset_files import sha256_file
from ..catalog.assets import asset_folder
from ..catalog.specs import ModelSpec
from ..core.errors import BadInputError, ModelNotAvailableError, OpenClosedError
from ..core.labels import LABELS, zero_shot_messages
from ..core.machine import hub_reachable
from ..core.settings import Settings
from ..engine.context import Item, RunContext, emit_batch, error_info, peak_memory
from ..engine.inside import TokenStep, TokenTrace
from ..engine.loaded import Loaded
from ..engine.pricing import local_cost
from ..engine.stream import StreamMeter

LOCAL = True

LLAMACPP_VERSION = "0.3.36"
INSTALL_HINT = (f'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python=={LLAMACPP_VERSION} (compiles llama.cpp, '
                "5-10 minutes; `make setup` does it), or conda install -c conda-forge llama-cpp-python")
N_CTX = 2048  # tokens of context per model (prompt + answer); the key/value cache is sized for it
RUNTIME_MB = 100  # llama.cpp's compute buffers and key/value cache for N_CTX on a small model, beside the weights
PUSH_EVERY_S = 0.1  # partial text to the display at most 10 times a second


def llama_cpp_module():
    """The ``llama_cpp`` module, or a clear error saying how to install it."""
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:  # OSError: the compiled library does not load on this CPU
        raise ModelNotAvailableError(
            f"llama.cpp is not installed here: the Python package llama-cpp-python could not be imported "
            f"({type(exc).__name__}: {exc})", INSTALL_HINT) from exc
    return llama_cpp


_checked: set[str] = set()  # GGUF files from the Hub whose sha256 was checked in this process


def hub_gguf(spec: ModelSpec, settings: Settings) -> Path:
    """A GGUF file from the Hub (``spec.extra["file"]`` at the pinned revision), from the local Hugging Face cache
    or downloaded where allowed, checked against ``spec.extra["sha256"]``."""
    from huggingface_hub import hf_hub_download

    name = spec.extra["file"]
    get_it = (f"download it where the Hub is reachable: huggingface-cli download {spec.ref} {name} --revision "
              f"{spec.revision}")
    try:
        path = Path(hf_hub_download(spec.ref, name, revision=spec.revision, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache (huggingface_hub raises several kinds)
        if settings.offline or not hub_reachable():
            raise ModelNotAvailableError(f"{spec.name!r} ({spec.ref}@{spec.revision}, {name}) is not on this machine "
                                         "and cannot be downloaded now", get_it) from None
        path = Path(hf_hub_download(spec.ref, name, revision=spec.revision))
    expected = spec.extra.get("sha256")
    if expected and str(path) not in _checked:
        found = sha256_file(path)
        if found != expected:
            raise OpenClosedError(f"{name} of {spec.name!r} does not match its pinned sha256 (expected "
                                  f"{expected[:12]}…, found {found[:12]}…)", f"delete {path} and {get_it}")
        _checked.add(str(path))
    return path


def gguf_path(spec: ModelSpec, settings: Settings) -> Path:
    """The GGUF file of ``spec``: an offline asset (built once into the model cache), a registered file, or a
    file from the Hub at a pinned revision."""
    if spec.source == "hub-file":
        return hub_gguf(spec, settings)
    path = asset_folder(spec.asset, settings.cache_dir) if spec.asset else Path(spec.ref)
    if path.is_dir():  # an asset folder holds one GGUF file
        found = sorted(path.glob("*.gguf"))
        path = found[0] if len(found) == 1 else path
    if not path.is_file():
        raise OpenClosedError(f"the GGUF file of {spec.name!r} is gone: {path}",
                              "register it again with oc.register(name, task=..., path='model.gguf')")
    return path


def unavailable(spec: ModelSpec, settings: Settings) -> str:
    """Why ``spec`` cannot run here ("" when it can), without loading anything: panels list it with this reason."""
    try:
        llama_cpp_module()
    except ModelNotAvailableError as exc:
        return f"{exc.message} ({exc.hint})"
    if spec.source == "hub-file":
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec.ref, spec.extra["file"], revision=spec.revision)
        if not isinstance(cached, str) and settings.offline:
            return "not downloaded, and this profile is offline"
    return ""


def memory_bytes(spec: ModelSpec, dtype: str) -> int | None:  # noqa: ARG001 - a GGUF's bits are in the file
    """Memory the model needs: its file (weights as stored, 4-bit included) plus llama.cpp's buffers."""
    size_mb = spec.size_mb
    if size_mb is None and spec.source == "file" and Path(spec.ref).is_file():
        size_mb = Path(spec.ref).stat().st_size / 2**20
    return None if size_mb is None else int((size_mb + RUNTIME_MB) * 2**20)


def load(spec: ModelSpec, settings: Settings) -> Loaded:
    """The GGUF in a ``llama_cpp.Llama`` with :data:`N_CTX` tokens of context and this session's threads."""
    llama_cpp = llama_cpp_module()
    started = time.perf_counter()
    path = gguf_path(spec, settings)
    llm = llama_cpp.Llama(str(path), n_ctx=N_CTX, n_threads=settings.threads, n_threads_batch=settings.threads,
                          verbose=False)
    _close_at_exit(llm)
    kind = file_type(llm)
    return Loaded(spec, llm, folder=str(path), dtype=kind, device="cpu", load_s=time.perf_counter() - started,
                  notes=[f"llama.cpp {llama_cpp.__version__}, GGUF {kind} ({path.stat().st_size / 2**20:.0f} MB)"],
                  extra={"formatter": _formatter(llm)})


def _close_at_exit(llm) -> None:
    """Free the model before the interpreter tears its modules down (llama-cpp-python's own ``__del__`` then
    fails noisily), without keeping an evicted model alive."""
    ref = weakref.ref(llm)
    atexit.register(lambda: ref() is not None and ref().close())


def file_type(llm) -> str:
    """How the file stores its weights, as llama.cpp describes it (e.g. ``Q4_1``, ``Q8_0``, ``F16``)."""
    desc = llm._model.desc()  # e.g. "llama ?B Q4_1"
    return desc.rsplit(" ", 1)[-1] if desc else "gguf"


def _formatter(llm):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise OpenClosedError("this GGUF file carries no chat template", "use a chat (instruct) model's GGUF")
    model = llm._model
    return Jinja2ChatFormatter(template, eos_token=model.token_get_text(model.token_eos()),
                               bos_token=model.token_get_text(model.token_bos()))


def prompt_tokens(loaded: Loaded, messages: list[dict[str, str]]) -> list[int]:
    """``messages`` as the model reads them: the GGUF's chat template applied, then tokenized (special tokens
    read as such)."""
    text = loaded.extra["formatter"](messages=messages).prompt
    return loaded.model.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def chat_prefix_len(loaded: Loaded, system: str | None) -> int:
    """How many tokens every prompt with this ``system`` message starts with, whatever the user writes (the
    template's head, the system message, the user turn's opening): computed once and kept between calls."""
    cache = loaded.extra.setdefault("prefix_len", {})
    if system not in cache:
        a, b = (prompt_tokens(loaded, _messages(t, system)) for t in ("a", "Z"))
        n = 0
        while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
            n += 1
        cache[system] = n
    return cache[system]


def _messages(text: str, system: str | None) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    if ctx.task == "sentiment":
        _zero_shot(loaded, items, ctx)
    else:
        for item in items:
            ctx.emit(_generate(loaded, item, ctx))


# ------------------------------------------------------------------ generation
def stream_tokens(loaded: Loaded, tokens: list[int], *, max_tokens: int, temperature: float = 0.0,
                  top_p: float | None = None, seed: int = 0, top: int = 0, prefix: int = 0):
    """Yield ``(token id, its bytes, top)`` for each generated token until an end-of-generation token or
    ``max_tokens``; ``top`` > 0 adds the ``top`` most likely tokens with their probabilities at that step.

    The first ``prefix`` tokens (the chat template's shared head, :func:`chat_prefix_len`) are always computed
    as their own batch, and kept between calls: a prompt's logits are then the same whether that head was just
    computed or reused (llama.cpp's own prefix reuse splits the prompt wherever the previous one differed, which
    moves the logits slightly, so a seeded sample would depend on the call before), and the head is not
    computed again for every prompt."""
    import llama_cpp
    import numpy as np

    llm = loaded.model
    vocab = llm._model.vocab
    llm.set_seed(int(seed))
    kw: dict[str, Any] = ({"temp": 0.0} if temperature <= 0 else
                          {"temp": float(temperature), "top_k": 0, "min_p": 0.0,
                           "top_p": float(top_p) if top_p is not None else 1.0})
    n_vocab = llm.n_vocab()
    n = prefix if 0 < prefix < len(tokens) else 0
    if n and llm.n_tokens >= n and llm.input_ids[:n].tolist() == tokens[:n]:
        llm.n_tokens = n  # the head's key/value cache is kept; eval() drops everything after it
    else:
        llm.reset()
        if n:
            llm.eval(tokens[:n])
    for k, token in enumerate(llm.generate(tokens[n:], repeat_penalty=1.0, reset=False, **kw)):
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            return
        alternatives = []
        if top:
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,)).astype(np.float64)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            best = np.argsort(-probs)[:top]
            alternatives = [(int(i), float(probs[i])) for i in best] + [(int(token), float(probs[token]))]
        yield token, llm.detokenize([token], special=False), alternatives
        if k + 1 >= max_tokens:
            return


def _generate(loaded: Loaded, item: Item, ctx: RunContext):
    p = ctx.params
    r = ctx.result(item)
    max_tokens = int(p.get("max_tokens") or 128)
    stops = [s for s in (p.get("stop") or []) if s]
    tokens = prompt_tokens(loaded, _messages(item[1], p.get("system")))
    r.input_tokens = len(tokens)
    if len(tokens) >= N_CTX:  # checked before anything runs
        r.error = error_info(BadInputError(
            f"the prompt is {len(tokens)} tokens with its chat template; {ctx.spec.name} reads at most {N_CTX} here "
            "(prompt and answer together)", "shorten the prompt (or the system prompt)"))
        return r
    new_tokens = min(max_tokens, N_CTX - len(tokens))
    if new_tokens < max_tokens:
        r.notes.append(f"max_tokens cut from {max_tokens} to {new_tokens}: {N_CTX} tokens of context, prompt and "
                       "answer together")
    meter = StreamMeter(ctx, item, push_every_s=PUSH_EVERY_S)
    raw, n, finish = b"", 0, "length"
    with peak_memory("cpu") as mem:
        try:
            for _, piece, _ in stream_tokens(loaded, tokens, max_tokens=new_tokens,
                                             temperature=float(p.get("temperature") or 0.0), top_p=p.get("top_p"),
                                             seed=int(p.get("seed") or 0),
                                             prefix=chat_prefix_len(loaded, p.get("system"))):
                raw += piece
                n += 1
                text = raw.decode("utf-8", errors="ignore")
                cut = [text.find(s) for s in stops if s in text]
                if cut:
                    meter.update(text[:min(cut)], n)
                    finish = "stop"
                    break
                meter.update(text, n)
                if meter.halt():
                    break
            else:
                finish = "stop" if n < new_tokens else "length"
        except Exception as exc:  # noqa: BLE001 - reported with the text so far
            r.error, finish = error_info(exc), "error"
    if not stops or finish != "stop":
        meter.text = raw.decode("utf-8", errors="replace")
    r.finish_reason = finish
    meter.finish(r, tokens=n)
    r.peak_memory_mb = mem["mb"]
    r.cost_usd, r.cost_basis = local_cost(r.latency_s or 0.0, ctx.settings.local_usd_per_hour)
    return r


def trace(loaded: Loaded, messages: list[dict[str, str]], params: dict[str, Any]) -> TokenTrace:
    """The answer to ``messages`` token by token with each token's probability and the ``top`` alternatives
    (``params``: max_tokens, temperature, top_p, seed, top), for ``oc.look_inside``."""
    llm = loaded.model
    tokens = prompt_tokens(loaded, messages)
    t = TokenTrace(loaded.spec.name, loaded.spec.family, messages[-1]["content"], answered_by=loaded.folder,
                   settings=dict(params), source=f"llama.cpp logits of each step (GGUF {loaded.dtype})")
    for token, piece, alternatives in stream_tokens(
            loaded, tokens, max_tokens=int(params.get("max_tokens") or 24),
            temperature=float(params.get("temperature") or 0.0), top_p=params.get("top_p"),
            seed=int(params.get("seed") or 0), top=int(params.get("top") or 5),
            prefix=chat_prefix_len(loaded, messages[0]["content"] if messages[0]["role"] == "system" else None)):
        *best, (_, chosen) = alternatives
        t.steps.append(TokenStep(piece.decode("utf-8", errors="replace"), int(token), chosen,
                                 [(llm.detokenize([i]).decode("utf-8", errors="replace"), q) for i, q in best]))
    return t


# ------------------------------------------------------------------ sentiment
def _label_token_ids(llm) -> dict[str, list[int]]:
    """First token ids of each label's spellings ('negative', 'Negative', ' negative')."""
    out = {lab: sorted({llm.tokenize(v.encode(), add_bos=False, special=False)[0]
                        for v in (lab, lab.capitalize(), " " + lab)}) for lab in LABELS}
    firsts = [i for v in out.values() for i in v]
    if len(firsts) != len(set(firsts)):
        raise ValueError("the labels share a first token in this tokenizer; zero-shot scoring is ambiguous")
    return out


def _zero_shot(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """Label by the next-token probabilities of the three label words after the shared zero-shot prompt
    (as the transformers LLMs do): no free text to parse, a probability for each label."""
    import numpy as np

    llm = loaded.model
    label_ids = _label_token_ids(llm)
    started = time.time()
    outs = []
    with peak_memory("cpu") as mem:
        for _, text in items:
            tokens = prompt_tokens(loaded, zero_shot_messages(text))
            note = []
            if len(tokens) >= N_CTX:
                keep = N_CTX - 1
                note.append(f"prompt cut from {len(tokens)} to its last {keep} tokens (the context)")
                tokens = tokens[-keep:]
            llm.reset()
            llm.eval(tokens)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
            per_label = np.array([np.logaddexp.reduce(logits[ids]) for ids in label_ids.values()])
            probs = np.exp(per_label - per_label.max())
            probs /= probs.sum()
            best = LABELS[int(np.argmax(probs))]  # decided before rounding
            scores = {lab: round(float(v), 4) for lab, v in zip(LABELS, probs, strict=True)}
            outs.append({"output": best, "confidence": scores[best], "scores": scores, "input_tokens": len(tokens),
                         "notes": note})
        ended = time.time()
    ctx.label_map = {"next token " + " | ".join(repr(llm.detokenize([i]).decode("utf-8", errors="replace"))
                                                for i in ids): lab for lab, ids in label_ids.items()}
    emit_batch(ctx, items, outs, started, ended, mem["mb"],
               note="zero-shot: next-token probabilities of the three label words (llama.cpp, one prompt at a time)")


def text_predictions(loaded: Loaded, text: str) -> tuple[list[int], list[int]]:
    """(the tokens of ``text``, the model's most likely next token after each prefix of it): reading a fixed text,
    how often two models would predict the same next token (``02c_quantization.ipynb``)."""
    import numpy as np

    llm = loaded.model
    ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[:N_CTX - 1]
    llm.reset()
    best = []
    for token in ids:  # one token at a time: the logits of every position without logits_all
        llm.eval([token])
        best.append(int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)))))
    llm.reset()
    return list(ids), best
