"""Chat generation for open models in this kernel (the ``transformers``
backend's text-generation path). (Introduced in ``02_text_generation.ipynb``.)

Speed is the point of the design, each choice measured:

* ``generate`` runs on the **calling thread** (in a worker thread it ran at
  0.35-0.64x the speed) and hands tokens to a callback streamer
  (:class:`TokenStreamer`) that only keeps the token ids and a timestamp per
  step; it decodes and pushes the text so far to the display a few times a
  second, never per token.
* Several prompts for one model are generated **in batches**: left padding,
  one key/value cache, prompts of similar length together, the batch size
  chosen so the cache fits :data:`BATCH_CACHE_MB`. Greedy answers are the
  same as one at a time in float32. With ``temperature > 0`` prompts run one
  at a time, so a sampled answer depends only on its prompt and seed.
* Stop (``ctx.cancel``) and the wall-clock deadline are a ``StoppingCriteria``
  read every step: generation ends at the next token with the text so far kept.

Time to first token is from the call's start to the first generated token;
tokens/s from the first token to the last, per answer, as for API models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..core.errors import BadInputError
from ..engine.context import Item, RunContext, error_info, peak_memory, stopped
from ..engine.loaded import DTYPE_BYTES, Loaded
from ..engine.pricing import local_cost
from ..engine.stream import StreamMeter

PUSH_EVERY_S = 0.25  # text pushed to the display at most ~4 times a second per call
BATCH_CACHE_MB = 512.0  # key/value cache allowed for one batch (prompts + answers)
MAX_BATCH = 32


class TokenStreamer:
    """A ``transformers`` streamer (``put``/``end``) that keeps each step's
    token ids (a CPU tensor, no decode) and when it came, and every
    ``every_s`` seconds calls ``push(streamer)`` on the calling thread.

    The first ``put`` is the prompt and is skipped.
    """

    def __init__(self, push: Callable[[TokenStreamer], None], every_s: float | None = None) -> None:
        self.push = push
        self.every_s = PUSH_EVERY_S if every_s is None else every_s  # read at call time (tests set it to 0)
        self.steps: list = []  # one (batch,) tensor per generated step
        self.times: list[float] = []  # perf_counter when each step arrived
        self._prompt_seen = False
        self._last_push = time.perf_counter()

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        now = time.perf_counter()
        self.steps.append(value.reshape(-1))
        self.times.append(now)
        if now - self._last_push >= self.every_s:
            self._last_push = now
            self.push(self)

    def end(self) -> None:
        self.push(self)

    @property
    def first_token_at(self) -> float | None:
        return self.times[0] if self.times else None

    def ids(self) -> list[list[int]]:
        """Generated ids so far, one list per row (finished rows padded as generate pads them)."""
        import torch

        if not self.steps:
            return []
        return torch.stack(self.steps, dim=1).tolist()


def context_limit(loaded: Loaded) -> int:
    """How many tokens (prompt + answer) the model can read."""
    cfg = getattr(loaded.model.config, "get_text_config", lambda: loaded.model.config)()
    limits = [getattr(cfg, "max_position_embeddings", None), getattr(loaded.tokenizer, "model_max_length", None)]
    return int(min(x for x in limits if x and x < 10**8) if any(x and x < 10**8 for x in limits) else 2048)


def chat_ids(tok, prompt: str, system: str | None) -> list[int]:
    """The prompt as the model reads it: its chat template applied (system message first when given)."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    out = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(out["input_ids"])


