"""Open models in this kernel with transformers: sequence classifiers and
zero-shot LLMs for sentiment, streaming chat generation for text."""

from __future__ import annotations

import threading
import time

from ..core.errors import DeadlineError
from ..core.labels import LABELS, label_map, zero_shot_messages
from ..core.settings import Settings
from ..engine.context import Item, RunContext, emit_batch, error_info, peak_memory
from ..engine.loaded import Loaded, torch_dtype
from ..engine.pricing import local_cost
from .files import model_files

LOCAL = True

BATCH_TOKENS = 4096  # padded tokens per forward pass: short texts go in big batches, long ones in small
MAX_BATCH = 64
LLM_TEXT_TOKENS = 512  # zero-shot: longer texts are cut to this many tokens before prompting
# zero-shot batches are smaller: each row also carries the shared prefix's key/value cache (memory), and on
# CPU they were as fast or faster (SmolLM2-135M, 180 bundled texts: 1024/32 took 19 s and no memory above
# the loaded model, 4096/64 took 24 s and +320 MB)
LLM_BATCH_TOKENS = 1024
LLM_MAX_BATCH = 32
MIN_SHARED_PREFIX = 8  # zero-shot: a prompt prefix shared by every input is run once when at least this long


def load(spec, settings: Settings) -> Loaded:
    """Tokenizer + model (a sequence classifier for ``arch="classifier"``, else a causal LM)."""
    import transformers

    started = time.perf_counter()
    files = model_files(spec, settings)
    auto = (transformers.AutoModelForSequenceClassification if spec.arch == "classifier"
            else transformers.AutoModelForCausalLM)
    tok = transformers.AutoTokenizer.from_pretrained(files.where, trust_remote_code=False, **files.kwargs)
    model = auto.from_pretrained(files.where, dtype=torch_dtype(settings.dtype), trust_remote_code=False,
                                 use_safetensors=True, **files.kwargs)
    model.to(settings.device).eval()
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return Loaded(spec, model, tokenizer=tok, folder=files.where, dtype=settings.dtype, device=settings.device,
                  load_s=time.perf_counter() - started, random_weights=files.random_weights,
                  stand_in=files.stand_in, notes=[files.note] if files.note else [])


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    # models are cached per folder, so one Loaded may serve several names: results use ctx.spec
    if ctx.task == "sentiment":
        (_classify if ctx.spec.arch == "classifier" else _zero_shot)(loaded, items, ctx)
    else:
        for item in items:
            _generate(loaded, item, ctx)


def _max_len(loaded: Loaded) -> int:
    cfg = loaded.model.config
    limits = [loaded.tokenizer.model_max_length, getattr(cfg, "max_position_embeddings", 512), 512]
    return int(min(x for x in limits if x))


def _batches(lengths: list[int], budget: int = BATCH_TOKENS, max_batch: int = MAX_BATCH) -> list[list[int]]:
    """Indices sorted by length (ties keep input order), cut into batches of
    at most ``budget`` padded tokens and ``max_batch`` rows.

    Sorting means each batch holds texts of similar length, so almost no
    compute goes to padding; results are put back in input order by the caller.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < max_batch and (len(out[-1]) + 1) * max(1, lengths[i]) <= budget:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _classify(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """A sequence classifier on the whole list at once: tokenized once, sorted
    by length into batches, run under ``torch.inference_mode``, results in
    input order."""
    import torch

    tok, model = loaded.tokenizer, loaded.model
    started = time.time()  # the time includes tokenizing
    limit = _max_len(loaded)
    texts = [t for _, t in items]
    enc = dict(tok(texts, truncation=False, verbose=False))  # one pass; verbose=False: no over-length warning
    full_lengths = [len(x) for x in enc["input_ids"]]
    long_rows = [i for i, n in enumerate(full_lengths) if n > limit]
    if long_rows:  # re-encode only the over-long texts, truncated the tokenizer's way (special tokens kept)
        cut = tok([texts[i] for i in long_rows], truncation=True, max_length=limit)
        for key in enc:
            for j, i in enumerate(long_rows):
                enc[key][i] = cut[key][j]
    lengths = [len(x) for x in enc["input_ids"]]
    id2label = model.config.id2label
    mapping = ctx.spec.extra.get("label_map") or label_map(id2label)
    ctx.label_map = dict(mapping)
    columns = [mapping[id2label[j]] for j in range(len(id2label))]
    probs: list = [None] * len(texts)
    with peak_memory(loaded.device) as mem:
        with torch.inference_mode():
            for batch in _batches(lengths):
                padded = tok.pad({k: [v[i] for i in batch] for k, v in enc.items()}, return_tensors="pt")
                p = model(**padded.to(loaded.device)).logits.float().softmax(-1).cpu().tolist()
                for row, i in enumerate(batch):
                    probs[i] = p[row]
        ended = time.time()
    outs = []
    for i, p in enumerate(probs):
        summed: dict[str, float] = {}
        for lab, v in zip(columns, p, strict=True):  # two model labels may map onto one of ours: add them
            summed[lab] = summed.get(lab, 0.0) + v
        best = max(summed, key=summed.get)  # decided before rounding: near-ties must not flip
        scores = {lab: round(v, 4) for lab, v in summed.items()}
        out = {"output": best, "confidence": scores[best], "scores": scores, "input_tokens": lengths[i]}
        if full_lengths[i] > limit:
            out["notes"] = [f"truncated from {full_lengths[i]} to the first {limit} tokens (the model's limit)"]
        outs.append(out)
    emit_batch(ctx, items, outs, started, ended, mem["mb"],
               note="labels: " + ", ".join(f"{k}->{v}" for k, v in mapping.items()))


def _label_token_ids(tok) -> dict[str, list[int]]:
    """First token ids of each label's spellings ('negative', 'Negative', ' negative')."""
    out = {}
    for lab in LABELS:
        ids = {tok.encode(v, add_special_tokens=False)[0] for v in (lab, lab.capitalize(), " " + lab)}
        out[lab] = sorted(ids)
    firsts = [i for v in out.values() for i in v]
    if len(firsts) != len(set(firsts)):
        raise ValueError("the labels share a first token in this tokenizer; zero-shot scoring is ambiguous")
    return out


