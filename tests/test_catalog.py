import pytest

import openclosed as oc
from openclosed.core.errors import ModelTaskError, OpenClosedError, UnknownModelError


def test_models_lists_every_builtin_with_revision_and_size():
    df = oc.models()
    assert {"vader", "minilm-lr", "smollm2-135m", "gpt-6-luna"} <= set(df["name"])
    assert "tiny-sd-random (random weights)" in set(df["name"])
    open_rows = df[df["family"] == "open"]
    assert open_rows["revision"].ne("-").all()
    assert open_rows["size (MB)"].notna().all()


def test_models_filters_by_task_and_profile():
    df = oc.models(task="image-generation")
    assert set(df["tasks"].str.contains("image-generation")) == {True}
    offline = oc.models(profile="offline")
    assert "distilbert-sst2" not in set(offline["name"])
    with pytest.raises(OpenClosedError, match="unknown task"):
        oc.models(task="translation")


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownModelError) as err:
        oc.get_model("smollm2-135")
    assert "smollm2-135m" in str(err.value)
    assert "oc.models()" in str(err.value)


def test_wrong_task_says_which_models_do_it():
    with pytest.raises(ModelTaskError, match="does not do 'image-generation'"):
        oc.get_model("vader", "image-generation")


def test_register_hub_folder_and_server(tmp_path):
    hub = oc.register("t-hub", task="sentiment", model="org/some-classifier", revision="a" * 40)
    assert (hub.family, hub.backend, hub.arch, hub.revision) == ("open", "transformers", "classifier", "a" * 40)
    unpinned = oc.register("t-unpinned", task="text-generation", model="org/lm")
    assert unpinned.revision == "main" and "not pinned" in unpinned.notes
    (tmp_path / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}')
    folder = oc.register("t-folder", task="text-generation", path=tmp_path)
    assert (folder.source, folder.arch, folder.revision) == ("folder", "causal-lm", "local")
    served = oc.register("t-vllm", task="text-generation", base_url="http://127.0.0.1:8000/v1/", model="m")
    assert (served.family, served.backend, served.base_url) == ("served", "openai", "http://127.0.0.1:8000/v1")
    assert "t-vllm" in set(oc.models()["name"])
    for n in ("t-hub", "t-unpinned", "t-folder", "t-vllm"):
        oc.unregister(n)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": "sentiment"}, "needs model="),
        ({"model": "x"}, "needs task="),
        ({"task": "poetry", "model": "x"}, "needs task="),
        ({"task": "text-generation", "base_url": "http://127.0.0.1:1/v1"}, "needs model="),
        ({"task": "sentiment", "path": "/nonexistent/folder"}, "no folder or file at"),
    ],
)
def test_register_rejects_bad_calls_with_a_fix(kwargs, message):
    with pytest.raises(OpenClosedError, match=message) as err:
        oc.register("t-bad", **kwargs)
    assert "What to do" in str(err.value)


def test_register_refuses_to_shadow_a_model():
    with pytest.raises(OpenClosedError, match="exists already"):
        oc.register("vader", task="sentiment", model="x/y")


def test_default_models_follow_the_profile():
    assert oc.catalog.default_models("sentiment", "offline") == ["vader", "minilm-lr", "smollm2-135m", "gpt-6-luna"]
    assert "distilbert-sst2" in oc.catalog.default_models("sentiment", "workshop")


def test_adding_a_backend_is_one_module_and_one_registry_line(monkeypatch):
    from openclosed import backends

    monkeypatch.setitem(backends.BACKENDS, "echo", "echo_backend")  # the one line (here: a module in tests/)
    oc.register("echo-model", task="sentiment", model="any/name", revision="main", backend="echo")
    run = oc.compare("sentiment", ["echo-model", "vader"], ["good stuff", "meh"], progress=False)
    assert [r.output for r in run.results[:2]] == ["positive", "negative"]
    assert run.result("echo-model", 0).notes[0] == "GOOD STUFF" and run.result("echo-model", 0).backend == "echo"
    assert run.manifest["label_maps"]["echo-model"] == {"'good' in text": "positive", "otherwise": "negative"}
    monkeypatch.setitem(backends.BACKENDS, "broken", "json")  # a module that is not a backend (it has load, not LOCAL or run)
    with pytest.raises(OpenClosedError, match="lacks LOCAL, run"):
        backends.get_backend("broken")


def test_task_names_agree_between_catalog_and_tasks():
    from openclosed.catalog.specs import TASKS as CATALOG_TASKS
    from openclosed.tasks import TASKS

    assert set(CATALOG_TASKS) == set(TASKS)
