"""The lab in a real browser, on a rehearsed Binder pod: JupyterLab on
127.0.0.1 (random token) over a temporary copy of the notebooks, started
inside a cgroup of 2 GB memory and 1 CPU (v1 or v2), in the ``workshop``
profile with random-weight stand-ins of its hub models, on a CPU the lab
takes for one without native bfloat16 (so it picks float32 itself, and
bfloat16 only where a model would not fit otherwise); Debian's chromium,
driven by Playwright, plays the learner.

For every notebook, in one Run All: open it, wait for the kernel, Run All
from the menu, wait for every cell to finish, fail on any error output or on
the kernel being killed, use its panels the way a learner would (table
``PANEL_ACTIONS``), check the pod's peak memory stayed under 2 GB, and keep
screenshots under ``tests/artifacts/browser/`` (printed at the end). The
offline pass in ``test_notebooks.py`` runs every notebook in bfloat16; this
one runs them in float32: each dtype executes every notebook once.

This run is also the lab's key-safety run: the server and its kernels get a
FAKE ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` pointing at the loopback
OpenAI-compatible stub, so the closed models really run; the last test fails
if the key's text appears in any rendered output, saved notebook, cache file,
server or browser log.

Needs ``playwright`` (requirements-test.txt) and Debian's ``chromium``
(``apt-get install -y chromium``; ``.ci/run`` installs it), and for the pod
the right to create cgroups (root). Without a browser these tests are skipped
with that reason, unless ``OPENCLOSED_REQUIRE_BROWSER=1`` makes it a failure;
without cgroups the notebooks still run in the browser with no limit and the
memory check alone is skipped, unless ``OPENCLOSED_REQUIRE_CGROUP=1`` makes it
a failure. ``.ci/run`` sets both.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MODEL_CACHE, ROOT, require_or_skip
from openclosed.testing.cgroups import Cgroup, cgroups_available

pytestmark = pytest.mark.browser  # `make test` runs a file on one worker (--dist loadfile): one server, one pod

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = Path(os.environ.get("OPENCLOSED_TEST_ARTIFACTS", ROOT / "tests" / "artifacts")) / "browser"
CHROMIUM = os.environ.get("OPENCLOSED_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
RUN_ALL_TIMEOUT_S = float(os.environ.get("OPENCLOSED_BROWSER_TIMEOUT_S", 900))  # one notebook's Run All on the 1-CPU pod
PLOTLY_FIRST_RENDER_S = 45
POD_GB, POD_CPUS = 2.0, 1.0  # a Binder pod
SCREEN = {"width": 1280, "height": 800}  # a workshop laptop; JupyterLab's file browser stays open beside the notebook
# What the pod's kernels must not inherit from the test run: the lab decides these itself from the pod.
NOT_INHERITED = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENCLOSED_MODEL_BUDGET_GB",
                 "OPENCLOSED_MEMORY_LIMIT_GB", "OPENCLOSED_DTYPE", "OPENCLOSED_THREADS", "OPENCLOSED_DEVICE")


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -r requirements-test.txt"
    if not CHROMIUM:
        return "no chromium on PATH: apt-get install -y chromium (or set OPENCLOSED_CHROMIUM)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """One JupyterLab server for every notebook, with a fake key and the stub API, inside ``pod`` when given."""

    def __init__(self, base: Path, hub_cache: Path, pod: Cgroup | None) -> None:
        from openclosed.testing.stub_server import start_server

        self.base = base
        self.notebooks = base / "notebooks"
        shutil.copytree(ROOT / "notebooks", self.notebooks)
        self.home = base / "home"
        self.settings = base / "lab-settings"
        self.responses = base / "responses"
        self.log_path = base / "jupyterlab.log"
        for d in (self.home, self.settings, self.responses):
            d.mkdir(parents=True)
        self._write_lab_settings()
        self.secret = secrets.token_hex(16)
        self.key = f"sk-fake-browser-{self.secret}"
        self.token = secrets.token_hex(24)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stub, self.stub_url = start_server()
        self.started_at = time.time()
        self.pod = pod
        self.memory: dict[str, dict[str, float]] = {}  # notebook stem -> the pod's peaks while it ran
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update({
            "OPENAI_API_KEY": self.key, "OPENAI_BASE_URL": self.stub_url,
            "OPENCLOSED_PROFILE": "workshop", "HF_HUB_CACHE": str(hub_cache), "OPENCLOSED_NATIVE_BF16": "0",
            "OPENCLOSED_CACHE_DIR": str(MODEL_CACHE), "TOKENIZERS_PARALLELISM": "false",
            "OPENCLOSED_RESPONSES_DIR": str(self.responses), "HF_HUB_OFFLINE": "1",
            "HOME": str(self.home), "IPYTHONDIR": str(self.home / ".ipython"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"), "PYTHONUNBUFFERED": "1",
        })
        pod_prefix = [sys.executable, "-m", "openclosed.testing.cgroups", pod.name] if pod else []
        cmd = [*pod_prefix, sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.root_dir={self.notebooks}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--LabApp.user_settings_dir={self.settings}",
               "--LabApp.news_url=", "--ServerApp.log_level=INFO"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=self.notebooks, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()

    def _write_lab_settings(self) -> None:
        """Cells stay in the page when off screen; no news or update pop-ups."""
        files = {
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
                "fetchNews": "false", "checkForUpdates": False},
        }
        for rel, data in files.items():
            path = self.settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data))

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - 127.0.0.1 only
            body = resp.read()
        return json.loads(body) if body else None

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {self.log_path.read_text()[-3000:]}")
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not start in {timeout} s: {self.log_path.read_text()[-3000:]}")

    def shutdown_kernels(self) -> None:
        """Free the memory of the last notebook's kernel before the next one starts."""
        for k in self.api("kernels"):
            self.api(f"kernels/{k['id']}", method="DELETE")
        for s in self.api("sessions"):
            self.api(f"sessions/{s['id']}", method="DELETE")

    def oom_kills(self) -> int:
        return self.pod.oom_kills() if self.pod else 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        self.stub.shutdown()


