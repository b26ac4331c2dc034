"""Errors from the ``openai`` client (closed APIs and OpenAI-compatible
servers alike) turned into :class:`ErrorInfo` with a hint that says what to do.
Never a key in any message."""

from __future__ import annotations

import json
from typing import Any

from ...catalog.vendors import vendor_of
from ...core.errors import LocalOnlyError, OpenClosedError
from ...core.secrets import redact
from ...engine.context import error_info
from ...engine.results import ErrorInfo
from .client import endpoint_of


def _where(spec) -> str:
    """How messages name the endpoint: the vendor's API, or the server at its base_url."""
    vendor = vendor_of(spec) if spec.family == "closed" else None
    if vendor is not None:
        return f"{vendor.name}'s API" + (f" ({spec.base_url})" if spec.base_url else "")
    return f"the server at {spec.base_url}" if spec.base_url else "the OpenAI API"


def malformed_hint(spec) -> str:
    where = f"the server at {spec.base_url}" if spec.base_url else "the API (or a proxy in between)"
    return (f"{where} answered, but not with an OpenAI-style JSON response: check that base_url ends in /v1 "
            "and points at an OpenAI-compatible server, then rerun")


def _body_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], dict):  # Gemini wraps its error in a list
        body = body[0]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict):
        msg = body.get("message") or body.get("detail") or body.get("error")
        if msg:
            return str(msg)
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return str(getattr(exc, "message", "") or exc)


def _served_models(client) -> list[str]:
    """What GET /models lists (quickly, no retries); [] if that fails too."""
    try:
        page = client.with_options(max_retries=0, timeout=3.0).models.list()
        return sorted(m.id for m in page.data)[:10]
    except Exception:  # noqa: BLE001 - only a hint
        return []


def _local_only_cause(exc: BaseException | None) -> LocalOnlyError | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, LocalOnlyError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def map_error(exc: BaseException, spec, client=None) -> ErrorInfo:
    """An exception from the client as an ErrorInfo that says what to do (never with a key)."""
    import openai

    where = _where(spec)
    refused = _local_only_cause(exc)
    if refused is not None:  # the client wraps the guard's refusal in a connection error: show the refusal
        return error_info(refused if refused.model else LocalOnlyError(refused.host, spec.name))
    if isinstance(exc, OpenClosedError):
        return error_info(exc)
    if isinstance(exc, openai.APIResponseValidationError):
        return ErrorInfo("MalformedResponse", f"{where} answered with data that does not fit the API's schema",
                         malformed_hint(spec))
    if isinstance(exc, json.JSONDecodeError):
        return ErrorInfo("MalformedResponse", f"{where} answered 200 but the body is not JSON ({exc.msg})",
                         malformed_hint(spec))
    if isinstance(exc, openai.APITimeoutError):
        return ErrorInfo("APITimeoutError", f"{where} did not answer in time (after the client's retries)",
                         "rerun later; for a slow server raise oc.setup(deadline_s=...)", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        if spec.base_url and (spec.family != "closed" or vendor_of(spec) is None):
            return ErrorInfo("APIConnectionError", f"no server answered at {spec.base_url}",
                             f"start the server (e.g. `transformers serve MODEL --port P`, `vllm serve`, "
                             f"`ollama serve`) or fix base_url in oc.register({spec.name!r}, base_url=...)",
                             retryable=True)
        return ErrorInfo("APIConnectionError", f"could not connect to {endpoint_of(spec)}",
                         "check the network (a workshop proxy?)" + ("" if spec.base_url else " or OPENAI_BASE_URL")
                         + ", then rerun", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status, msg, code = exc.status_code, _body_message(exc), (exc.code or "")
        text = f"{status} from {where}: {msg}"
        if isinstance(exc, openai.AuthenticationError):
            key = spec.api_key_env or "OPENAI_API_KEY"
            return ErrorInfo("AuthenticationError", text,
                             f"the key was refused: check {key} in your .env (no quotes or spaces), "
                             "or type a fresh one with oc.ask_for_key()")
        if isinstance(exc, openai.PermissionDeniedError):
            return ErrorInfo("PermissionDeniedError", text,
                             f"this key or project may not use {spec.ref!r} (or not from this region); "
                             "check the project's model access on the provider's dashboard")
        if isinstance(exc, openai.NotFoundError):
            hint = f"check the model name {spec.ref!r}"
            if spec.base_url and client is not None:
                served = _served_models(client)
                if served:
                    hint = (f"the server at {spec.base_url} serves {', '.join(map(repr, served))}; "
                            f"register it with model= one of those")
                else:
                    hint += f" and that {spec.base_url} is the server's /v1 address"
            return ErrorInfo("NotFoundError", text, hint)
        if status == 400 and (code == "content_policy_violation" or "content_policy" in msg.lower()
                              or "safety system" in msg.lower() or "content management policy" in msg.lower()):
            return ErrorInfo("ContentPolicyError", text,
                             "the provider's safety filter refused this input; rephrase it (it is not retried)")
        if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
            return ErrorInfo("BadRequestError", text,
                             "the server refused the request's parameters; check max_tokens/size/temperature "
                             "for this model (not retried)")
        if isinstance(exc, openai.RateLimitError):
            if code == "insufficient_quota" or "quota" in msg.lower():
                return ErrorInfo("RateLimitError", text,
                                 "the account is out of credit: add billing on the provider's dashboard, or "
                                 "replay recorded answers with oc.import_cache(path)")
            return ErrorInfo("RateLimitError", text + " (after the client's retries)",
                             "wait a minute and rerun (cached answers are kept), or lower "
                             "oc.setup(api_concurrency=...)", retryable=True)
        if isinstance(exc, openai.InternalServerError):
            return ErrorInfo("InternalServerError", text + " (after the client's retries)",
                             "the server failed; rerun later (cached answers are kept)", retryable=True)
        return ErrorInfo(type(exc).__name__, text, "see the message; rerun later if it looks temporary",
                         retryable=status in (408, 409) or status >= 500)
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        return ErrorInfo("StreamError", f"{where} reported an error mid-stream: {_body_message(exc)}",
                         "rerun this input; the partial text is kept", retryable=True)
    info = error_info(exc)
    info.message = redact(info.message)
    return info
