"""The openai client for one endpoint: where requests go, which key they
carry (never shown), one cached client per endpoint/key/settings, a bounded
number of requests in flight per endpoint, and a wall-clock deadline around
calls (the client's own timeout is per read)."""

from __future__ import annotations

import contextvars
import hashlib
import os
import threading
from typing import Any

from ...catalog.vendors import key_env_for
from ...core.secrets import Secret
from ...core.settings import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SERVED_PLACEHOLDER_KEY = "not-needed"

_lock = threading.Lock()
_clients: dict[tuple, Any] = {}
_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_sent: dict[tuple[str, str | None], int] = {}  # (request URL, "model" in its body) -> HTTP requests sent


class DeadlinePassed(Exception):
    """Internal: the wall-clock deadline passed."""


def endpoint_of(spec) -> str:
    """The URL requests for ``spec`` go to (closed models: OPENAI_BASE_URL or OpenAI's)."""
    return (spec.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def endpoint_semaphore(endpoint: str, limit: int) -> threading.BoundedSemaphore:
    limit = max(1, int(limit))
    with _lock:
        sem = _semaphores.get((endpoint, limit))
        if sem is None:
            sem = _semaphores[(endpoint, limit)] = threading.BoundedSemaphore(limit)
        return sem


def _count_request(request) -> None:
    """httpx request hook: count every HTTP request actually sent (retries and fallbacks included)."""
    import json

    model = None
    try:
        body = json.loads(request.content or b"{}")
        model = body.get("model") if isinstance(body, dict) else None
    except (ValueError, UnicodeDecodeError, RuntimeError):  # not JSON, or a streamed body
        pass
    url = str(request.url).split("?")[0]
    with _lock:
        _sent[(url, model)] = _sent.get((url, model), 0) + 1


def requests_sent(spec) -> int:
    """How many HTTP requests for ``spec`` (its endpoint and model id) this process has sent so far."""
    prefix = endpoint_of(spec) + "/"
    with _lock:
        return sum(n for (url, model), n in _sent.items() if model == spec.ref and url.startswith(prefix))


def api_key(spec, settings: Settings) -> Secret | str | None:
    """The key for ``spec``: a closed model's from the variable bound to its
    host (OPENAI_API_KEY only for OpenAI's endpoint or OPENAI_BASE_URL; a
    closed model at another host must name its own variable, or is refused
    here); a served model's from ``api_key_env`` if given, else a placeholder
    string (not a Secret: it must not be redacted out of texts)."""
    name = key_env_for(spec.base_url, spec.api_key_env, spec.name) if spec.family == "closed" else spec.api_key_env
    if name:
        secret = settings.key(name)
        if secret is None and os.environ.get(name):
            secret = Secret(os.environ[name], "environment")
        if secret:
            return secret
    if spec.family == "closed":
        return None
    return SERVED_PLACEHOLDER_KEY


def client_for(spec, secret: Secret | str, settings: Settings):
    """One ``openai.OpenAI`` per (endpoint, key, http client, retry/timeout settings)."""
    import httpx2
    import openai

    http_client = spec.extra.get("http_client")
    deadline = float(settings.deadline_s)
    key = secret.reveal() if isinstance(secret, Secret) else secret  # revealed only to build the client
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    ident = (endpoint_of(spec), fingerprint, id(http_client) if http_client is not None else None,
             int(settings.max_retries), deadline)
    with _lock:
        client = _clients.get(ident)
        if client is None:
            if http_client is None:
                http_client = openai.DefaultHttpxClient(event_hooks={"request": [_count_request]})
            elif _count_request not in http_client.event_hooks["request"]:
                http_client.event_hooks["request"].append(_count_request)
            client = openai.OpenAI(
                api_key=key, base_url=spec.base_url, max_retries=int(settings.max_retries),
                # per read: never longer than the whole call may take
                timeout=httpx2.Timeout(min(deadline, 600.0), connect=min(10.0, deadline)),
                http_client=http_client,
            )
            _clients[ident] = client
        return client


def run_with_deadline(fn, seconds: float):
    """``fn()`` in a helper thread; raise :class:`DeadlinePassed` if it takes longer
    than ``seconds`` (the thread is abandoned; its own read timeout ends it)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["exc"] = exc
        finally:
            done.set()

    # the caller's context (which model is calling, for the local-only guard) goes with the call
    threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True, name="oc-openai-call").start()
    if not done.wait(max(0.0, seconds)):
        raise DeadlinePassed
    if "exc" in box:
        raise box["exc"]
    return box["value"]


