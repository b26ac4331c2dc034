"""``oc.rerun`` in a fresh kernel makes the same model again: a saved run's
models are registered again from everything their manifest record holds
(backend, source, folder or endpoint, revision, key variable name, licence,
prices...), not turned into hub transformers models. A fresh kernel is
simulated by ``oc.unregister`` of the model between the run and the rerun."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from http.server import ThreadingHTTPServer

import pytest

import openclosed as oc
from openclosed.catalog.registry import add_spec, all_models
from openclosed.catalog.specs import ModelSpec
from openclosed.core.errors import OpenClosedError
from openclosed.testing import stub_server

TEXTS = ["good stuff, loved it", "a terrible, awful day"]
SERVED_KEY = "sk-served-0123456789abcdef"  # recognisable: must never appear in a manifest


def _fresh_kernel_rerun(name: str, folder, **setup):
    """Forget ``name`` (as a new kernel would), then rerun the saved run in ``folder`` with the cache off."""
    oc.unregister(name)
    with pytest.raises(KeyError):
        oc.get_model(name)
    s = oc.get_settings()
    oc.setup("offline", response_cache="off", cache_dir=s.cache_dir, responses_path=s.responses_dir, verbose=False,
             **setup)
    return oc.rerun(folder)


def _same_record(rebuilt: ModelSpec, original: dict) -> None:
    rec = rebuilt.record()
    for field in original:  # field by field, so a failure names the field
        assert rec[field] == original[field], field
    assert rec == original


# ------------------------------------------------------------- the inverse
@pytest.mark.parametrize("spec", all_models(), ids=lambda m: m.name)
def test_from_record_inverts_record_for_every_builtin(spec):
    assert ModelSpec.from_record(spec.record()) == spec
    through_json = ModelSpec.from_record(json.loads(json.dumps(spec.record())))  # as a saved manifest holds it
    assert through_json == spec and through_json.record() == spec.record()
    assert all(getattr(through_json, f.name) == getattr(spec, f.name) for f in dataclasses.fields(spec)
               if f.name != "extra")


def test_from_record_ignores_unknown_keys_and_names_missing_ones():
    spec = oc.get_model("vader")
    assert ModelSpec.from_record({**spec.record(), "added_in_a_later_version": 1}) == spec
    with pytest.raises(OpenClosedError, match="backend"):
        ModelSpec.from_record({k: v for k, v in spec.record().items() if k != "backend"})


def test_add_spec_refuses_a_taken_name():
    spec = oc.get_model("vader")
    with pytest.raises(OpenClosedError, match="exists already"):
        add_spec(spec)
    assert add_spec(dataclasses.replace(spec, name="vader-copy")) == oc.get_model("vader-copy")


# ------------------------------------------------------------- a fine-tuned folder
def test_rerun_makes_a_fine_tuned_folder_again(tiny_classifier_dir, tmp_path):
    spec = oc.register("my-clf", task="sentiment", path=tiny_classifier_dir, license="apache-2.0",
                       notes="fine-tuned on the workshop data")
    original = spec.record()
    assert (original["source"], original["backend"], original["revision"]) == ("folder", "transformers", "local")
    run = oc.compare("sentiment", ["my-clf"], TEXTS, progress=False)
    assert all(r.ok for r in run.results), run.errors()
    folder = run.save(tmp_path / "runs" / "clf")

    again = _fresh_kernel_rerun("my-clf", folder)
    _same_record(oc.get_model("my-clf"), original)
    assert again.manifest["model_specs"] == [original]
    assert all(r.ok and r.cache == "off" for r in again.results), again.errors()
    made_by = {(r.backend, r.ref, r.revision) for r in again.results}
    assert made_by == {("transformers", str(tiny_classifier_dir.resolve()), "local")}
    assert again.manifest["loaded"]["my-clf"]["folder"] == run.manifest["loaded"]["my-clf"]["folder"]
    assert [r.output for r in again.results] == [r.output for r in run.results]


def test_rerun_keeps_a_folder_model_on_its_own_backend(monkeypatch, tiny_classifier_dir, tmp_path):
    """A folder on a non-default backend stays on it (it used to come back as a transformers hub model)."""
    from openclosed import backends

    monkeypatch.setitem(backends.BACKENDS, "echo", "echo_backend")  # tests/echo_backend.py
    original = oc.register("echo-clf", task="sentiment", path=tiny_classifier_dir, backend="echo").record()
    run = oc.compare("sentiment", ["echo-clf"], TEXTS, progress=False)
    folder = run.save(tmp_path / "runs" / "echo")

    again = _fresh_kernel_rerun("echo-clf", folder)
    _same_record(oc.get_model("echo-clf"), original)
    r = again.result("echo-clf", 0)
    assert r.ok and r.cache == "off" and r.backend == "echo" and r.notes[0] == TEXTS[0].upper()
    assert again.manifest["loaded"]["echo-clf"]["folder"] == "(echo)"
    assert [r.output for r in again.results] == ["positive", "negative"]


# ------------------------------------------------------------- a served model
class _RecordingHandler(stub_server.Handler):
    """The stand-in server, noting each chat request's key and model."""

    seen: list[tuple[str | None, str]] = []

    def do_POST(self):  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append((self.headers.get("authorization"), json.loads(raw or b"{}").get("model")))
        rfile, self.rfile = self.rfile, io.BytesIO(raw)  # the stub reads the body again
        try:
            super().do_POST()
        finally:
            self.rfile = rfile


@pytest.fixture
def recording_server():
    _RecordingHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", _RecordingHandler.seen
    finally:
        server.shutdown()
        server.server_close()


def test_rerun_makes_a_served_model_again_with_its_key_variable(monkeypatch, recording_server, tmp_path):
    url, seen = recording_server
    monkeypatch.setenv("MY_SERVER_KEY", SERVED_KEY)
    spec = oc.register("my-served", task="sentiment", base_url=url, model="org/served-model", revision="v1.2",
                       api_key_env="MY_SERVER_KEY", license="apache-2.0", params_m=135.0)
    original = spec.record()
    assert (original["backend"], original["source"], original["family"]) == ("openai", "api", "served")
    run = oc.compare("sentiment", ["my-served"], TEXTS, progress=False)
    assert all(r.ok for r in run.results), run.errors()
    assert seen == [(f"Bearer {SERVED_KEY}", "org/served-model")] * len(TEXTS)
    folder = run.save(tmp_path / "runs" / "served")
    saved = (folder / "manifest.json").read_text()
    assert SERVED_KEY not in saved and SERVED_KEY not in json.dumps(run.manifest, default=str)
    assert json.loads(saved)["model_specs"][0]["api_key_env"] == "MY_SERVER_KEY"

    seen.clear()
    again = _fresh_kernel_rerun("my-served", folder)
    _same_record(oc.get_model("my-served"), original)
    assert seen == [(f"Bearer {SERVED_KEY}", "org/served-model")] * len(TEXTS)  # same endpoint, model and key
    assert all(r.ok and r.cache == "off" for r in again.results), again.errors()
    assert {(r.backend, r.family, r.ref, r.answered_by) for r in again.results} == {
        ("openai", "served", "org/served-model", stub_server.STUB_MODEL)}
    assert again.manifest["endpoints"]["my-served"]["endpoint"] == url
    assert again.manifest["endpoints"]["my-served"]["requests"] == len(TEXTS)
    assert [r.output for r in again.results] == [r.output for r in run.results] == ["positive", "negative"]
