"""Offline-first sync against the real reference Hub on 127.0.0.1, through every fault.

After each scenario the Hub's own database is read: every session is there exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from device.launcher import free_port
from dsp.errors import HubConfigError
from sync.client import (
    HubClient,
    HubSettings,
    Verdict,
    classify,
    parse_retry_after,
    redact_url,
)
from sync.clock import ClockReading
from sync.records import NoteRow, SessionProgress
from sync.store import HUB_KINDS, Store
from sync.worker import SyncWorker
from tests.conftest import REPO, session_start
from tests.devicerun import run_cli
from tests.hubproc import HubProcess


def synced_clock() -> ClockReading:
    return ClockReading(time.time(), time.monotonic(), "boot-test", True)


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One Hub for the module (it takes seconds to start); tests use their own sessions."""
    with HubProcess(tmp_path_factory.mktemp("hub")) as server:
        yield server


@pytest.fixture
def hub(shared_hub: HubProcess) -> HubProcess:
    shared_hub.clear_faults()
    return shared_hub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "device") as opened:
        yield opened


def record_session(store: Store, *, user: str = "alice", notes: int = 3, **changes: object) -> str:
    session_id = str(uuid.uuid4())
    store.begin_session(
        session_start(
            session_id,
            user=user,
            bpm=None,
            start_wall=time.time() - 60,
            start_monotonic=time.monotonic() - 60,
        )
    )
    progress = SessionProgress(
        duration_seconds=60.0,
        pitch_accuracy=changes.get("pitch_accuracy", 0.9),  # type: ignore[arg-type]
        scale_conformity=0.8,
        timing_stability=None,
        total_notes_played=notes,
        correct_notes_played=notes - 1,
        bad_notes_played=1,
    )
    rows = [NoteRow(0.5 * i, 57 + i, 1.5, i != 1) for i in range(notes)]
    store.finish_session(session_id, progress, rows)
    return session_id


def worker(store: Store, hub_server: HubProcess, *, user: str = "alice", read_timeout: float = 5.0):
    settings = HubSettings(
        url=hub_server.url, token=hub_server.token_for(user), read_timeout_s=read_timeout
    )
    return SyncWorker(store, HubClient(settings), clock=synced_clock, base_delay_s=0.01)


def hub_counts(hub_server: HubProcess, ids: list[str]) -> dict[str, int]:
    """How many rows the Hub holds for each of ``ids`` (other tests' rows ignored)."""
    counts = dict.fromkeys(ids, 0)
    for row in hub_server.rows():
        if row["session_id"] in counts:
            counts[row["session_id"]] += 1
    return counts


def test_offline_sessions_arrive_exactly_once_when_the_hub_appears(
    store: Store, tmp_path: Path
) -> None:
    ids = [record_session(store) for _ in range(3)]
    port = free_port()
    offline = SyncWorker(
        store, HubClient(HubSettings(url=f"http://127.0.0.1:{port}", token="t")), clock=synced_clock
    )
    report = offline.sync_once()
    assert report.sent == 0
    assert report.error is not None
    assert "cannot reach the Hub" in report.error
    assert store.outbox_counts().pending == 3
    with HubProcess(tmp_path / "hub") as hub_server:
        report = worker(store, hub_server).sync_once()
        assert report.complete
        assert report.sent == 3
        assert hub_counts(hub_server, ids) == dict.fromkeys(ids, 1)
        stored = {row["session_id"]: row for row in hub_server.rows()}
        first = stored[ids[0]]
        assert first["scale_chosen"] == "A Minor (Pentatonic)"
        assert first["total_inscale_notes"] == 5
        assert first["timing_stability"] is None
        assert first["status"] == "completed"
        assert json.loads(first["notes"])[1]["in_scale"] is False
        # A second pass has nothing to do and sends nothing.
        assert worker(store, hub_server).sync_once().sent == 0
        assert hub_counts(hub_server, ids) == dict.fromkeys(ids, 1)
    assert all(r.sync_state == "synced" for r in store.sessions())


