"""Both arena answers at once. (Used by :class:`~openclosed.session.arena.Arena`.)

When the two contestants are the same open model at different settings (the
offline arena: one chat model, four settings), both answers come from **one
batched generate**: two rows (left padding, one key/value cache), each row
with its own temperature, top_p and system prompt (a per-row logits
processor), so both stream together and a round costs about one answer's
time instead of two. Otherwise each side runs through
:func:`~openclosed.session.compare.compare` in its own thread, so two API
contestants (or two different models) stream side by side too.

Stop (``cancel``) ends both sides at the next token, the text so far kept
and marked stopped, exactly as in :func:`openclosed.compare`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..backends import get_backend
from ..backends.transformers_chat import TokenStreamer, chat_ids, context_limit
from ..catalog.registry import get_model
from ..core.errors import DeadlineError
from ..engine.context import error_info, new_result, stopped
from ..engine.pricing import local_cost
from ..engine.results import Result
from .compare import compare
from .loading import load_model
from .setup import get_settings

TASK_NAME = "text-generation"
PUSH_EVERY_S = 0.15  # both sides' text handed to the display at most ~7 times a second

OnPartial = Callable[[str, str], None]  # (side "A"/"B", text so far)


def same_local_model(a, b) -> bool:
    """True when contestants ``a`` and ``b`` are one in-process transformers chat model (batched together)."""
    if a.model != b.model:
        return False
    spec = get_model(a.model, TASK_NAME)
    return bool(get_backend(spec.backend).LOCAL) and spec.backend == "transformers"


def answer_pair(a, b, prompt: str, *, seed: int, max_tokens: int, on_partial: OnPartial | None = None,
                cancel: threading.Event | None = None) -> tuple[Result, Result]:
    """The answers of contestants ``a`` (side A) and ``b`` (side B) to ``prompt``, generated together."""
    if same_local_model(a, b):
        return _batched_pair(a, b, prompt, seed=seed, max_tokens=max_tokens, on_partial=on_partial, cancel=cancel)
    return _threaded_pair(a, b, prompt, seed=seed, max_tokens=max_tokens, on_partial=on_partial, cancel=cancel)


def _threaded_pair(a, b, prompt, *, seed, max_tokens, on_partial, cancel) -> tuple[Result, Result]:
    """Each side through :func:`compare` in its own thread (network-bound API calls overlap)."""
    out: dict[str, Result] = {}
    failures: dict[str, BaseException] = {}

    def one(side: str, c) -> None:
        cb = (lambda _m, _i, text: on_partial(side, text)) if on_partial else None
        try:
            run = compare(TASK_NAME, [c.model], [prompt], progress=False, on_partial=cb, cancel=cancel,
                          **{"max_tokens": max_tokens, "seed": seed, **c.params})
            out[side] = run.result(c.model, 0)
        except BaseException as exc:  # re-raised on the calling thread below
            failures[side] = exc

    threads = [threading.Thread(target=one, args=(side, c), daemon=True, name=f"oc-arena-{side}")
               for side, c in (("A", a), ("B", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise next(iter(failures.values()))
    return out["A"], out["B"]


class _PerRowSampling:
    """A ``LogitsProcessor``: row ``k`` sampled at ``temperatures[k]`` with nucleus ``top_ps[k]``; a row at
    temperature 0 keeps only its most likely token (greedy), so one sampling generate serves both settings."""

    def __init__(self, temperatures: list[float], top_ps: list[float]) -> None:
        self.temperatures, self.top_ps = temperatures, top_ps

    def __call__(self, input_ids, scores):  # noqa: ARG002 - the LogitsProcessor signature
        import torch

        out = torch.full_like(scores, float("-inf"))
        for k, (t, p) in enumerate(zip(self.temperatures, self.top_ps, strict=True)):
            row = scores[k]
            if t <= 0:
                best = int(torch.argmax(row))
                out[k, best] = 0.0
                continue
            row = row / t
            if p < 1.0:
                ordered, idx = torch.sort(row, descending=True)
                cum = torch.softmax(ordered.float(), dim=-1).cumsum(-1)
                drop = cum - torch.softmax(ordered.float(), dim=-1) > p  # keep the smallest set reaching p
                ordered = ordered.masked_fill(drop, float("-inf"))
                row = torch.full_like(row, float("-inf")).scatter(0, idx, ordered)
            out[k] = row
        return out


def _batched_pair(a, b, prompt, *, seed, max_tokens, on_partial, cancel) -> tuple[Result, Result]:
    """One generate of two rows: A's settings on row 0, B's on row 1."""
    import torch
    from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

    settings = get_settings()
    spec = get_model(a.model, TASK_NAME)
    loaded = load_model(spec)
    tok, model = loaded.tokenizer, loaded.model
    sides = (("A", a), ("B", b))
    rows = [chat_ids(tok, prompt, c.params.get("system")) for _s, c in sides]
    limit = context_limit(loaded)
    width = max(len(r) for r in rows)
    new_tokens = max(1, min(int(max_tokens), limit - width))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos_ids = model.generation_config.eos_token_id
    eos = set(eos_ids if isinstance(eos_ids, list) else [eos_ids] if eos_ids is not None else [])
    if tok.eos_token_id is not None:
        eos.add(tok.eos_token_id)
    ids = torch.full((2, width), pad, dtype=torch.long)
    mask = torch.zeros((2, width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, width - len(r):] = torch.tensor(r)
        mask[k, width - len(r):] = 1
    deadline = float(settings.deadline_s)
    why: dict[str, str] = {}

    def length(row: list[int]) -> tuple[int, bool]:
        for k, t in enumerate(row):
            if t in eos:
                return k + 1, True
        return len(row), False

    def texts(streamer: TokenStreamer) -> list[tuple[str, int, bool]]:
        out = []
        for row in streamer.ids():
            n, ended = length(row)
            out.append((tok.decode(row[:n], skip_special_tokens=True), n, ended))
        return out

    def push(streamer: TokenStreamer) -> None:
        if on_partial is None or not streamer.times:
            return
        for (side, _c), (text, _n, _e) in zip(sides, texts(streamer), strict=True):
            try:
                on_partial(side, text)
            except Exception:  # a display callback never breaks the round
                pass

    class Halt(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # noqa: ARG002
            if not why:
                if cancel is not None and cancel.is_set():
                    why["reason"] = "stopped"
                elif time.perf_counter() - t0 > deadline:
                    why["reason"] = "deadline"
            return torch.full((input_ids.shape[0],), bool(why), dtype=torch.bool, device=input_ids.device)

    temps = [float(c.params.get("temperature") or 0.0) for _s, c in sides]
    top_ps = [float(c.params.get("top_p") if c.params.get("top_p") is not None else 1.0) for _s, c in sides]
    streamer = TokenStreamer(push, every_s=PUSH_EVERY_S)
    gen: dict[str, Any] = dict(
        input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device), max_new_tokens=new_tokens,
        streamer=streamer, pad_token_id=pad, stopping_criteria=StoppingCriteriaList([Halt()]), do_sample=True,
        temperature=1.0, top_p=1.0, top_k=0, logits_processor=LogitsProcessorList([_PerRowSampling(temps, top_ps)]))
    failure = None
    lock = loaded.extra.setdefault("lock", threading.Lock())
    with lock:
        torch.manual_seed(int(seed))
        started, t0 = time.time(), time.perf_counter()
        try:
            with torch.inference_mode():
                model.generate(**gen)
        except Exception as exc:  # reported on both sides, with the text so far
            failure = error_info(exc)
        end = time.perf_counter()
    first = streamer.first_token_at
    finals = texts(streamer) if streamer.steps else [("", 0, False)] * 2
    cost, basis = local_cost((end - t0) / 2, settings.local_usd_per_hour)
    results = []
    for k, ((_side, c), (text, n, ended)) in enumerate(zip(sides, finals, strict=True)):
        r = new_result(spec, TASK_NAME, 0, prompt)
        r.random_weights = r.random_weights or loaded.random_weights
        r.stand_in = loaded.stand_in
        r.notes.extend(loaded.notes)
        r.answered_by = loaded.folder or spec.ref
        row_end = streamer.times[n - 1] if n else end
        r.output, r.input_tokens, r.output_tokens = text, len(rows[k]), n
        r.started_at, r.ended_at, r.latency_s = started, started + (row_end - t0), row_end - t0
        r.ttft_s = (first - t0) if first is not None and n else None
        if n > 1 and first is not None and row_end > first:
            r.tokens_per_s = (n - 1) / (row_end - first)
        r.cost_usd, r.cost_basis = cost, basis
        r.cache = "off"
        r.finish_reason = "stop" if ended else "length"
        r.notes.append(f"generated together with the other side in one batched generate ({end - t0:.3g} s); "
                       f"settings {c.params}")
        if why.get("reason") == "stopped" and not ended:
            stopped(r, n)
        elif why.get("reason") == "deadline" and not ended:
            r.finish_reason = "deadline"
            r.error = error_info(DeadlineError(f"generation passed the {deadline:g} s deadline; the partial text is kept",
                                                "lower max_tokens, or raise oc.setup(deadline_s=...)"))
        elif failure is not None:
            r.error, r.finish_reason = failure, "error"
        results.append(r)
    return results[0], results[1]


__all__ = ["answer_pair", "same_local_model"]