def batch_size(loaded: Loaded, width: int) -> int:
    """How many rows of ``width`` tokens (prompt + answer) fit :data:`BATCH_CACHE_MB` of key/value cache."""
    cfg = getattr(loaded.model.config, "get_text_config", lambda: loaded.model.config)()
    layers = getattr(cfg, "num_hidden_layers", None) or 12
    heads = getattr(cfg, "num_key_value_heads", None) or getattr(cfg, "num_attention_heads", None) or 12
    head_dim = getattr(cfg, "head_dim", None) or (getattr(cfg, "hidden_size", 768) // max(1, getattr(
        cfg, "num_attention_heads", 12)))
    per_token = 2 * layers * heads * head_dim * DTYPE_BYTES.get(loaded.dtype, 4)
    return max(1, min(MAX_BATCH, int(BATCH_CACHE_MB * 2**20 // max(1, per_token * width))))


def plan_batches(lengths: list[int], max_new: int, loaded: Loaded, sample: bool) -> list[list[int]]:
    """Indices into ``lengths`` grouped into batches: sorted by length (ties
    in input order) so little padding is needed, each batch within the cache
    budget. Sampling: one prompt per batch (an answer must not depend on its neighbours)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    if sample:
        return [[i] for i in order]
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < batch_size(loaded, lengths[i] + max_new):
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _answer_length(row: list[int], eos: set[int], pad: int | None) -> tuple[int, bool]:
    """(tokens the row generated, ended by an end token?): up to and including its first end token."""
    for k, t in enumerate(row):
        if t in eos:
            return k + 1, True
        if pad is not None and t == pad and pad not in eos:
            return k, True
    return len(row), False


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    cuts = [text.find(s) for s in stops if s and s in text]
    return (text[:min(cuts)], True) if cuts else (text, False)


def generate_chat(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """Answer every prompt in ``items`` (batched where that gives the same
    answers), streaming partial text through ``ctx.partial``; one Result per item."""
    tok = loaded.tokenizer
    p = ctx.params
    max_new = int(p.get("max_tokens") or 128)
    temperature = float(p.get("temperature") or 0.0)
    stops = [s for s in (p.get("stop") or []) if s]
    rows = {i: chat_ids(tok, text, p.get("system")) for i, text in items}
    limit = context_limit(loaded)
    runnable = []
    for item in items:
        n = len(rows[item[0]])
        if n >= limit:  # checked before anything runs
            r = ctx.result(item)
            r.input_tokens = n
            r.error = error_info(BadInputError(
                f"the prompt is {n} tokens with its chat template; {ctx.spec.name} reads at most {limit} "
                "(prompt and answer together)", "shorten the prompt (or the system prompt), or use a model with a "
                "longer context"))
            ctx.emit(r)
        else:
            runnable.append(item)
    if not runnable:
        return
    by_index = dict(runnable)
    order = [i for i, _ in runnable]
    batches = plan_batches([len(rows[i]) for i in order], max_new, loaded, temperature > 0)
    lock = loaded.extra.setdefault("lock", threading.Lock())
    for batch in batches:
        indices = [order[k] for k in batch]
        if ctx.cancelled:  # Stop pressed: what has not started does not start
            for i in indices:
                r = ctx.result((i, by_index[i]))
                stopped(r, 0)
                ctx.emit(r)
            continue
        with lock:
            _generate_batch(loaded, [(i, by_index[i]) for i in indices], [rows[i] for i in indices], ctx,
                            max_new, temperature, stops, limit)


def _generate_batch(loaded: Loaded, items: list[Item], rows: list[list[int]], ctx: RunContext, max_new: int,
                    temperature: float, stops: list[str], limit: int) -> None:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    tok, model, p = loaded.tokenizer, loaded.model, ctx.params
    n_rows = len(rows)
    width = max(len(r) for r in rows)
    new_tokens = min(max_new, limit - width)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos_ids = model.generation_config.eos_token_id
    eos = set(eos_ids if isinstance(eos_ids, list) else [eos_ids] if eos_ids is not None else [])
    if tok.eos_token_id is not None:
        eos.add(tok.eos_token_id)
    ids = torch.full((n_rows, width), pad, dtype=torch.long)
    mask = torch.zeros((n_rows, width), dtype=torch.long)
    for k, r in enumerate(rows):  # left padding: every row's last prompt token is in the last column
        ids[k, width - len(r):] = torch.tensor(r)
        mask[k, width - len(r):] = 1
    started, t0 = time.time(), time.perf_counter()
    meters = [StreamMeter(ctx, item, t0=t0, started_at=started) for item in items]  # one per row, same start

    class Halt(StoppingCriteria):
        """Stop pressed or deadline passed: every row ends now."""

        def __call__(self, input_ids, scores, **kwargs):  # noqa: ARG002
            halted = any([m.halt() for m in meters])
            return torch.full((input_ids.shape[0],), halted, dtype=torch.bool, device=input_ids.device)

    def texts_so_far(streamer: TokenStreamer) -> list[tuple[str, int, bool]]:
        out = []
        for row in streamer.ids():
            n, ended = _answer_length(row, eos, pad)
            text, hit = _cut_at_stop(tok.decode(row[:n], skip_special_tokens=True), stops)
            out.append((text, n, ended or hit))
        return out

    def push(streamer: TokenStreamer) -> None:  # the streamer calls this a few times a second
        if ctx.on_partial is None or not streamer.times:
            return
        for meter, (text, n, _) in zip(meters, texts_so_far(streamer), strict=True):
            meter.update(text, n, first_at=streamer.first_token_at, last_at=streamer.times[n - 1] if n else None,
                         force=True)

    streamer = TokenStreamer(push)
    gen = dict(input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device), max_new_tokens=new_tokens,
               streamer=streamer, pad_token_id=pad, stopping_criteria=StoppingCriteriaList([Halt()]),
               do_sample=temperature > 0)
    if temperature > 0:
        gen.update(temperature=temperature, top_p=float(p.get("top_p") if p.get("top_p") is not None else 1.0),
                   top_k=None)
    else:
        gen.update(temperature=None, top_p=None, top_k=None)
    if stops:
        gen.update(stop_strings=stops, tokenizer=tok)
    failure = None
    with peak_memory(loaded.device) as mem:
        torch.manual_seed(int(p.get("seed") or 0))
        try:
            with torch.inference_mode():
                model.generate(**gen)
        except Exception as exc:  # reported on every row, with what was generated so far
            failure = error_info(exc)
        end = time.perf_counter()
    first = streamer.first_token_at
    finals = texts_so_far(streamer) if streamer.steps else [("", 0, False)] * n_rows
    cost, basis = local_cost((end - t0) / n_rows, ctx.settings.local_usd_per_hour)
    for k, (item, meter, (text, n, ended)) in enumerate(zip(items, meters, finals, strict=True)):
        r = ctx.result(item)
        r.input_tokens, r.peak_memory_mb = len(rows[k]), mem["mb"]
        r.cost_usd, r.cost_basis = cost, basis
        r.finish_reason = "stop" if ended else "length"
        if ended:  # this row had finished before any Stop or deadline
            meter.halted = None
        meter.update(text, n, first_at=first, last_at=streamer.times[n - 1] if n else None)
        meter.finish(r, tokens=n, end=streamer.times[n - 1] if n else end)
        if n_rows > 1:
            r.notes.append(f"batched: {n_rows} prompts in one generate (left padding, one key/value cache) in "
                           f"{end - t0:.3g} s; the cost is this prompt's share")
        if new_tokens < max_new:
            r.notes.append(f"max_tokens cut from {max_new} to {new_tokens}: {ctx.spec.name} reads at most {limit} "
                           "tokens, prompt and answer together")
        if failure is not None and meter.halted is None:
            r.error, r.finish_reason = failure, "error"
        ctx.emit(r)
