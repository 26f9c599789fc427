"""Notebook 01 in a real JupyterLab, driven by headless Chromium through Selenium.

Starts ``jupyter lab`` on 127.0.0.1 with a random token (its settings and
workspaces in a temporary folder), opens a copy of notebook 01 with small
parameters, runs every cell, checks that the object picker renders and that a
click on a level changes the preview, and saves a screenshot (in pytest's
temporary folder; also to ``$SPINML_SCREENSHOT`` when that is set, e.g.
``docs/object_picker.png``).

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser-deps``);
skipped, saying so, only when no such binary is found.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_select_objects.ipynb"
BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
DRIVER = shutil.which("chromedriver")
WAIT = 300  # seconds: the kernel imports torch on a shared 2-core machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BROWSER is None or DRIVER is None,
                       reason="no chromium / chromedriver binary: run `make browser-deps`"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_copy(folder: Path) -> Path:
    """Notebook 01 with one reference per class and its outputs in ``folder``."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", ()))
    assert "n_ref = 5" in cell.source and "interactive = True" in cell.source
    out = str(folder / "out")
    cell.source = cell.source.replace("n_ref = 5", "n_ref = 1") + f"\noutput_dir = {out!r}"
    path = folder / NOTEBOOK.name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server: yields its base URL and token."""
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path / "jupyter"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={tmp_path}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    log = (tmp_path / "jupyterlab.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start: see "
                                       f"{tmp_path / 'jupyterlab.log'}") from None
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def browser():
    """Headless Chromium through Debian's chromedriver (nothing is downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_picker_renders_and_a_level_click_changes_the_preview(lab, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = lab
    notebook = small_copy(tmp_path)
    wait = WebDriverWait(browser, WAIT)
    browser.get(f"{url}/lab/tree/{notebook.name}?token={token}")
    wait.until(lambda d: d.execute_script(
        "const app = window.jupyterapp || window.jupyterlab;"
        "const w = app && app.shell.currentWidget;"
        "return !!(w && w.sessionContext && w.sessionContext.session &&"
        " w.sessionContext.session.kernel &&"
        " w.sessionContext.session.kernel.status === 'idle');"))
    browser.execute_script(
        "(window.jupyterapp || window.jupyterlab).commands.execute('notebook:run-all-cells');")

    preview = "//*[contains(@class,'widget-label') and normalize-space()='{}']"
    wait.until(ec.presence_of_element_located(
        (By.XPATH, preview.format("target: L2, pixels + mask"))))
    selector = ("//div[contains(@class,'widget-toggle-buttons')]"
                "[.//label[normalize-space()='target']]")
    assert browser.find_elements(By.XPATH, selector), "the picker's selectors did not render"
    assert browser.find_elements(By.XPATH, "//img[starts-with(@src,'blob:')]")

    button = browser.find_element(By.XPATH, f"{selector}//button[normalize-space()='L1']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    wait.until(ec.presence_of_element_located(
        (By.XPATH, preview.format("target: L1, feature map"))))
    assert not browser.find_elements(By.XPATH, preview.format("target: L2, pixels + mask"))
    wait.until(ec.presence_of_element_located(
        (By.XPATH, "//*[contains(normalize-space(), 'scheme L1_L1')]")))

    shot = tmp_path / "object_picker.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("SPINML_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["SPINML_SCREENSHOT"])
