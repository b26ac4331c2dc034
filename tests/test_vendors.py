"""Closed vendors as data: keys bound to their hosts, retirement dates,
capabilities read by one request builder, and a fake per vendor answering in
that vendor's shape. No key, no network: loopback servers and in-process fakes."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import openclosed as oc
import pytest
from openai_fakes import FakeAPI, register_fake, sequence, smart
from openclosed.catalog import vendors
from openclosed.core.errors import ModelRetiredError
from vendor_fakes import CATALOG_NAME, REPORTED, register_vendor_fake, vendor_error, vendor_handler

VENDORS = ("openai", "anthropic", "google", "mistral")
TEXTS = ["I loved it", "Awful service."]


# ------------------------------------------------------------ keys bound to hosts
def test_a_planted_key_reaches_only_its_own_host(monkeypatch):
    from openclosed.testing.stub_server import start_server

    (a, url_a), (b, url_b) = start_server(), start_server()
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-planted-0000")
        monkeypatch.setenv("VENDOR_A_KEY", "key-for-a-1111")
        monkeypatch.setenv("VENDOR_B_KEY", "key-for-b-2222")
        oc.register("closed-a", task="sentiment", model="m-a", base_url=url_a, family="closed", api_key_env="VENDOR_A_KEY")
        oc.register("closed-b", task="sentiment", model="m-b", base_url=url_b, family="closed", api_key_env="VENDOR_B_KEY")
        run = oc.compare("sentiment", ["closed-a", "closed-b"], TEXTS, progress=False)
        assert all(r.ok for r in run.results), [r.error for r in run.results]
        assert a.auth_seen and set(a.auth_seen) == {"Bearer key-for-a-1111"}
        assert b.auth_seen and set(b.auth_seen) == {"Bearer key-for-b-2222"}
        # a closed model at another host that names no key variable is refused: OPENAI_API_KEY is not sent there
        with pytest.raises(oc.OpenClosedError, match="names no key variable") as info:
            oc.register("closed-c", task="sentiment", model="m-c", base_url=url_b, family="closed")
        assert "api_key_env=" in info.value.hint
        assert set(b.auth_seen) == {"Bearer key-for-b-2222"}
    finally:
        a.shutdown()
        b.shutdown()


def test_a_vendor_key_is_refused_for_another_vendor_host_and_named_for_its_own():
    with pytest.raises(oc.OpenClosedError, match="ANTHROPIC_API_KEY belongs to Anthropic") as info:
        oc.register("wrong", task="sentiment", model="mistral-small-2603", base_url="https://api.mistral.ai/v1",
                    family="closed", api_key_env="ANTHROPIC_API_KEY")
    assert "MISTRAL_API_KEY" in info.value.hint
    with pytest.raises(oc.OpenClosedError) as info:
        oc.register("unnamed", task="sentiment", model="claude-haiku-4-5", base_url="https://api.anthropic.com/v1",
                    family="closed")
    assert "ANTHROPIC_API_KEY" in info.value.hint


def test_every_closed_vendor_model_names_its_own_key_and_rerun_keeps_it():
    for vendor in VENDORS:
        spec = oc.get_model(CATALOG_NAME[vendor])
        assert spec.api_key_env == vendors.VENDORS[vendor].key_env and spec.provider == vendor
        assert oc.ModelSpec.from_record(spec.record()).api_key_env == spec.api_key_env


def test_no_key_means_no_request_and_the_column_names_the_vendor_variable():
    fake = FakeAPI(smart())
    register_vendor_fake("mistral", fake)
    run = oc.compare("sentiment", ["fake-mistral"], TEXTS[:1], progress=False)
    err = run.results[0].error
    assert err.type == "MissingKeyError" and "MISTRAL_API_KEY" in err.message and fake.count == 0


# ------------------------------------------------------------ lifecycle
def test_a_model_past_its_shutdown_is_refused_before_any_request(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    fake = FakeAPI(smart())
    register_fake("old-mini", fake, model="gpt-4o-mini")
    oc.setup("offline", today="2027-01-15", verbose=False)
    run = oc.compare("sentiment", ["old-mini"], TEXTS[:1], progress=False, cache="off")
    err = run.results[0].error
    assert err.type == "ModelRetiredError" and fake.count == 0
    assert "retired on 2027-01-14" in err.message and "use gpt-6-luna" in err.hint
    oc.setup("offline", today="2027-01-13", verbose=False)  # the day before: it still answers
    run = oc.compare("sentiment", ["old-mini"], TEXTS[:1], progress=False, cache="off")
    assert run.results[0].ok and fake.count == 1


def test_check_not_retired_and_the_lifecycle_table_use_the_given_day():
    spec = oc.get_model("gpt-4o-mini")
    vendors.check_not_retired(spec, "2027-01-13")
    with pytest.raises(ModelRetiredError):
        vendors.check_not_retired(spec, dt.date(2027, 1, 14))
    table = oc.lifecycle(today="2026-12-06").set_index("model")
    assert table.loc["gpt-4o-mini", "status"] == "deprecated" and table.loc["gpt-4o-mini", "days left"] == 39
    assert table.loc["gpt-6-luna", "shutdown"] == "none announced" and table.loc["gpt-6-luna", "checked"]
    assert table.loc["dall-e-3 (not in the catalog)", "status"] == "retired"
    assert set(table["vendor"]) >= set(VENDORS)
    shown = oc.models().set_index("name")
    assert shown.loc["gpt-4o-mini", "retires"] == "2027-01-14, use gpt-6-luna"
    assert shown.loc["claude-haiku-4-5", "vendor"] == "Anthropic"


def test_setup_warns_when_a_default_retires_within_60_days(monkeypatch):
    soon = vendors.Lifecycle("gpt-6-luna", "openai", "2026-11-01", "2027-01-30", "gpt-6.1-terra", "a test entry")
    monkeypatch.setitem(vendors.LIFECYCLE, "gpt-6-luna", soon)
    with pytest.warns(FutureWarning, match="gpt-6-luna retires on 2027-01-30 .in 60 days.: use gpt-6.1-terra"):
        oc.setup("offline", today="2026-12-01", verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oc.setup("offline", today="2026-11-30", verbose=False)  # 61 days ahead: quiet


# ------------------------------------------------------------ capabilities, one request builder
def test_the_builder_leaves_out_what_a_vendor_ignores_and_says_so():
    from openclosed.backends.openai.request import chat_request

    claude = oc.get_model("claude-haiku-4-5")
    req = chat_request(claude, [{"role": "user", "content": "Hi"}], max_tokens=5, seed=3, stream=True,
                       top_logprobs=2, schema={"name": "s", "schema": {"properties": {"label": {}}}})
    assert "seed" not in req.kwargs and "logprobs" not in req.kwargs and "response_format" not in req.kwargs
    assert req.kwargs["max_tokens"] == 5 and req.kwargs["stream_options"] == {"include_usage": True}
    assert "seed: not supported by anthropic (not sent)" in req.notes
    assert "logprobs: not supported by anthropic (not sent)" in req.notes
    assert req.structured == "prompt" and any("fallback" in n for n in req.notes)
    with pytest.raises(oc.OpenClosedError, match="outside anthropic's range 0-1"):
        chat_request(claude, [{"role": "user", "content": "Hi"}], max_tokens=5, temperature=1.5)
    luna = chat_request(oc.get_model("gpt-6-luna"), [{"role": "user", "content": "Hi"}], max_tokens=5,
                        temperature=0.0, seed=1)
    assert luna.kwargs["max_completion_tokens"] == 5 and luna.kwargs["seed"] == 1
    assert luna.kwargs["extra_body"] == {"reasoning_effort": "none"}
    matrix = oc.capabilities([CATALOG_NAME[v] for v in VENDORS]).set_index("model")
    assert matrix.loc["claude-haiku-4-5", "structured output"] == "prompt + parser (fallback)"
    assert not matrix.loc["gemini-3.5-flash-lite", "logprobs"] and matrix.loc["gpt-6-luna", "logprobs"]


def test_logprobs_are_not_asked_of_a_vendor_without_them(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "fake-gemini-key-0000")
    fake = FakeAPI(smart())
    register_vendor_fake("google", fake)
    inside = oc.look_inside(["fake-google"], "Hi", max_tokens=2)
    err = inside["fake-google"].error
    assert fake.count == 0 and "logprobs: not supported by google (not sent)" in err.message


# ------------------------------------------------------------ a fake per vendor
@pytest.fixture
def keys(monkeypatch):
    for v in vendors.VENDORS.values():
        monkeypatch.setenv(v.key_env, f"fake-{v.id}-key-0123456789")


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_answers_sentiment_priced_and_attributed(vendor, keys):
    fake = FakeAPI(vendor_handler(vendor))
    register_vendor_fake(vendor, fake)
    run = oc.compare("sentiment", [f"fake-{vendor}"], TEXTS[:1], progress=False, seed=7, cache="off")
    r = run.results[0]
    body = fake.bodies()[0]
    assert r.ok and r.output == "positive" and r.answered_by == REPORTED[vendor]
    ref = CATALOG_NAME[vendor]
    expected, _ = oc.engine.pricing.api_cost(ref, vendor, 42, 7)
    assert r.cost_usd == pytest.approx(expected) and r.cost_usd > 0 and "genai-prices" in r.cost_basis
    caps = vendors.capabilities(oc.get_model(ref))
    assert caps.max_tokens_param in body
    if caps.structured == "json_schema":
        assert body["response_format"]["type"] == "json_schema" and r.confidence == pytest.approx(0.9)
    else:  # Anthropic: no response_format sent; a strict prompt, the label parsed, marked as a fallback
        assert "response_format" not in body and r.confidence is None
        assert any("fallback" in n for n in r.notes)
    assert ("seed" in body) == caps.seed
    if not caps.seed:
        assert f"seed: not supported by {vendor} (not sent)" in r.notes


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("usage", [True, False])
def test_each_vendor_streams_with_or_without_usage(vendor, usage, keys):
    fake = FakeAPI(vendor_handler(vendor, stream_usage=usage))
    register_vendor_fake(vendor, fake)
    run = oc.compare("text-generation", [f"fake-{vendor}"], ["Say hello"], progress=False, max_tokens=8, cache="off")
    r = run.results[0]
    assert r.ok and r.output == f"Hello from {vendor}" and r.answered_by == REPORTED[vendor]
    if usage:
        assert r.output_tokens == 4 and r.input_tokens == 42 and r.cost_usd > 0
    else:
        assert any("counted as streamed chunks" in n for n in r.notes) and r.input_tokens is None


class _SleepLog:
    """Stands in for the ``time`` module inside the openai client: records each retry's wait, sleeps none."""

    def __init__(self):
        import time

        self._time, self.waits = time, []

    def sleep(self, seconds):
        self.waits.append(seconds)

    def __getattr__(self, name):
        return getattr(self._time, name)


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_rate_limit_is_retried_after_retry_after(vendor, keys, monkeypatch):
    import openai._base_client

    waits = _SleepLog()
    monkeypatch.setattr(openai._base_client, "time", waits)
    fake = FakeAPI(sequence(vendor_error(vendor, 429, "slow down", retry_after="7"), vendor_handler(vendor)))
    register_vendor_fake(vendor, fake)
    r = oc.compare("sentiment", [f"fake-{vendor}"], TEXTS[:1], progress=False, cache="off").results[0]
    assert r.ok and fake.count == 2
    assert waits.waits == [7.0]  # the client waited exactly what the vendor's Retry-After said
    always_429 = FakeAPI(sequence(vendor_error(vendor, 429, "slow down", retry_after="3")))
    register_vendor_fake(vendor, always_429, name="busy")
    r = oc.compare("sentiment", ["busy"], TEXTS[:1], progress=False, cache="off").results[0]
    assert r.error.type == "RateLimitError" and r.error.retryable and always_429.count == 3  # 1 + 2 retries
    assert waits.waits == [7.0, 3.0, 3.0] and "slow down" in r.error.message


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_auth_error_names_its_key_and_is_not_retried(vendor, keys):
    fake = FakeAPI(sequence(vendor_error(vendor, 401, "invalid x-api-key")))
    register_vendor_fake(vendor, fake)
    r = oc.compare("sentiment", [f"fake-{vendor}"], TEXTS[:1], progress=False, cache="off").results[0]
    assert r.error.type == "AuthenticationError" and fake.count == 1
    assert vendors.VENDORS[vendor].key_env in r.error.hint and "fake-" not in r.error.message + r.error.hint


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_refusal_is_its_own_error_with_the_text_kept(vendor, keys):
    fake = FakeAPI(vendor_handler(vendor, refusal=True))
    register_vendor_fake(vendor, fake)
    r = oc.compare("sentiment", [f"fake-{vendor}"], TEXTS[:1], progress=False, cache="off").results[0]
    assert r.error is not None and r.error.type == "RefusalError" and f"{vendor} declined" in r.error.message
    assert r.output == "I can't help with that." and r.finish_reason in ("content_filter", "refusal")
    assert fake.count == 1 and r.answered_by == REPORTED[vendor]  # not retried; still who answered
    stream = FakeAPI(vendor_handler(vendor, refusal=True))
    register_vendor_fake(vendor, stream, name="declines")
    g = oc.compare("text-generation", ["declines"], ["Say hello"], progress=False, max_tokens=8, cache="off")
    assert g.results[0].error.type == "RefusalError"