@pytest.fixture(scope="module")
def pod():
    """The 2 GB / 1 CPU cgroup JupyterLab runs in, or None where cgroups cannot be made (see test_memory...)."""
    ok, why = cgroups_available()
    if not ok:
        yield None
        return
    group = Cgroup(f"openclosed-browser-{os.getpid()}", int(POD_GB * 1024**3), POD_CPUS)
    group.start_sampling()
    yield group
    group.remove()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, pod, workshop_standins):
    why = _missing_browser()
    if why:
        require_or_skip("OPENCLOSED_REQUIRE_BROWSER", f"no browser: {why}")
    lab = Lab(tmp_path_factory.mktemp("browser-lab"), workshop_standins, pod)
    lab.rendered = []  # the text of every notebook page after its run, for the key check
    lab.console = []
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield b
        b.close()


# --------------------------------------------------------------------------- helpers used by panel actions
def code_cell(page, snippet: str):
    """The first code cell whose source contains ``snippet``."""
    return page.locator(".jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=snippet)).first


def side_by_side(root):
    """The side-by-side grids of runs under ``root`` (a page or a locator): one column per
    model, the first header is "input"."""
    page = getattr(root, "page", root)  # a filter's inner locator is built from the page
    return root.locator("table.oc-grid").filter(has=page.locator("th", has_text=re.compile(r"^input$")))


def shoot(page, name: str, target=None) -> Path:
    """Screenshot of the page (or of ``target`` scrolled into view) under ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if target is not None:
        target.scroll_into_view_if_needed()
        target.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    return path


LAYOUT_PROBLEMS_JS = """(panel) => {
    const problems = [], readouts = [];
    const box = panel.getBoundingClientRect();
    const right = Math.min(box.right, window.innerWidth) + 1;
    for (const slider of panel.querySelectorAll('.widget-slider')) {
        const readout = slider.querySelector('.widget-readout');
        const handle = slider.querySelector('.noUi-handle');
        const label = (slider.querySelector('.widget-label') || {}).textContent || '?';
        if (!readout || readout.offsetParent === null || !handle) continue;  // no readout shown (a log slider)
        const text = readout.textContent.trim();
        const value = parseFloat(handle.getAttribute('aria-valuenow'));
        readouts.push({label, text, value});
        if (Math.abs(parseFloat(text.replace(/,/g, '')) - value) > 1e-9 * Math.max(1, Math.abs(value)))
            problems.push(`slider ${label}: the readout shows "${text}" for the value ${value}`);
        if (readout.scrollWidth > readout.clientWidth + 1)
            problems.push(`slider ${label}: the readout "${text}" is cut off (${readout.scrollWidth} px in ${readout.clientWidth})`);
    }
    for (const el of panel.querySelectorAll('input, textarea, select, button, .widget-readout')) {
        if (el.offsetParent === null || el.closest('.js-plotly-plot')) continue;
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.right > right)
            problems.push(`${el.tagName.toLowerCase()} "${(el.value || el.textContent || '').slice(0, 30)}" ` +
                          `reaches ${Math.round(r.right)} px, past the panel's edge at ${Math.round(right)} px`);
    }
    for (const label of panel.querySelectorAll('.widget-label, .widget-html-content b')) {
        if (label.offsetParent === null) continue;
        if (label.scrollWidth > label.clientWidth + 1 && !label.title && !label.closest('[title]'))
            problems.push(`"${label.textContent.slice(0, 40)}" is cut off with no full text on hover`);
    }
    return {problems, readouts};
}"""


def check_layout(panel) -> list[dict]:
    """On the 1280 x 800 screen with the file browser open: every slider's readout shows its whole value and
    equals it, no control reaches past the panel's right edge, no label is cut without its full text on hover.
    Returns the readouts seen (label, text, value)."""
    found = panel.evaluate(LAYOUT_PROBLEMS_JS)
    assert not found["problems"], found["problems"]
    return found["readouts"]


def open_panel(page, snippet: str, choose: list[str]):
    """The panel shown by the code cell containing ``snippet``, scrolled into view, with ``choose`` picked
    in its model list (each must be offered)."""
    cell = code_cell(page, snippet)
    panel = cell.locator(".jp-OutputArea-output .widget-vbox").first
    panel.scroll_into_view_if_needed()
    select = panel.locator("select").first
    offered = select.locator("option").all_inner_texts()
    assert all(name in offered for name in choose), offered
    select.select_option(choose)
    return panel


def use_sentiment_panel(page, stem: str) -> None:
    """Tick two models, type two lines, press Run: both models' labels side by side."""
    panel = open_panel(page, 'oc.ComparePanel("sentiment")', ["vader", "minilm-lr"])
    panel.locator("textarea").first.fill("I absolutely love this lab!\nThe worst, most terrible day ever.")
    panel.locator("button", has_text="Run").first.click()
    panel.locator("text=/Done in/").first.wait_for(timeout=120_000)
    grid = side_by_side(panel).last
    grid.wait_for(timeout=30_000)
    head = grid.locator("tr").first.inner_text()
    assert "vader" in head and "minilm-lr" in head, head  # one column per ticked model, side by side
    body = grid.inner_text()
    assert "I absolutely love this lab!" in body and "The worst, most terrible day ever." in body
    assert body.count("positive") >= 1 and body.count("negative") >= 1, body
    assert not re.search(r"\d\.\d+e-\d\d", panel.inner_text())  # readable numbers
    check_layout(panel)
    shoot(page, f"{stem}-panel", panel)


