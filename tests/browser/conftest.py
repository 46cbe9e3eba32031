"""Browser tests: the course as a person sees it in JupyterLab, driven by Playwright in headless Chromium.

One JupyterLab (the student configuration of ``make lab``, from ``jupyter/student``) is started for the
session on 127.0.0.1 with a free port, a token and a temporary HOME, Jupyter config, runtime and
settings folders; its kernels run in quick mode (``SHIFTLAB_QUICK=1``) and never inherit
``TQDM_DISABLE``, so progress bars show as they do for a student. It serves copies of the released
and solution notebooks from a temporary folder: the committed ones are never touched.

A notebook is run the way a person runs it: open it (``?reset``: no stored workspace), wait for its
kernel, Run > Run All Cells, wait until no cell shows ``[*]``, File > Save Notebook. Its outputs are
then read from the saved file through the lab's REST API (``NotebookRun.saved``), and what the page
showed at that moment is kept too (``NotebookRun.shown``). Each notebook runs once per session
(``runs``); a test that needs its live page and kernel asks ``runs(path, live=True)``.

Set-up: Debian's ``chromium`` (``/usr/bin/chromium``, or ``$SHIFTLAB_CHROMIUM``), which ``make
browser-setup`` installs, and PyPI's ``playwright`` from the test extra. A browser downloaded by
``playwright install`` is never used. When a test fails, a screenshot and the text of each page it
used, the saved notebooks and the lab's log are written to ``tests/browser/artifacts/<test>/``
(``$SHIFTLAB_BROWSER_ARTIFACTS`` overrides it) and the folder is named in the failure report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
STUDENT_CONFIG = REPO / "jupyter" / "student"  # what `make lab` uses: no instructor extensions
ARTIFACTS = Path(os.environ.get("SHIFTLAB_BROWSER_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM = Path(os.environ.get("SHIFTLAB_CHROMIUM", "/usr/bin/chromium"))
# As in the machine notes: without the networking flags Chromium keeps calling Google's hosts, which a
# closed network refuses; as root Chromium needs --no-sandbox.
CHROMIUM_FLAGS = ["--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
SETUP_HINT = "run `make browser-setup` (as root it runs `apt-get install -y chromium`; otherwise install Debian's " \
             "package chromium) and `make setup` (playwright is in the test extra); never `playwright install`"
VIEWPORT = {"width": 1400, "height": 1000}
LAB_START_S = 90  # measured: about 3 s on 2 cores under a load average of 6
KERNEL_READY_S = 90
RUN_ALL_S = 300  # measured: the slowest Run All (04 solution, quick mode) took 87 s under a load average of 8
# User settings of the test lab: every cell in the DOM (JupyterLab 4 otherwise may detach off-screen
# cells), no autosave (it saved a half-run notebook between Run All and Save), no news toast.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def notebook_paths(kind: str) -> list[str]:
    """The committed notebooks ``<kind>/<id>/<id>.ipynb`` (kind: "assignments" or "solutions"), as
    paths relative to the repository, found on disk in sorted order."""
    return sorted(str(p.relative_to(REPO)) for p in (REPO / kind).glob("*/*.ipynb") if p.stem == p.parent.name)


def pytest_generate_tests(metafunc):
    """A test that takes ``released`` or ``solution`` runs once per notebook found on disk."""
    for argument, kind in (("released", "assignments"), ("solution", "solutions")):
        if argument in metafunc.fixturenames:
            metafunc.parametrize(argument, notebook_paths(kind), ids=lambda path: Path(path).parent.name)


@pytest.fixture(scope="session")
def released_paths() -> list[str]:
    """Every released notebook, relative to the repository (and to the served folder)."""
    return notebook_paths("assignments")


@pytest.fixture(scope="session")
def solution_paths() -> list[str]:
    """Every solution notebook, relative to the repository (and to the served folder)."""
    return notebook_paths("solutions")


# -- the lab server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_environment(home: Path, config_path: Path | None) -> dict[str, str]:
    """This process's environment for a lab and its kernels: temporary HOME and Jupyter folders, quick
    mode, and no ``TQDM_DISABLE`` (grading's switch must not reach a student's kernels)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "TQDM_"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
               MPLCONFIGDIR=str(home / "matplotlib"), SHIFTLAB_QUICK="1", PYTHONUNBUFFERED="1")
    if config_path is not None:
        env["JUPYTER_CONFIG_PATH"] = str(config_path)
    return env


