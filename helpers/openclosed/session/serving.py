"""An open model served on this machine behind an OpenAI-compatible endpoint:
``oc.serve("smollm2-135m")``.

The same weights that run in the kernel are started in a separate process
on ``127.0.0.1`` (a free port) - with ``transformers serve``, or for a GGUF
model with llama.cpp's own server (``engine="llama.cpp"``: ``python -m
llama_cpp.server``, the engine under Ollama and LM Studio) - and registered as a
``served`` model, so one notebook can put the in-process model, the served
copy and a closed API side by side, driven by the same ``openai`` client a
vLLM, TGI or Ollama server would be. Nothing listens beyond loopback.

A second call for the same model returns the server that is already running
(reruns are cheap); servers stop with :meth:`ServedModel.stop`, at the end of
a ``with`` block, or when the kernel exits.

One model for a room: plain ``transformers serve`` answers one request at a
time (eight sent at once wait in a queue). ``oc.serve(model, concurrent=N)``
starts it with continuous batching (``--continuous-batching``: requests
join and leave one running batch, each step decodes a token for all of
them) and a key/value cache sized for ``N`` requests of
:data:`TOKENS_PER_REQUEST` tokens; ``benchmarks/bench_serving.py`` measures
both. ``transformers serve`` checks no key, so it stays on loopback; a
server for a whole class is vLLM (``--api-key``), TGI or Ollama on a GPU box
(``docs/instructor.md``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..backends.files import model_files
from ..catalog.registry import get_model, register
from ..core.errors import OpenClosedError
from ..core.machine import GB
from .loading import estimate_bytes
from .setup import get_settings

SERVABLE_TASKS = ("text-generation", "sentiment")
STARTUP_TIMEOUT_S = 180.0
# A `transformers serve` process before its model is loaded: Python, torch, transformers and the web stack
# (measured: 340 MB anonymous memory on a CPU).
SERVER_RUNTIME_GB = 0.35
TOKENS_PER_REQUEST = 1024  # prompt + answer one concurrent request may hold in the key/value cache
CB_BLOCK_TOKENS = 32  # tokens per key/value cache block (transformers' paged cache)

_running: dict[str, ServedModel] = {}
_lock = threading.Lock()


def serve_command() -> list[str]:
    """``transformers serve`` from this Python's environment (clear error when it is missing)."""
    exe = Path(sys.executable).with_name("transformers")
    found = str(exe) if exe.exists() else shutil.which("transformers")
    missing = [m for m in ("fastapi", "uvicorn") if not _importable(m)]
    if not found or missing:
        raise OpenClosedError(
            "`transformers serve` is not available in this environment"
            + (f" (missing: {', '.join(missing)})" if missing else ""),
            "install the serving extra: pip install 'transformers[serving]' (it is in requirements.txt)")
    return [found, "serve"]