def _widget_column(panel, title: str):
    """The VBox inside ``panel`` headed by the bold ``title`` (e.g. a model's column of a chat panel)."""
    page = panel.page
    return panel.locator(".widget-vbox").filter(has=page.locator("b", has_text=re.compile(rf"^{re.escape(title)}$")))


def stop_chat_while_streaming(page, stem: str) -> None:
    """Type a prompt, press Run, press Stop while the in-process model streams: its
    partial answer stays, marked stopped, and the panel says it finished (stopped)."""
    cell = code_cell(page, "oc.ChatPanel(models, max_tokens=96)")
    panel = cell.locator(".jp-OutputArea-output .widget-vbox").first
    panel.scroll_into_view_if_needed()
    panel.locator("textarea").first.fill("Write a long story about a lighthouse keeper and a storm.")
    panel.locator("button", has_text=re.compile(r"^\s*Run\s*$")).first.click()
    column = _widget_column(panel, "smollm2-135m").first
    column.wait_for(timeout=60_000)
    # streamed text arrives with a cursor mark while the model is still writing
    column.locator(".widget-html-content", has_text="▌").first.wait_for(timeout=300_000)
    streamed = column.inner_text().replace("▌", "").strip()
    panel.locator("button", has_text="Stop").first.click()
    panel.locator("text=/Done in .* \\(stopped\\)/").first.wait_for(timeout=180_000)
    text = column.locator(".widget-html-content").nth(2).inner_text()  # title, stats, answer
    assert "■ stopped" in text and "the partial text is kept" in text, text
    partial = text.split("■ stopped")[0].strip()
    assert partial, f"no partial text kept: {text!r} (streamed before Stop: {streamed!r})"
    assert "▌" not in text and "waiting…" not in text, text
    assert panel.locator("button", has_text=re.compile(r"^\s*Run\s*$")).first.is_enabled()
    readouts = {r["label"]: r for r in check_layout(panel)}
    assert readouts["max_tokens"]["text"] == "96" and readouts["max_tokens"]["value"] == 96, readouts  # set in the cell
    assert {"temperature", "top_p", "max_tokens"} <= set(readouts), readouts
    shoot(page, f"{stem}-chat-stopped", panel)