@dataclass
class Lab:
    """A running JupyterLab: its address, token, log, and the folder it serves."""

    url: str
    token: str
    log: Path
    process: subprocess.Popen
    root: Path

    def api(self, path: str, method: str = "GET"):
        """``method`` ``/api/<path>`` with the token (a token header needs no ``_xsrf`` cookie); parsed JSON, or
        None for an empty answer."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self, path: str) -> None:
        """End the sessions (and kernels) of the notebook at ``path``."""
        for session in self.api("sessions"):
            if session["path"] == path:
                self.api(f"sessions/{session['id']}", method="DELETE")

    def notebook(self, path: str) -> nbformat.NotebookNode:
        """The notebook at ``path`` (relative to the served folder) as saved on the server."""
        quoted = urllib.parse.quote(path)
        return nbformat.from_dict(self.api(f"contents/{quoted}?type=notebook&content=1")["content"])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server and its kernels (SIGTERM, then SIGKILL after 20 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_lab(root: Path, home: Path, config_path: Path | None, cwd: Path) -> Lab:
    """Start ``jupyter lab`` serving ``root`` on 127.0.0.1 and wait until its REST API answers.

    ``config_path`` goes to ``JUPYTER_CONFIG_PATH`` (the student configuration); ``cwd`` is where the
    server runs (nbgrader's extensions read ``nbgrader_config.py`` there).
    """
    token = os.urandom(16).hex()
    home.mkdir(parents=True, exist_ok=True)
    for folder, settings in LAB_SETTINGS.items():
        target = home / "settings" / folder
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings))
    port = free_port()
    log = home / "lab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", *(["--allow-root"] if os.geteuid() == 0 else [])]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=lab_environment(home, config_path), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, log, process, root)
    deadline = time.monotonic() + LAB_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode} before answering; "
                               f"its log:\n{lab.log_text()}")
        try:
            lab.api("status")
            return lab
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    lab.stop()
    raise RuntimeError(f"jupyter lab did not answer on {lab.url} within {LAB_START_S} s; its log:\n{lab.log_text()}")


def copy_notebooks(root: Path) -> None:
    """Copy every released and solution notebook folder under ``root``, with the repository's layout."""
    for kind in ("assignments", "solutions"):
        for path in notebook_paths(kind):
            folder = Path(path).parent
            shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    """The student JupyterLab of `make lab`, serving copies of the course notebooks, for the session."""
    assert (STUDENT_CONFIG / "jupyter_server_config.json").is_file(), f"{STUDENT_CONFIG} lacks the student lab's config"
    root = tmp_path_factory.mktemp("served")
    copy_notebooks(root)
    lab = start_lab(root, tmp_path_factory.mktemp("home"), STUDENT_CONFIG, cwd=REPO)
    yield lab
    lab.stop()


@pytest.fixture
def instructor_lab(tmp_path, watch) -> Lab:
    """A lab started as `make lab-instructor` starts it: nbgrader's own configuration, run from the
    repository root (where nbgrader_config.py is) and serving it. Nothing is opened or written there."""
    lab = start_lab(REPO, tmp_path / "home", None, cwd=REPO)
    watch.add(lab=lab)
    yield lab
    lab.stop()


# -- the browser


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a browser Playwright downloaded)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the Python package playwright is not installed: {SETUP_HINT}", pytrace=False)
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: {SETUP_HINT}", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def lab_page(browser, watch):
    """``lab_page(lab, path=None)``: a new page on ``lab``, showing the notebook ``path`` (kernel idle,
    nothing run) or the start page (once its menu bar shows); closed after the test."""
    contexts = []

    def open_page(lab: Lab, path: str | None = None):
        if path is not None:
            run = open_notebook(browser, lab, path)
            contexts.append(run.page.context)
            watch.add(run.page, lab)
            wait_until_ready(run)
            return run.page
        contexts.append(browser.new_context(viewport=VIEWPORT))
        page = contexts[-1].new_page()
        watch.add(page, lab)
        page.goto(f"{lab.url}/lab?reset&token={lab.token}")
        page.get_by_role("menuitem", name="Help", exact=True).wait_for(timeout=KERNEL_READY_S * 1000)
        return page

    yield open_page
    for context in contexts:
        context.close()


# -- notebooks in the browser