@pytest.mark.parametrize("vendor", VENDORS)
def test_what_was_sent_and_honoured_is_kept_per_result_and_in_the_manifest(vendor, keys):
    register_vendor_fake(vendor, FakeAPI(vendor_handler(vendor)))
    run = oc.compare("sentiment", [f"fake-{vendor}", "vader"], TEXTS, progress=False, seed=7, cache="off")
    caps = vendors.capabilities(oc.get_model(CATALOG_NAME[vendor]))
    record = json.loads(run.result(f"fake-{vendor}").generation)
    used = run.manifest["sent_and_honoured"]
    assert set(used) == {f"fake-{vendor}"}  # API models only: vader ran here
    u = used[f"fake-{vendor}"]
    assert u["sent"] == record["sent"] and u["answered_by"] == [REPORTED[vendor]] and u["fresh"] == 2
    assert ("seed" in u["sent"]) == caps.seed and caps.max_tokens_param in u["sent"]
    if caps.seed:
        assert u["sent"]["seed"] == 7
    else:
        assert f"seed: not supported by {vendor} (not sent)" in u["not sent"]
    if caps.structured == "json_schema":
        assert u["sent"]["response_format"] == "json_schema"
        assert u["honoured"] == {"response_format": {"honoured (the requested JSON came back)": 2}}
    else:
        assert "response_format" not in u["sent"] and u["sent"]["structured output"].endswith("(fallback)")
        assert any(n.startswith("structured output (response_format): not supported") for n in u["not sent"])
    assert u["cost_usd"] == pytest.approx(sum(r.cost_usd for r in run.results if r.model == f"fake-{vendor}"))
    table = oc.capabilities(run).set_index("model")
    row = table.loc[f"fake-{vendor}"]
    assert row["ok"] == "2/2" and row["answers"] == "2 fresh" and row["answered by"] == REPORTED[vendor]
    assert row["retires"].startswith("none announced") and row["cost ($)"] > 0
    assert ("seed: not supported" in row["not sent"]) == (not caps.seed)