def test_a_503_burst_is_retried_until_it_passes(store: Store, hub: HubProcess) -> None:
    ids = [record_session(store) for _ in range(2)]
    hub.faults([{"status": 503}] * 3)
    sync = worker(store, hub)
    errors = []
    for _ in range(6):
        report = sync.sync_once()
        if report.complete:
            break
        errors.append(report.error)
    assert len(errors) == 3
    assert all(e is not None and "HTTP 503" in e for e in errors)
    assert hub_counts(hub, ids) == dict.fromkeys(ids, 1)


def test_a_captive_portal_is_not_taken_for_the_hub(store: Store, hub: HubProcess) -> None:
    """A Wi-Fi's sign-in page (200 HTML) or its redirect is no receipt: the session stays
    queued, with a reason that says what happened, and goes to the Hub once it answers."""
    session_id = record_session(store)
    hub.faults([{"portal": "page"}, {"portal": "redirect"}])
    sync = worker(store, hub)
    first, second = sync.sync_once(), sync.sync_once()
    assert not first.complete and not second.complete
    assert first.error is not None and "captive portal" in first.error
    assert "HTTP 200 without the Hub's receipt" in first.error
    assert second.error is not None and "redirects to http://portal.example/login" in second.error
    assert hub_counts(hub, [session_id]) == {session_id: 0}
    assert store.outbox_counts(HUB_KINDS).pending >= 1
    assert sync.sync_once().complete
    assert hub_counts(hub, [session_id]) == {session_id: 1}


def test_an_answer_is_a_receipt_only_if_it_names_the_item() -> None:
    key = "4f0c1b2e-8a4d-4c1e-9d7a-2b5e6f7a8c9d"
    receipt = f'{{"session_id": "{key.upper()}", "result": "duplicate"}}'
    assert classify(200, receipt, None, expect_id=key).verdict is Verdict.SENT
    other = '{"session_id": "00000000-0000-0000-0000-000000000000", "result": "created"}'
    assert classify(201, other, None, expect_id=key).verdict is Verdict.RETRY
    assert classify(201, '{"ok": true}', None, expect_id=key).verdict is Verdict.RETRY
    assert classify(204, "", None, expect_id=key).verdict is Verdict.RETRY
    plan = f'{{"practice_id": "{key}", "result": "updated"}}'
    assert classify(200, plan, None, expect_id=key).verdict is Verdict.SENT


def test_429_retry_after_is_honoured(store: Store, hub: HubProcess) -> None:
    session_id = record_session(store)
    hub.faults([{"status": 429, "retry_after": 7}])
    sync = worker(store, hub)
    report = sync.sync_once()
    assert report.error is not None
    assert "HTTP 429" in report.error
    assert "the Hub asks to wait 7 s" in report.error
    assert 6.0 < sync.seconds_until_next_attempt <= 7.0
    assert sync.sync_once().complete
    assert hub_counts(hub, [session_id]) == {session_id: 1}


@pytest.mark.parametrize(
    "fault",
    [
        {"commit_then_delay_s": 3},  # the response is lost after the Hub committed
        {"commit_then_status": 500},  # the Hub committed, then failed to answer
        {"delay_before_s": 3},  # the Hub is slower than our read timeout
    ],
    ids=["lost-after-commit", "500-after-commit", "slow"],
)
def test_lost_responses_never_duplicate(store: Store, hub: HubProcess, fault: dict) -> None:
    session_id = record_session(store)
    hub.faults([fault])
    sync = worker(store, hub, read_timeout=1.0)
    first = sync.sync_once()
    assert first.error is not None
    assert first.sent == 0
    time.sleep(3.2)  # let a delayed request finish on the server side
    second = sync.sync_once()
    assert second.complete
    assert second.sent == 1
    assert hub_counts(hub, [session_id]) == {session_id: 1}


