"""Look inside chat models: the exact text a model reads (its chat
template), the probability of every token it writes with the top
alternatives, and how temperature and top-p reshape a real next-token
distribution. (Introduced in ``02b_inside_chat_models.ipynb``.)

    oc.chat_template("smollm2-135m", "Hi!", system="Be brief.")
    oc.look_inside(["smollm2-135m", "gpt-6-luna"], "Name three colours.")   # side by side
    oc.next_token_distribution("smollm2-135m", "Tell me a joke.")

Open models run here, on the calling thread, from ``oc.load_model``: the
probabilities are the model's own (a softmax of its logits in float32,
before temperature or top-p). Closed and served models are asked through
their API for ``logprobs`` / ``top_logprobs``; a closed model without a key
gives the usual missing-key error in its own column and nothing is sent.
"""

from __future__ import annotations

from typing import Any

from ..backends import get_backend
from ..backends.openai.logprobs import MAX_TOP_LOGPROBS, chat_logprobs
from ..catalog.registry import get_model
from ..core.errors import BadParameterError, OpenClosedError
from ..engine.context import error_info
from ..engine.inside import ChatTemplate, Inside, NextTokenDistribution, TokenStep, TokenTrace, softmax_t, top_p_kept
from ..tasks.text_generation import TASK
from .loading import load_model
from .setup import get_settings

TASK_NAME = "text-generation"


def _messages(prompt: Any, system: str | None) -> list[dict[str, str]]:
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadParameterError(f"prompt={prompt!r:.60} is not a non-empty text", 'pass a question, e.g. "Name three colours."')
    if system is not None and not isinstance(system, str):
        raise BadParameterError(f"system={system!r:.60} is not text", "pass the system prompt as a string, or leave it out")
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]


def _open_model(name: str):
    """(spec, Loaded) for an open text-generation model; a clear error for anything else."""
    spec = get_model(name, TASK_NAME)
    if not get_backend(spec.backend).LOCAL:
        raise OpenClosedError(f"{spec.name!r} is {spec.family}: its weights are not here, so its template and logits "
                              "cannot be read", "use an open model here; for an API model use oc.look_inside(), "
                              "which shows the logprobs the API returns")
    loaded = load_model(spec)
    if loaded.tokenizer is None or not hasattr(loaded.model, "generate"):
        raise OpenClosedError(f"{spec.name!r} is not a chat model with a tokenizer", "pick a causal language model")
    return spec, loaded


def chat_template(model: str = "smollm2-135m", prompt: str = "What is an open-weight model?", *,
                  system: str | None = None) -> ChatTemplate:
    """The exact text ``model`` reads for ``prompt`` (its chat template,
    ``apply_chat_template(tokenize=False, add_generation_prompt=True)``), and
    that text as tokens."""
    messages = _messages(prompt, system)
    spec, loaded = _open_model(model)
    tok = loaded.tokenizer
    if not getattr(tok, "chat_template", None):
        raise OpenClosedError(f"{spec.name!r} has no chat template", "it is a base model: pick an instruct/chat model")
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    special = set(tok.all_special_ids) | set(getattr(tok, "added_tokens_decoder", {}) or {})
    return ChatTemplate(spec.name, messages, text, list(ids), [tok.decode([i]) for i in ids], [i in special for i in ids])


def _check_generation(max_tokens, temperature, top_p, seed, top) -> dict[str, Any]:
    """The same checks as oc.compare's text generation, plus ``top`` (how many alternatives)."""
    s = get_settings()
    params = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
    if top_p is not None:
        params["top_p"] = top_p
    checked = TASK.validate(params, s)
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP_LOGPROBS:
        raise BadParameterError(f"top={top!r} is out of range", f"use a whole number from 1 to {MAX_TOP_LOGPROBS} "
                                "(the most alternatives an API returns)")
    checked["top"] = top
    return checked