# Records, in the page, every state of every progress bar (ipywidgets' FloatProgress inside tqdm's
# widget) and whether its cell was still running then. Installed before Run All.
WATCH_PROGRESS_BARS = """() => {
  window.__progressStates = [];
  const record = () => {
    for (const bar of document.querySelectorAll('.widget-hprogress .progress-bar')) {
      const box = bar.closest('.widget-hbox');
      const cell = bar.closest('.jp-CodeCell');
      const prompt = cell ? cell.querySelector('.jp-InputPrompt').textContent : '';
      window.__progressStates.push({
        text: box ? box.textContent.trim() : '',
        width: bar.style.width,
        running: prompt.includes('*'),
      });
    }
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                        characterData: true});
}"""

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
RUNNING_PROMPTS = f"""() => [...document.querySelectorAll('{NOTEBOOK} .jp-InputPrompt')]
                         .some(prompt => prompt.textContent.includes('*'))"""
# What the page shows once Run All is over: the notebook's text, and each cell's stderr outputs
# (tracebacks and warnings) with whether they take up space on the page.
SHOWN = """(selector) => {
  const notebook = document.querySelector(selector);
  const stderr = {};
  notebook.querySelectorAll('.jp-Cell').forEach((cell, index) => {
    const outputs = [...cell.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')];
    if (outputs.length) stderr[index] = {text: outputs.map(o => o.innerText).join('\\n'),
                                         visible: outputs.every(o => o.getBoundingClientRect().height > 0)};
  });
  return {text: notebook.innerText, stderr};
}"""


@dataclass
class NotebookRun:
    """One notebook opened in its own browser page and run with Run All, then saved.

    ``path`` is relative to the served folder; ``saved`` the notebook as the server saved it;
    ``seconds`` the time from Run All until no cell was running; ``shown`` what the page showed then:
    ``text`` (the notebook's, every cell's) and ``stderr`` ({cell index: {"text", "visible"}});
    ``progress_states`` every state of every progress bar during the run (text, width, running).
    """

    path: str
    page: object
    saved: nbformat.NotebookNode | None = None
    seconds: float | None = None
    shown: dict = field(default_factory=dict)
    progress_states: list = field(default_factory=list)

    def show_cell(self, index: int) -> None:
        """Scroll cell ``index`` into view if the page is still open, so that a failure's screenshot shows it."""
        if not self.page.is_closed():
            self.page.locator(f"{NOTEBOOK} .jp-Cell").nth(index).scroll_into_view_if_needed()


def open_notebook(browser, lab: Lab, path: str) -> NotebookRun:
    """Start opening ``path`` in a new page (fresh workspace: ``?reset``); ``wait_until_ready`` waits for it."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{lab.url}/lab/tree/{urllib.parse.quote(path)}?reset&token={lab.token}", wait_until="commit")
    return NotebookRun(path, page)


def wait_until_ready(run: NotebookRun) -> None:
    """Wait until the notebook's cells are shown and its kernel is idle."""
    run.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_READY_S * 1000)
    idle = run.page.locator(".jp-StatusBar-Item", has_text=re.compile(r"\| Idle$"))
    idle.wait_for(timeout=KERNEL_READY_S * 1000)


def click_menu(page, menu: str, item: str) -> None:
    """Click ``menu`` > ``item`` in the lab's menu bar, as a person would."""
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=re.compile(rf"^{re.escape(item)}")).first.click()


def run_all(run: NotebookRun, lab: Lab) -> NotebookRun:
    """Run > Run All Cells, wait until no cell shows ``[*]``, then File > Save Notebook and read it back."""
    page = run.page
    page.evaluate(WATCH_PROGRESS_BARS)
    start = time.monotonic()
    click_menu(page, "Run", "Run All Cells")
    page.wait_for_function(RUNNING_PROMPTS, timeout=10_000)  # Run All marks every queued cell [*] at once
    page.wait_for_function(f"() => !({RUNNING_PROMPTS})()", polling=250, timeout=RUN_ALL_S * 1000)
    run.seconds = time.monotonic() - start
    run.progress_states = page.evaluate("() => window.__progressStates")
    run.shown = page.evaluate(SHOWN, NOTEBOOK)
    run.shown["stderr"] = {int(cell): output for cell, output in run.shown["stderr"].items()}
    before = lab.api(f"contents/{urllib.parse.quote(run.path)}?content=0")["last_modified"]
    click_menu(page, "File", "Save Notebook")
    deadline = time.monotonic() + 30
    while lab.api(f"contents/{urllib.parse.quote(run.path)}?content=0")["last_modified"] == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"File > Save Notebook did not save {run.path} within 30 s")
        time.sleep(0.2)
    run.saved = lab.notebook(run.path)
    return run


