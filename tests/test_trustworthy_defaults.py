"""Trustworthy defaults: bad parameters are refused before any model runs,
offline means offline (no network attempt, the missing model fails in its own
column), panels offer only what can run here, the response cache never serves
one endpoint's answer as another's, reruns of unsaved runs, the memory budget
and the dtype it picks, and pinned Hub revisions. No real key, no network
beyond 127.0.0.1: the closed model talks to the stand-in server."""

from __future__ import annotations

import dataclasses
import gzip
import json
import socket
from pathlib import Path

import pytest
from openai_fakes import FakeAPI, register_fake, use_key

import openclosed as oc
from openclosed.catalog.hub import is_pinned
from openclosed.core.errors import (
    BadInputError,
    BadParameterError,
    ModelNotAvailableError,
    ModelTooLargeError,
    OpenClosedError,
    UnknownModelError,
)
from openclosed.engine.modelcache import model_cache
from openclosed.tasks import get_task

TEXTS = ["I loved every minute of it.", "Terrible service, never again."]


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache: whatever this machine downloaded before,
    no Hub model is on disk."""
    from huggingface_hub import constants

    folder = tmp_path / "hf-hub"
    folder.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    oc.engine.modelcache.model_cache().clear()  # nor in memory, from an earlier test
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Record (and refuse) every attempt to reach anything but 127.0.0.1:
    DNS look-ups, connections, and Hub downloads that are not local-only."""
    import huggingface_hub

    attempts: list[str] = []
    local = ("127.0.0.1", "localhost", "::1")

    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_create = socket.create_connection

    def getaddrinfo(host, *a, **kw):
        if host not in local and host is not None:
            attempts.append(f"getaddrinfo {host}")
            raise OSError(f"test: no network ({host})")
        return real_getaddrinfo(host, *a, **kw)

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in local and isinstance(address, tuple):
            attempts.append(f"connect {address}")
            raise OSError(f"test: no network ({address})")
        return real_connect(self, address)

    def create_connection(address, *a, **kw):
        if address[0] not in local:
            attempts.append(f"create_connection {address}")
            raise OSError(f"test: no network ({address})")
        return real_create(address, *a, **kw)

    real_snapshot = huggingface_hub.snapshot_download

    def snapshot_download(*a, **kw):
        if not kw.get("local_files_only"):
            attempts.append(f"snapshot_download {a} {kw}")
            raise OSError("test: no Hub download")
        return real_snapshot(*a, **kw)

    def hf_hub_download(*a, **kw):
        if not kw.get("local_files_only"):
            attempts.append(f"hf_hub_download {a} {kw}")
            raise OSError("test: no Hub download")
        raise FileNotFoundError("test: not cached")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return attempts


@pytest.fixture
def spy_loads(monkeypatch):
    """Every model compare() tries to load (local or API)."""
    from openclosed.backends import openai as openai_backend
    from openclosed.session import compare as compare_mod

    calls: list[str] = []
    real_local, real_api = compare_mod.load_model, openai_backend.load

    def local(spec, *a, **kw):
        calls.append(getattr(spec, "name", spec))
        return real_local(spec, *a, **kw)

    def api(spec, *a, **kw):
        calls.append(spec.name)
        return real_api(spec, *a, **kw)

    monkeypatch.setattr(compare_mod, "load_model", local)
    monkeypatch.setattr(openai_backend, "load", api)
    return calls


