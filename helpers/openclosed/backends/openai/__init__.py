"""Closed APIs (OpenAI, Azure OpenAI) and open models behind any
OpenAI-compatible server (vLLM, Ollama, TGI, ``transformers serve``), through
the official ``openai`` client. (Closed models are introduced
in ``01_sentiment.ipynb``.)

One module, one way of calling, for both families:

* ``sentiment``: a chat completion with structured output (a JSON schema that
  allows only negative/neutral/positive), asked with the same zero-shot
  prompt the open LLMs get. A server that refuses ``json_schema`` is asked
  again once in plain text and the first label word is taken (noted).
* ``text-generation``: always streamed, so time to first token and tokens/s
  are measured the same way as for local models. A wall-clock deadline is
  enforced here (the client's timeout is per read: a trickling stream would
  never time out) and a stream that ends without a finish reason is reported
  as cut, with the partial text kept.
* ``image-generation``: ``images.generate``, decoded to a PIL image.

Inputs fan out over a bounded pool: at most ``api_concurrency`` requests in
flight per endpoint, shared by every model and call on that endpoint. The
client does the retrying (408/409/429/5xx/connection errors, honouring
``Retry-After``, ``max_retries`` from the settings); 400/401/403/404 are never
retried. Every failure becomes an error Result with a hint; API keys never
appear in a result, a message or a manifest.


The parts: :mod:`.client` (endpoint, key, client, deadline), :mod:`.structured`
(sentiment), :mod:`.streaming` (text generation), :mod:`.images`,
:mod:`.accounting` (tokens, $ and the spending cap) and :mod:`.errors`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ...catalog.vendors import check_not_retired
from ...core import netguard
from ...core.errors import MissingKeyError
from ...core.labels import LABELS
from ...core.settings import Settings
from ...engine.context import Item, RunContext, stopped
from ...engine.loaded import Loaded
from .client import api_key, client_for, endpoint_of, endpoint_semaphore, requests_sent
from .errors import map_error
from .images import image
from .streaming import generate
from .structured import SENTIMENT_SCHEMA, sentiment

LOCAL = False
CALLS = {"sentiment": sentiment, "text-generation": generate, "image-generation": image}


def endpoint(spec) -> str:
    """Where requests for ``spec`` go (closed models: ``OPENAI_BASE_URL`` or OpenAI's)."""
    return endpoint_of(spec)


def load(spec, settings: Settings) -> Loaded:
    """The client for ``spec``'s endpoint; a closed model without a key, or any
    endpoint beyond this machine while ``local_only`` is on, a closed model past its vendor's shutdown date,
    or one whose key variable does not belong to its host, is refused before any request."""
    check_not_retired(spec, settings.today)
    netguard.check_url(endpoint_of(spec), spec.name)
    secret = api_key(spec, settings)
    if secret is None:
        name = spec.api_key_env or "OPENAI_API_KEY"
        raise MissingKeyError(
            f"{spec.name!r} is a closed API model and no {name} was found; no request was sent",
            f"add {name}=sk-... to a .env file next to the notebooks (then oc.setup()), call oc.ask_for_key(), "
            "or replay an instructor's recorded answers with oc.import_cache(path)")
    return Loaded(spec, client_for(spec, secret, settings), folder=endpoint_of(spec), device="api")


def missing_key(spec, settings: Settings) -> str:
    """Why ``spec`` cannot be called for want of a usable key ("" when it has one)."""
    try:
        if api_key(spec, settings) is not None:
            return ""
    except Exception as exc:  # a key variable that does not belong to the host: refused the same way at load
        return str(getattr(exc, "message", exc))
    return f"no {spec.api_key_env or 'OPENAI_API_KEY'} set"


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """Emit one Result per item; never raises for a per-input failure. Inputs
    fan out over a pool, at most ``api_concurrency`` requests in flight per endpoint."""
    spec, client = ctx.spec, loaded.model
    if ctx.task == "sentiment":
        ctx.label_map = {f"JSON schema label {lab!r} (plain-text fallback: first label word)": lab for lab in LABELS}
    sem = endpoint_semaphore(endpoint_of(spec), ctx.settings.api_concurrency)
    one = CALLS[ctx.task]

    def do(item: Item) -> None:
        if ctx.cancelled:  # Stop pressed: no new request is sent
            ctx.emit(stopped(ctx.result(item), 0))
            return
        with sem, netguard.attribute(spec.name):
            try:
                r = one(spec, client, item, ctx)
            except Exception as exc:  # a bug here must still give this input a result
                r = ctx.result(item)
                r.error = map_error(exc, spec, client)
        ctx.emit(r)

    workers = max(1, min(len(items), int(ctx.settings.api_concurrency)))
    if workers == 1:
        for item in items:
            do(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"oc-api-{spec.name}") as pool:
        list(pool.map(do, items))


__all__ = ["LOCAL", "SENTIMENT_SCHEMA", "endpoint", "load", "missing_key", "requests_sent", "run"]