def test_an_answer_dribbled_for_longer_than_the_read_timeout_ends_the_pass(
    store: Store, hub: HubProcess
) -> None:
    """The read timeout bounds each wait for bytes; a Hub or proxy sending its answer a
    byte at a time used to hold the pass (and `fretcoach sync`) until the last byte. Now
    the pass ends, the session stays queued, and the next try is a 200 duplicate."""
    session_id = record_session(store)
    hub.faults([{"commit_then_dribble_s": 0.5}])  # ~70 bytes: ~35 s for the whole answer
    sync = worker(store, hub, read_timeout=1.0)
    first = sync.sync_once()
    assert (first.sent, first.remaining) == (0, 1)
    assert first.error is not None and "answer was still arriving after 1 s" in first.error
    second = sync.sync_once()
    assert second.complete and second.sent == 1
    assert hub_counts(hub, [session_id]) == {session_id: 1}


def test_a_receipt_gzipped_by_a_proxy_is_read(store: Store, hub: HubProcess) -> None:
    """A reverse proxy that compresses JSON (Caddy's encode, nginx's gzip_types) answers
    with Content-Encoding: gzip; the answer was read raw, so the Hub's receipt was
    unreadable: the session was stored but the device kept it queued, calling the Hub a
    captive portal. The receipt is decoded and the session is sent, once."""
    session_id = record_session(store)
    hub.faults([{"commit_then_gzip": True}])
    sync = worker(store, hub)
    first = sync.sync_once()
    assert first.error is None, first.error
    assert first.complete and first.sent == 1
    assert sync.not_the_hub is False
    assert hub_counts(hub, [session_id]) == {session_id: 1}


@pytest.mark.parametrize("status", [501, 505, 507, 511])
def test_every_5xx_is_retried_never_rejected(store: Store, hub: HubProcess, status: int) -> None:
    """The contract retries 5xx; only 500/502/503/504 were, so a 511 (a captive portal's
    "sign in to the network") or a proxy's 501/505/507 rejected the whole queue."""
    ids = [record_session(store) for _ in range(2)]
    hub.faults([{"status": status}])
    sync = worker(store, hub)
    first = sync.sync_once()
    assert (first.sent, first.rejected, first.remaining) == (0, 0, 2)
    assert first.error is not None and f"HTTP {status}" in first.error
    assert sync.not_the_hub is (status == 511)
    assert sync.sync_once().complete
    assert hub_counts(hub, ids) == dict.fromkeys(ids, 1)


def test_a_url_without_the_hub_api_keeps_every_session_queued(
    tmp_path: Path, hub: HubProcess
) -> None:
    """FRETCOACH_HUB_URL with a path the Hub does not serve (or another web server) answers
    404: that is the URL, not the sessions, so none is rejected and the message names the
    variable to fix; with the right URL they all go, once."""
    data = tmp_path / "state"
    with Store.open(data) as opened:
        ids = [record_session(opened) for _ in range(3)]
    env = {
        "FRETCOACH_DATA_DIR": str(data),
        "FRETCOACH_CLOCK_SYNCED": "1",
        "FRETCOACH_HUB_TOKEN": hub.token_for("alice"),
    }
    wrong = run_cli("sync", "--json", env={**env, "FRETCOACH_HUB_URL": hub.url + "/fretcoach"})
    assert wrong.returncode == 1
    outcome = json.loads(wrong.stdout)
    assert (outcome["pending"], outcome["rejected"], outcome["sent"]) == (3, 0, 0)
    assert "HTTP 404" in wrong.stderr and "set FRETCOACH_HUB_URL" in wrong.stderr
    assert "kept queued" in wrong.stderr
    assert wrong.stderr.count("\n") == 1
    listed = json.loads(run_cli("sessions", "--json", env=env).stdout)
    assert {entry["sync_state"] for entry in listed} == {"pending"}
    right = run_cli("sync", "--json", env={**env, "FRETCOACH_HUB_URL": hub.url})
    assert right.returncode == 0, right.stderr
    assert hub_counts(hub, ids) == dict.fromkeys(ids, 1)