# --------------------------------------------------- a. parameters, checked first
BAD_PARAMS = [
    ("text-generation", {"max_tokens": -1}, "max_tokens", "out of range"),
    ("text-generation", {"max_tokens": 0}, "max_tokens", "out of range"),
    ("text-generation", {"max_tokens": 1.5}, "max_tokens", "whole number"),
    ("text-generation", {"max_tokens": "100"}, "max_tokens", "whole number"),
    ("text-generation", {"max_tokens": True}, "max_tokens", "whole number"),
    ("text-generation", {"max_tokens": 10**6}, "max_tokens", "out of range"),
    ("text-generation", {"temperature": "hot"}, "temperature", "not a number"),
    ("text-generation", {"temperature": 5}, "temperature", "out of range"),
    ("text-generation", {"temperature": -0.1}, "temperature", "out of range"),
    ("text-generation", {"temperature": float("nan")}, "temperature", "not a number"),
    ("text-generation", {"top_p": 1.5}, "top_p", "out of range"),
    ("text-generation", {"top_p": -0.1}, "top_p", "out of range"),
    ("text-generation", {"seed": -1}, "seed", "out of range"),
    ("text-generation", {"system": 42}, "system", "not text"),
    ("text-generation", {"max_token": 5}, "max_token", "did you mean 'max_tokens'"),
    ("text-generation", {"temprature": 0.5}, "temprature", "did you mean 'temperature'"),
    ("sentiment", {"sede": 1}, "sede", "did you mean 'seed'"),
    ("image-generation", {"steps": 0}, "steps", "out of range"),
    ("image-generation", {"steps": 2.5}, "steps", "whole number"),
    ("image-generation", {"size": 65}, "size", "multiple of 8"),
    ("image-generation", {"size": 16}, "size", "at least 32"),
    ("image-generation", {"size": "big"}, "size", "not a size"),
    ("image-generation", {"guidance_scale": 100}, "guidance_scale", "out of range"),
]


@pytest.mark.parametrize("task, params, name, words", BAD_PARAMS,
                         ids=[f"{t}-{next(iter(p))}={next(iter(p.values()))!r}" for t, p, _, _ in BAD_PARAMS])
def test_bad_parameter_is_refused_by_the_task_naming_it_and_the_fix(oc_settings, task, params, name, words):
    with pytest.raises(BadParameterError) as info:
        get_task(task).validate(params, oc_settings)
    err = info.value
    assert name in str(err) and words in str(err)
    assert err.hint  # says what to do instead
    if "did you mean" not in words:
        assert name in err.hint


def test_too_large_image_is_refused_on_cpu_with_an_estimate(oc_settings):
    cpu = dataclasses.replace(oc_settings, device="cpu")
    task = get_task("image-generation")
    with pytest.raises(BadParameterError) as info:
        task.check_local(task.validate({"size": 4096}, cpu), cpu)
    msg = str(info.value)
    assert "size=4096" in msg and "too large" in msg and "CPU" in msg
    assert "16.8 megapixels" in msg and "64x the pixels of 512x512" in msg  # the estimate
    assert "at most 1024" in info.value.hint
    # what fits is accepted, and the defaults are filled in
    out = get_task("image-generation").validate({"size": 512}, cpu)
    assert out["size"] == 512 and out["steps"] is None and out["seed"] == 0  # None: each model's preset


def test_good_parameters_pass_and_are_normalised(oc_settings):
    out = get_task("text-generation").validate({"max_tokens": 16.0, "temperature": 1, "top_p": 0}, oc_settings)
    assert out["max_tokens"] == 16 and isinstance(out["max_tokens"], int)
    assert out["temperature"] == 1.0 and out["top_p"] == 0.0 and out["seed"] == 0


def test_a_size_string_is_checked_like_a_number(oc_settings):
    cpu = dataclasses.replace(oc_settings, device="cpu")
    task = get_task("image-generation")
    with pytest.raises(BadParameterError, match="multiple of 8"):
        task.validate({"size": "65x65"}, cpu)
    with pytest.raises(BadParameterError, match="too large"):
        task.check_local(task.validate({"size": "4096x4096"}, cpu), cpu)
    # an API size is not held to what this CPU can draw: only models that run here are
    assert task.validate({"size": "1536x1024"}, cpu)["size"] == "1536x1024"
    with pytest.raises(BadParameterError, match="too large"):
        oc.compare("image-generation", ["tiny-sd-random"], ["a red apple"], size="1536x1024")