@dataclass
class Watch:
    """The pages, labs and notebook runs the current test used: what its failure artifacts show."""

    pages: list = field(default_factory=list)
    labs: list = field(default_factory=list)
    runs: list = field(default_factory=list)

    def add(self, page=None, lab: Lab | None = None, run: NotebookRun | None = None) -> None:
        for items, item in ((self.pages, page), (self.labs, lab), (self.runs, run)):
            if item is not None and item not in items:
                items.append(item)

    def clear(self) -> None:
        for items in (self.pages, self.labs, self.runs):
            items.clear()


@pytest.fixture(scope="session")
def watch() -> Watch:
    return Watch()


class Runs:
    """Notebooks run once per session (Run All + save), each in its own page.

    ``runs(path)`` runs the notebook, or returns its earlier run. A run's page and kernel stay open
    until the next run starts (then its kernel is shut down and its page closed: ten live kernels
    would hold about 10 GB); ``runs(path, live=True)`` runs it again if they are gone.
    ``plan`` lists the notebooks the selected tests will ask for, in order: while one runs, the next
    one's page loads and its kernel starts (about 5 s each on 2 cores, hidden behind the run).
    """

    def __init__(self, browser, lab: Lab, watch: Watch, plan: list[str]):
        self.browser, self.lab, self.watch, self.plan = browser, lab, watch, plan
        self._done: dict[str, NotebookRun] = {}
        self._open: dict[str, NotebookRun] = {}  # pages not closed yet, run or not

    def __call__(self, path: str, live: bool = False) -> NotebookRun:
        done = self._done.get(path)
        if done is None or (live and path not in self._open):
            for other in [p for p in self._open if p != path]:
                self._close(other)
            run = self._opening(path)
            wait_until_ready(run)
            following = [p for p in self.plan if p not in self._done and p not in self._open]
            if following:
                self._opening(following[0])
            self._done[path] = run_all(run, self.lab)
        run = self._done[path]
        self.watch.add(None if run.page.is_closed() else run.page, self.lab, run)
        return run

    def _opening(self, path: str) -> NotebookRun:
        if path not in self._open:
            self._open[path] = open_notebook(self.browser, self.lab, path)
        return self._open[path]

    def _close(self, path: str) -> None:
        run = self._open.pop(path)
        self.lab.shut_down_kernels(path)
        run.page.context.close()

    def timings(self) -> dict[str, float]:
        return {path: run.seconds for path, run in self._done.items()}


def planned_notebooks(items) -> list[str]:
    """The notebooks that the selected tests take as ``released`` or ``solution``, in test order."""
    paths = [item.callspec.params.get(name) for item in items if hasattr(item, "callspec")
             for name in ("released", "solution")]
    return list(dict.fromkeys(p for p in paths if p))


@pytest.fixture(scope="session")
def runs(request, browser, lab, watch):
    """``runs(path)``: the notebook at ``path`` (e.g. "solutions/02_x/02_x.ipynb") after Run All and save."""
    runs = Runs(browser, lab, watch, planned_notebooks(request.session.items))
    yield runs
    timings = runs.timings()
    if timings:
        print("\nRun All in the browser, seconds: " + ", ".join(f"{Path(p).stem} ({Path(p).parts[0]}) {s:.1f}"
                                                              for p, s in timings.items()))


# -- failure artifacts


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so that fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def save_artifacts(folder: Path, watch: Watch) -> None:
    """Into ``folder``: a screenshot and the text of each watched page still open, each watched run's
    saved notebook (open it in Jupyter to see every output) and each watched lab's log."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, page in enumerate(watch.pages):
        if page.is_closed():
            continue
        try:
            page.screenshot(path=folder / f"page{i}.png")
            (folder / f"page{i}.txt").write_text(f"{page.url}\n\n{page.locator('body').inner_text(timeout=5000)}")
        except Exception as error:  # a page that crashed still leaves the other artifacts
            (folder / f"page{i}.error.txt").write_text(repr(error))
    for run in watch.runs:
        if run.saved is not None:
            nbformat.write(run.saved, folder / f"{Path(run.path).parts[0]}-{Path(run.path).name}")
    for i, lab in enumerate(watch.labs):
        (folder / f"lab{i}.log").write_text(lab.log_text())


@pytest.fixture(autouse=True)
def _artifacts_on_failure(request, watch):
    """On a failed test, keep screenshots and text of the pages it used and the labs' logs, and say where."""
    watch.clear()
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and (watch.pages or watch.labs or watch.runs):
        folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
        shutil.rmtree(folder, ignore_errors=True)
        save_artifacts(folder, watch)
        report.sections.append(("browser artifacts", f"screenshots, page text, saved notebooks and lab logs: {folder}"))
