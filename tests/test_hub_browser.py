"""Pairing a device end to end through a real browser, then finding its session on the Hub.

The issue's "done when": from a fresh Hub and a fresh device, a session played before
pairing appears on the user's Hub page after pairing through the browser, exactly once.
Every party is real: the Hub is a process on 127.0.0.1, the device is the ``fretcoach
pair`` and ``fretcoach sync`` commands on a store in a temporary directory, and the person
is Debian's ``chromium`` in headless mode, driven by selenium through the system's
``chromedriver`` (no browser is downloaded). Without those two programs the test skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.records import NoteRow, SessionProgress
from sync.store import Store
from tests.conftest import REPO, session_start
from tests.hubproc import HubProcess
from tests.test_pairing import PASSWORD, Output, run_cli

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver: apt-get install chromium "
    "chromium-driver (`make setup-dev` installs them)",
)

# The notes of the session played before pairing: an A minor pentatonic run with one
# B (outside the scale), a little early on average.
PLAYED = [
    NoteRow(onset_s=0.5 + 0.5 * i, midi=midi, cents=(-1) ** i * 8.0, in_scale=midi != 59)
    for i, midi in enumerate([57, 60, 62, 64, 67, 69, 59, 67, 64, 62, 60, 57])
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless chromium under selenium, pointed at the system browser and driver."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # tests may run as root in a container, where the sandbox cannot
        "--disable-dev-shm-usage",  # a container's small /dev/shm crashes tabs otherwise
        "--disable-gpu",
        "--window-size=1000,1200",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    # A click that submits a form returns before the next page is there; on a loaded
    # machine the element looked for next may take a moment to exist.
    driver.implicitly_wait(15)
    try:
        yield driver
    finally:
        driver.quit()


def record_played_session(data_dir: Path) -> str:
    """A finished session with notes, under the default user id, before any pairing."""
    session_id = str(uuid.uuid4())
    with Store.open(data_dir) as store:
        store.begin_session(
            session_start(session_id, user="guitarist", start_wall=time.time() - 120)
        )
        store.finish_session(
            session_id,
            SessionProgress(60.0, 0.92, 0.9, 0.75, 12, 11, 1, mean_offset_ms=-14.2),
            PLAYED,
        )
    return session_id


def test_a_session_played_before_pairing_appears_once_on_the_page_after_pairing_in_a_browser(
    tmp_path: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    data = tmp_path / "device"
    played = record_played_session(data)
    env = {"FRETCOACH_DATA_DIR": str(data), "FRETCOACH_CLOCK_SYNCED": "1"}
    with HubProcess(
        tmp_path / "hub",
        tokens={},
        users={"alice": PASSWORD},
        enable_faults=False,
        extra_args=["--pairing-interval", "1"],
    ) as hub:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FRETCOACH_HUB")}
        pairing = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "pair", "--hub", hub.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**clean, **env},
        )
        try:
            shown = Output(pairing).wait_for("enter the code")
            user_code = shown.split("enter the code")[1].split()[0]
            link = f"{hub.url}/device?user_code={user_code}"
            assert link in shown  # what the QR code holds

            # The person: open the link, sign in, check the code, approve.
            browser.get(link)
            browser.find_element(By.NAME, "user_id").send_keys("alice")
            browser.find_element(By.NAME, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "sign-in").click()
            assert browser.find_element(By.CLASS_NAME, "code").text == user_code
            browser.find_element(By.ID, "approve").click()
            WebDriverWait(browser, 15).until(  # the answer page, not the one clicked on
                lambda b: "device approved" in b.find_element(By.ID, "message").text
            )

            pairing.wait(timeout=60)
        finally:
            if pairing.poll() is None:
                pairing.kill()
        err = pairing.stderr.read() if pairing.stderr else ""
        assert pairing.returncode == 0, err

        # The device syncs with the pairing alone; twice, as a device retrying would.
        for _ in range(2):
            synced = run_cli("sync", env=env)
            assert synced.returncode == 0, synced.stderr
        assert [r["user_id"] for r in hub.rows() if r["session_id"] == played] == ["alice"]

        browser.find_element(By.ID, "sessions-link").click()
        rows = browser.find_elements(By.CSS_SELECTOR, "#sessions tr.session")
        assert [row.get_attribute("id") for row in rows] == [f"session-{played}"]
        plot = browser.find_element(By.CSS_SELECTOR, "svg#score-plot")
        assert plot.get_attribute("data-sessions") == "1"
        assert plot.size["width"] > 300 and plot.size["height"] > 100  # drawn, not empty
        assert len(plot.find_elements(By.CSS_SELECTOR, "circle.score-dot")) == 3

        rows[0].find_element(By.TAG_NAME, "a").click()
        picture = browser.find_element(By.CSS_SELECTOR, "svg#pitch-plot")
        assert picture.get_attribute("data-notes") == str(len(PLAYED))
        assert picture.size["width"] > 300
        outside = picture.find_element(By.CSS_SELECTOR, "path.notes.out-of-scale")
        assert outside.get_attribute("data-count") == "1"
        lines = picture.find_elements(By.CSS_SELECTOR, "line.scale-line")
        assert {int(str(line.get_attribute("data-midi"))) % 12 for line in lines} == {
            9,
            0,
            2,
            4,
            7,
        }  # A C D E G
        assert "rushing by 14 ms" in browser.find_element(By.ID, "facts").text