@pytest.mark.parametrize("task, params, exc_words", [
    ("text-generation", {"max_tokens": -1}, "max_tokens"),
    ("text-generation", {"temperature": "hot"}, "temperature"),
    ("text-generation", {"max_token": 5}, "did you mean 'max_tokens'"),
    ("sentiment", {"seed": 1.5}, "seed"),
])
def test_compare_checks_parameters_before_any_model_runs(monkeypatch, spy_loads, task, params, exc_words):
    use_key(monkeypatch)
    fake = FakeAPI()
    register_fake("fake-closed", fake, task=task)
    loads = model_cache().loads
    models = ["vader", "fake-closed"] if task == "sentiment" else ["smollm2-135m", "fake-closed"]
    with pytest.raises(BadParameterError, match=exc_words):
        oc.compare(task, models, TEXTS, progress=False, **params)
    assert fake.count == 0  # no request reached the (fake) server
    assert spy_loads == []  # no model was asked to load
    assert model_cache().loads == loads


def test_compare_refuses_a_too_large_image_before_loading(spy_loads):
    cpu = oc.setup("offline", device="cpu", cache_dir=oc.get_settings().cache_dir,
                   responses_path=oc.get_settings().responses_dir, verbose=False)
    assert cpu.device == "cpu"
    loads = model_cache().loads
    with pytest.raises(BadParameterError, match="too large"):
        oc.compare("image-generation", ["tiny-sd-random"], ["a lighthouse"], progress=False, size=4096)
    assert spy_loads == [] and model_cache().loads == loads


# ------------------------------------------------------------ b. register(base_url)
@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/v1", "http://", "127.0.0.1:8000/v1", 42])
def test_register_refuses_a_base_url_that_is_not_a_url(url):
    with pytest.raises(OpenClosedError) as info:
        oc.register("bad-server", task="text-generation", model="m", base_url=url)
    assert "base_url" in str(info.value) and "http" in info.value.hint
    with pytest.raises(UnknownModelError):
        oc.get_model("bad-server")  # nothing was registered


# ---------------------------------------------------------- c. offline is offline
def test_offline_hub_model_fails_in_its_own_column_without_network(oc_settings, empty_hub_cache, no_network):
    assert oc_settings.profile == "offline" and oc_settings.offline
    run = oc.compare("sentiment", ["distilbert-sst2", "vader"], TEXTS, progress=False)
    for i in range(len(TEXTS)):
        r = run.result("distilbert-sst2", i)
        assert r.error is not None and r.error.type == "ModelNotAvailableError", r.error
        assert "not on this machine" in r.error.message
        assert "openclosed.catalog.assets --profile" in r.error.hint
        assert run.result("vader", i).ok  # the other model still answers
    assert no_network == []  # no DNS look-up, no connection, no download was even tried


def test_offline_load_model_raises_model_not_available(empty_hub_cache, no_network):
    loads = model_cache().loads
    with pytest.raises(ModelNotAvailableError) as info:
        oc.load_model("distilbert-sst2")
    assert "distilbert" in str(info.value) and "--profile" in info.value.hint
    assert no_network == [] and model_cache().loads == loads


def test_hf_hub_offline_in_another_profile_is_offline_too(oc_settings, empty_hub_cache, no_network):
    from openclosed.core import settings as core_settings

    # (oc.setup("workshop") itself falls back to offline here: its models are not on disk, the Hub unreachable)
    core_settings.install(dataclasses.replace(oc_settings, profile="workshop"))
    assert oc.get_settings().profile == "workshop"
    run = oc.compare("sentiment", ["distilbert-sst2", "vader"], TEXTS[:1], progress=False)
    r = run.result("distilbert-sst2")
    assert r.error.type == "ModelNotAvailableError" and "HF_HUB_OFFLINE" in r.error.message
    assert run.result("vader").ok and no_network == []


# ------------------------------------------------ d. the panel offers what runs here
def test_usable_models_and_why_not_in_the_offline_profile(empty_hub_cache, no_network):
    from openclosed.session.availability import usable_models, why_not

    ok, not_ok = usable_models("sentiment")
    assert {"vader", "minilm-lr", "smollm2-135m", "gpt-6-luna"} <= set(ok)
    assert "distilbert-sst2" not in ok
    assert "offline" in not_ok["distilbert-sst2"] and "not downloaded" in not_ok["distilbert-sst2"]
    assert why_not(oc.get_model("distilbert-sst2")) == not_ok["distilbert-sst2"]
    assert why_not(oc.get_model("vader")) == "" and why_not(oc.get_model("gpt-6-luna")) == ""
    assert no_network == []