def vote_in_arena(page, stem: str) -> None:
    """Type a prompt, New round, wait for both anonymous answers, vote A: the
    contestants are revealed, the vote is counted and the leaderboard is drawn."""
    from playwright.sync_api import expect

    cell = code_cell(page, "oc.ArenaPanel(arena)")
    panel = cell.locator(".jp-OutputArea-output .widget-vbox").first
    panel.scroll_into_view_if_needed()
    assert panel.locator(".js-plotly-plot").count() == 0  # no leaderboard before the first vote
    panel.locator("textarea").first.fill("Name one reason to learn to cook.")
    started = time.perf_counter()
    panel.locator("button", has_text="New round").first.click()
    stop = panel.locator("button", has_text="Stop").first
    expect(stop).to_be_enabled(timeout=30_000)  # the round runs in a thread: Stop is live while both stream
    vote_a = panel.locator("button", has_text="A is better").first
    expect(vote_a).to_be_enabled(timeout=300_000)  # enabled once both answers are in and neither failed
    print(f"arena: New round to both answers complete in {time.perf_counter() - started:.1f} s (browser)")
    expect(stop).to_be_disabled(timeout=30_000)
    panel.locator("text=/which answer is better\\?/").first.wait_for(timeout=30_000)
    texts = [t for t in panel.locator(".widget-html-content").all_inner_texts()
             if re.match(r"^[AB]\n", t.strip() + "\n")]  # the two sides: "A" or "B", then the answer
    assert len(texts) >= 2, panel.inner_text()
    for t in texts[:2]:
        body = t.strip()[1:].strip()
        assert body and body != "…" and "▌" not in body, texts
    before = panel.inner_text()
    assert " was " not in before  # nobody revealed before the vote
    vote_a.click()
    panel.locator("text=/Vote 1 saved/").first.wait_for(timeout=60_000)
    reveal = panel.locator(".widget-html-content", has_text="A ✔ was").first
    reveal.wait_for(timeout=30_000)
    revealed = reveal.inner_text()
    assert re.search(r"A ✔ was \S+", revealed) and re.search(r"B was \S+", revealed), revealed
    names = re.findall(r"[AB](?: ✔)? was (\S+)", revealed)
    assert len(names) == 2 and names[0] != names[1], revealed
    expect(vote_a).to_be_disabled(timeout=30_000)  # one vote per round
    plot = panel.locator(".js-plotly-plot").first
    plot.wait_for(timeout=PLOTLY_FIRST_RENDER_S * 1000)
    board = panel.inner_text()
    assert re.search(r"Leaderboard from \d+ votes?", board), board[-2000:]
    for name in names:  # both contestants are on the board (names shortened on the axis, whole on hover)
        short = name if len(name) <= 28 else name[:27]
        assert plot.locator("text", has_text=short).count() or short in plot.inner_text(), (name, board[-2000:])
    # one vote settles nothing: the board still draws its interval bars, and says so
    assert plot.locator("g.errorbar path").count() >= 2, plot.inner_html()[:2000]
    assert "needs more votes" in plot.inner_text() or plot.locator("text", has_text="needs more votes").count()
    check_layout(panel)
    shoot(page, f"{stem}-arena-vote", panel)
    shoot(page, f"{stem}-arena-board", plot)  # the leaderboard on its own (the panel is taller than the screen)