def _trace_open(spec, loaded, messages, p: dict[str, Any]) -> TokenTrace:
    import threading

    import torch

    tok, model = loaded.tokenizer, loaded.model
    trace = TokenTrace(spec.name, spec.family, messages[-1]["content"], answered_by=loaded.folder or spec.ref,
                       settings={k: p.get(k) for k in ("max_tokens", "temperature", "top_p", "seed")},
                       source=f"the model's own probabilities (softmax of its logits, {loaded.dtype} on {loaded.device})")
    if loaded.random_weights or loaded.stand_in:
        trace.notes.append("RANDOM WEIGHTS (stand-in): the probabilities are meaningless")
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True,
                                  return_tensors="pt").to(loaded.device)
    n_in = int(enc["input_ids"].shape[-1])
    temperature = float(p.get("temperature") or 0.0)
    gen: dict[str, Any] = dict(**enc, max_new_tokens=int(p["max_tokens"]), do_sample=temperature > 0,
                               output_logits=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
    if temperature > 0:
        gen.update(temperature=temperature, top_p=float(p.get("top_p") or 1.0))
        trace.notes.append(f"sampled at temperature {temperature:g} (seed {p['seed']}): the colours are the "
                           "model's probabilities before temperature")
    lock = loaded.extra.setdefault("lock", threading.Lock())  # the same lock the backend's generation takes
    with lock, torch.inference_mode():
        torch.manual_seed(int(p["seed"]))
        out = model.generate(**gen)
    new = out.sequences[0, n_in:].tolist()
    top = int(p["top"])
    for step, logits in enumerate(out.logits):
        if step >= len(new):
            break
        probs = logits[0].float().softmax(-1)
        values, ids = probs.topk(top)
        chosen = new[step]
        trace.steps.append(TokenStep(tok.decode([chosen]), chosen, float(probs[chosen]),
                                     [(tok.decode([i]), float(v)) for v, i in zip(values.tolist(), ids.tolist(), strict=True)]))
    return trace


def look_inside(models: str | list[str] = "smollm2-135m", prompt: str = "Name three colours.", *,
                system: str | None = None, max_tokens: int = 24, temperature: float = 0.0,
                top_p: float | None = None, seed: int = 0, top: int = 5) -> Inside:
    """Each model's answer to ``prompt``, token by token, coloured by the
    probability the model gave each token, with the ``top`` most likely
    alternatives on hover; several models side by side.

    Open models: generated here (greedy by default) with the logits of every
    step. Closed/served models: the ``logprobs``/``top_logprobs`` their API
    returns (one call each, priced and counted against the spending cap). A
    model that cannot answer (no key, server down) shows why in its column.
    ``inside.table`` has one row per token; ``inside.summary()`` one per model.
    """
    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise BadParameterError("no models given", 'e.g. oc.look_inside(["smollm2-135m", "gpt-6-luna"], "Hi")')
    messages = _messages(prompt, system)
    p = _check_generation(max_tokens, temperature, top_p, seed, top)
    specs = [get_model(n, TASK_NAME) for n in names]  # an unknown name fails here, before anything runs
    settings = get_settings()
    traces = []
    for spec in specs:
        backend = get_backend(spec.backend)
        try:
            if backend.LOCAL and hasattr(backend, "trace"):  # a backend with its own way to read each step's logits
                traces.append(backend.trace(load_model(spec.name), messages, p))
            elif backend.LOCAL:
                _, loaded = _open_model(spec.name)
                traces.append(_trace_open(spec, loaded, messages, p))
            else:
                loaded = backend.load(spec, settings)  # a closed model without a key stops here: nothing is sent
                traces.append(chat_logprobs(spec, loaded.model, messages, settings, max_tokens=p["max_tokens"],
                                            temperature=p["temperature"], top_p=p.get("top_p"), seed=p["seed"],
                                            top=p["top"]))
        except Exception as exc:  # noqa: BLE001 - shown in the model's own column
            traces.append(TokenTrace(spec.name, spec.family, prompt, error=error_info(exc)))
    return Inside(prompt, traces)


def next_token_distribution(model: str = "smollm2-135m", prompt: str = "Tell me a joke about cats.", *,
                            system: str | None = None, temperatures: tuple[float, ...] = (0.2, 1.0, 1.5),
                            top_p: float = 0.9, k: int = 12) -> NextTokenDistribution:
    """The probabilities of the ``k`` most likely first tokens of ``model``'s
    answer to ``prompt`` (one forward pass), recomputed at each temperature,
    and how many tokens top-p (``top_p``) keeps at each temperature."""
    import pandas as pd
    import torch

    messages = _messages(prompt, system)
    temps = tuple(temperatures)
    if not temps or any(isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 5 for t in temps):
        raise BadParameterError(f"temperatures={temperatures!r} must be numbers above 0 and at most 5",
                                "e.g. temperatures=(0.2, 1.0, 1.5); temperature 0 is greedy: the top token only")
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise BadParameterError(f"top_p={top_p!r} is out of range", "use a number above 0 and at most 1, e.g. 0.9")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        raise BadParameterError(f"k={k!r} is out of range", "show from 1 to 100 tokens, e.g. k=12")
    spec, loaded = _open_model(model)
    tok, mdl = loaded.tokenizer, loaded.model
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True,
                                  return_tensors="pt").to(loaded.device)
    with torch.inference_mode():
        logits = mdl(**enc, logits_to_keep=1).logits[0, -1].float().cpu()
    base = softmax_t(logits, 1.0)
    order = base.argsort(descending=True)[:k].tolist()
    rows = {"rank": list(range(1, k + 1)), "token": [tok.decode([i]) for i in order], "id": order}
    kept, mass = {}, {}
    for t in temps:
        probs = softmax_t(logits, float(t))
        desc = probs.sort(descending=True).values.tolist()
        n_kept = top_p_kept(desc, float(top_p))
        kept[t] = n_kept
        shown = [float(probs[i]) for i in order]
        mass[t] = sum(shown)
        rows[f"p@T={t:g}"] = shown
        # order is by T=1 probability, which is the same order at every temperature
        rows[f"kept@T={t:g}"] = [r < n_kept for r in range(k)]
    notes = ["RANDOM WEIGHTS (stand-in): the distribution is meaningless"] if loaded.random_weights or loaded.stand_in else []
    return NextTokenDistribution(spec.name, prompt, temps, float(top_p), pd.DataFrame(rows), kept, mass,
                                 int(logits.shape[-1]), notes)


__all__ = ["chat_template", "look_inside", "next_token_distribution"]