def test_why_not_says_too_large_for_the_budget(oc_settings, tmp_path):
    from openclosed.session.availability import why_not

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    spec = oc.register("big-local", task="text-generation", path=folder, params_m=50_000)
    small = dataclasses.replace(oc_settings, model_budget_gb=1.0)
    assert "too large for the 1 GB model budget" in why_not(spec, small)


def test_compare_panel_offers_only_models_usable_here(empty_hub_cache, no_network):
    from openclosed.views.widgets import ComparePanel

    panel = ComparePanel("sentiment")
    assert "distilbert-sst2" not in panel.models_select.options
    assert "vader" in panel.models_select.options
    assert "distilbert-sst2" in panel.not_here.value and "offline" in panel.not_here.value
    assert set(panel.models_select.value) <= set(panel.models_select.options)
    assert no_network == []


# ------------------------------------- e. the cache key includes the endpoint called
def _counting(server):
    """Count the POSTs ``server`` (a stub_server) answers."""
    seen: list[str] = []
    base = server.RequestHandlerClass

    class Counting(base):
        def do_POST(self):  # noqa: N802
            seen.append(self.path)
            return super().do_POST()

    server.RequestHandlerClass = Counting
    return seen


@pytest.fixture
def two_stub_servers():
    from openclosed.testing.stub_server import start_server

    a, url_a = start_server()
    b, url_b = start_server()
    try:
        yield (url_a, _counting(a)), (url_b, _counting(b))
    finally:
        a.shutdown()
        b.shutdown()


def test_cache_never_serves_one_endpoints_answer_as_anothers(monkeypatch, tmp_path, two_stub_servers):
    (url_a, seen_a), (url_b, seen_b) = two_stub_servers
    monkeypatch.setenv("OPENAI_BASE_URL", url_a)
    s = use_key(monkeypatch)
    first = oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    assert [r.cache for r in first.results] == ["miss", "miss"] and all(r.ok for r in first.results)
    assert len(seen_a) == len(TEXTS)
    assert first.manifest["endpoints"] == {"gpt-6-luna": {
        "endpoint": url_a, "inputs sent": len(TEXTS), "answered from the cache": 0, "requests": len(seen_a),
        "input tokens": sum(r.input_tokens for r in first.results),
        "output tokens": sum(r.output_tokens for r in first.results)}}

    monkeypatch.setenv("OPENAI_BASE_URL", url_b)  # another server, same model name
    second = oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    assert [r.cache for r in second.results] == ["miss", "miss"]  # was "hit": A's answers served as B's
    assert len(seen_b) == len(TEXTS) and len(seen_a) == len(TEXTS)
    assert second.manifest["endpoints"]["gpt-6-luna"]["endpoint"] == url_b

    monkeypatch.setenv("OPENAI_BASE_URL", url_a)  # back to A: its own answers come from the cache
    third = oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    assert [r.cache for r in third.results] == ["hit", "hit"]
    assert len(seen_a) == len(TEXTS) and len(seen_b) == len(TEXTS)  # no request went anywhere
    assert third.manifest["endpoints"]["gpt-6-luna"]["requests"] == 0

    # export: each entry carries the endpoint that gave it
    path = tmp_path / "recorded.jsonl.gz"
    assert oc.export_cache(path) == 2 * len(TEXTS)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        entries = [json.loads(line)["entry"] for line in f.readlines()[1:]]
    assert sorted(e["endpoint"] for e in entries) == sorted([url_a] * len(TEXTS) + [url_b] * len(TEXTS))

    # a student with only A's answers: they replay for A, and only for A
    a_only = tmp_path / "a-only.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f, gzip.open(a_only, "wt", encoding="utf-8") as out:
        header, *lines = f.readlines()
        out.write(header + "".join(line for line in lines if json.loads(line)["entry"]["endpoint"] == url_a))
    oc.setup("offline", cache_dir=s.cache_dir, responses_path=tmp_path / "fresh-responses", verbose=False)
    assert oc.import_cache(a_only) == len(TEXTS)
    replayed = oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    assert [r.cache for r in replayed.results] == ["replay", "replay"]
    assert len(seen_a) == len(TEXTS)
    monkeypatch.setenv("OPENAI_BASE_URL", url_b)
    elsewhere = oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    assert [r.cache for r in elsewhere.results] == ["miss", "miss"]  # A's recording is not B's answer
    assert len(seen_b) == 2 * len(TEXTS)


