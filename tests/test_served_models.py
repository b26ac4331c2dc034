"""Open models behind a real OpenAI-compatible server: ``transformers serve``
on 127.0.0.1 (a free port), driven through ``oc.compare`` by the official
``openai`` client - the "served" family end to end.

One unpinned server (session-scoped) serves both the tiny random-weight LM
and the real SmolLM2-135M-Instruct folder: unpinned, ``transformers serve``
loads a local folder on demand when the request's ``model`` is its path. A
second, pinned server (``transformers serve FOLDER``) checks that a pinned
server is reached with ``model`` equal to that exact path. Servers are always
stopped in the fixture finalizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import openclosed as oc
from openclosed.session.serving import Server

pytestmark = pytest.mark.server


@pytest.fixture(scope="session", autouse=True)
def _serving_installed():
    pytest.importorskip("fastapi", reason="transformers serve needs transformers[serving]")
    pytest.importorskip("uvicorn", reason="transformers serve needs transformers[serving]")


@pytest.fixture(scope="session")
def _servers(tmp_path_factory, tiny_lm_dir):
    """Both servers, started together (their start-ups overlap), stopped at the end."""
    tmp = tmp_path_factory.mktemp("serve")
    servers = {}
    try:
        servers["unpinned"] = Server(log_dir=tmp).start()
        servers["pinned"] = Server(tiny_lm_dir, log_dir=tmp).start()
        yield servers
    finally:
        for srv in servers.values():
            srv.stop()


@pytest.fixture(scope="session")
def server(_servers):
    """An unpinned server: serves any local folder named in the request."""
    return _servers["unpinned"].wait_ready()


@pytest.fixture(scope="session")
def pinned_server(_servers):
    """``transformers serve TINY_LM_DIR``: pinned to that folder."""
    return _servers["pinned"].wait_ready()


def _register(name: str, task: str, srv: Server, folder: Path):
    return oc.register(name, task=task, base_url=srv.base_url, model=str(folder), replace_existing=True)


def test_tiny_model_chats_and_streams(server, tiny_lm_dir):
    _register("tiny-served", "text-generation", server, tiny_lm_dir)
    partials: list[tuple[int, str]] = []
    run = oc.compare("text-generation", ["tiny-served"], ["Hello! How are you today?", "Write a poem."],
                     max_tokens=8, progress=False, cache="off", on_partial=lambda m, i, t: partials.append((i, t)))
    for i in range(2):
        r = run.result("tiny-served", i)
        assert r.ok, r.error
        assert r.output and r.output.strip()
        assert r.family == "served" and str(tiny_lm_dir) in r.answered_by
        assert r.ttft_s is not None and 0 < r.ttft_s <= r.latency_s
        assert r.output_tokens == 8 and r.finish_reason == "length"
        assert r.tokens_per_s and r.tokens_per_s > 0
        assert r.cost_usd is None and "self-hosted" in r.cost_basis
        assert any(idx == i for idx, _ in partials)  # streamed, piece by piece
    assert run.manifest["model_specs"][0]["base_url"] == server.base_url


def test_served_and_local_copies_of_one_model_side_by_side(server, tiny_lm_dir):
    _register("tiny-served", "text-generation", server, tiny_lm_dir)
    oc.register("tiny-local", task="text-generation", path=tiny_lm_dir, replace_existing=True)
    run = oc.compare("text-generation", ["tiny-local", "tiny-served"], ["The quick brown fox"], max_tokens=6,
                     progress=False, cache="off")
    assert all(r.ok and r.output for r in run.results), [str(r.error) for r in run.results]
    assert {r.family for r in run.results} == {"open", "served"}


def test_smollm2_knows_the_capital_of_france(server, smollm2_dir):
    _register("smollm2-served", "text-generation", server, smollm2_dir)
    run = oc.compare("text-generation", ["smollm2-served"], ["What is the capital of France?"], max_tokens=24,
                     temperature=0.0, progress=False, cache="off")
    r = run.result("smollm2-served")
    assert r.ok, r.error
    assert "Paris" in r.output
    assert r.ttft_s is not None and r.input_tokens and r.output_tokens


def test_smollm2_served_sentiment_without_structured_output(server, smollm2_dir):
    # transformers serve ignores response_format: the plain answer word is mapped, and the note says so
    _register("smollm2-served-sent", "sentiment", server, smollm2_dir)
    run = oc.compare("sentiment", ["smollm2-served-sent", "vader"], ["I loved this movie, it was wonderful."],
                     progress=False, cache="off")
    r = run.result("smollm2-served-sent")
    assert r.ok, r.error
    assert r.output == "positive"
    assert run.result("vader").output == "positive"


def test_pinned_server_answers_to_its_exact_path_only(pinned_server, tiny_lm_dir):
    _register("tiny-pinned", "text-generation", pinned_server, tiny_lm_dir)
    oc.register("tiny-pinned-wrong", task="text-generation", base_url=pinned_server.base_url,
                model="some-other-model", replace_existing=True)
    run = oc.compare("text-generation", ["tiny-pinned", "tiny-pinned-wrong"], ["Hello!"], max_tokens=4,
                     progress=False, cache="off")
    ok, wrong = run.result("tiny-pinned"), run.result("tiny-pinned-wrong")
    assert ok.ok and ok.output, ok.error
    assert wrong.error is not None and wrong.error.type in ("BadRequestError", "NotFoundError")
    assert "pinned" in wrong.error.message.lower() or "some-other-model" in wrong.error.message


def test_oc_serve_registers_a_served_copy_and_reuses_the_running_server():
    served = oc.serve("smollm2-135m", progress=False)
    try:
        assert oc.serve("smollm2-135m", progress=False) is served  # a rerun does not start a second server
        spec = oc.get_model(served.name)
        assert spec.family == "served" and spec.base_url == served.base_url
        assert served.base_url.startswith("http://127.0.0.1:")
        run = oc.compare("text-generation", [served.name], ["What is the capital of France?"], max_tokens=16,
                         temperature=0.0, progress=False, cache="off")
        r = run.result(served.name)
        assert r.ok, r.error
        assert "Paris" in r.output and r.family == "served"
    finally:
        served.stop()
    assert not served.server.alive and "stopped" in repr(served)
    with pytest.raises(oc.OpenClosedError, match="not an open chat model"):
        oc.serve("vader")


def test_a_server_for_the_room_answers_concurrent_requests_in_one_batch(pinned_server, tiny_lm_dir, tmp_path):
    """``concurrent=4``: continuous batching with a key/value cache for 4 requests; 4 requests sent at once are
    all answered, through the batching path, with the same greedy answers as the plain server's."""
    room = Server(tiny_lm_dir, log_dir=tmp_path, concurrent=4)
    assert room.batching_args() == ["--continuous-batching", "--cb-block-size", "32", "--cb-num-blocks", "128"]
    assert Server(tiny_lm_dir).batching_args() == []
    room.start()
    try:
        room.wait_ready()
        prompts = [f"Say something about {w}." for w in ("rain", "cats", "bread", "owls")]
        answers = {}
        for name, srv in (("tiny-room", room), ("tiny-plain", pinned_server)):
            _register(name, "text-generation", srv, tiny_lm_dir)
            run = oc.compare("text-generation", [name], prompts, max_tokens=8, temperature=0.0, cache="off",
                             progress=False)  # the API backend sends the 4 requests at once
            assert all(r.ok for r in run.results), [str(r.error) for r in run.results]
            answers[name] = [r.output for r in run.results]
        assert room.log().count("CB: True") >= len(prompts)  # every request went through the batching manager
        assert answers["tiny-room"] == answers["tiny-plain"]
    finally:
        room.stop()


def test_concurrent_must_be_a_number_of_requests():
    for bad in (0, -2, 2.5, True, "16"):
        with pytest.raises(oc.OpenClosedError, match="concurrent="):
            oc.serve("smollm2-135m", concurrent=bad, progress=False)