def _shared_prefix(rows: list[list[int]]) -> int:
    """Length of the token prefix every row shares, leaving each row at least one token."""
    n = min(len(r) for r in rows) - 1
    first = rows[0]
    for r in rows[1:]:
        k = 0
        while k < n and r[k] == first[k]:
            k += 1
        n = k
    return max(0, n)


def _zero_shot(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """Label by comparing the next-token logits of the label words: no free
    text to parse, and a probability for each label.

    Speed: the prompt's shared beginning (system message and instruction) is
    run once and its key/value cache reused for every batch; the rest is
    sorted by length and left-padded into batches; only the last position's
    logits are computed. The scores equal those of one prompt at a time.
    """
    import copy

    import torch

    tok, model = loaded.tokenizer, loaded.model
    started = time.time()  # the time includes building and tokenizing the prompts
    label_ids = _label_token_ids(tok)
    prompts, notes = [], []
    for _, text in items:
        ids = tok.encode(text, add_special_tokens=False)
        note = []
        if len(ids) > LLM_TEXT_TOKENS:
            text = tok.decode(ids[:LLM_TEXT_TOKENS])
            note.append(f"text cut from {len(ids)} to the first {LLM_TEXT_TOKENS} tokens before prompting")
        prompts.append(tok.apply_chat_template(zero_shot_messages(text), add_generation_prompt=True, tokenize=False))
        notes.append(note)
    rows = tok(prompts, add_special_tokens=False)["input_ids"]
    prompt_tokens = [len(r) for r in rows]
    shared = _shared_prefix(rows)
    if shared < MIN_SHARED_PREFIX:
        shared = 0
    tails = [r[shared:] for r in rows]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    select = [torch.tensor(v) for v in label_ids.values()]
    results: list = [None] * len(items)
    with peak_memory(loaded.device) as mem:
        with torch.inference_mode():
            prefix = None
            if shared:
                prefix = model(input_ids=torch.tensor([rows[0][:shared]], device=loaded.device),
                               use_cache=True).past_key_values
            for batch in _batches([len(t) for t in tails], LLM_BATCH_TOKENS, LLM_MAX_BATCH):
                width = max(len(tails[i]) for i in batch)
                ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # left padding: every prompt ends in the last column
                    n = len(tails[i])
                    ids[row, width - n:] = torch.tensor(tails[i])
                    mask[row, width - n:] = 1
                pos = shared + (mask.cumsum(-1) - 1).clamp(min=0)
                kw = {}
                if prefix is not None:
                    past = copy.deepcopy(prefix)
                    past.batch_repeat_interleave(len(batch))
                    kw["past_key_values"] = past
                    mask = torch.cat([torch.ones((len(batch), shared), dtype=torch.long), mask], dim=1)
                logits = model(input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device),
                               position_ids=pos.to(loaded.device), use_cache=prefix is not None,
                               logits_to_keep=1, **kw).logits[:, -1, :].float().cpu()
                per_label = torch.stack([logits[:, s].logsumexp(-1) for s in select], dim=-1).softmax(-1)
                for row, i in enumerate(batch):
                    results[i] = per_label[row].tolist()
        ended = time.time()
    outs = []
    for i, p in enumerate(results):
        best = LABELS[max(range(len(LABELS)), key=p.__getitem__)]  # decided before rounding
        scores = {lab: round(v, 4) for lab, v in zip(LABELS, p, strict=True)}
        outs.append({"output": best, "confidence": scores[best], "scores": scores, "input_tokens": prompt_tokens[i],
                     "notes": notes[i]})
    ctx.label_map = {
        "next token " + " | ".join(repr(tok.decode([i])) for i in ids): lab for lab, ids in label_ids.items()}
    emit_batch(ctx, items, outs, started, ended, mem["mb"],
               note="zero-shot: next-token probabilities of the three label words"
                    + (f"; the {shared}-token shared prompt prefix was computed once" if shared else ""))