def llamacpp_serve_command() -> list[str]:
    """``python -m llama_cpp.server`` from this Python's environment (clear error when it is missing)."""
    from ..backends.llamacpp import INSTALL_HINT

    missing = [m for m in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context",
                           "pydantic_settings") if not _importable(m)]
    if missing:
        raise OpenClosedError(f"llama.cpp's server is not available in this environment (missing: {', '.join(missing)})",
                              f"{INSTALL_HINT}; its server also needs: pip install 'llama-cpp-python[server]'")
    return [sys.executable, "-m", "llama_cpp.server"]


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A ``transformers serve`` process on 127.0.0.1. With ``folder`` it is
    pinned to that model (requests must name that exact path); without, it
    loads any local folder a request names."""

    folder: Path | None = None  # transformers: a model folder; llama.cpp: the GGUF file
    engine: str = "transformers"  # or "llama.cpp"
    threads: int = 1  # llama.cpp's threads (transformers serve takes torch's default)
    device: str = "cpu"
    dtype: str = "auto"  # "auto" = the dtype of the weights on disk (bfloat16 for SmolLM2: slow on most CPUs)
    port: int = field(default_factory=free_port)
    log_dir: Path | None = None
    concurrent: int = 1  # > 1: continuous batching with a key/value cache for this many requests
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def batching_args(self) -> list[str]:
        """``transformers serve`` options for :attr:`concurrent` requests at once (none for one at a time)."""
        if self.concurrent <= 1:
            return []
        blocks = -(-self.concurrent * TOKENS_PER_REQUEST // CB_BLOCK_TOKENS)
        return ["--continuous-batching", "--cb-block-size", str(CB_BLOCK_TOKENS), "--cb-num-blocks", str(blocks)]

    def start(self) -> Server:
        log_dir = Path(self.log_dir or tempfile.mkdtemp(prefix="oc-serve-"))
        self.log_path = log_dir / f"serve-{self.port}.log"
        hub = log_dir / "empty-hub-cache"  # GET /v1/models scans the Hub cache: an empty one answers at once
        hub.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub), TRANSFORMERS_VERBOSITY="warning")
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):  # the server needs no key: it never gets one
            env.pop(key, None)
        if self.engine == "llama.cpp":  # one request at a time; a new request must not cut a running stream
            from ..backends.llamacpp import N_CTX

            cmd = llamacpp_serve_command() + [
                "--model", str(self.folder), "--model_alias", self.folder.name, "--host", "127.0.0.1",
                "--port", str(self.port), "--n_ctx", str(N_CTX), "--n_threads", str(self.threads),
                "--n_threads_batch", str(self.threads), "--logits_all", "False", "--interrupt_requests", "False",
                "--verbose", "False"]
        else:
            cmd = serve_command() + ([str(self.folder)] if self.folder else []) + [
                "--host", "127.0.0.1", "--port", str(self.port), "--device", self.device, "--dtype", self.dtype,
                "--log-level", "warning"] + self.batching_args()
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        return self

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S, progress: bool = False) -> Server:
        """Block until ``GET /v1/models`` answers; a server that exits or never answers is an error with its log."""
        import httpx2
        from tqdm.auto import tqdm

        what = "llama.cpp's server" if self.engine == "llama.cpp" else "transformers serve"
        bar = tqdm(total=None, desc=f"starting {what}", unit="s", disable=not progress,
                   bar_format="{desc}: {elapsed}")
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    raise OpenClosedError(f"{what} exited with {code} before answering:\n{self.log()}",
                                          "read the log above; a model that does not fit in memory is the usual cause")
                try:
                    if httpx2.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                        return self
                except httpx2.HTTPError:
                    pass
                bar.update(0)
                time.sleep(0.25)
        finally:
            bar.close()
        self.stop()
        raise OpenClosedError(f"{what} did not answer within {timeout_s:g} s:\n{self.log()}",
                              "try again with a larger timeout_s= (a first start on a slow machine can take minutes)")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """The last lines the server printed."""
        if getattr(self, "_log", None) and not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except (AttributeError, OSError):
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


@dataclass
class ServedModel:
    """A catalog model served on loopback and registered as ``name`` (family ``served``)."""

    name: str
    source: str
    server: Server = field(repr=False)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stop(self) -> None:
        """Stop the server (the registered name stays; its requests then fail with a connection error)."""
        self.server.stop()
        with _lock:
            if _running.get(self.source) is self:
                del _running[self.source]

    def __enter__(self) -> ServedModel:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.server.alive else "stopped"
        return f"ServedModel({self.name!r}: {self.source} at {self.base_url}, {state})"


def server_dtype(spec, settings, dtype: str | None = None) -> tuple[str, str]:
    """(dtype the server loads ``spec`` in, note or "").

    A served model usually sits beside the kernel's own copy of the same
    weights (side by side is the point), so the server takes the session's
    dtype (the one this machine computes fast in) when both copies and the
    server's runtime fit the model memory budget. On a CPU where they do not
    (a 2 GB Binder pod: 1.43 GB for SmolLM2-135M in float32 against a
    1.19 GB budget), the server loads bfloat16, half the memory and slower
    on most CPUs, and says so. A ``dtype`` you pass is used as it is."""
    if dtype:
        return dtype, ""
    chosen = settings.dtype
    budget = settings.model_budget_gb * GB
    kernel_copy = estimate_bytes(spec, chosen)
    runtime = SERVER_RUNTIME_GB * GB
    if 2 * kernel_copy + runtime <= budget or settings.dtype_reason == "chosen by you":
        return chosen, ""
    half = estimate_bytes(spec, "bfloat16")
    if settings.device == "cpu" and chosen == "float32" and kernel_copy + half + runtime <= budget:
        return "bfloat16", (f"served in bfloat16: a float32 copy in the server beside the kernel's own would need "
                            f"{(2 * kernel_copy + runtime) / GB:.2f} GB, more than the {settings.model_budget_gb:g} GB "
                            "model budget (bfloat16 halves the server's weights and is slower on most CPUs; "
                            "pass dtype='float32' to insist)")
    return chosen, ""


ENGINES = ("transformers", "llama.cpp")


def serve(model: str, *, task: str | None = None, name: str | None = None, dtype: str | None = None,
          timeout_s: float = STARTUP_TIMEOUT_S, progress: bool = True, engine: str = "transformers",
          concurrent: int = 1) -> ServedModel:
    """Serve catalog model ``model`` (an open chat model on this machine)
    behind an OpenAI-compatible endpoint on 127.0.0.1 and register it as
    ``name`` (default ``"<model>-served"``) for ``task`` (default: the tasks
    of ``model`` that a chat server can do), in ``dtype`` (default: see
    :func:`server_dtype`). ``engine``: ``"transformers"`` (``transformers
    serve``) or ``"llama.cpp"`` (llama.cpp's server on a GGUF model, e.g.
    ``oc.serve("smollm2-135m-q4_1", engine="llama.cpp")``; it sends no token
    usage in streams, so its output tokens are the lab's count of streamed
    chunks, and the results say so). ``concurrent=N`` (N > 1, transformers
    only) serves up to N requests at once in one continuously batched
    generation (a room sharing one model); the default answers one request at
    a time. Introduced in ``02_text_generation.ipynb``."""
    if engine not in ENGINES:
        raise OpenClosedError(f"unknown engine {engine!r}", f"use one of {', '.join(map(repr, ENGINES))}")
    if isinstance(concurrent, bool) or not isinstance(concurrent, int) or not 1 <= concurrent <= 256:
        raise OpenClosedError(f"concurrent={concurrent!r} is not a number of requests from 1 to 256",
                              "e.g. oc.serve('smollm2-135m', concurrent=16) for a class of 16 sharing one model")
    if engine == "llama.cpp" and concurrent > 1:
        raise OpenClosedError("llama-cpp-python's server answers one request at a time (concurrent must be 1)",
                              "for a room, serve the transformers model with concurrent=N, or run llama.cpp's own "
                              "llama-server with --parallel N and oc.register(..., base_url=...)")
    spec = get_model(model)
    if engine == "llama.cpp":
        return _serve_gguf(spec, task, name, timeout_s, progress)
    if spec.backend != "transformers" or spec.arch not in ("causal-lm", "chat"):
        raise OpenClosedError(f"{model!r} is not an open chat model that `transformers serve` can serve "
                              f"(backend {spec.backend}, {spec.arch or 'no architecture'})",
                              "pick an open text-generation model, e.g. oc.serve('smollm2-135m')")
    tasks = _served_tasks(spec, task)
    settings = get_settings()
    with _lock:
        current = _running.get(model)
    if (current is not None and current.server.alive and (name is None or name == current.name)
            and current.server.concurrent == concurrent):
        return current
    files = model_files(spec, settings)
    if not Path(files.where).is_dir():
        raise OpenClosedError(f"{model!r} is not on this machine as a folder ({files.where})",
                              "download it first (python -m openclosed.catalog.assets --profile ...) or register a folder")
    device = "cuda" if settings.device.startswith("cuda") else "cpu"
    dtype, note = server_dtype(spec, settings, dtype)
    if note:
        print(f"[oc.serve] {model}: {note}")
    server = Server(Path(files.where), device=device, dtype=dtype, concurrent=concurrent).start()
    atexit.register(server.stop)
    server.wait_ready(timeout_s, progress=progress)
    label = "random-weight stand-in" if (files.stand_in or files.random_weights or spec.random_weights) else "weights"
    name = name or f"{model}-served"
    register(name, tasks=tasks, base_url=server.base_url, model=str(files.where), license=spec.license,
             random_weights=bool(files.stand_in or files.random_weights or spec.random_weights),
             params_m=spec.params_m, notes=f"{model}'s {label} served by `transformers serve` on this machine "
                                           f"(loopback only) in {dtype}"
                                           + (f", up to {concurrent} requests batched together" if concurrent > 1 else "")
                                           + (f"; {note}" if note else ""),
             replace_existing=True)
    return _keep(ServedModel(name, model, server))


def _served_tasks(spec, task: str | None) -> tuple[str, ...]:
    tasks = (task,) if task else tuple(t for t in spec.tasks if t in SERVABLE_TASKS)
    if not tasks or any(t not in spec.tasks or t not in SERVABLE_TASKS for t in tasks):
        raise OpenClosedError(f"{spec.name!r} cannot be served for task {task!r}",
                              f"use one of {', '.join(t for t in spec.tasks if t in SERVABLE_TASKS)}")
    return tasks


def _keep(served: ServedModel) -> ServedModel:
    """Remember ``served`` as the running server of its model (stopping the one it replaces)."""
    with _lock:
        old = _running.pop(served.source, None)
        _running[served.source] = served
    if old is not None and old is not served:
        old.server.stop()
    return served


def _serve_gguf(spec, task: str | None, name: str | None, timeout_s: float, progress: bool) -> ServedModel:
    """A GGUF model behind llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) on loopback."""
    from ..backends.llamacpp import gguf_path

    if spec.backend != "llamacpp":
        raise OpenClosedError(f"{spec.name!r} is not a GGUF model, so llama.cpp's server cannot serve it",
                              "serve one of the GGUF models, e.g. oc.serve('smollm2-135m-q4_1', engine='llama.cpp'), "
                              "or this model with engine='transformers'")
    tasks = _served_tasks(spec, task)
    key = f"{spec.name}@llama.cpp"
    with _lock:
        current = _running.get(key)
    if current is not None and current.server.alive and (name is None or name == current.name):
        return current
    settings = get_settings()
    path = gguf_path(spec, settings)
    server = Server(path, engine="llama.cpp", threads=settings.threads).start()
    atexit.register(server.stop)
    server.wait_ready(timeout_s, progress=progress)
    name = name or f"{spec.name}-served"
    register(name, tasks=tasks, base_url=server.base_url, model=path.name, license=spec.license,
             params_m=spec.params_m, size_mb=spec.size_mb,
             notes=f"{spec.name}'s GGUF served by llama.cpp's server (llama-cpp-python, loopback only); it sends no "
                   "token usage in streams, so output tokens are the lab's count of streamed chunks (marked on "
                   "each result)", replace_existing=True)
    return _keep(ServedModel(name, key, server))
