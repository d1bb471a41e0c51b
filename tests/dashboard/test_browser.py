"""The dashboard end to end in a real headless browser: Debian's chromium driven through its
own chromedriver (explicit paths: Selenium Manager downloads nothing).

Two `kfops run`s of the bundled example (a weak first version becomes champion, a better
second one challenger), then `kfops rollout start` of the challenger with a pause until
promote, then `kfops dashboard --allow-actions`. The page shows the model, its aliases and
the rollout's steps; Abort, pressed from the keyboard, aborts the rollout (checked through
`kfops rollout get --json`); an unknown rollout is a message on the page. Screenshots are
saved, checked for content, and copied to the folder the test prints, with the page's load
time from the Navigation Timing API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.conftest import KFOPS, kfops, rollout_project
from tests.support.processes import stop_process, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(tempfile.gettempdir()) / "kfops-dashboard-screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
        reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)",
    ),
]


@pytest.fixture
def project(tmp_path: Path, repo: Path) -> Path:
    """The bundled churn example; its rollout puts 30 % on the candidate, then waits."""
    steps = [{"setWeight": 30}, {"pause": {}}]
    return rollout_project(tmp_path, repo, {"strategy": {"canary": {"steps": steps}}})


def rollout_status(project: Path) -> dict:
    shown = kfops("rollout", "get", "churn", "-c", str(project), "--json")
    assert shown.code == 0, shown.output
    return json.loads(shown.stdout)["status"]


def launch(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}
    with log.open("w") as out:
        return subprocess.Popen(
            [KFOPS, *args], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


@pytest.fixture
def paused_rollout(project: Path, tmp_path: Path) -> Iterator[Path]:
    """Two runs, then the challenger's rollout waiting at its pause step."""
    weak = kfops("run", "-c", str(project), "--set", "model.estimator=sklearn.dummy.DummyClassifier",
                 "--set", "model.params={strategy: prior}")  # fmt: skip
    assert weak.code == 0, weak.output
    better = kfops("run", "-c", str(project))
    assert better.code == 0, better.output
    log = tmp_path / "rollout.log"
    process = launch(["rollout", "start", "-c", str(project), "--interval", "0.5"], log)
    try:
        wait_until(
            lambda: (
                (project.parent.parent / "state" / "rollouts" / "churn.json").is_file()
                and rollout_status(project)["phase"] == "Paused"
            ),
            180,
            f"the rollout to pause ({log})",
        )
        yield project
    finally:
        stop_process(process, 30)
        kfops("rollout", "stop", "churn", "-c", str(project))


@pytest.fixture
def dashboard(paused_rollout: Path, tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "dashboard.log"
    process = launch(
        ["dashboard", "-c", str(paused_rollout), "--port", "0", "--allow-actions"], log
    )
    try:
        line = wait_until(
            lambda: next((w for w in log.read_text().split() if w.startswith("http://")), None),
            60,
            f"the dashboard's address ({log})",
        )
        yield line
    finally:
        stop_process(process, 15)


@pytest.fixture
def browser() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, folder: Path, name: str, width: int) -> Path:
    """The whole page at ``width`` px, checked to hold a picture, not a blank."""
    import matplotlib.image

    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 600), 4000))
    time.sleep(0.3)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    pixels = matplotlib.image.imread(str(path))[:, :, :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"{path}: {len(colours)} colours, a blank page?"
    assert (pixels < 0.5).mean() > 0.005, f"{path}: hardly any dark pixel (no text?)"
    return path


def load_times(driver) -> dict[str, float]:
    """Milliseconds from navigation start (Navigation Timing) to DOMContentLoaded, to the
    load event, and to the page's own mark once every section has its data drawn."""
    return driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "const m = performance.getEntriesByName('kfops-dashboard-loaded')[0];"
        "return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd, drawn: m.startTime};"
    )


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def test_the_page_shows_a_rollout_and_abort_aborts_it(
    dashboard: str, paused_rollout: Path, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    shots = tmp_path / "screenshots"
    shots.mkdir()
    browser.get(dashboard)
    wait_until(lambda: browser.find_element("tag name", "body").get_attribute("data-loaded"),
               60, "every section drawn")  # fmt: skip
    cold = load_times(browser)  # the first page after start: MLflow may still be importing

    rollouts = text(browser, "rollouts")
    for shown in ("churn: Paused", "model churn-classifier", "stable v1 → candidate v2",
                  "candidate weight 30%", "setWeight 30 (done)", "pause (until promote) (current)"):  # fmt: skip
        assert shown in rollouts, rollouts
    models = text(browser, "models")
    assert "churn-classifier" in models and "champion → v1" in models
    assert "challenger → v2" in models and "promote" in models  # v2's gate decision
    assert "roc_curve.png" in models and "statistics.html" in models
    runs = text(browser, "runs")
    assert runs.count("succeeded") >= 2 and "train" in runs
    assert "no Prometheus configured" in text(browser, "serving")
    wide = screenshot(browser, shots, "1-paused-1280px", 1280)

    abort = browser.find_element("css selector", 'button[data-command="abort"]')
    assert abort.get_attribute("aria-label") == "Abort rollout churn"
    # Tab from the top of the page, as a person without a mouse would, to the Abort button.
    # The list re-renders every second, so the focused element is read in one script call.
    keys = ActionChains(browser)
    reached = []
    for _ in range(40):
        keys.send_keys(Keys.TAB).perform()
        label, command = browser.execute_script(
            "const e = document.activeElement;"
            "return [e.getAttribute('aria-label') || e.textContent.trim(), e.dataset.command || ''];"
        )
        reached.append(label)
        if command == "abort":
            break
    assert reached[0] == "Skip to content" and reached[-1] == "Abort rollout churn", reached
    assert reached.index("Promote rollout churn") < reached.index("Pause rollout churn")
    keys.send_keys(Keys.ENTER).perform()
    wait_until(lambda: "Degraded (aborted)" in text(browser, "rollout-status"), 60, "the abort")
    assert "abort churn: done, phase Degraded" in text(browser, "action-result")
    status = rollout_status(paused_rollout)
    assert (status["abort"], status["phase"], status["canaryWeight"]) == (True, "Degraded", 0)
    aborted = screenshot(browser, shots, "2-aborted-1280px", 1280)
    narrow = screenshot(browser, shots, "3-aborted-420px", 420)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 420, f"the page is {width} px wide at 420 px: wide tables must scroll alone"

    browser.get(dashboard.rstrip("/") + "/#rollout=nope")
    browser.refresh()
    wait_until(lambda: "no rollout named 'nope'" in text(browser, "rollout-status"), 30,
               "the unknown rollout's message")  # fmt: skip
    assert "Traceback" not in browser.page_source
    wait_until(lambda: browser.find_element("tag name", "body").get_attribute("data-loaded"),
               60, "every section drawn again")  # fmt: skip
    warm = load_times(browser)
    unknown = screenshot(browser, shots, "4-unknown-rollout-1280px", 1280)

    SHOTS.mkdir(exist_ok=True)
    for path in (wide, aborted, narrow, unknown):
        shutil.copy(path, SHOTS / path.name)
    print(f"\nscreenshots: {SHOTS}")
    for name, timing in (("first load", cold), ("next load", warm)):
        print(f"{name}: DOMContentLoaded {timing['dom']:.0f} ms, load event "
              f"{timing['load']:.0f} ms, every section drawn {timing['drawn']:.0f} ms")  # fmt: skip
