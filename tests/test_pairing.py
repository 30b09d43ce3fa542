"""Pairing a device with a Hub user (RFC 8628), end to end against real processes.

The Hub runs as a subprocess with a user in its database; the device side is the real
``fretcoach pair`` / ``sync`` / ``status`` commands; the person approving is a
``requests`` session speaking the Hub's JSON API or posting its HTML forms. Afterwards
the Hub's own tables say who stored what.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.hub.pairing import Pairing, TokenRequestError
from sync.hub.storage import HubStore, make_engine, sqlite_url
from sync.pairing import (
    PAIRING_FILE,
    BackgroundPairing,
    Paired,
    PairingState,
    after_pairing,
    load_pairing,
)
from sync.qr import qr_matrix
from sync.store import Store
from tests.conftest import REPO, session_start
from tests.devicerun import run_cli as run_fretcoach
from tests.hubproc import HubProcess
from tests.test_hub_server import session_body

PASSWORD = "correct horse battery"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def pairing_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A Hub with users alice and bob, polled every second, and a static token for carol."""
    with HubProcess(
        tmp_path_factory.mktemp("pairing-hub"),
        tokens={"script-token": "carol"},
        users={"alice": PASSWORD, "bob": PASSWORD},
        enable_faults=False,
        extra_args=["--pairing-interval", "1"],
    ) as server:
        yield server


