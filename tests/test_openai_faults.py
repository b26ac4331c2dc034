"""The openai backend under faults: every failure ends as the documented error
Result, with the right number of requests (the client retries 408/409/429/5xx/
timeouts and nothing else), and the other model in the comparison is unharmed.
Requests never leave the process: the client's http_client is an
``httpx2.MockTransport`` (see openai_fakes.py). No real key is used."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx2
import pytest
from openai_fakes import (
    FAKE_KEY,
    FakeAPI,
    always,
    chat_response,
    error_response,
    not_json_response,
    register_fake,
    sentiment_response,
    sequence,
    smart,
    stream_response,
    use_key,
)

import openclosed as oc
from openclosed.backends.openai import errors as openai_errors
from openclosed.core.labels import zero_shot_messages

TEXTS = ["I loved every minute of it.", "Terrible service, never again.", "It was a film."]


@pytest.fixture
def key(monkeypatch):
    """A recognisable fake key, found the way a user's would be; fast retries."""
    return use_key(monkeypatch, max_retries=2)


def _other_model_complete(run, model: str) -> None:
    rs = [r for r in run.results if r.model == model]
    assert len(rs) == len(run.inputs)
    assert all(r.ok and r.output for r in rs), [str(r.error) for r in rs]


def _sentiment(fake: FakeAPI, texts=TEXTS):
    register_fake("fake-closed", fake, task="sentiment")
    return oc.compare("sentiment", ["fake-closed", "vader"], texts, progress=False, cache="off")


def _generate(fake: FakeAPI, texts=TEXTS, **params):
    register_fake("fake-closed", fake, task="text-generation")
    register_fake("fake-ok", FakeAPI(), task="text-generation", family="served", model="ok-model")
    return oc.compare("text-generation", ["fake-closed", "fake-ok"], texts, progress=False, cache="off", **params)


# ------------------------------------------------------------------- happy path
def test_sentiment_structured_output_request_and_result(key):
    fake = FakeAPI()
    run = _sentiment(fake)
    assert fake.count == len(TEXTS)
    body = fake.bodies()[0]
    assert body["model"] == "gpt-6-luna" and body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["schema"]["properties"]["label"]["enum"] == [
        "negative", "neutral", "positive"]
    # the same question the open LLMs get (requests run concurrently: any order)
    assert sorted(json.dumps(b["messages"]) for b in fake.bodies()) == sorted(
        json.dumps(zero_shot_messages(t)) for t in TEXTS)
    r = run.result("fake-closed", 0)
    assert r.ok and r.output == "positive" and r.confidence == pytest.approx(0.9)
    assert r.answered_by == "gpt-6-luna-fake-snapshot" and r.family == "closed"
    assert r.input_tokens == 42 and r.output_tokens == 7
    assert r.cost_usd and r.cost_usd > 0 and "genai-prices" in r.cost_basis
    assert r.latency_s is not None and r.started_at <= r.ended_at
    _other_model_complete(run, "vader")