def test_a_server_that_ignores_response_format_is_measured_as_ignoring_it_and_usage_as_missing(keys):
    from openai_fakes import chat_response

    fake = FakeAPI(lambda request: chat_response("Positive."))  # a served model that answers in words
    register_fake("words-only", fake, family="served", model="m")
    run = oc.compare("sentiment", ["words-only"], TEXTS[:1], progress=False, cache="off")
    u = run.manifest["sent_and_honoured"]["words-only"]
    assert run.results[0].output == "positive"
    assert u["honoured"] == {"response_format": {"ignored (the answer was not the requested JSON)": 1}}
    register_vendor_fake("mistral", FakeAPI(vendor_handler("mistral", stream_usage=False)))
    g = oc.compare("text-generation", ["fake-mistral"], ["Say hello"], progress=False, max_tokens=8, cache="off")
    assert g.manifest["sent_and_honoured"]["fake-mistral"]["honoured"] == {
        "stream_options": {"ignored (no usage in the stream)": 1}}


def test_one_model_per_vendor_and_an_open_one_replay_from_a_recording_with_no_key(monkeypatch, tmp_path, keys):
    names = [f"fake-{v}" for v in VENDORS]
    for v in VENDORS:
        register_vendor_fake(v, FakeAPI(vendor_handler(v)))
    recorded = oc.compare("sentiment", names + ["vader"], TEXTS, progress=False)
    assert all(r.ok for r in recorded.results)
    oc.export_cache(tmp_path / "answers.jsonl.gz")
    for v in vendors.VENDORS.values():
        monkeypatch.delenv(v.key_env)
    oc.setup("offline", responses_path=tmp_path / "fresh", verbose=False)
    for v in VENDORS:  # the endpoints now fail loudly: a replay must not reach them
        register_vendor_fake(v, FakeAPI(sequence(vendor_error(v, 401, "no"))))
    oc.import_cache(tmp_path / "answers.jsonl.gz")
    run = oc.compare("sentiment", names + ["vader"], TEXTS, progress=False)
    for r in run.results:
        assert r.ok, (r.model, r.error)
        if r.model != "vader":
            assert r.cost_usd and r.answered_by == REPORTED[r.model.removeprefix("fake-")]
    assert {r.output for r in run.results if r.model != "vader"} == {
        r.output for r in recorded.results if r.model != "vader"}
    assert json.dumps(run.manifest).count("fake-openai-key") == 0