def test_without_the_endpoint_in_the_key_the_bug_reproduces(monkeypatch, two_stub_servers):
    """The reported bug, with the old key (no endpoint): the second server's
    run was a cache hit, served as that server's answer."""
    from openclosed.engine import run as run_mod
    from openclosed.engine.responsecache import response_key

    monkeypatch.setattr(run_mod, "response_key", lambda spec, task, text, params, endpoint=None: response_key(
        spec, task, text, params, None))
    (url_a, _), (url_b, seen_b) = two_stub_servers
    monkeypatch.setenv("OPENAI_BASE_URL", url_a)
    use_key(monkeypatch)
    oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    monkeypatch.setenv("OPENAI_BASE_URL", url_b)
    second = oc.compare("sentiment", ["gpt-6-luna"], TEXTS, progress=False)
    assert [r.cache for r in second.results] == ["hit", "hit"] and seen_b == []


def test_response_key_changes_with_the_endpoint():
    from openclosed.engine.responsecache import response_key

    spec = oc.get_model("gpt-6-luna")
    keys = {response_key(spec, "sentiment", "hi", {}, e)
            for e in (None, "https://api.openai.com/v1", "http://127.0.0.1:8000/v1")}
    assert len(keys) == 3


# ---------------------------------------------------------------------- f. rerun
def test_rerun_an_unsaved_run_from_its_manifest(monkeypatch):
    use_key(monkeypatch)
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["vader", "fake-closed"], TEXTS, progress=False, seed=7)
    assert fake.count == len(TEXTS)
    again = oc.rerun(run.manifest)
    assert (again.task, again.models, again.inputs) == (run.task, run.models, run.inputs)
    assert again.manifest["params"] == run.manifest["params"] and again.manifest["seed"] == 7
    assert {r.cache for r in again.results} == {"hit"}
    assert fake.count == len(TEXTS)  # nothing asked again
    assert [r.output for r in again.results] == [r.output for r in run.results]


@pytest.mark.parametrize("drop", ["task", "models", "inputs"])
def test_rerun_of_an_incomplete_manifest_is_a_bad_input(drop):
    run = oc.compare("sentiment", ["vader"], TEXTS, progress=False)
    manifest = {k: v for k, v in run.manifest.items() if k != drop}
    with pytest.raises(BadInputError, match=drop):
        oc.rerun(manifest)


# -------------------------------------------------------------- g. memory budget
def _setup_cpu(s, **kw):
    return oc.setup("offline", device="cpu", cache_dir=s.cache_dir, responses_path=s.responses_dir, verbose=False, **kw)


def test_memory_limit_variable_sets_the_budget(monkeypatch, oc_settings):
    monkeypatch.delenv("OPENCLOSED_MODEL_BUDGET_GB", raising=False)
    monkeypatch.setenv("OPENCLOSED_MEMORY_LIMIT_GB", "2")
    s = _setup_cpu(oc_settings)
    assert s.model_budget_gb == pytest.approx((2 - 0.6) * 0.85, abs=0.01)
    assert "OPENCLOSED_MEMORY_LIMIT_GB" in s.budget_reason and "2.0 GB" in s.budget_reason
    assert model_cache().budget == pytest.approx(s.model_budget_gb * 1024**3, rel=0.01)

    monkeypatch.setenv("OPENCLOSED_MODEL_BUDGET_GB", "3")  # still overrides
    s = _setup_cpu(oc_settings)
    assert s.model_budget_gb == 3 and s.budget_reason == "OPENCLOSED_MODEL_BUDGET_GB"

    s = _setup_cpu(oc_settings, model_budget_gb=5)  # and setup(model_budget_gb=) over both
    assert s.model_budget_gb == 5 and s.budget_reason == "chosen by you"