def test_a_bad_token_pauses_the_queue_and_rejects_nothing(
    store: Store,
    hub: HubProcess,
) -> None:
    """A wrong or revoked token would fail every item alike: the queue waits, marked
    "re-pair", and the first delivery with a good token clears it and sends everything."""
    first, second = record_session(store), record_session(store)
    bad = SyncWorker(
        store, HubClient(HubSettings(url=hub.url, token="wrong-token")), clock=synced_clock
    )
    report = bad.sync_once()
    assert (report.sent, report.rejected, report.remaining) == (0, 0, 2)
    assert report.error is not None and "HTTP 401" in report.error
    assert bad.seconds_until_next_attempt > 600  # not hammering the Hub with a dead token
    pause = store.hub_pause()
    assert pause is not None and pause.status == 401 and "re-pair" in pause.advice
    record = store.session(first)
    assert record is not None and record.sync_state == "pending"
    assert store.outbox_counts(("session",)).rejected == 0
    # Paired again while running: the same worker takes the new token and goes on at once.
    bad.client.use_token(hub.token_for("alice"))
    bad.wake()
    assert bad.seconds_until_next_attempt == 0
    assert bad.sync_once().complete
    assert store.hub_pause() is None
    assert hub_counts(hub, [first, second]) == {first: 1, second: 1}


def test_invalid_content_is_rejected_with_the_field_named(
    store: Store,
    hub: HubProcess,
) -> None:
    good = record_session(store)
    bad = record_session(store, pitch_accuracy=1.5)
    report = worker(store, hub).sync_once()
    assert report.sent == 1
    assert report.rejected == 1
    record = store.session(bad)
    assert record is not None
    assert record.sync_error is not None
    assert "HTTP 422" in record.sync_error
    assert "pitch_accuracy" in record.sync_error
    assert hub_counts(hub, [good]) == {good: 1}


def test_a_conflicting_session_id_is_rejected(store: Store, hub: HubProcess) -> None:
    session_id = record_session(store)
    record = store.session(session_id)
    assert record is not None
    other = {**record.hub_payload(), "duration_seconds": 1.0}
    answer = requests.post(
        f"{hub.url}/api/v1/sessions",
        json=other,
        headers=hub.headers("alice", session_id),
        timeout=5,
    )
    assert answer.status_code == 201
    report = worker(store, hub).sync_once()
    assert report.rejected == 1
    stored = store.session(session_id)
    assert stored is not None
    assert stored.sync_error is not None
    assert "HTTP 409" in stored.sync_error
    assert hub_counts(hub, [session_id]) == {session_id: 1}


def test_retry_after_parsing() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


HUB_ENV = {"FRETCOACH_HUB_URL": "https://hub.example.com", "FRETCOACH_HUB_TOKEN": "t"}


@pytest.mark.parametrize("name", ["FRETCOACH_HUB_CONNECT_TIMEOUT", "FRETCOACH_HUB_READ_TIMEOUT"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "1e999", "601"])
def test_a_bad_hub_timeout_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(HubConfigError, match=f"^{name} must be a number of seconds above 0"):
        HubSettings.from_env({**HUB_ENV, name: value})


def test_hub_timeouts_default_and_parse() -> None:
    settings = HubSettings.from_env({**HUB_ENV, "FRETCOACH_HUB_READ_TIMEOUT": " 2.5 "})
    assert settings is not None
    assert (settings.connect_timeout_s, settings.read_timeout_s) == (5.0, 2.5)


