import json
import logging

import pytest

import openclosed as oc
from openclosed.core.errors import OpenClosedError
from openclosed.core.machine import cpu_quota
from openclosed.core.secrets import Secret, mask, redact

FAKE = "sk-proj-TESTKEY0123456789abcdefWXYZ"


def test_mask_shows_only_the_tail():
    assert mask(FAKE) == "sk-…WXYZ"
    s = Secret(FAKE, "test")
    assert FAKE not in repr(s) and FAKE not in str(s) and FAKE not in f"{s}"
    assert s.reveal() == FAKE


def test_key_from_env_file_is_found_and_masked(tmp_path, capsys):
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={FAKE}\n")
    s = oc.setup("offline", cache_dir=tmp_path / "c", env_file=tmp_path / ".env")
    out = capsys.readouterr().out
    assert "sk-…WXYZ" in out and FAKE not in out
    assert FAKE not in repr(s) and FAKE not in json.dumps(s.as_dict())


def test_key_never_in_exceptions_or_logs(caplog):
    Secret(FAKE, "test")  # registers the value for redaction
    err = OpenClosedError(f"server said: invalid key {FAKE}", f"check {FAKE}")
    assert FAKE not in str(err) and "sk-…WXYZ" in str(err)
    logging.getLogger("openclosed").warning(redact(f"calling with {FAKE}"))
    assert FAKE not in caplog.text
    # anything shaped like an OpenAI key is masked even if never registered
    assert "sk-live-unknown123456" not in redact("key sk-live-unknown123456 leaked")


def test_secret_refuses_to_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(FAKE))


def test_setup_rejects_unknown_options_and_float16_on_cpu(tmp_path):
    with pytest.raises(OpenClosedError, match="unknown setting 'colour'"):
        oc.setup("offline", cache_dir=tmp_path, colour="red", verbose=False)
    with pytest.raises(OpenClosedError, match="float16 on CPU"):
        oc.setup("offline", cache_dir=tmp_path, device="cpu", dtype="float16", verbose=False)
    with pytest.raises(OpenClosedError, match="unknown profile"):
        oc.setup("huge", verbose=False)


def test_workshop_falls_back_to_offline_when_hub_unreachable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached there
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    s = oc.setup("workshop", cache_dir=tmp_path)
    assert s.profile == "offline"
    assert "cannot be reached" in s.profile_reason and "distilbert-sst2" in s.profile_reason
    assert "offline" in capsys.readouterr().out


def test_threads_follow_the_cpu_quota(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENCLOSED_THREADS", raising=False)  # the test run may share the CPUs out (conftest)
    s = oc.setup("offline", cache_dir=tmp_path, verbose=False)
    import torch

    assert s.threads == cpu_quota() == torch.get_num_threads()
    s = oc.setup("offline", cache_dir=tmp_path, threads=1, verbose=False)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("native, dtype", [("0", "float32"), ("1", "bfloat16")])
def test_the_lab_can_be_told_what_the_cpu_offers(native, dtype, tmp_path, monkeypatch):
    """OPENCLOSED_NATIVE_BF16 rehearses the lab's own dtype choice on a CPU without (or with) native bfloat16,
    whatever this CPU has; OPENCLOSED_DTYPE still wins, as a choice made by the user."""
    monkeypatch.delenv("OPENCLOSED_DTYPE", raising=False)
    monkeypatch.setenv("OPENCLOSED_NATIVE_BF16", native)
    s = oc.setup("offline", device="cpu", responses_path=tmp_path / "r", verbose=False)
    assert s.dtype == dtype and "OPENCLOSED_NATIVE_BF16" in s.dtype_reason
    other = {"float32": "bfloat16", "bfloat16": "float32"}[dtype]
    monkeypatch.setenv("OPENCLOSED_DTYPE", other)
    s = oc.setup("offline", device="cpu", responses_path=tmp_path / "r", verbose=False)
    assert s.dtype == other and s.dtype_reason == "chosen by you"


def test_memory_bandwidth_counts_bytes_read_and_written_over_the_fastest_copy(monkeypatch):
    import time

    from openclosed.core.machine import memory_bandwidth_gbs

    # Three copies taking 20, 10 and 30 ms: the fastest one sets the figure.
    ticks = iter([0.0, 0.020, 1.0, 1.010, 2.0, 2.030])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    gbs = memory_bandwidth_gbs(mb=8, repeats=3)
    assert gbs == pytest.approx(2 * 8 * 2**20 / 0.010 / 1e9)   # read + written, per second
    monkeypatch.undo()
    real = memory_bandwidth_gbs(mb=8, repeats=2)
    assert 0.1 < real < 10_000   # a measured figure, in GB/s rather than bytes/s


def test_setup_warns_when_other_kernels_would_push_this_one_over_the_limit(monkeypatch):
    """A real process that looks like another notebook's kernel (ipykernel on its command line) holding 300 MB:
    under a 1.5 GB limit a notebook's peak would not fit beside it, so setup warns and names it; with room, no
    warning."""
    import subprocess
    import sys
    import time as _time
    import warnings as _warnings

    from openclosed.core.machine import GB, crowding_warning, other_kernels

    hog = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(300 * 2**20); b[::4096] = "
                            "b'x' * len(b[::4096]); print('ready', flush=True); time.sleep(60)",
                            "-m", "ipykernel_launcher", "-f", "kernel-fake.json"], stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout.readline().strip() == "ready"
        _time.sleep(0.2)
        mine = [k for k in other_kernels() if k["pid"] == hog.pid]
        assert mine and mine[0]["rss"] > 280 * 2**20
        assert hog.pid not in [k["pid"] for k in other_kernels(me=hog.pid)]
        monkeypatch.setenv("OPENCLOSED_MEMORY_LIMIT_GB", "1.5")
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            oc.setup(profile="offline", verbose=False)
        text = " ".join(str(w.message) for w in caught)
        assert f"pid {hog.pid}" in text and "Shut down" in text and "1,536 MB limit" in text
        assert crowding_warning(8 * GB, mine) is None  # room for a notebook's peak beside it
        assert crowding_warning(8 * GB, []) is None
    finally:
        hog.kill()
        hog.wait()