def test_fitting_dtype_under_a_2_gb_limit(monkeypatch, oc_settings):
    from openclosed.session.loading import fitting_dtype

    monkeypatch.delenv("OPENCLOSED_MODEL_BUDGET_GB", raising=False)
    monkeypatch.setenv("OPENCLOSED_MEMORY_LIMIT_GB", "2")
    s = dataclasses.replace(_setup_cpu(oc_settings), dtype="float32",
                            dtype_reason="CPU without native bfloat16")  # picked, not forced
    smol = oc.get_model("smollm2-360m")
    assert smol.params_m == 362
    dtype, note = fitting_dtype(smol, s)
    assert dtype == "bfloat16" and "bfloat16" in note and "1.19 GB model budget" in note

    with pytest.raises(ModelTooLargeError) as info:
        fitting_dtype(oc.get_model("qwen2.5-3b"), s)
    assert "budget" in str(info.value) and "OPENCLOSED_MEMORY_LIMIT_GB" in str(info.value)
    assert "bfloat16" in str(info.value)  # says it would not fit in bfloat16 either

    # a dtype the user asked for is never silently changed
    with pytest.raises(ModelTooLargeError):
        fitting_dtype(smol, s, "float32")
    assert fitting_dtype(smol, s, "bfloat16") == ("bfloat16", "")
    assert fitting_dtype(oc.get_model("smollm2-135m"), s) == ("float32", "")  # fits as it is
    # ... and neither is one chosen at setup (oc.setup(dtype="float32"))
    forced = dataclasses.replace(s, dtype_reason="chosen by you")
    with pytest.raises(ModelTooLargeError):
        fitting_dtype(smol, forced)


def test_recordings_made_before_answers_carried_their_endpoint_are_refused(tmp_path):
    import gzip
    import json

    old = tmp_path / "old.jsonl.gz"
    with gzip.open(old, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"format": "openclosed-response-cache/1"}) + "\n")
    with pytest.raises(oc.OpenClosedError, match="before answers carried their endpoint") as info:
        oc.import_cache(old)
    assert "oc.export_cache" in info.value.hint


def test_load_model_with_a_forced_dtype_that_does_not_fit_loads_nothing(monkeypatch, oc_settings, empty_hub_cache,
                                                                        no_network):
    monkeypatch.delenv("OPENCLOSED_MODEL_BUDGET_GB", raising=False)
    monkeypatch.setenv("OPENCLOSED_MEMORY_LIMIT_GB", "2")
    _setup_cpu(oc_settings)
    loads = model_cache().loads
    with pytest.raises(ModelTooLargeError):
        oc.load_model("smollm2-360m", dtype="float32")
    assert model_cache().loads == loads and no_network == []


def _fake_files(monkeypatch, files: dict[str, str]) -> None:
    """Path(...).read_text() answers from ``files``; any other path is missing."""

    def read_text(self, *a, **kw):
        if str(self) in files:
            return files[str(self)]
        raise FileNotFoundError(str(self))

    monkeypatch.setattr(Path, "read_text", read_text)


