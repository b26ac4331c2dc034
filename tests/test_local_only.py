"""``oc.setup(local_only=True)``: nothing leaves the machine.

The end-to-end test runs in a network namespace that has only a loopback
interface (``unshare -n``), so no packet can leave even if the guard failed:
there an unguarded connection to a public address fails with "Network is
unreachable", and the test tells the guard's own error apart from that.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import openclosed as oc
from openclosed.core import netguard
from conftest import require_or_skip
from openclosed.core.errors import LocalOnlyError

PUBLIC = "192.0.2.1"  # TEST-NET-1: a public-style address that is never this machine


@pytest.fixture
def guard_off():
    yield
    netguard.set_enabled(False)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LOCALHOST.", "::ffff:127.0.0.1",
                                  "api.localhost", None])
def test_loopback_hosts_are_local(host):
    assert netguard.is_local_host(host)


@pytest.mark.parametrize("host", ["192.0.2.1", "10.0.0.1", "0.0.0.0", "api.openai.com", "::ffff:8.8.8.8", "2001:db8::1",
                                  "localhost.evil.com", "127.0.0.1.nip.io", ""])
def test_other_hosts_are_not_local(host):
    assert not netguard.is_local_host(host)


def test_setup_switches_the_guard_and_the_error_names_host_and_model(guard_off):
    s = oc.setup("offline", local_only=True, verbose=False)
    assert s.local_only and netguard.enabled()
    assert "local only" in s.report()
    with netguard.attribute("gpt-6-luna"), pytest.raises(LocalOnlyError) as info:
        netguard.check_url("https://api.openai.com/v1", None)
    assert info.value.host == "api.openai.com" and info.value.model == "gpt-6-luna"
    assert "'gpt-6-luna'" in str(info.value) and "api.openai.com" in str(info.value)
    assert "oc.setup(local_only=False)" in info.value.hint
    netguard.check_url("http://127.0.0.1:8000/v1")  # loopback stays allowed
    assert oc.setup("offline", verbose=False).local_only  # a later setup() does not switch it off by the way
    oc.setup("offline", local_only=False, verbose=False)
    assert not netguard.enabled()
    netguard.check_url("https://api.openai.com/v1")  # off: nothing is refused


def test_closed_model_refused_before_any_request_other_columns_still_answer(monkeypatch, guard_off):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-1234")
    oc.setup("offline", local_only=True, verbose=False)
    run = oc.compare("sentiment", ["vader", "gpt-6-luna"], ["I loved it", "Awful."], progress=False)
    closed = [r for r in run.results if r.model == "gpt-6-luna"]
    assert all(r.error and r.error.type == "LocalOnlyError" for r in closed)
    assert "api.openai.com" in closed[0].error.message and "'gpt-6-luna'" in closed[0].error.message
    assert all(r.ok for r in run.results if r.model == "vader")
    assert run.manifest["endpoints"]["gpt-6-luna"]["requests"] == 0
    assert "sk-test" not in json.dumps(run.manifest, default=str)


SCRIPT = textwrap.dedent(f"""
    import errno, json, os, socket, sys
    out = {{}}

    def connect(host, port=443):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(5)
        try:
            s.connect((host, port))
            return "connected"
        except Exception as exc:
            return [type(exc).__name__, getattr(exc, "errno", None), str(exc)]
        finally:
            s.close()

    out["unguarded"] = connect("{PUBLIC}")
    import openclosed as oc
    from openclosed.core import netguard
    from openclosed.backends.openai.errors import map_error
    from openclosed.testing.stub_server import start_server
    oc.setup("offline", local_only=True, verbose=False, responses_path=sys.argv[1])
    out["guarded"] = connect("{PUBLIC}")
    with netguard.attribute("some-model"):
        out["guarded_attributed"] = connect("{PUBLIC}")
    try:
        socket.getaddrinfo("api.openai.com", 443)
        out["lookup"] = "resolved"
    except Exception as exc:
        out["lookup"] = [type(exc).__name__, str(exc)]
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("{PUBLIC}", 53))
        out["udp"] = "sent"
    except Exception as exc:
        out["udp"] = [type(exc).__name__, str(exc)]

    # the socket-level hook under a real client (no pre-check): the error surfaces as the guard's
    import openai
    client = openai.OpenAI(base_url="http://{PUBLIC}:8000/v1", api_key="k", max_retries=0)
    with netguard.attribute("my-remote-llm"):
        try:
            client.models.list()
            out["client"] = "answered"
        except Exception as exc:
            spec = oc.register("my-remote-llm", task="text-generation", base_url="http://{PUBLIC}:8000/v1", model="m")
            info = map_error(exc, spec)
            out["client"] = [type(exc).__name__, info.type, info.message]

    # loopback stays allowed: a stand-in OpenAI-compatible server on 127.0.0.1
    server, url = start_server()
    oc.register("local-served", task="sentiment", base_url=url, model="openclosed-stub")
    os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key-1234"
    oc.setup("offline", local_only=True, verbose=False, responses_path=sys.argv[1])
    run = oc.compare("sentiment", ["vader", "local-served", "gpt-6-luna"], ["I loved it", "Awful."], progress=False)
    out["run"] = {{m: [[r.output, r.error.type if r.error else None, r.error.message if r.error else None]
                     for r in run.results if r.model == m] for m in run.models}}
    out["endpoints"] = run.manifest["endpoints"]
    server.shutdown()

    oc.setup("offline", local_only=False, verbose=False, responses_path=sys.argv[1])
    out["switched_off"] = connect("{PUBLIC}")
    print("RESULT" + json.dumps(out))