@pytest.mark.parametrize("command", [["sync"], ["status"], ["run", "--source", "demo", "--fast"]])
def test_a_bad_hub_timeout_is_one_line_and_exit_1(tmp_path: Path, command: list[str]) -> None:
    env = {**HUB_ENV, "FRETCOACH_HUB_CONNECT_TIMEOUT": "abc"}
    extra = ["--display", "none", "--buttons", "none"] if command[0] == "run" else []
    result = run_cli(*command, *extra, "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "fretcoach: error: FRETCOACH_HUB_CONNECT_TIMEOUT must be a number of seconds "
        "above 0 and at most 600, not 'abc'"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://127.0.0.1:99999", "port from 1 to 65535"),  # "Failed to parse"
        ("http://127.0.0.1:80a", "port from 1 to 65535"),
        ("http://127.0.0.1:0", "port from 1 to 65535"),  # "cannot reach the Hub"
        ("http://[::1", "closed [brackets]"),  # a ValueError traceback
        ("http://127.0.0.1:8787?user=alice", "without a ?query or #fragment"),  # 404, then
        ("http://127.0.0.1:8787/#hub", "without a ?query or #fragment"),  # every one rejected
    ],
)
def test_a_hub_url_no_request_can_use_is_refused_naming_the_fix(
    tmp_path: Path, url: str, named: str
) -> None:
    result = run_cli(
        "sync",
        "--data-dir",
        str(tmp_path),
        env={"FRETCOACH_HUB_URL": url, "FRETCOACH_HUB_TOKEN": "t"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("fretcoach: error: FRETCOACH_HUB_URL")
    assert named in result.stderr and result.stderr.count("\n") == 1
    # `fretcoach pair --hub` is held to the same checks (it said "InvalidURL", or crashed).
    paired = run_cli("pair", "--hub", url, "--no-qr", "--data-dir", str(tmp_path), env={})
    assert paired.returncode == 1
    assert paired.stderr.startswith("fretcoach: error: the Hub's address")
    assert named in paired.stderr and paired.stderr.count("\n") == 1


def test_https_to_a_plain_http_hub_says_to_use_http(store: Store, hub: HubProcess) -> None:
    session_id = record_session(store)
    settings = HubSettings(url=hub.url.replace("http://", "https://"), token="t")
    report = SyncWorker(store, HubClient(settings), clock=synced_clock).sync_once()
    assert report.error is not None and "does not speak https" in report.error
    assert "use http://" in report.error
    assert (report.rejected, report.remaining) == (0, 1)
    assert hub_counts(hub, [session_id]) == {session_id: 0}


@pytest.mark.parametrize("limit", ["0", "-1", "two"])
def test_sessions_limit_under_one_is_refused_not_read_as_all(tmp_path: Path, limit: str) -> None:
    """``--limit 0`` and ``--limit -1`` listed every session, as if no limit were set."""
    result = run_cli("sessions", "--limit", limit, "--data-dir", str(tmp_path), env=HUB_ENV)
    assert result.returncode == 2
    assert "argument --limit" in result.stderr and limit in result.stderr


def test_sessions_limit_past_sqlites_integers_lists_them_all(tmp_path: Path) -> None:
    """``--limit 99999999999999999999`` (over SQLite's 64-bit integers) ended in a
    traceback from the store's query ("datatype mismatch"); it means every session."""
    result = run_cli(
        "sessions", "--limit", "9" * 20, "--json", "--data-dir", str(tmp_path), env=HUB_ENV
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout) == []


def test_status_never_prints_a_password_inside_a_url(tmp_path: Path) -> None:
    env = {
        **HUB_ENV,
        "FRETCOACH_HUB_URL": "https://dev:hub-s3cret@hub.example.com/fc",
        "OPIK_URL_OVERRIDE": "http://me:opik-s3cret@opik.local:5173/api",
    }
    text = run_cli("status", "--data-dir", str(tmp_path), env=env)
    as_json = run_cli("status", "--json", "--data-dir", str(tmp_path), env=env)
    assert text.returncode == as_json.returncode == 0, text.stderr + as_json.stderr
    for out in (text.stdout + text.stderr, as_json.stdout + as_json.stderr):
        assert "s3cret" not in out and "dev:" not in out and "me:" not in out
    assert "hub: https://***@hub.example.com/fc" in text.stdout
    assert "at http://***@opik.local:5173/api" in text.stdout
    assert json.loads(as_json.stdout)["hub"] == "https://***@hub.example.com/fc"


def test_redact_url_keeps_everything_but_the_credentials() -> None:
    assert redact_url("https://hub.example.com/x") == "https://hub.example.com/x"
    assert redact_url("https://u:p@w@h:8443/a?b=1") == "https://***@h:8443/a?b=1"
    assert redact_url("http://token@h") == "http://***@h"


def test_the_token_never_reaches_logs_or_the_store(
    store: Store,
    hub: HubProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    record_session(store)
    sync = worker(store, hub)
    token = hub.token_for("alice")
    assert token not in repr(sync.client.settings)
    sync.sync_once()
    assert token not in caplog.text
    assert token.encode() not in (store.path.read_bytes() + Path(f"{store.path}-wal").read_bytes())


def test_cli_save_sessions_sync_end_to_end(tmp_path: Path, hub: HubProcess) -> None:
    import numpy as np
    from scipy.io import wavfile

    from tests.test_analyze_cli import melody

    wav = tmp_path / "take.wav"
    wavfile.write(wav, 48000, (melody() * 32767).astype(np.int16))
    env = {
        "FRETCOACH_DATA_DIR": str(tmp_path / "state"),
        "FRETCOACH_USER_ID": "alice",
        "FRETCOACH_CLOCK_SYNCED": "1",
    }
    saved = run_cli(
        "analyze", str(wav), "--scale", "A minor pentatonic", "--save", "--json", env=env
    )
    assert saved.returncode == 0, saved.stderr
    session_id = json.loads(saved.stdout)["session_id"]

    listed = run_cli("sessions", "--json", env=env)
    assert listed.returncode == 0
    [entry] = json.loads(listed.stdout)
    assert entry["session_id"] == session_id
    assert entry["sync_state"] == "pending"
    assert entry["status"] == "completed"
    assert entry["total_notes_played"] == 8
    assert entry["scale_chosen"] == "A Minor (Pentatonic)"

    no_hub = run_cli("sync", env=env)
    assert no_hub.returncode == 1
    assert "no Hub configured" in no_hub.stderr

    unreachable = run_cli(
        "sync",
        env={
            **env,
            "FRETCOACH_HUB_URL": f"http://127.0.0.1:{free_port()}",
            "FRETCOACH_HUB_TOKEN": "x",
        },
    )
    assert unreachable.returncode == 1
    assert "1 session(s) not synced: cannot reach the Hub" in unreachable.stderr
    assert unreachable.stderr.count("\n") == 1

    hub_env = {**env, "FRETCOACH_HUB_URL": hub.url, "FRETCOACH_HUB_TOKEN": hub.token_for("alice")}
    synced = run_cli("sync", "--json", env=hub_env)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["complete"] is True
    assert hub_counts(hub, [session_id]) == {session_id: 1}
    table = run_cli("sessions", env=env)
    assert "synced" in table.stdout
    assert "A Minor (Pentatonic)" in table.stdout


def test_cli_shows_a_rejected_session_and_the_old_option_still_retries_it(
    tmp_path: Path, hub: HubProcess
) -> None:
    data = tmp_path / "state"
    with Store.open(data) as store:
        session_id = record_session(store)
        [item] = store.pending()
        store.mark_rejected(item.id, "HTTP 401: unknown token")
    env = {"FRETCOACH_DATA_DIR": str(data), "FRETCOACH_CLOCK_SYNCED": "1"}

    [entry] = json.loads(run_cli("sessions", "--json", env=env).stdout)
    assert (entry["sync_state"], entry["sync_error"]) == ("rejected", "HTTP 401: unknown token")
    table = run_cli("sessions", env=env).stdout
    assert "↳ rejected by the Hub: HTTP 401: unknown token" in table
    assert "1 rejected — fix, then `fretcoach sync --retry-rejected`" in table
    assert "dead" not in table

    helped = run_cli("sync", "--help", env=env).stdout
    assert "--retry-rejected" in helped and "--retry-dead" not in helped
    assert '"dead" is a deprecated alias' in " ".join(helped.split())

    hub_env = {**env, "FRETCOACH_HUB_URL": hub.url, "FRETCOACH_HUB_TOKEN": hub.token_for("alice")}
    refused = run_cli("sync", "--json", env=hub_env)
    assert refused.returncode == 1
    outcome = json.loads(refused.stdout)
    assert outcome["rejected"] == outcome["dead"] == 1  # "dead": the old key, kept for scripts
    assert "`fretcoach sync --retry-rejected`" in refused.stderr
    # Scripts on devices in the field still say --retry-dead.
    retried = run_cli("sync", "--json", "--retry-dead", env=hub_env)
    assert retried.returncode == 0, retried.stderr
    outcome = json.loads(retried.stdout)
    assert (outcome["revived"], outcome["rejected"], outcome["dead"]) == (1, 0, 0)
    assert outcome["complete"] is True
    assert hub_counts(hub, [session_id]) == {session_id: 1}


SLOW_SYNC = """
import sys
from device.cli import main
sys.exit(main(["sync"]))
"""


def test_kill_9_mid_sync_then_restart_sends_once(tmp_path: Path, hub: HubProcess) -> None:
    data = tmp_path / "state"
    with Store.open(data) as store:
        ids = [record_session(store) for _ in range(2)]
    hub.faults([{"commit_then_delay_s": 30}])  # the first upload hangs after the Hub stored it
    env = {
        **os.environ,
        "FRETCOACH_DATA_DIR": str(data),
        "FRETCOACH_HUB_URL": hub.url,
        "FRETCOACH_HUB_TOKEN": hub.token_for("alice"),
        "FRETCOACH_CLOCK_SYNCED": "1",
    }
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SYNC], cwd=REPO, env=env)
    deadline = time.monotonic() + 20
    while sum(hub_counts(hub, ids).values()) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    # Committed on the Hub; the device has not heard back.
    assert sum(hub_counts(hub, ids).values()) == 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    again = subprocess.run(
        [sys.executable, "-c", SLOW_SYNC], cwd=REPO, env=env, timeout=60, check=False
    )
    assert again.returncode == 0
    assert hub_counts(hub, ids) == dict.fromkeys(ids, 1)


# --------------------------------------------------------------------------- practice plans


def hub_plans(hub_server: HubProcess, practice_id: str) -> list[dict]:
    return [r for r in hub_server.rows("ai_practice_plans") if r["practice_id"] == practice_id]


def test_practice_plans_arrive_exactly_once_then_learn_their_session(
    store: Store, hub: HubProcess
) -> None:
    from coach.recommend import Recommender, recommend_for

    session_id = record_session(store)
    rec, practice_id = recommend_for(store, "alice", Recommender())  # rules: no model
    # The session passes; the plan is committed, then its answer fails.
    hub.faults([{"delay_before_s": 0}, {"commit_then_status": 500}])
    sync = worker(store, hub)
    first = sync.sync_once()
    assert first.error is not None
    assert first.sent == 1  # the session went first; the plan's answer was lost
    second = sync.sync_once()
    assert second.complete
    assert second.sent == 1  # a 200 duplicate: the Hub already had it
    [row] = hub_plans(hub, practice_id)
    assert json.loads(row["practice_plan"])["scale_name"] == rec.scale_name
    assert row["executed_session_id"] is None
    ran = record_session(store)
    assert store.link_practice_plan(practice_id, ran)
    third = sync.sync_once()
    assert third.complete
    assert third.sent == 2  # the new session, then the plan's one change
    [row] = hub_plans(hub, practice_id)
    assert row["executed_session_id"] == ran
    assert sync.sync_once().sent == 0
    assert hub_counts(hub, [session_id, ran]) == {session_id: 1, ran: 1}


def test_a_session_summary_follows_its_session_exactly_once(store: Store, hub: HubProcess) -> None:
    session_id = record_session(store)
    assert store.queue_session_summary(
        session_id,
        summary="Clean pitch. Keep the timing steady.",
        source="offline",
        model="offline-coach",
    )
    assert not store.queue_session_summary(
        session_id, summary="A second one.", source="offline", model="offline-coach"
    )  # one summary per session
    assert not store.queue_session_summary(
        str(uuid.uuid4()), summary="x", source="offline", model="offline-coach"
    )  # an unknown session
    assert store.outbox_counts(HUB_KINDS).pending == 2
    hub.faults([{"delay_before_s": 0}, {"commit_then_status": 500}])
    sync = worker(store, hub)
    assert sync.sync_once().sent == 1  # the session; the summary's answer was lost
    second = sync.sync_once()
    assert second.complete and second.sent == 1  # a 200 duplicate
    [row] = [r for r in hub.rows("session_summaries") if r["session_id"] == session_id]
    assert row["summary"] == "Clean pitch. Keep the timing steady."
    assert row["user_id"] == "alice" and row["model"] == "offline-coach"
    assert store.session_summary(session_id) == "Clean pitch. Keep the timing steady."
    assert sync.sync_once().sent == 0


def test_traces_waiting_for_opik_do_not_count_as_unsynced(store: Store, hub: HubProcess) -> None:
    record_session(store)
    store.enqueue_payload("opik-trace", "trace-1", "{}")
    report = worker(store, hub).sync_once()
    assert report.complete and report.remaining == 0
    assert store.outbox_counts().pending == 1  # the trace waits for Opik, not the Hub


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_hub_without_session_summaries_declines_them_without_rejecting(
    store: Store, hub: HubProcess, status: int
) -> None:
    """A Hub built to the original contract (sessions, plans) answers the summary route 404:
    the session syncs, the summary stays on the device, and nothing counts as rejected."""
    session_id = record_session(store)
    store.queue_session_summary(session_id, summary="Steady.", source="model", model="gpt-4o-mini")
    hub.faults([{"delay_before_s": 0}, {"status": status}])
    report = worker(store, hub).sync_once()
    assert report.complete, report
    assert (report.sent, report.rejected) == (2, 0)
    assert store.outbox_counts(HUB_KINDS).rejected == 0
    assert store.pending(kinds=("session_summary",)) == []  # done with, not resent
    assert not [r for r in hub.rows("session_summaries") if r["session_id"] == session_id]
    assert store.session_summary(session_id) == "Steady."
    assert store.session(session_id).sync_state == "synced"
    # The Hub got the route after all (the 404 was a proxy, say): --retry-rejected asks again.
    assert store.retry_rejected() == 1
    assert worker(store, hub).sync_once().sent == 1
    [row] = [r for r in hub.rows("session_summaries") if r["session_id"] == session_id]
    assert row["summary"] == "Steady."


def test_a_summary_refused_for_a_bad_token_waits_neither_declined_nor_rejected(
    store: Store, hub: HubProcess
) -> None:
    session_id = record_session(store)
    store.queue_session_summary(
        session_id, summary="Even.", source="offline", model="offline-coach"
    )
    bad = SyncWorker(
        store, HubClient(HubSettings(url=hub.url, token="wrong-token")), clock=synced_clock
    )
    report = bad.sync_once()
    assert (report.rejected, report.remaining) == (0, 2)  # the session and its summary wait
    assert store.hub_pause() is not None
    assert worker(store, hub).sync_once().complete
    [row] = [r for r in hub.rows("session_summaries") if r["session_id"] == session_id]
    assert row["summary"] == "Even."