@pytest.mark.parametrize("proc_cgroup, files, expected", [
    # cgroup v2: the process's own cgroup first
    ("0::/user.slice/pod.scope\n", {"/sys/fs/cgroup/user.slice/pod.scope/memory.max": "2147483648\n"}, 2 * 1024**3),
    # own cgroup unlimited, the root's limit applies
    ("0::/a\n", {"/sys/fs/cgroup/a/memory.max": "max\n", "/sys/fs/cgroup/memory.max": "1073741824"}, 1024**3),
    # cgroup v1 memory controller
    ("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
     {"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "3221225472"}, 3 * 1024**3),
    # v1 says "unlimited" with a huge number
    ("4:memory:/x\n", {"/sys/fs/cgroup/memory/x/memory.limit_in_bytes": "9223372036854771712"}, None),
    # nothing readable
    ("", {}, None),
])
def test_cgroup_memory_limit(monkeypatch, proc_cgroup, files, expected):
    from openclosed.core import machine

    _fake_files(monkeypatch, {"/proc/self/cgroup": proc_cgroup, **files})
    paths = machine._own_cgroup_files("memory.max", "memory", "memory.limit_in_bytes")
    assert paths[-2:] == ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
    for path in files:
        assert path in paths
    assert machine._cgroup_memory_limit() == expected


def test_container_limit_is_used_when_below_the_machines_ram(monkeypatch):
    from openclosed.core import machine

    monkeypatch.delenv("OPENCLOSED_MEMORY_LIMIT_GB", raising=False)
    monkeypatch.setattr(machine, "_cgroup_memory_limit", lambda: 2 * 1024**3)
    import psutil

    if psutil.virtual_memory().total <= 2 * 1024**3:
        pytest.skip("this machine has less RAM than the fake container limit")
    assert machine.memory_limit() == (2 * 1024**3, "container memory limit")
    gb, why = machine.model_budget("cpu")
    assert gb == pytest.approx((2 - 0.6) * 0.85, abs=0.01) and "container memory limit" in why


# ------------------------------------------------------------ i. pinned revisions
def test_every_builtin_hub_model_is_pinned_to_a_full_commit():
    hub = [m for m in oc.catalog.all_models() if m.source == "hub"]
    assert hub
    unpinned = [(m.name, m.revision) for m in hub if not is_pinned(m.revision)]
    assert unpinned == []


def test_register_refuses_a_short_commit_hash():
    with pytest.raises(OpenClosedError) as info:
        oc.register("short", task="sentiment", model="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
                    revision="714eb0f")
    assert "short commit hash" in str(info.value) and "40" in str(info.value)
    assert "full commit" in info.value.hint
    with pytest.raises(UnknownModelError):
        oc.get_model("short")
    for short in ("714EB0FA", "a" * 39):
        with pytest.raises(OpenClosedError, match="short commit hash"):
            oc.register("short", task="sentiment", model="org/name", revision=short)


@pytest.mark.parametrize("revision, pinned", [
    ("714eb0fa89d2f80546fda750413ed43d93601a13", True),
    ("main", False), ("v1.0", False), ("refs/pr/1", False), ("abc", False),
])
def test_register_accepts_full_commits_and_branch_or_tag_names(revision, pinned):
    spec = oc.register("rev", task="sentiment", model="org/name", revision=revision)
    assert spec.revision == revision and is_pinned(spec.revision) is pinned


def test_register_without_a_revision_says_not_pinned():
    spec = oc.register("rev", task="sentiment", model="org/name")
    assert spec.revision == "main" and "not pinned" in spec.notes.lower()


def test_a_served_copy_fits_beside_the_kernels_own_under_a_2_gb_limit(monkeypatch, oc_settings):
    """oc.serve leaves room for the kernel's copy of the same model: on a 2 GB pod SmolLM2-135M is served in
    bfloat16 (and says so); with room for both, or when asked, it is served in the session's dtype."""
    from openclosed.session.serving import server_dtype

    monkeypatch.delenv("OPENCLOSED_MODEL_BUDGET_GB", raising=False)
    monkeypatch.setenv("OPENCLOSED_MEMORY_LIMIT_GB", "2")
    s = dataclasses.replace(_setup_cpu(oc_settings), dtype="float32", dtype_reason="CPU without native bfloat16")
    smol = oc.get_model("smollm2-135m")
    dtype, note = server_dtype(smol, s)
    assert dtype == "bfloat16" and "beside the kernel's own" in note and "1.19 GB" in note
    assert server_dtype(smol, s, "float32") == ("float32", "")  # asked for: used as it is
    assert server_dtype(smol, dataclasses.replace(s, model_budget_gb=8.0)) == ("float32", "")  # room for both
    assert server_dtype(smol, dataclasses.replace(s, dtype_reason="chosen by you")) == ("float32", "")
    assert server_dtype(smol, dataclasses.replace(s, dtype="bfloat16")) == ("bfloat16", "")