def _generate(loaded: Loaded, item: Item, ctx: RunContext) -> None:
    """Stream one chat answer; measure time to first token and tokens/s."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    tok, model = loaded.tokenizer, loaded.model
    p = ctx.params
    r = ctx.result(item)
    messages = ([{"role": "system", "content": p["system"]}] if p.get("system") else []) + [
        {"role": "user", "content": item[1]}]
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True,
                                  return_tensors="pt").to(loaded.device)
    r.input_tokens = int(enc["input_ids"].shape[-1])
    stop = threading.Event()

    class Deadline(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):  # noqa: ARG002
            return stop.is_set()

    class TimedStreamer(TextIteratorStreamer):
        """Notes when the first generated token arrives (even one that decodes to no text)."""

        first_token_at: float | None = None

        def put(self, value):
            if self.first_token_at is None and not self.next_tokens_are_prompt:
                self.first_token_at = time.perf_counter()
            super().put(value)

    streamer = TimedStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=ctx.settings.deadline_s)
    temperature = float(p.get("temperature") or 0.0)
    gen = dict(**enc, max_new_tokens=int(p.get("max_tokens", 128)), streamer=streamer,
               do_sample=temperature > 0, pad_token_id=tok.pad_token_id,
               stopping_criteria=StoppingCriteriaList([Deadline()]))
    if temperature > 0:
        gen.update(temperature=temperature, top_p=float(p.get("top_p", 1.0)))
    box: dict = {}
    lock = loaded.extra.setdefault("lock", threading.Lock())

    def work() -> None:
        try:
            with torch.inference_mode():
                box["out"] = model.generate(**gen)
        except Exception as exc:  # reported below, never lost
            box["exc"] = exc
            streamer.on_finalized_text("", stream_end=True)

    text = ""
    with lock, peak_memory(loaded.device) as mem:
        torch.manual_seed(int(p.get("seed") or 0))
        r.started_at = time.time()
        t0 = time.perf_counter()
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            for piece in streamer:
                text += piece
                ctx.partial(item[0], text)
                if time.perf_counter() - t0 > ctx.settings.deadline_s:
                    stop.set()
        except Exception as exc:  # the streamer's own timeout
            box.setdefault("exc", exc)
            stop.set()
        worker.join()
        end = time.perf_counter()
        first = streamer.first_token_at
    r.ended_at = time.time()
    r.output, r.latency_s, r.peak_memory_mb = text, end - t0, mem["mb"]
    r.ttft_s = (first - t0) if first else None
    if "out" in box:
        r.output_tokens = int(box["out"].shape[-1] - r.input_tokens)
        r.finish_reason = "length" if r.output_tokens >= gen["max_new_tokens"] else "stop"
        if r.output_tokens > 1 and first and end > first:
            r.tokens_per_s = (r.output_tokens - 1) / (end - first)
    r.cost_usd, r.cost_basis = local_cost(r.latency_s, ctx.settings.local_usd_per_hour)
    if stop.is_set():
        r.finish_reason = "deadline"
        r.error = error_info(DeadlineError(
            f"generation passed the {ctx.settings.deadline_s:g} s deadline; the partial text is kept",
            "lower max_tokens, or raise oc.setup(deadline_s=...)"))
    elif "exc" in box:
        r.error = error_info(box["exc"])
    ctx.emit(r)