def make_image_grid(page, stem: str) -> None:
    """Pick the offline model, type two prompts, Draw: one captioned image per prompt and model."""
    panel = open_panel(page, "oc.ImagePanel(", ["mini-sd"])
    prompts = ["a small blue square on a white background", "a large green circle on a black background"]
    panel.locator("textarea").first.fill("\n".join(prompts))
    panel.locator("button", has_text="Draw").first.click()
    panel.locator("text=/done in \\d/").first.wait_for(timeout=300_000)
    table = panel.locator("table").first
    images = table.locator("img")
    assert images.count() == len(prompts), table.inner_html()[:2000]  # 2 prompts x 1 model x 1 seed
    for i in range(images.count()):
        assert images.nth(i).get_attribute("src").startswith("data:image/png;base64,")
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    body = table.inner_text()
    for p in prompts:
        assert p in body, body
    assert body.count("mini-sd") >= len(prompts) + 1, body  # column header + one caption per image
    assert len(re.findall(r"\d+\.\d\d s · \$", body)) == len(prompts), body  # each caption: time and cost
    assert not re.search(r"\d\.?\d*e-\d\d", body), body  # costs read like money, not "$2.2e-05"
    check_layout(panel)
    shoot(page, f"{stem}-image-grid", panel)


def use_break_even_panel(page, stem: str) -> None:
    """Type a volume, pick the GPU instance: the volume is kept exactly, the chart's volume label is drawn (not at
    0x0) after every redraw, the throughput says whose it is, and every readout shows its whole value."""
    cell = code_cell(page, "oc.BreakEvenPanel(")
    panel = cell.locator(".jp-OutputArea-output .widget-vbox").first
    panel.scroll_into_view_if_needed()
    panel.locator(".js-plotly-plot").first.wait_for(timeout=PLOTLY_FIRST_RENDER_S * 1000)
    for volume, shown in (("30000000", "30M"), ("2500", "2.5k")):
        box = panel.locator(".widget-inline-hbox", has_text="requests per month").locator("input").first
        box.fill(volume)
        box.press("Enter")
        panel.locator(".widget-html-content", has_text=f"{shown} / month").first.wait_for(timeout=60_000)
        assert box.input_value() == volume  # kept exactly, not snapped to the slider
        label = panel.locator(".js-plotly-plot .gtitle", has_text=f"{shown}/month: closed").first
        label.wait_for(timeout=60_000)  # visible: drawn with a size, after this redraw
        size = label.evaluate("t => { const b = t.getBBox(); return [b.width, b.height]; }")
        assert size[0] > 20 and size[1] > 5, f"the volume label is drawn at {size}"
    options = panel.locator("select").first.locator("option").all_inner_texts()
    gpu = next(o for o in options if "nvidia" in o.lower())  # ("no GPU" is in the CPU names)
    panel.locator("select").first.select_option(label=gpu)
    panel.locator("text=/measured on .* not on/").first.wait_for(timeout=60_000)  # whose tokens/s it is
    check_layout(panel)
    shoot(page, f"{stem}-break-even", panel)
    page.evaluate("document.activeElement && document.activeElement.blur()")  # Ctrl+S goes to the notebook, not the list


# Panel interactions per notebook (its stem -> functions taking (page, stem)), run after Run All.
# Add one line per panel, using code_cell() to find the panel's cell and shoot() to keep a screenshot.
PANEL_ACTIONS: dict[str, list[Callable]] = {
    "01_sentiment": [use_sentiment_panel],
    "02_text_generation": [stop_chat_while_streaming],
    "02b_inside_chat_models": [vote_in_arena],
    "03_image_generation": [make_image_grid],
    "05_cost_privacy_transparency": [use_break_even_panel],
}


# --------------------------------------------------------------------------- the click-through
def _open_notebook(page, lab: Lab, name: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
    # the kernel is ready when the status bar says so (the toolbar indicator reads idle too early)
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\(ipykernel\) \| Idle")).first.wait_for(timeout=120_000)
    browser_panel = page.locator("#filebrowser")
    if not browser_panel.is_visible():  # the panels are laid out for the screen with the file browser open
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']").first.click()
    browser_panel.wait_for(state="visible", timeout=30_000)


def _run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).first.click()


def _prompts(page) -> list[str]:
    return [t.strip() for t in page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]


