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

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import openclosed as oc

pytestmark = pytest.mark.server

STARTUP_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command() -> list[str]:
    exe = Path(sys.executable).with_name("transformers")
    if exe.exists():
        return [str(exe), "serve"]
    found = shutil.which("transformers")
    if not found:
        pytest.skip("the `transformers` command is not installed")
    return [found, "serve"]


class Server:
    """A ``transformers serve`` subprocess on 127.0.0.1 and a free port."""

    def __init__(self, tmp: Path, model_dir: Path | None = None) -> None:
        pytest.importorskip("fastapi", reason="transformers serve needs transformers[serving]")
        pytest.importorskip("uvicorn", reason="transformers serve needs transformers[serving]")
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = tmp / f"serve-{self.port}.log"
        hub = tmp / "empty-hub-cache"  # GET /v1/models scans the Hub cache; an empty one answers at once
        hub.mkdir(exist_ok=True)
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub), TRANSFORMERS_VERBOSITY="warning")
        cmd = _serve_command() + ([str(model_dir)] if model_dir else []) + [
            "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", "--log-level", "warning"]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> Server:
        import httpx2

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx2.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"transformers serve did not answer GET /v1/models within {timeout:g} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="session")
def _servers(tmp_path_factory, tiny_lm_dir):
    """Both servers, started together (their start-ups overlap), stopped at the end."""
    tmp = tmp_path_factory.mktemp("serve")
    servers = {}
    try:
        servers["unpinned"] = Server(tmp)
        servers["pinned"] = Server(tmp, tiny_lm_dir)
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