REPLAY_SCRIPT = """
import json, openclosed as oc
oc.setup("offline", local_only=True, verbose=False)   # a fresh session: no key, no route out of this machine
names = {names!r}
texts = {texts!r}
print("before import:", oc.answerable(names, "sentiment", texts))
oc.import_recording()                                  # $OPENCLOSED_RECORDING
chosen = oc.answerable(names, "sentiment", texts)
run = oc.compare("sentiment", chosen + ["vader"], texts, progress=False)
import pandas as pd
with pd.option_context("display.width", 250, "display.max_colwidth", 60):
    print(run.summary()[["model", "answered_by", "ok", "errors", "cost ($)", "cached"]].to_string(index=False))
    print(oc.capabilities(run)[["model", "answered by", "ok", "cost ($)", "answers", "not sent"]].to_string(index=False))
print(json.dumps({{"chosen": chosen, "results": [dict(model=r.model, output=r.output, ok=r.ok, cost=r.cost_usd,
    answered_by=r.answered_by, cache=r.cache, cached_at=r.cached_at, error=str(r.error or "")) for r in run.results],
    "measured": oc.capabilities(run).to_dict("records")}}))
"""


def test_one_model_per_vendor_and_an_open_one_replay_in_a_fresh_session_with_no_key(tmp_path, keys):
    """Record the catalog's own closed models (their requests going to each vendor's fake, with planted fake
    keys), export, then in a new Python process with no key at all and the local-only guard on: import, and
    every column answers, priced and attributed to what the vendor reported, marked as replayed with its date."""
    import gzip
    import os
    import subprocess
    import sys

    names = [CATALOG_NAME[v] for v in VENDORS]
    for v in VENDORS:  # the catalog's entries themselves, sent to the fakes: the recording replays for them
        register_vendor_fake(v, FakeAPI(vendor_handler(v)), name=CATALOG_NAME[v])
    recorded = oc.compare("sentiment", names + ["vader"], TEXTS, progress=False)
    assert all(r.ok for r in recorded.results)
    path = tmp_path / "recorded.jsonl.gz"
    assert oc.export_cache(path) == len(names) * len(TEXTS)  # closed answers only
    assert "-key-0123456789" not in gzip.open(path, "rt").read()  # no key in the recording
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    # a fresh session with a response cache of its own (empty): what it replays comes from the recording alone
    env.update(OPENCLOSED_RECORDING=str(path), PYTHONPATH=os.pathsep.join(sys.path),
               OPENCLOSED_RESPONSES_DIR=str(tmp_path / "fresh-session-responses"))
    out = subprocess.run([sys.executable, "-c", REPLAY_SCRIPT.format(names=names, texts=TEXTS)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    print(out.stdout)  # the replayed comparison as printed (pytest -s shows it)
    lines = out.stdout.strip().splitlines()
    data = json.loads(lines[-1])
    assert lines[0] == "before import: []"  # no key: no closed model could answer before the recording
    assert data["chosen"] == names
    closed = [r for r in data["results"] if r["model"] != "vader"]
    assert len(closed) == len(names) * len(TEXTS) and all(r["ok"] for r in data["results"])
    assert all(r["cache"] == "miss" for r in data["results"] if r["model"] == "vader")  # its cache was empty
    for r in closed:
        vendor = next(v for v in VENDORS if CATALOG_NAME[v] == r["model"])
        assert r["answered_by"] == REPORTED[vendor] and r["cost"] > 0 and r["cache"] == "replay" and r["cached_at"]
    want = {(r.model, r.input_index): r.output for r in recorded.results if r.model != "vader"}
    got = {(r["model"], i % len(TEXTS)): r["output"] for i, r in enumerate(closed)}
    assert got == want
    from openclosed.engine.responsecache import recording_dates

    (day,) = recording_dates(path)  # the day the answers were stored (not today's date: the test may cross midnight)
    assert {r["cached_at"][:10] for r in closed} == {day}
    for row in data["measured"]:
        assert row["answers"] == f"replayed, recorded {day}" and row["ok"] == f"{len(TEXTS)}/{len(TEXTS)}"
    assert "-key-0123456789" not in out.stdout + out.stderr


def test_with_no_recording_the_notebook_cell_says_so_in_one_line_and_keyless_closed_models_are_left_out(
        capsys, monkeypatch):
    monkeypatch.delenv("OPENCLOSED_RECORDING", raising=False)
    assert oc.recording_path() is None and oc.import_recording() == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("No recording")
    assert oc.answerable(["gpt-6-luna", "claude-haiku-4-5", "vader"], "sentiment", TEXTS) == ["vader"]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "fake-anthropic-key-0123456789")
    assert oc.answerable(["gpt-6-luna", "claude-haiku-4-5", "vader"], "sentiment", TEXTS) == ["claude-haiku-4-5",
                                                                                              "vader"]
    monkeypatch.setenv("OPENCLOSED_RECORDING", "nowhere.jsonl.gz")  # named but missing: an error with the fix
    with pytest.raises(oc.OpenClosedError, match="no cache file"):
        oc.import_recording()


def test_a_run_without_api_answers_says_why_its_measured_table_is_empty(capsys):
    oc.setup("offline", verbose=False)
    run = oc.compare("sentiment", ["vader"], ["Fine."], progress=False)
    table = oc.capabilities(run)
    assert table.empty and "No API model answered in this run (vader)" in capsys.readouterr().out