def _wait_all_done(page, lab: Lab, n_code: int, timeout_s: float) -> None:
    """Every shown code cell's prompt reads [n]: (n a number, not * or blank); the saved notebook is checked
    afterwards for the hidden ones. Fails at once when the pod's kernel is killed for its memory."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    kills, deadline = lab.oom_kills(), time.monotonic() + timeout_s
    while True:
        try:
            _wait_prompts(page, n_code, min(15.0, max(1.0, deadline - time.monotonic())))
            return
        except PlaywrightTimeout:
            # Run All stops at a failing cell: the later prompts would never fill in, so fail now, with the error
            failed = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                  has_text="Traceback")
            if failed.count():
                pytest.fail(f"a cell failed during Run All: {failed.first.inner_text()[:3000]}")
            if lab.oom_kills() > kills:
                pytest.fail(f"the kernel was killed: over the pod's {POD_GB:g} GB (peak {_mb(lab.pod.peak_anon)}); "
                            f"prompts: {_prompts(page)}")
            if time.monotonic() >= deadline:
                pytest.fail(f"Run All did not finish in {timeout_s:.0f} s; prompts: {_prompts(page)}")


def _wait_prompts(page, n_code: int, timeout_s: float) -> None:
    page.wait_for_function(
        """(n) => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                .map(p => p.textContent.trim());
            return prompts.length === n && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
        }""", arg=n_code, timeout=timeout_s * 1000, polling=1000)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def check_workshop_page(stem: str, text: str, html: str, lab: Lab) -> None:
    """What the workshop profile must show: the profile itself, stand-ins labelled as random weights wherever
    their results appear, and (notebook 00) the closed model answering from the stub with the key masked."""
    from openclosed.testing.stub_server import STUB_MODEL

    if stem == "00_start_here":
        assert "profile   : workshop" in text, text[:3000]
        assert STUB_MODEL in text  # the summary names who really answered
        assert f"sk-…{lab.key[-4:]}" in text and "MissingKeyError" not in text  # found, masked
    if stem == "01_sentiment":  # it runs the workshop's distilbert-sst2, which must say it has random weights
        assert "distilbert-sst2 (stand-in, random weights)" in text  # the summary's model column
        assert ">stand-in: random weights<" in html  # the badge in each cell of the side-by-side report


@pytest.mark.timeout(RUN_ALL_TIMEOUT_S + 180)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_all_in_the_browser_and_its_panels_work(path, lab, browser):
    import nbformat

    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    # a cell whose source is hidden (exercise solutions) shows a placeholder instead of its input prompt
    n_shown = sum(not c.metadata.get("jupyter", {}).get("source_hidden") for c in code)
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.on("console", lambda msg: lab.console.append(msg.text))
    if lab.pod:
        lab.pod.reset_peaks()
    kills = lab.oom_kills()
    try:
        _open_notebook(page, lab, path.name)
        started = time.perf_counter()
        _run_all(page)
        _wait_all_done(page, lab, n_shown, RUN_ALL_TIMEOUT_S)
        ran_s = time.perf_counter() - started
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text="Traceback")
        assert errors.count() == 0, errors.first.inner_text()[:3000]
        if page.locator(".js-plotly-plot").count() == 0 and "plotly" in path.read_text():
            page.locator(".js-plotly-plot").first.wait_for(timeout=PLOTLY_FIRST_RENDER_S * 1000)
        # the first side-by-side result of the notebook, as a learner sees it
        first_grid = side_by_side(page).first
        if first_grid.count():
            shoot(page, f"{path.stem}-side-by-side", first_grid.locator("xpath=ancestor::div[contains(@class,"
                                                                         "'jp-OutputArea-output')][1]"))
        check_workshop_page(path.stem, page.locator("#main").inner_text(), page.content(), lab)
        for action in PANEL_ACTIONS.get(path.stem, []):
            action(page, path.stem)
        page.locator(".jp-Notebook .jp-Cell").last.scroll_into_view_if_needed()
        shoot(page, path.stem)  # the end of the notebook: its summary computed from the run
        # save from the browser, then check the saved file: no error outputs
        page.keyboard.press("Control+s")
        page.locator(".jp-StatusBar-Widget", has_text="Saving completed").first.wait_for(timeout=30_000)
        saved = nbformat.read(lab.notebooks / path.name, as_version=4)
        error_outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs
                         if o.output_type == "error"]
        assert not error_outputs, error_outputs[0]
        not_run = [c.source[:60] for c in saved.cells if c.cell_type == "code" and not c.get("execution_count")]
        assert not not_run, f"cells not run: {not_run}"
        lab.rendered.append(page.locator("#main").inner_text())
        if lab.pod:
            lab.memory[path.stem] = {"peak_anon_mb": lab.pod.peak_anon / 2**20, "peak_rss_mb": lab.pod.peak_rss / 2**20,
                                     "oom_kills": lab.oom_kills() - kills, "run_all_s": ran_s}
        print(f"{path.name}: Run All {ran_s:.0f} s in the browser"
              + (f", pod peak {_mb(lab.pod.peak_anon)} anonymous ({_mb(lab.pod.peak_rss)} summed RSS)"
                 if lab.pod else "") + f"; screenshots in {ARTIFACTS}")
    except BaseException:
        shoot(page, f"{path.stem}-FAILED")
        raise
    finally:
        lab.rendered.append(page.content())
        context.close()
        lab.shutdown_kernels()


def test_every_notebook_stayed_under_the_pods_memory(lab):
    """The pod's peak anonymous memory (the server, the kernel and any server a notebook starts, without the
    page cache) while each notebook ran and its panels were used: under 2 GB, and no process killed."""
    if lab.pod is None:
        ok, why = cgroups_available()
        require_or_skip("OPENCLOSED_REQUIRE_CGROUP", f"no memory check: cannot create a cgroup ({why})")
    assert lab.memory, "run the notebook tests first (same module)"
    for stem, row in lab.memory.items():
        print(f"{stem:32} peak {row['peak_anon_mb']:6,.0f} MB anonymous, {row['peak_rss_mb']:6,.0f} MB summed RSS, "
              f"Run All {row['run_all_s']:4.0f} s")
    over = {stem: row for stem, row in lab.memory.items()
            if row["oom_kills"] or not 0 < row["peak_anon_mb"] < POD_GB * 1024}
    assert not over, f"over the pod's {POD_GB:g} GB: {over}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pod-memory.json").write_text(json.dumps(lab.memory, indent=1))


def key_text_found(needles: list[bytes], texts: list[str], folders: list[Path], since: float = 0.0) -> list[str]:
    """Where any of ``needles`` (the key and parts of it) occurs: ``texts[i]`` or a file
    under ``folders`` modified since ``since``. Returns the places, empty when none."""
    found = [f"rendered text #{i}" for i, t in enumerate(texts) if any(n in t.encode() for n in needles)]
    for folder in folders:
        if not folder.exists():
            continue
        for f in folder.rglob("*"):
            if f.is_file() and not f.is_symlink() and f.stat().st_mtime >= since:
                data = f.read_bytes()
                if any(n in data for n in needles):
                    found.append(str(f))
    return found


def test_the_key_scan_finds_a_planted_key(tmp_path):
    """The scan below can fail: a key in a log file or a page is found, an old file is not read."""
    needles = [b"sk-fake-planted-0123456789abcdef"]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "server.log").write_text("... Authorization: Bearer sk-fake-planted-0123456789abcdef")
    (tmp_path / "clean.txt").write_text("nothing here")
    assert key_text_found(needles, ["ok", "key=sk-fake-planted-0123456789abcdef"], [tmp_path]) == [
        "rendered text #1", str(tmp_path / "logs" / "server.log")]
    assert key_text_found(needles, ["ok"], [tmp_path], since=time.time() + 60) == []


def test_the_fake_key_never_appears_anywhere(lab):
    """After the click-through: the key's text is in no rendered page, saved
    notebook, checkpoint, response cache, cache file, server or browser log."""
    assert lab.rendered, "run the notebook tests first (same module)"
    needles = [lab.key.encode(), lab.secret.encode(), lab.secret[:12].encode()]
    lab.log.flush()
    found = key_text_found(needles, lab.rendered + lab.console, [lab.base, MODEL_CACHE], since=lab.started_at - 1)
    assert not found, f"the fake key's text appears in: {found}"
    saved = list(lab.notebooks.glob("*.ipynb"))
    assert len(saved) == len(NOTEBOOKS) and lab.log_path.stat().st_size > 0  # there were files to read
    # the closed model really ran against the stub with that key (so there was something to leak)
    assert "openclosed-stub" in "".join(lab.rendered)