""")


def test_guard_inside_a_loopback_only_network_namespace(tmp_path):
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        pytest.fail("this test needs `unshare` (util-linux) and `ip` (iproute2) to build a loopback-only network "
                    "namespace; install them (apt-get install util-linux iproute2)")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        if "Operation not permitted" in probe.stderr or "Permission denied" in probe.stderr:
            require_or_skip("OPENCLOSED_REQUIRE_NETNS",
                            f"the kernel refuses a new network namespace here ({probe.stderr.strip()}); run as root "
                            "or with CAP_SYS_ADMIN to test the guard with no route out")
        pytest.fail(f"`unshare -n true` failed: {probe.stderr.strip()}")
    script = tmp_path / "inside.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = dict(os.environ, OPENCLOSED_PROFILE="offline")
    env.pop("OPENAI_BASE_URL", None)
    proc = subprocess.run([unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$0" "$@"', sys.executable,
                           str(script), str(tmp_path / "responses")],
                          capture_output=True, text=True, timeout=240, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT"):])

    # no route out: without the guard the operating system refuses
    assert out["unguarded"][0] == "OSError" and out["unguarded"][1] == errno.ENETUNREACH, out["unguarded"]
    assert "Network is unreachable" in out["unguarded"][2]
    # with the guard: its own error, before the operating system is asked
    for key in ("guarded", "guarded_attributed"):
        name, code, message = out[key]
        assert name == "LocalOnlyError" and code is None and "Network is unreachable" not in message, out[key]
        assert PUBLIC in message and "nothing was sent" in message
    assert "'some-model'" in out["guarded_attributed"][2]
    assert out["lookup"][0] == "LocalOnlyError" and "look up api.openai.com" in out["lookup"][1]
    assert out["udp"][0] == "LocalOnlyError" and PUBLIC in out["udp"][1]
    # through the openai client, the error shown is the guard's, naming the model
    assert out["client"][0] == "APIConnectionError" and out["client"][1] == "LocalOnlyError", out["client"]
    assert "'my-remote-llm'" in out["client"][2] and PUBLIC in out["client"][2]
    # 127.0.0.1 stays allowed; the closed model gets the guard's error in its own column; VADER answers
    run = out["run"]
    assert all(err is None and label in ("negative", "neutral", "positive") for label, err, _ in run["vader"])
    assert all(err is None for _, err, _ in run["local-served"]), run["local-served"]
    assert all(err == "LocalOnlyError" and "api.openai.com" in msg and "'gpt-6-luna'" in msg
               for _, err, msg in run["gpt-6-luna"]), run["gpt-6-luna"]
    assert out["endpoints"]["local-served"]["requests"] == 2 and out["endpoints"]["gpt-6-luna"]["requests"] == 0
    assert out["endpoints"]["local-served"]["endpoint"].startswith("http://127.0.0.1:")
    # switched off: the operating system decides again
    assert out["switched_off"][1] == errno.ENETUNREACH