def test_generation_streams_with_timings(key):
    fake = FakeAPI()
    partials = []
    register_fake("fake-closed", fake, task="text-generation")
    run = oc.compare("text-generation", ["fake-closed"], TEXTS[:1], progress=False, cache="off",
                     on_partial=lambda m, i, t: partials.append(t), system="Be brief.", max_tokens=16, seed=3)
    body = fake.bodies()[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_completion_tokens"] == 16 and body["seed"] == 3
    r = run.result("fake-closed")
    assert r.ok and r.output == "Hello from the fake." and r.finish_reason == "stop"
    assert partials[-1] == r.output and len(partials) == 5
    assert r.ttft_s is not None and 0 <= r.ttft_s <= r.latency_s
    assert r.output_tokens == 5 and r.tokens_per_s and r.tokens_per_s > 0


def test_image_generation_decodes_png_and_prices_it(key):
    fake = FakeAPI()
    register_fake("fake-image", fake, task="image-generation", model="gpt-image-2")
    run = oc.compare("image-generation", ["fake-image"], ["a red square"], progress=False, cache="off",
                     size="1024x1024")
    r = run.result("fake-image")
    assert r.ok and r.image is not None and r.image.size == (8, 8)
    assert r.cost_usd and r.cost_usd > 0
    body = fake.bodies()[0]
    assert body["model"] == "gpt-image-2" and body["size"] == "1024x1024" and "response_format" not in body


# ------------------------------------------------------------------------ 429
def _stamped(handler, stamps: list[float]):
    """``handler``, noting when (time.monotonic) each request reached the fake server."""

    def wrapped(request):
        stamps.append(time.monotonic())
        return handler(request)

    return wrapped


@pytest.fixture
def retry_waits(monkeypatch):
    """The waits the openai client chose before each retry (Retry-After or its own backoff)."""
    from openai._base_client import BaseClient

    waits: list[float] = []
    real = BaseClient._calculate_retry_timeout

    def spy(self, *a, **kw):
        waits.append(real(self, *a, **kw))
        return waits[-1]

    monkeypatch.setattr(BaseClient, "_calculate_retry_timeout", spy)
    return waits


def test_429_with_retry_after_then_success(key, retry_waits):
    stamps: list[float] = []
    fake = FakeAPI(_stamped(sequence(error_response(429, "slow down", code="rate_limit_exceeded", type_="requests",
                                                    headers={"Retry-After": "1"}), sentiment_response("negative")),
                            stamps))
    run = _sentiment(fake, TEXTS[:1])
    assert fake.count == len(stamps) == 2
    r = run.result("fake-closed")
    assert r.ok and r.output == "negative"
    assert retry_waits == [1.0]  # the client waited as the server asked...
    assert stamps[1] - stamps[0] >= 0.95  # ...and the retry reached the server only after that
    _other_model_complete(run, "vader")


def test_429_always_ends_as_retryable_rate_limit(key, retry_waits):
    stamps: list[float] = []
    fake = FakeAPI(_stamped(always(error_response(429, "slow down", code="rate_limit_exceeded",
                                                  headers={"Retry-After": "0.05"})), stamps))
    run = _sentiment(fake, TEXTS[:1])
    assert fake.count == len(stamps) == key.max_retries + 1 == 3
    r = run.result("fake-closed")
    assert r.error.type == "RateLimitError" and r.error.retryable is True
    assert "api_concurrency" in r.error.hint
    # Retry-After (0.05 s) was honoured instead of the default backoff (0.5 s, then 1 s, with jitter)
    assert retry_waits == [0.05, 0.05]
    assert all(b - a >= 0.045 for a, b in zip(stamps, stamps[1:]))
    _other_model_complete(run, "vader")


def test_429_insufficient_quota_says_billing(key):
    fake = FakeAPI(always(error_response(429, "You exceeded your current quota", code="insufficient_quota",
                                         type_="insufficient_quota", headers={"Retry-After": "0.01"})))
    r = _sentiment(fake, TEXTS[:1]).result("fake-closed")
    assert r.error.type == "RateLimitError" and r.error.retryable is False
    assert "import_cache" in r.error.hint


# ------------------------------------------------------------------------ 5xx
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_always_ends_as_retryable_server_error(monkeypatch, status):
    s = use_key(monkeypatch, max_retries=1)
    fake = FakeAPI(always(error_response(status, "upstream broke", type_="server_error")))
    run = _sentiment(fake)
    assert fake.count == len(TEXTS) * (s.max_retries + 1)
    for i in range(len(TEXTS)):
        r = run.result("fake-closed", i)
        assert r.error.type == "InternalServerError" and r.error.retryable is True
        assert str(status) in r.error.message
    _other_model_complete(run, "vader")


def test_500_then_success_is_retried(key):
    fake = FakeAPI(sequence(error_response(500, "oops", type_="server_error"), smart()))
    run = _sentiment(fake, TEXTS[:1])
    assert fake.count == 2 and run.result("fake-closed").ok


# --------------------------------------------------------------------- timeout
def test_read_timeout_is_retried_then_reported(monkeypatch):
    s = use_key(monkeypatch, max_retries=1)

    def timeout(request):
        raise httpx2.ReadTimeout("timed out", request=request)

    fake = FakeAPI(timeout)
    run = _sentiment(fake, TEXTS[:1])
    assert fake.count == s.max_retries + 1
    r = run.result("fake-closed")
    assert r.error.type == "APITimeoutError" and r.error.retryable is True
    _other_model_complete(run, "vader")


def test_trickling_stream_hits_the_wall_clock_deadline(monkeypatch):
    deadline = 0.6
    use_key(monkeypatch, deadline_s=deadline)
    stop = threading.Event()
    # 50 pieces, 0.1 s apart: the whole stream would take 5 s, far past the deadline
    fake = FakeAPI(lambda req: stream_response([f" w{i}" for i in range(50)], delay=0.1, stop=stop))
    try:
        run = _generate(fake, TEXTS[:2])
    finally:
        stop.set()
    for i in range(2):
        r = run.result("fake-closed", i)
        assert r.error.type == "DeadlineError" and r.error.retryable is True
        assert r.finish_reason == "deadline"
        # the partial text is kept, and the stream was cut before its end
        assert r.output.startswith(" w0") and 0 < len(r.output.split()) < 50
        assert r.latency_s < deadline + 10  # ended by the deadline, not by the end of the stream (generous)
    _other_model_complete(run, "fake-ok")


def test_silent_server_hits_the_deadline_for_plain_calls(monkeypatch):
    deadline = 0.4
    use_key(monkeypatch, deadline_s=deadline, max_retries=0)
    release = threading.Event()
    answered = threading.Event()

    def hang(request):
        release.wait(60)  # silent until the test lets go (or a minute: then the deadline did not work)
        answered.set()
        return sentiment_response()

    fake = FakeAPI(hang)
    try:
        run = _sentiment(fake, TEXTS[:1])
        answered_before_return = answered.is_set()
    finally:
        release.set()
    assert not answered_before_return  # compare() gave up on the silent server; it did not wait for it
    r = run.result("fake-closed")
    assert r.error.type == "DeadlineError" and fake.count == 1
    assert r.latency_s is None or r.latency_s < deadline + 10
    _other_model_complete(run, "vader")


# ------------------------------------------------------------- malformed data
def test_200_that_is_not_json_is_malformed_response(key):
    fake = FakeAPI(always(not_json_response()))
    run = _sentiment(fake, TEXTS[:1])
    r = run.result("fake-closed")
    assert r.error.type == "MalformedResponse" and "not JSON" in r.error.message
    assert fake.count == 1  # not retried
    _other_model_complete(run, "vader")


def test_label_outside_the_set_keeps_raw_text(key):
    raw = json.dumps({"label": "ecstatic", "confidence": 1.0})
    fake = FakeAPI(always(chat_response(raw)))
    r = _sentiment(fake, TEXTS[:1]).result("fake-closed")
    assert r.error.type == "MalformedResponse" and r.output == raw


def test_unparseable_json_answer_is_malformed_for_closed_models(key):
    fake = FakeAPI(always(chat_response('{"label": "positive", ')))
    r = _sentiment(fake, TEXTS[:1]).result("fake-closed")
    assert r.error.type == "MalformedResponse" and r.output == '{"label": "positive", '


def test_malformed_json_inside_a_stream(key):
    def broken(request):
        body = b'data: {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", ' \
               b'"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}\n\n' \
               b"data: {not json\n\n"
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    run = _generate(FakeAPI(broken), TEXTS[:1])
    r = run.result("fake-closed")
    assert r.error.type == "MalformedResponse" and r.output == "Hi"
    _other_model_complete(run, "fake-ok")


def test_stream_cut_midway_keeps_partial_text(key):
    fake = FakeAPI(lambda req: stream_response(["Hello", " from", " the", " fake"], cut_after=2, usage=False))
    run = _generate(fake)
    for i in range(len(TEXTS)):
        r = run.result("fake-closed", i)
        assert r.error.type == "StreamCutError" and r.error.retryable is True
        assert r.output == "Hello from" and r.finish_reason is None
    assert fake.count == len(TEXTS)  # errors while iterating are not retried
    _other_model_complete(run, "fake-ok")


def test_stream_without_usage_counts_chunks(key):
    fake = FakeAPI(lambda req: stream_response(["a", "b", "c"], usage=False))
    r = _generate(fake, TEXTS[:1]).result("fake-closed")
    assert r.ok and r.output_tokens == 3 and any("chunks" in n for n in r.notes)


# ----------------------------------------------------------------- 4xx: no retry
def test_401_bad_key_is_not_retried(key):
    fake = FakeAPI(always(error_response(401, f"Incorrect API key provided: {FAKE_KEY}.",
                                         code="invalid_api_key")))
    run = _sentiment(fake)
    assert fake.count == len(TEXTS)  # one request per input, no retry
    r = run.result("fake-closed")
    assert r.error.type == "AuthenticationError" and r.error.retryable is False
    assert "OPENAI_API_KEY" in r.error.hint and "ask_for_key" in r.error.hint
    assert FAKE_KEY not in str(r.error)
    _other_model_complete(run, "vader")


def test_403_and_404_are_not_retried(key):
    fake = FakeAPI(always(error_response(403, "Project does not have access to model", code="model_not_found")))
    r = _sentiment(fake, TEXTS[:1]).result("fake-closed")
    assert fake.count == 1 and r.error.type == "PermissionDeniedError"
    fake = FakeAPI(always(error_response(404, "The model `gpt-6-luna` does not exist", code="model_not_found")))
    r = _sentiment(fake, TEXTS[:1]).result("fake-closed")
    assert fake.count == 1 and r.error.type == "NotFoundError" and "gpt-6-luna" in r.error.hint


def test_404_on_a_served_model_lists_what_the_server_serves(key):
    def handler(request):
        if request.url.path.endswith("/models"):
            from openai_fakes import models_response

            return models_response("the-real-model")
        return error_response(404, "model 'wrong' not found")

    fake = FakeAPI(handler)
    register_fake("fake-served", fake, task="sentiment", family="served", model="wrong")
    run = oc.compare("sentiment", ["fake-served", "vader"], TEXTS[:1], progress=False, cache="off")
    r = run.result("fake-served")
    assert r.error.type == "NotFoundError" and "the-real-model" in r.error.hint
    _other_model_complete(run, "vader")


def test_content_policy_400(key):
    fake = FakeAPI(always(error_response(
        400, "Your request was rejected as a result of our safety system.", code="content_policy_violation")))
    run = _sentiment(fake, TEXTS[:1])
    r = run.result("fake-closed")
    assert fake.count == 1
    assert r.error.type == "ContentPolicyError" and r.error.retryable is False and "rephrase" in r.error.hint
    _other_model_complete(run, "vader")


def test_other_400_is_bad_request(key):
    fake = FakeAPI(always(error_response(400, "Unsupported value: 'temperature'", code="unsupported_value")))
    r = _generate(fake, TEXTS[:1]).result("fake-closed")
    assert fake.count == 1 and r.error.type == "BadRequestError" and r.output in ("", None)


def test_server_refusing_json_schema_falls_back_to_plain_prompting(key):
    def handler(request):
        body = json.loads(request.content)
        if "response_format" in body:
            return error_response(400, "response_format json_schema is not supported by this server")
        return chat_response("Negative. The text is clearly unhappy.", model="served-model")

    fake = FakeAPI(handler)
    register_fake("fake-served", fake, task="sentiment", family="served", model="served-model")
    run = oc.compare("sentiment", ["fake-served", "vader"], TEXTS, progress=False, cache="off")
    for i in range(len(TEXTS)):
        r = run.result("fake-served", i)
        assert r.ok and r.output == "negative"
        assert any("response_format" in n for n in r.notes), r.notes
        assert r.cost_usd is None and "self-hosted" in r.cost_basis
    # at most one refused request per concurrently started input, then plain requests only
    refused = [b for b in fake.bodies() if "response_format" in b]
    assert 1 <= len(refused) <= len(TEXTS) and fake.count == len(TEXTS) + len(refused)
    _other_model_complete(run, "vader")


def test_served_model_that_ignores_response_format_still_maps_the_label(key):
    fake = FakeAPI(always(chat_response("positive")))
    register_fake("fake-served", fake, task="sentiment", family="served", model="m")
    r = oc.compare("sentiment", ["fake-served"], TEXTS[:1], progress=False, cache="off").result("fake-served")
    assert r.ok and r.output == "positive" and any("not the requested JSON" in n for n in r.notes)


# ------------------------------------------------------------ no server, no key
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_model_with_no_server_says_so_with_the_url(monkeypatch):
    use_key(monkeypatch, max_retries=0)
    url = f"http://127.0.0.1:{_free_port()}/v1"
    oc.register("nobody-home", task="sentiment", base_url=url, model="m", replace_existing=True)
    run = oc.compare("sentiment", ["nobody-home", "vader"], TEXTS[:2], progress=False, cache="off")
    r = run.result("nobody-home")
    assert r.error.type == "APIConnectionError" and url in r.error.message and r.error.retryable
    assert "serve" in r.error.hint
    _other_model_complete(run, "vader")


def test_missing_key_makes_no_request_and_says_what_to_do():
    fake = FakeAPI()
    assert oc.get_settings().key("OPENAI_API_KEY") is None
    run = _sentiment(fake)
    assert fake.count == 0
    for i in range(len(TEXTS)):
        r = run.result("fake-closed", i)
        assert r.error.type == "MissingKeyError"
        for word in ("OPENAI_API_KEY", ".env", "ask_for_key", "import_cache"):
            assert word in str(r.error)
    _other_model_complete(run, "vader")


# -------------------------------------------------------------- key never leaks
def test_key_never_appears_in_results_manifest_saved_files_or_exceptions(key, tmp_path):
    echo = f"Incorrect API key provided: {FAKE_KEY}. Key {FAKE_KEY} was sent as Bearer {FAKE_KEY}"

    def handler(request):
        assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"  # the client did get the key
        body = json.loads(request.content)
        if "cut" in body["messages"][-1]["content"]:
            return error_response(401, echo, code="invalid_api_key")
        if body.get("stream"):
            return stream_response()
        return error_response(400, echo)

    fake = FakeAPI(handler)
    register_fake("fake-closed", fake, task="text-generation")
    run = oc.compare("text-generation", ["fake-closed"], ["hello", "cut here"], progress=False)
    assert run.result("fake-closed", 0).ok and run.result("fake-closed", 1).error.type == "AuthenticationError"
    register_fake("fake-sent", fake, task="sentiment")
    run2 = oc.compare("sentiment", ["fake-sent", "vader"], ["hello"], progress=False)
    assert run2.result("fake-sent").error.type == "BadRequestError"

    texts = [repr(r) for r in run.results + run2.results]
    texts += [run.table.to_csv(), run2.table.to_csv(), json.dumps(run.manifest, default=str),
              json.dumps(run2.manifest, default=str), run.summary().to_csv(), run._repr_html_(), repr(run)]
    texts += [oc.get_settings().report(), repr(oc.get_settings()), str(oc.get_settings().as_dict())]
    for folder in (run.save(tmp_path / "run1"), run2.save(tmp_path / "run2"), oc.get_settings().responses_dir):
        texts += [p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()]
    # exceptions: what the client raised, as the backend maps it, and openclosed's own
    import openai

    try:
        client = openai.OpenAI(api_key=FAKE_KEY, http_client=fake.client, max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "cut"}])
    except openai.AuthenticationError as exc:
        spec = oc.get_model("fake-closed")
        info = openai_errors.map_error(exc, spec)
        texts += [str(info), info.message, info.hint]
    try:
        oc.compare("sentiment", ["fake-sent"], [None])
    except oc.OpenClosedError as exc:
        texts.append(str(exc))
    texts.append(str(oc.OpenClosedError(f"boom {FAKE_KEY}", f"hint {FAKE_KEY}")))
    leaked = [t[:200] for t in texts if FAKE_KEY in t]
    assert not leaked
    assert any("sk-…cdef" in t for t in texts)  # the masked form is what shows


def test_served_model_keys(monkeypatch):
    use_key(monkeypatch)
    seen = []
    inner = smart()

    def handler(request):
        seen.append(request.headers["authorization"])
        return inner(request)

    fake = FakeAPI(handler)
    register_fake("served-open", fake, task="sentiment", family="served", model="m")
    register_fake("served-keyed", fake, task="sentiment", family="served", model="m",
                  base_url="http://127.0.0.1:9/v2", api_key_env="MY_SERVER_TOKEN")
    monkeypatch.setenv("MY_SERVER_TOKEN", "tok-0123456789")
    run = oc.compare("sentiment", ["served-open", "served-keyed"], ["fine"], progress=False, cache="off")
    assert all(r.ok for r in run.results)
    # no key needed: a placeholder, never the user's OpenAI key; a server token comes from its own variable
    assert sorted(seen) == ["Bearer not-needed", "Bearer tok-0123456789"]
    assert "tok-0123456789" not in run.table.to_csv()
