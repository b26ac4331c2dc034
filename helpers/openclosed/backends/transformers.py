"""Open models in this kernel with transformers: sequence classifiers and
zero-shot LLMs for sentiment, streaming chat generation for text."""

from __future__ import annotations

import time

from ..core.labels import LABELS, label_map, zero_shot_messages
from ..core.settings import Settings
from ..engine.context import Item, RunContext, emit_batch, peak_memory
from ..engine.loaded import Loaded, torch_dtype
from .files import model_files
from .transformers_chat import generate_chat

LOCAL = True

BATCH_TOKENS = 4096  # padded tokens per forward pass: short texts go in big batches, long ones in small
MAX_BATCH = 64
LLM_TEXT_TOKENS = 512  # zero-shot: longer texts are cut to this many tokens before prompting
# zero-shot batches are smaller: each row also carries a copy of the shared prefix's key/value cache (memory)
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
        generate_chat(loaded, items, ctx)


def _max_len(loaded: Loaded) -> int:
    cfg = loaded.model.config
    limits = [loaded.tokenizer.model_max_length, getattr(cfg, "max_position_embeddings", 512), 512]
    return int(min(x for x in limits if x))


def _batches(lengths: list[int], budget: int = BATCH_TOKENS, max_batch: int = MAX_BATCH) -> list[list[int]]:
    """Indices sorted by length (ties keep input order), cut into batches of
    texts of the *same* length, at most ``budget`` tokens and ``max_batch`` rows.

    No padding at all: in bfloat16, padding changes the order of the sums
    inside attention enough to move probabilities by ~0.01, so a text's
    scores would depend on its neighbours. Rows of an unpadded batch are
    computed independently. Results are put back in input order by the caller.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    out: list[list[int]] = []
    for i in order:
        last = out[-1] if out else None
        if (last and lengths[last[0]] == lengths[i] and len(last) < max_batch
                and (len(last) + 1) * max(1, lengths[i]) <= budget):
            last.append(i)
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


def _equal_length_batches(rows: list[list[int]], starts: list[int]) -> list[list[int]]:
    """Indices grouped by (start, length) with no padding needed, at most LLM_MAX_BATCH rows each,
    shortest first (ties keep input order)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (r, start) in enumerate(zip(rows, starts, strict=True)):
        groups.setdefault((start, len(r)), []).append(i)
    out = []
    for key in sorted(groups, key=lambda k: (k[1] - k[0], k[0])):
        members = groups[key]
        out += [members[k:k + LLM_MAX_BATCH] for k in range(0, len(members), LLM_MAX_BATCH)]
    return out


def _template_prefix(tok) -> list[int]:
    """The tokens every zero-shot prompt starts with whatever the text: the
    common prefix of the prompts for a few unlike one-character texts. It
    does not depend on the inputs, so a text is split the same way between
    the cached prefix and its own tokens alone or among many."""
    dummies = ["a", "Z", "1", "?", "\u00e9", "\U0001F600"]
    prompts = [tok.apply_chat_template(zero_shot_messages(t), add_generation_prompt=True, tokenize=False)
               for t in dummies]
    rows = tok(prompts, add_special_tokens=False)["input_ids"]
    n = _shared_prefix(rows)
    return rows[0][:n] if n >= MIN_SHARED_PREFIX else []


def _zero_shot(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """Label by comparing the next-token logits of the label words: no free
    text to parse, and a probability for each label.

    A text's scores must not depend on which other texts are in the call. In
    bfloat16 they did (by ~0.01-0.03): padding and a prompt split between the
    cached prefix and the rest that changed with the batch reorder the sums
    inside attention, which flips roundings that grow over 30 layers. So:
    the prompt template's own beginning (the same for every text) is run
    once and its key/value cache reused; texts whose remaining tokens have
    the same length run together with no padding at all (rows of a batch are
    computed independently); and the label logits are taken in float32 from
    the last hidden state. Scores are then the same alone or among many.
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
    prefix_ids = _template_prefix(tok)
    shared = len(prefix_ids)
    uses_prefix = [shared > 0 and len(r) > shared and r[:shared] == prefix_ids for r in rows]
    # float32 label logits from the hidden state the output layer sees (unless the model post-processes logits)
    cfg = model.config
    head = model.get_output_embeddings()
    fp32_head = head is not None and not any(
        getattr(cfg, a, None) for a in ("final_logit_softcapping", "logit_scale", "logits_scaling"))
    flat = [i for v in label_ids.values() for i in v]
    groups, k = [], 0
    for v in label_ids.values():
        groups.append(slice(k, k + len(v)))
        k += len(v)
    if fp32_head:
        w32 = head.weight[flat].float()
        b32 = head.bias[flat].float() if getattr(head, "bias", None) is not None else None
        seen: dict = {}
        hook = head.register_forward_hook(lambda _m, args, _o: seen.__setitem__("h", args[0]))
    results: list = [None] * len(items)
    try:
        with peak_memory(loaded.device) as mem:
            with torch.inference_mode():
                prefix = None
                if any(uses_prefix):
                    prefix = model(input_ids=torch.tensor([prefix_ids], device=loaded.device),
                                   use_cache=True).past_key_values
                for batch in _equal_length_batches(rows, [shared if u else 0 for u in uses_prefix]):
                    start = shared if uses_prefix[batch[0]] else 0
                    n = len(batch)
                    kw = {}
                    if start:
                        past = copy.deepcopy(prefix)
                        if n > 1:
                            past.batch_repeat_interleave(n)
                        kw = {"past_key_values": past, "use_cache": True}
                    width = len(rows[batch[0]])
                    ids = torch.tensor([rows[i][start:] for i in batch], device=loaded.device)
                    out = model(input_ids=ids, position_ids=torch.arange(start, width, device=loaded.device)[None]
                                .expand(n, -1), logits_to_keep=1, **kw)
                    if fp32_head:
                        logits = seen.pop("h")[:, -1].float() @ w32.T
                        if b32 is not None:
                            logits = logits + b32
                    else:
                        logits = out.logits[:, -1].float()[:, flat]
                    logits = logits.cpu()
                    per_label = torch.stack([logits[:, g].logsumexp(-1) for g in groups], dim=-1).softmax(-1)
                    for row, i in enumerate(batch):
                        results[i] = per_label[row].tolist()
            ended = time.time()
    finally:
        if fp32_head:
            hook.remove()
    outs = []
    for i, p in enumerate(results):
        best = LABELS[max(range(len(LABELS)), key=p.__getitem__)]  # decided before rounding
        scores = {lab: round(v, 4) for lab, v in zip(LABELS, p, strict=True)}
        outs.append({"output": best, "confidence": scores[best], "scores": scores, "input_tokens": prompt_tokens[i],
                     "notes": notes[i]})
    ctx.label_map = {
        "next token " + " | ".join(repr(tok.decode([i])) for i in ids): lab for lab, ids in label_ids.items()}
    emit_batch(ctx, items, outs, started, ended, mem["mb"],
               note="zero-shot: next-token probabilities of the three label words (texts of equal length batched, no padding)"
                    + (f"; the {shared}-token shared prompt prefix (the template's start) was computed once" if any(uses_prefix) else ""))


def text_predictions(loaded: Loaded, text: str) -> tuple[list[int], list[int]]:
    """(the tokens of ``text``, the model's most likely next token after each prefix of it), one forward pass."""
    import torch

    ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = loaded.model(input_ids=torch.tensor([ids], device=loaded.device)).logits[0]
    return list(ids), logits.float().argmax(-1).cpu().tolist()