def signed_in(hub: HubProcess, user: str = "alice") -> tuple[requests.Session, str]:
    """A browser-like session signed in as ``user``, and its CSRF token."""
    browser = requests.Session()
    answer = browser.post(
        f"{hub.url}/account/sign-in", data={"user_id": user, "password": PASSWORD}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return browser, answer.json()["csrf_token"]


def start_code(hub: HubProcess, name: str = "fcp-test") -> dict[str, object]:
    answer = requests.post(
        f"{hub.url}/oauth/device_authorization",
        data={"client_id": "fretcoach-portable", "device_name": name},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def poll(hub: HubProcess, device_code: object) -> requests.Response:
    return requests.post(
        f"{hub.url}/oauth/token",
        data={"grant_type": GRANT, "device_code": device_code, "client_id": "fretcoach-portable"},
        timeout=10,
    )


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A device command with no Hub settings but the test's own."""
    return run_fretcoach(*args, env=env, drop=("FRETCOACH_HUB",))


def record_session(data_dir: Path, user: str = "guitarist") -> str:
    """A finished session as the daemon stores it, under the default user id."""
    session_id = str(uuid.uuid4())
    with Store.open(data_dir) as store:
        from sync.records import SessionProgress

        store.begin_session(session_start(session_id, user=user, start_wall=time.time() - 60))
        store.finish_session(session_id, SessionProgress(60.0, 0.9, 0.8, 0.7, 3, 2, 1), [])
    return session_id


# --------------------------------------------------------------------------- the protocol


def test_the_device_authorization_answer_has_every_rfc_8628_field(pairing_hub: HubProcess) -> None:
    grant = start_code(pairing_hub)
    assert set(grant) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert grant["verification_uri"] == f"{pairing_hub.url}/device"
    assert grant["verification_uri_complete"] == (
        f"{pairing_hub.url}/device?user_code={grant['user_code']}"
    )
    assert (grant["expires_in"], grant["interval"]) == (600, 1)
    code = str(grant["user_code"])
    assert len(code) == 9 and code[4] == "-" and not set(code) & set("AEIOU0123456789")
    missing = requests.post(f"{pairing_hub.url}/oauth/device_authorization", data={}, timeout=10)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")


def test_polls_answer_pending_then_slow_down_then_the_token_once(pairing_hub: HubProcess) -> None:
    grant = start_code(pairing_hub)
    first = poll(pairing_hub, grant["device_code"])
    assert (first.status_code, first.json()["error"]) == (400, "authorization_pending")
    assert first.headers["Cache-Control"] == "no-store"
    hasty = poll(pairing_hub, grant["device_code"])  # at once: faster than the interval
    assert (hasty.status_code, hasty.json()["error"]) == (400, "slow_down")
    assert "6 s" in hasty.json()["error_description"]  # interval 1 s + 5 s
    time.sleep(1.2)  # the old interval is no longer enough
    assert poll(pairing_hub, grant["device_code"]).json()["error"] == "slow_down"  # now 11 s
    time.sleep(11.1)  # the new one is
    assert poll(pairing_hub, grant["device_code"]).json()["error"] == "authorization_pending"
    browser, csrf = signed_in(pairing_hub)
    approved = browser.post(
        f"{pairing_hub.url}/account/approve",
        data={"user_code": str(grant["user_code"]).lower(), "approve": "true"},
        headers={"X-CSRF-Token": csrf},
        timeout=10,
    )
    assert approved.json() == {"result": "approved"}
    time.sleep(11.1)
    token = poll(pairing_hub, grant["device_code"])
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["user_id"] == "alice"
    assert body["access_token"].startswith("fch_")
    again = poll(pairing_hub, grant["device_code"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    # Stored as hashes only: the database holds no usable secret.
    [device] = [
        r
        for r in pairing_hub.rows("devices")
        if r["user_id"] == "alice" and r["device_ref"] == body["device_ref"]
    ]
    assert body["access_token"] not in json.dumps(device)


def test_a_denied_code_answers_access_denied(pairing_hub: HubProcess) -> None:
    grant = start_code(pairing_hub)
    browser, csrf = signed_in(pairing_hub, "bob")
    denied = browser.post(
        f"{pairing_hub.url}/account/approve",
        json={"user_code": grant["user_code"], "approve": False},
        headers={"X-CSRF-Token": csrf},
        timeout=10,
    )
    assert denied.json() == {"result": "denied"}
    refused = poll(pairing_hub, grant["device_code"])
    assert (refused.status_code, refused.json()["error"]) == (400, "access_denied")


@pytest.mark.parametrize(
    "path", ["/oauth/device_authorization", "/oauth/token", "/account/sign-in"]
)
def test_open_routes_answer_a_strangers_json_with_4xx_never_500(
    pairing_hub: HubProcess, path: str
) -> None:
    """JSON nested 5000 deep (under the 16 KiB limit) made the json parser recurse out:
    a 500 from input. Over the limit, the 413 says what the route takes (it spoke of
    notes, which no pairing or sign-in body carries)."""
    deep = requests.post(
        f"{pairing_hub.url}{path}",
        data=b"[" * 5000 + b"]" * 5000,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert 400 <= deep.status_code < 500, deep.text
    big = requests.post(
        f"{pairing_hub.url}{path}",
        data=b"x" * 20_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert big.status_code == 413
    assert "form fields" in big.json()["detail"] and "notes" not in big.json()["detail"]


def test_a_token_poll_that_is_no_form_is_invalid_request_not_a_grant_type(
    pairing_hub: HubProcess,
) -> None:
    """RFC 6749 §5.2: a body that cannot be read, or has no grant_type, is malformed
    (``invalid_request``); only a grant_type that was sent and is not the device code's is
    ``unsupported_grant_type``. Unreadable JSON answered the latter, sending a client to
    fix a grant it never got to send."""
    url = f"{pairing_hub.url}/oauth/token"
    for body, kind in (
        (b"{not json", "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"device_code=abc", "application/x-www-form-urlencoded"),
    ):
        answer = requests.post(url, data=body, headers={"Content-Type": kind}, timeout=10)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
        assert "grant_type" in answer.json()["error_description"]
    other = requests.post(url, data={"grant_type": "password", "device_code": "abc"}, timeout=10)
    assert (other.status_code, other.json()["error"]) == (400, "unsupported_grant_type")


def test_an_expired_code_answers_expired_token(tmp_path: Path) -> None:
    store = HubStore(make_engine(sqlite_url(tmp_path / "hub.sqlite3")))
    store.create_tables()
    pairing = Pairing(store.engine, interval_s=1)
    then = datetime.now(UTC) - timedelta(minutes=11)
    grant = pairing.start("fcp-late", now=then)
    with pytest.raises(TokenRequestError) as refused:
        pairing.poll(grant.device_code)
    assert refused.value.error == "expired_token"
    assert pairing.decide(grant.user_code, "alice", approve=True) is False  # too late too
    store.close()


def test_approving_needs_the_csrf_token_and_a_sign_in(pairing_hub: HubProcess) -> None:
    grant = start_code(pairing_hub)
    browser, _csrf = signed_in(pairing_hub)
    forged = browser.post(
        f"{pairing_hub.url}/account/approve", data={"user_code": grant["user_code"]}, timeout=10
    )
    assert forged.status_code == 403
    anonymous = requests.post(
        f"{pairing_hub.url}/account/approve", data={"user_code": grant["user_code"]}, timeout=10
    )
    assert anonymous.status_code == 401
    assert poll(pairing_hub, grant["device_code"]).json()["error"] == "authorization_pending"


def test_failed_sign_ins_are_rate_limited_in_the_database(tmp_path: Path) -> None:
    """Ten wrong passwords block the address, even for the right password, and the
    count survives a restart of the Hub: it lives in the database, not in a process."""
    hub = HubProcess(tmp_path / "hub", tokens={}, users={"alice": PASSWORD}, enable_faults=False)
    with hub:
        url = f"{hub.url}/account/sign-in"
        answers = [
            requests.post(url, data={"user_id": "alice", "password": f"guess-{i}"}, timeout=10)
            for i in range(11)
        ]
        assert [a.status_code for a in answers] == [401] * 10 + [429]
        assert "too many sign-in attempts" in answers[10].json()["detail"]
        starts = [
            requests.post(
                f"{hub.url}/oauth/device_authorization", data={"client_id": "x"}, timeout=10
            )
            for _ in range(11)
        ]
        assert [a.status_code for a in starts] == [200] * 10 + [429]
        assert starts[10].json()["error"] == "slow_down" and "Retry-After" in starts[10].headers
    # The same database, a new process (with no static token: the user is enough).
    with HubProcess(tmp_path / "hub", tokens={}, enable_faults=False) as again:
        right = requests.post(
            f"{again.url}/account/sign-in",
            data={"user_id": "alice", "password": PASSWORD},
            timeout=10,
        )
        assert right.status_code == 429


def test_the_html_page_signs_in_and_approves(pairing_hub: HubProcess) -> None:
    grant = start_code(pairing_hub, "fcp-kitchen")
    browser = requests.Session()
    page = browser.get(str(grant["verification_uri_complete"]), timeout=10)
    assert page.status_code == 200 and 'action="/device/sign-in"' in page.text
    assert "cdn" not in page.text.lower() and "<script" not in page.text
    wrong = browser.post(
        f"{pairing_hub.url}/device/sign-in",
        data={"user_id": "alice", "password": "nope-nope", "user_code": grant["user_code"]},
        timeout=10,
    )
    assert wrong.status_code == 401 and "wrong user or password" in wrong.text
    shown = browser.post(
        f"{pairing_hub.url}/device/sign-in",
        data={"user_id": "alice", "password": PASSWORD, "user_code": grant["user_code"]},
        timeout=10,
    )
    assert shown.status_code == 200 and "fcp-kitchen" in shown.text
    assert str(grant["user_code"]) in shown.text and 'id="approve"' in shown.text
    csrf = shown.text.split('name="csrf_token" value="')[1].split('"')[0]
    stale = browser.post(
        f"{pairing_hub.url}/device/decide",
        data={"user_code": grant["user_code"], "approve": "true", "csrf_token": "forged"},
        timeout=10,
    )
    assert stale.status_code == 403
    done = browser.post(
        f"{pairing_hub.url}/device/decide",
        data={"user_code": grant["user_code"], "approve": "true", "csrf_token": csrf},
        timeout=10,
    )
    assert "device approved" in done.text
    time.sleep(1.1)
    assert poll(pairing_hub, grant["device_code"]).status_code == 200
    listed = browser.get(f"{pairing_hub.url}/device", timeout=10).text
    assert "Your devices" in listed and "fcp-kitchen" in listed and "Revoke" in listed
    row = listed.split("fcp-kitchen")[1]
    ref = row.split('name="device_ref" value="')[1].split('"')[0]
    gone = browser.post(
        f"{pairing_hub.url}/device/revoke",
        data={"device_ref": ref, "csrf_token": csrf},
        timeout=10,
    )
    assert "device revoked" in gone.text
    # The page says only its own words: a link cannot put text on it.
    spoofed = browser.get(f"{pairing_hub.url}/device?note=call+0800+now&message=x", timeout=10)
    assert "0800" not in spoofed.text


# --------------------------------------------------------------------------- the device


class Output:
    """A child's stdout read line by line on a thread, so a test can wait for a line
    while the child keeps running (and polling)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._thread = threading.Thread(
            target=lambda: self.lines.extend(iter(process.stdout.readline, "")), daemon=True
        )
        self._thread.start()

    def wait_for(self, marker: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while marker not in "".join(self.lines):
            assert time.monotonic() < deadline, f"no {marker!r} in: {''.join(self.lines)}"
            time.sleep(0.1)
        return "".join(self.lines)

    def rest(self) -> str:
        self._thread.join(timeout=30)
        return "".join(self.lines)


def test_pair_then_sessions_from_before_pairing_upload_then_revoking_pauses_the_queue(
    pairing_hub: HubProcess, tmp_path: Path
) -> None:
    data = tmp_path / "device"
    before = record_session(data)  # recorded as "guitarist", before the device was paired
    env = {"FRETCOACH_DATA_DIR": str(data), "FRETCOACH_CLOCK_SYNCED": "1"}
    unpaired = run_cli("sync", env={**env, "FRETCOACH_HUB_URL": pairing_hub.url})
    assert unpaired.returncode == 1 and "run `fretcoach pair`" in unpaired.stderr

    process = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "pair", "--hub", pairing_hub.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
    )
    try:
        output = Output(process)
        shown = output.wait_for("enter the code")
        user_code = shown.split("enter the code")[1].split()[0]
        assert f"{pairing_hub.url}/device?user_code={user_code}" in shown
        assert "▀" in shown or "▄" in shown  # the QR code, drawn in half blocks
        browser, csrf = signed_in(pairing_hub)
        approved = browser.post(
            f"{pairing_hub.url}/account/approve",
            data={"user_code": user_code},
            headers={"X-CSRF-Token": csrf},
            timeout=10,
        )
        assert approved.json() == {"result": "approved"}
        process.wait(timeout=60)
        out = output.rest()
        err = process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "paired with" in out and "as alice" in out
    saved = data / PAIRING_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    token = json.loads(saved.read_text())["token"]
    assert token not in shown + out + err

    # No FRETCOACH_HUB_URL, no FRETCOACH_HUB_TOKEN: the pairing is enough.
    synced = run_cli("sync", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    [row] = [r for r in pairing_hub.rows() if r["session_id"] == before]
    assert row["user_id"] == "alice"  # recorded as "guitarist", stored as the token's user
    assert token not in synced.stdout + synced.stderr

    devices = browser.get(f"{pairing_hub.url}/account/devices", timeout=10).json()["devices"]
    with Store.open(data) as store:
        device_id = store.device_id()
    [mine] = [d for d in devices if d["device_name"] == device_id]
    assert mine["revoked_at"] is None
    bobs, bob_csrf = signed_in(pairing_hub, "bob")
    assert (
        bobs.post(
            f"{pairing_hub.url}/account/devices/{mine['device_ref']}/revoke",
            headers={"X-CSRF-Token": bob_csrf},
            timeout=10,
        ).status_code
        == 404
    )  # not bob's to revoke
    revoked = browser.post(
        f"{pairing_hub.url}/account/devices/{mine['device_ref']}/revoke",
        headers={"X-CSRF-Token": csrf},
        timeout=10,
    )
    assert revoked.json()["result"] == "revoked"

    after = record_session(data)
    paused = run_cli("sync", env=env)
    assert paused.returncode == 1 and "re-pair" in paused.stderr
    status = run_cli("status", env=env)
    assert "re-pair with `fretcoach pair`" in status.stdout
    status_json = json.loads(run_cli("status", "--json", env=env).stdout)
    assert "re-pair" in status_json["sync_paused"] and status_json["sessions_rejected"] == 0
    with Store.open(data) as store:
        record = store.session(after)
        assert record is not None and record.sync_state == "pending"
    assert not [r for r in pairing_hub.rows() if r["session_id"] == after]


def test_a_static_token_still_works_beside_paired_devices(pairing_hub: HubProcess) -> None:
    body = session_body("someone")
    answer = requests.post(
        f"{pairing_hub.url}/api/v1/sessions",
        json=body,
        headers={"Authorization": "Bearer script-token", "Idempotency-Key": body["session_id"]},
        timeout=10,
    )
    assert answer.status_code == 201
    [row] = [r for r in pairing_hub.rows() if r["session_id"] == body["session_id"]]
    assert row["user_id"] == "carol"


def test_hub_add_user_hashes_the_password_and_says_what_is_wrong(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite3"

    def add(user: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "device.cli", "hub", "add-user", user, "--db", str(db)],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO,
        )

    made = add("dana", "a long enough secret")
    assert made.returncode == 0, made.stderr
    assert "added user dana" in made.stdout
    with closing(sqlite3.connect(db)) as conn:
        [(stored,)] = conn.execute("SELECT password_hash FROM users WHERE user_id = 'dana'")
    assert stored.startswith("$argon2id$") and "a long enough secret" not in stored
    again = add("dana", "a long enough secret")
    assert (again.returncode, again.stderr.strip()) == (
        1,
        "fretcoach hub: error: user 'dana' already exists",
    )
    short = add("erin", "short")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr


def test_a_hub_with_no_token_and_no_user_refuses_to_start(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite3"
    HubStore(make_engine(sqlite_url(db))).create_tables()  # a database, but nobody in it
    env = {k: v for k, v in os.environ.items() if k != "FRETCOACH_HUB_TOKENS"}
    ran = subprocess.run(
        [sys.executable, "-m", "sync.hub", "--db", str(db), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env=env,
    )
    assert ran.returncode == 1
    assert "no device tokens and no users: add a user with `fretcoach hub add-user" in ran.stderr


def test_pairing_in_the_background_reports_its_state_for_the_screen(
    pairing_hub: HubProcess, tmp_path: Path
) -> None:
    def wait_for(phase: str) -> PairingState:
        deadline = time.monotonic() + 30
        while flow.state.phase != phase:
            assert time.monotonic() < deadline, flow.state
            time.sleep(0.1)
        return flow.state

    data = tmp_path / "device"
    with Store.open(data) as store:
        store.pause_hub(401, "HTTP 401: this device was revoked")
        paired: list[str] = []

        def on_paired(done: Paired) -> None:
            after_pairing(store)
            paired.append(done.user_id)

        flow = BackgroundPairing(pairing_hub.url, data, "fcp-screen", on_paired=on_paired).start()
        waiting = wait_for("waiting")
        assert waiting.user_code and waiting.verification_uri_complete
        assert len(qr_matrix(waiting.verification_uri_complete)) <= 29
        browser, csrf = signed_in(pairing_hub, "bob")
        browser.post(
            f"{pairing_hub.url}/account/approve",
            data={"user_code": waiting.user_code},
            headers={"X-CSRF-Token": csrf},
            timeout=10,
        )
        assert wait_for("paired").message == "paired as bob"
        assert paired == ["bob"] and store.hub_pause() is None
    assert load_pairing(data) is not None

    cancelled = BackgroundPairing(pairing_hub.url, tmp_path / "other", "fcp-2")
    flow = cancelled.start()
    wait_for("waiting")
    cancelled.cancel()
    assert cancelled.state == PairingState("failed", message="pairing cancelled")


# --------------------------------------------------------------------------- the QR code


@pytest.mark.parametrize(
    "uri",
    [
        "http://192.168.1.20:8787/device?user_code=BCDF-GHJK",
        "https://hub.example.com/device?user_code=BCDF-GHJK",
    ],
)
def test_the_qr_matrix_fits_the_oled_at_2_px_per_module(uri: str) -> None:
    rows = qr_matrix(uri)
    size = len(rows)
    assert size in (21, 25, 29) and all(len(row) == size for row in rows)  # version 1–3
    assert size * 2 <= 64
    # The three finder patterns: a dark 7×7 ring at three corners.
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        ring = [rows[top][left + i] for i in range(7)] + [rows[top + 6][left + i] for i in range(7)]
        assert all(ring)
        assert rows[top + 1][left + 1] is False and rows[top + 3][left + 3] is True


def test_a_link_too_long_for_version_3_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="shorter Hub address"):
        qr_matrix("https://" + "a" * 80 + ".example.com/device?user_code=BCDF-GHJK")


def test_a_database_that_cannot_check_a_token_is_503_never_401(tmp_path: Path) -> None:
    """A device told 401 pauses and asks for a re-pair: that must come from its token,
    never from a Hub whose database cannot answer (here: the devices table is gone)."""
    with HubProcess(tmp_path / "hub", tokens={"tok": "alice"}, enable_faults=False) as hub:
        with closing(sqlite3.connect(hub.db_path)) as conn:
            conn.execute("DROP TABLE devices")
            conn.commit()
        answer = requests.get(
            f"{hub.url}/api/v1/sessions", headers={"Authorization": "Bearer fch_x"}, timeout=10
        )
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
        static = requests.get(
            f"{hub.url}/api/v1/sessions", headers={"Authorization": "Bearer tok"}, timeout=10
        )
        assert static.status_code == 200  # static tokens need no database to be checked


def test_the_saved_pairing_is_0600_and_used_only_when_no_token_is_set(tmp_path: Path) -> None:
    from dsp.errors import HubConfigError
    from sync.client import HubSettings
    from sync.pairing import save_pairing

    (tmp_path / PAIRING_FILE).write_text("{}")
    os.chmod(tmp_path / PAIRING_FILE, 0o644)  # left readable by an older copy
    save_pairing(tmp_path, Paired("http://hub.lan:8787", "fch_secret", "alice", "now"))
    assert stat.S_IMODE((tmp_path / PAIRING_FILE).stat().st_mode) == 0o600
    paired = HubSettings.from_env({}, data_dir=tmp_path)
    assert paired is not None and (paired.url, paired.token) == (
        "http://hub.lan:8787",
        "fch_secret",
    )
    assert "fch_secret" not in repr(paired) + repr(load_pairing(tmp_path))
    explicit = HubSettings.from_env(
        {"FRETCOACH_HUB_URL": "http://other:1", "FRETCOACH_HUB_TOKEN": "tok"}, data_dir=tmp_path
    )
    assert explicit is not None and explicit.token == "tok"
    with pytest.raises(HubConfigError, match="not paired with that Hub: run `fretcoach pair`"):
        HubSettings.from_env({"FRETCOACH_HUB_URL": "http://other:1"}, data_dir=tmp_path)
    (tmp_path / PAIRING_FILE).write_text("not json")
    with pytest.raises(HubConfigError, match="is damaged: run `fretcoach pair` again"):
        HubSettings.from_env({}, data_dir=tmp_path)


def test_status_says_not_paired_then_who_the_device_is_paired_as(tmp_path: Path) -> None:
    """A Hub address without a token is no error for ``status``: it says to pair; once
    paired it names the user (never the token)."""
    from sync.pairing import save_pairing

    env = {"FRETCOACH_DATA_DIR": str(tmp_path), "FRETCOACH_HUB_URL": "http://hub.local:8787"}
    unpaired = run_cli("status", env=env)
    assert unpaired.returncode == 0, unpaired.stderr
    assert "hub: http://hub.local:8787 — not paired: run `fretcoach pair`" in unpaired.stdout
    shown = json.loads(run_cli("status", "--json", env=env).stdout)
    assert (shown["hub"], shown["hub_paired_as"]) == ("http://hub.local:8787", None)

    token = "fcd_" + "x" * 40
    save_pairing(tmp_path, Paired("http://hub.local:8787", token, "dana", "2026-12-07T04:00:00Z"))
    paired = run_cli("status", env=env)
    assert "hub: http://hub.local:8787 (paired as dana, 2026-12-07)" in paired.stdout
    assert json.loads(run_cli("status", "--json", env=env).stdout)["hub_paired_as"] == "dana"
    assert token not in paired.stdout + paired.stderr


def test_an_unpaired_device_plays_keeps_its_session_and_says_how_to_pair(tmp_path: Path) -> None:
    env = {"FRETCOACH_DATA_DIR": str(tmp_path), "FRETCOACH_HUB_URL": "http://127.0.0.1:9"}
    played = run_cli(
        "run", "--source", "demo", "--fast", "--display", "none", "--buttons", "none", env=env
    )
    assert played.returncode == 0, played.stderr
    assert "not paired with that Hub: run `fretcoach pair`" in played.stderr
    assert "sync: pending" in played.stdout  # kept for when it is paired


@pytest.mark.parametrize("command", [["sync"], ["pair", "--hub", "http://127.0.0.1:9"]])
def test_a_state_directory_that_is_a_file_is_named_as_such(
    tmp_path: Path, command: list[str]
) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file")
    result = run_fretcoach(*command, "--data-dir", str(not_a_folder), env={})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert f"{not_a_folder}" in result.stderr and "not a directory" in result.stderr
    assert "pair` again" not in result.stderr  # the pairing is not what is wrong


class _OddServer:
    """A loopback HTTP server that answers every request one odd way (the real Hub never
    does): ``dribble`` sends a 200 whose body comes a byte every 0.3 s; ``portal`` a 302
    to a Wi-Fi sign-in page; ``nested`` a 200 of 60 000 ``[``. A thread in this process,
    on 127.0.0.1."""

    def __init__(self, mode: str) -> None:
        import socket

        self.mode = mode
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: Any) -> None:
        with connection:
            connection.recv(65536)
            try:
                if self.mode == "portal":
                    connection.sendall(
                        b"HTTP/1.1 302 Found\r\nLocation: http://portal.example/login\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    return
                if self.mode == "nested":
                    body = b"[" * 60_000
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                        + body
                    )
                    return
                body = json.dumps({"device_code": "x" * 43, "user_code": "BCDF-GHJK"}).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                )
                for byte in body:
                    if self._stop.wait(0.3):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: that is what the test wants

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        # Each byte within the read timeout, the whole answer ~30 s: `pair` waited it out
        # (or for ever, for a server that never stops), now it gives up at the timeout.
        ("dribble", "answer was still arriving after 10 s"),
        # Followed, the redirect became "cannot reach the Hub … ConnectionError".
        ("portal", "redirects to http://portal.example/login — on a Wi-Fi with a sign-in page"),
        # A RecursionError traceback.
        ("nested", "does not speak RFC 8628 pairing (bad answer: the answer nests too deep"),
    ],
)
def test_pair_against_a_crawling_or_redirecting_answer_says_what_happened(
    tmp_path: Path, mode: str, said: str
) -> None:
    server = _OddServer(mode)
    try:
        result = run_cli(
            "pair", "--hub", server.url, "--no-qr", env={"FRETCOACH_DATA_DIR": str(tmp_path)}
        )
    finally:
        server.close()
    assert result.returncode == 1
    assert said in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "hub-pairing.json").exists()


def test_pair_with_a_url_that_is_not_the_hub_says_to_pass_its_address(
    pairing_hub: HubProcess, tmp_path: Path
) -> None:
    """A 404 from a real Hub under a wrong path said only "refused to start pairing"."""
    result = run_cli(
        "pair",
        "--hub",
        pairing_hub.url + "/fretcoach",
        "--no-qr",
        env={"FRETCOACH_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "has no pairing (/oauth/device_authorization answered HTTP 404)" in result.stderr
    assert "pass the Hub's own address with --hub" in result.stderr
