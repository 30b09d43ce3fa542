"""The session store on real SQLite files: durability, recovery, corruption, bad state dirs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from dsp.errors import StoreError, StoreFullError
from sync.records import NoteRow, SessionProgress, SessionStart
from sync.store import _MIGRATIONS, DB_NAME, OutboxCounts, Store
from tests.conftest import REPO, session_start


def start(
    session_id: str | None = None, *, wall: float = 1_800_000_000.0, synced: bool = True
) -> SessionStart:
    return session_start(session_id, start_wall=wall, boot_id="boot-a", clock_synced=synced)


def progress(seconds: float, notes: int) -> SessionProgress:
    return SessionProgress(seconds, 0.9, 0.8, 0.7, notes, notes - 1, 1)


def test_a_session_is_live_then_finished_and_queued_in_one_step(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        s = start()
        store.begin_session(s)
        store.checkpoint(
            s.session_id, progress(5, 2), [NoteRow(0.5, 57, 3.0, True)] * 2, monotonic=1
        )
        live = store.session(s.session_id)
        assert live is not None
        assert live.status == "live"
        assert live.sync_state == "local"
        assert store.pending() == []
        store.finish_session(s.session_id, progress(9.5, 3), [NoteRow(7.0, 59, -4.0, False)])
        done = store.session(s.session_id)
        assert done is not None
        assert done.status == "completed"
        assert done.sync_state == "pending"
        assert [n.midi for n in done.notes] == [57, 57, 59]
        assert done.duration_seconds == 9.5
        assert done.start_timestamp == "2027-01-15T08:00:00.000+00:00"
        assert done.end_timestamp == "2027-01-15T08:00:09.500+00:00"
        assert [i.ref for i in store.pending()] == [s.session_id]
        payload = done.hub_payload()
        assert payload["scale_chosen"] == "A Minor (Pentatonic)"
        assert payload["total_inscale_notes"] == 5
        assert payload["status"] == "completed"
        assert payload["notes"][2] == {"onset_s": 7.0, "midi": 59, "cents": -4.0, "in_scale": False}
        with pytest.raises(StoreError, match="already completed"):
            store.checkpoint(s.session_id, progress(10, 3), [], monotonic=2)


def test_state_survives_reopening(tmp_path: Path) -> None:
    s = start()
    with Store.open(tmp_path) as store:
        device = store.device_id()
        store.begin_session(s)
        store.finish_session(s.session_id, progress(3, 1), [NoteRow(0.1, 60, 0.0, True)])
    with Store.open(tmp_path) as store:
        assert store.device_id() == device
        assert store.session(s.session_id) is not None
        assert store.outbox_counts().pending == 1


CRASHING_RECORDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sync.store import Store
    from sync.records import NoteRow, SessionProgress
    from tests.test_store import start

    store = Store.open(Path(sys.argv[1]))
    s = start(sys.argv[2])
    store.begin_session(s)
    t0 = time.monotonic()
    n = 0
    while True:  # a fast-forward practice: a note every 0.1 s, a checkpoint every 1 s
        time.sleep(0.1)
        n += 1
        if n % 10 == 0:
            notes = [NoteRow(0.1 * k, 57, 0.0, True) for k in range(n - 10, n)]
            store.checkpoint(s.session_id, SessionProgress(n * 0.1, 1.0, 1.0, 1.0, n, n, 0),
                             notes, monotonic=time.monotonic())
            print(n, flush=True)
    """
)


def test_kill_9_mid_session_loses_at_most_the_last_checkpoint_interval(tmp_path: Path) -> None:
    session_id = str(uuid.uuid4())
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RECORDER, str(tmp_path), session_id],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    checkpoints = [int(proc.stdout.readline()) for _ in range(3)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with Store.open(tmp_path) as store:
        assert store.recover_interrupted() == [session_id]
        record = store.session(session_id)
        assert record is not None
        assert record.status == "interrupted"
        assert record.sync_state == "pending"
        # Everything up to the last checkpoint we saw is there (maybe one more).
        assert record.total_notes_played >= checkpoints[-1]
        assert len(record.notes) == record.total_notes_played
        assert record.duration_seconds == pytest.approx(record.total_notes_played * 0.1)
        assert store.recover_interrupted() == []  # idempotent: recovered once
        assert store.outbox_counts().pending == 1


def test_a_corrupt_database_is_quarantined_not_a_crash_loop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 512)
    with Store.open(tmp_path) as store:
        assert store.quarantined is not None
        assert store.quarantined.read_bytes().startswith(b"this is not sqlite")
        assert store.sessions() == []
        store.begin_session(start())  # the fresh store works
    assert "is corrupt" in caplog.text
    assert "started a fresh one" in caplog.text


def test_a_store_truncated_to_0_bytes_is_quarantined_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    with Store.open(tmp_path) as store:
        assert store.quarantined is not None
        assert store.quarantined.read_bytes() == b""
        store.begin_session(start())  # the fresh store works
    assert "is corrupt (the file is empty (0 bytes))" in caplog.text


def test_quarantines_in_the_same_second_never_overwrite_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "strftime", lambda *_args: "20260101T000000")
    kept = []
    for number in range(3):
        (tmp_path / DB_NAME).write_bytes(f"corrupt {number}".encode() * 512)
        with Store.open(tmp_path) as store:
            assert store.quarantined is not None
            kept.append(store.quarantined)
    assert len(set(kept)) == 3
    assert [p.read_bytes()[:9] for p in kept] == [b"corrupt 0", b"corrupt 1", b"corrupt 2"]


def test_a_damaged_page_fails_the_integrity_check(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        for _ in range(50):
            s = start()
            store.begin_session(s)
            store.finish_session(s.session_id, progress(1, 1), [NoteRow(0.0, 57, 0.0, True)] * 40)
    path = tmp_path / DB_NAME
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 2, len(data), 4096):  # scribble over every page but the header
        data[offset + 100 : offset + 400] = os.urandom(300)
    path.write_bytes(bytes(data))
    with Store.open(tmp_path) as store:
        assert store.quarantined is not None


def test_an_unusable_state_directory_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot create the state directory .*FRETCOACH_DATA_DIR"):
        Store.open(Path("/proc/fretcoach-cannot-exist"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="FRETCOACH_DATA_DIR"):
        Store.open(blocker / "sub")


def test_a_full_disk_is_a_clear_error_and_loses_nothing_stored(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        first = start()
        store.begin_session(first)
        store.finish_session(first.session_id, progress(2, 1), [NoteRow(0.0, 57, 0.0, True)])
        # SQLite's own page limit raises SQLITE_FULL exactly as a full card does.
        pages = store._db.execute("PRAGMA page_count").fetchone()["page_count"]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        second = start()
        store.begin_session(second)
        with pytest.raises(StoreFullError, match="is full: free some space"):
            store.checkpoint(
                second.session_id,
                progress(5, 5000),
                [NoteRow(0.1 * i, 57, 0.0, True) for i in range(5000)],
                monotonic=1.0,
            )
        assert store.session(first.session_id) is not None
        live = store.session(second.session_id)
        assert live is not None
        assert live.status == "live"


def test_clock_correction_retimes_sessions_recorded_before_ntp(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        early = start(wall=100.0, synced=False)  # a Pi that booted in 1970
        store.begin_session(early)
        store.finish_session(early.session_id, progress(60, 1), [])
        other_boot = replace(start(wall=100.0, synced=False), boot_id="boot-b")
        store.begin_session(other_boot)
        store.finish_session(other_boot.session_id, progress(60, 1), [])
        assert store.sessions_waiting_for_clock("boot-a") == {early.session_id}
        offset = 1_800_000_000.0 - 100.0  # wall − monotonic once NTP has synced
        assert store.correct_clock("boot-a", offset) == 1
        fixed = store.session(early.session_id)
        assert fixed is not None
        assert fixed.clock_synced
        assert fixed.start_timestamp == "2027-01-15T08:00:00.000+00:00"
        assert fixed.end_timestamp == "2027-01-15T08:01:00.000+00:00"
        untouched = store.session(other_boot.session_id)
        assert untouched is not None
        assert not untouched.clock_synced


def test_a_frozen_payload_is_never_retimed(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        s = start(wall=100.0, synced=False)
        store.begin_session(s)
        store.finish_session(s.session_id, progress(10, 1), [])
        item = store.pending()[0]
        assert store.freeze_payload(item.id, '{"first": true}') == '{"first": true}'
        assert store.freeze_payload(item.id, '{"second": true}') == '{"first": true}'
        assert store.correct_clock("boot-a", 1e9) == 0


def test_a_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer fretcoach"):
        Store.open(tmp_path)


def test_rejected_items_are_retried_only_when_asked(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        s = start()
        store.begin_session(s)
        store.finish_session(s.session_id, progress(1, 1), [])
        item = store.pending()[0]
        store.mark_rejected(item.id, "HTTP 422: pitch_accuracy: too high")
        assert store.pending() == []
        record = store.session(s.session_id)
        assert record is not None
        assert record.sync_state == "rejected"
        assert record.sync_error == "HTTP 422: pitch_accuracy: too high"
        assert store.outbox_counts() == OutboxCounts(pending=0, sent=0, rejected=1)
        assert store.retry_rejected() == 1
        assert [i.ref for i in store.pending()] == [s.session_id]


def version_1_store(folder: Path) -> Path:
    """A store as the first schema left it: items the Hub refused are 'dead' there."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DB_NAME
    with sqlite3.connect(path) as db:
        db.executescript(_MIGRATIONS[0])
        db.execute("PRAGMA user_version = 1")
        db.executemany(
            "INSERT INTO outbox (id, kind, ref, state, attempts, last_error, payload, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'then', 'then')",
            [
                (1, "session", "s-refused", "dead", 1, "HTTP 401: bad token", '{"a":1}'),
                (2, "opik-trace", "t-refused", "dead", 2, "HTTP 400: bad trace", "{}"),
                (3, "session", "s-waiting", "pending", 0, None, None),
                (4, "session_summary", "s-old-hub", "sent", 1, "declined: HTTP 404", "{}"),
            ],
        )
    db.close()
    return path


def outbox_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
    db.close()
    return rows


def test_a_version_1_store_reopens_with_dead_items_as_rejected(tmp_path: Path) -> None:
    path = version_1_store(tmp_path)
    before = outbox_rows(path)
    with Store.open(tmp_path) as store:
        assert store.outbox_counts() == OutboxCounts(pending=1, sent=1, rejected=2)
        [waiting] = store.pending()
        assert waiting.ref == "s-waiting"
    after = outbox_rows(path)
    # Only the state word changes: ids, attempts, reasons and frozen payloads are kept.
    assert [row[:3] + row[4:] for row in after] == [row[:3] + row[4:] for row in before]
    assert [row[3] for row in after] == ["rejected", "rejected", "pending", "sent"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(_MIGRATIONS)
        with pytest.raises(sqlite3.IntegrityError):  # the old word is no longer a state
            db.execute("UPDATE outbox SET state = 'dead' WHERE id = 3")
    db.close()
    with Store.open(tmp_path) as store:  # opening again migrates nothing
        assert store.outbox_counts() == OutboxCounts(pending=1, sent=1, rejected=2)
        assert store.retry_rejected() == 3  # the two rejected and the declined summary
        kinds = ("session", "opik-trace", "session_summary")
        assert [i.id for i in store.pending(kinds=kinds)] == [1, 2, 3, 4]


def test_a_migration_that_fails_part_way_leaves_the_old_store_untouched(tmp_path: Path) -> None:
    path = version_1_store(tmp_path)
    with sqlite3.connect(path) as db:
        # A view on the outbox makes the last step (renaming the copy) fail, after the old
        # table was copied and dropped: the whole migration must roll back.
        db.execute("CREATE VIEW refused AS SELECT * FROM outbox WHERE state = 'dead'")
    db.close()
    before = outbox_rows(path)
    with pytest.raises(StoreError, match="refused"):
        Store.open(tmp_path)
    assert outbox_rows(path) == before
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "outbox_v2" not in tables
    db.close()


def test_checkpoints_are_batched_not_per_note(tmp_path: Path) -> None:
    """A minute of practice at 5 notes/s, checkpointed every 5 s, is 12 commits."""
    with Store.open(tmp_path) as store:
        s = start()
        store.begin_session(s)
        for k in range(12):
            notes = [NoteRow(k * 5 + i * 0.2, 57, 0.0, True) for i in range(25)]
            store.checkpoint(s.session_id, progress((k + 1) * 5, (k + 1) * 25), notes, monotonic=k)
        count = store._db.execute("SELECT count FROM checkpoints").fetchone()["count"]
        assert count == 12
        record = store.session(s.session_id)
        assert record is not None
        assert len(record.notes) == 300


def test_ready_made_payloads_queue_once_per_ref(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.enqueue_payload("opik-trace", "trace-1", '{"name": "live-feedback"}')
        assert not store.enqueue_payload("opik-trace", "trace-1", '{"name": "other"}')
        [item] = store.pending(kinds=("opik-trace",))
        assert item.payload == '{"name": "live-feedback"}'
        assert store.pending() == []  # sessions only by default
        store.mark_sent(item.id)
        assert store.pending(kinds=("opik-trace",)) == []


def test_delivered_traces_are_pruned_but_never_sessions_or_what_waits(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.enqueue_payload("opik-trace", "t-sent", "{}")
        store.enqueue_payload("opik-trace", "t-waiting", "{}")
        store.enqueue("session", "s-1")
        for item in store.pending(kinds=("opik-trace", "session")):
            if item.ref in ("t-sent", "s-1"):
                store.mark_sent(item.id)
        kinds = ("opik-trace", "opik-feedback")
        assert store.prune_sent(kinds, older_than_s=3600) == 0  # delivered just now: kept
        assert store.prune_sent(kinds, older_than_s=-60) == 1  # "older than" the future
        assert [i.ref for i in store.pending(kinds=("opik-trace",))] == ["t-waiting"]
        assert store.outbox_counts(("session",)).sent == 1  # sessions are never pruned


def test_a_version_2_store_gains_the_metronome_offset_and_keeps_its_sessions(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "device"
    folder.mkdir()
    old = start()
    with sqlite3.connect(folder / DB_NAME) as db:
        for script in _MIGRATIONS[:2]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 2")
    db.close()
    # Written by the version-2 code path: no offset column yet.
    with sqlite3.connect(folder / DB_NAME) as db:
        db.execute(
            "INSERT INTO sessions (session_id, user_id, device_id, software_version, status, "
            "start_timestamp, end_timestamp, start_wall, start_monotonic, boot_id, "
            "clock_synced, scale_chosen, scale_type, total_inscale_notes, sensitivity, "
            "strictness, enabled_metrics) VALUES (?, 'alice', 'fcp-test', '0.1.0', "
            "'completed', '2027-01-15T08:00:00.000+00:00', '2027-01-15T08:01:00.000+00:00', "
            "1.8e9, 1, 'boot-a', 1, 'A Minor (Pentatonic)', 'pentatonic', 5, 0.5, 0.5, '[]')",
            (old.session_id,),
        )
    db.close()
    with Store.open(folder) as store:
        record = store.session(old.session_id)
        assert record is not None and record.mean_offset_ms is None
        assert "mean_offset_ms" not in record.hub_payload()  # an older Hub refuses unknown keys
        assert record.as_json()["mean_offset_ms"] is None
        timed = start()
        store.begin_session(timed)
        store.finish_session(timed.session_id, replace(progress(30, 4), mean_offset_ms=-12.5), [])
        done = store.session(timed.session_id)
        assert done is not None and done.mean_offset_ms == -12.5  # rushing, 12.5 ms early
        assert done.hub_payload()["mean_offset_ms"] == -12.5
    with sqlite3.connect(folder / DB_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(_MIGRATIONS) == 3
    db.close()


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode = EXCLUSIVE")  # keeps even readers out until it closes
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE meta SET value = value")
db.execute("COMMIT")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_a_store_another_process_keeps_locked_is_busy_not_corrupt(tmp_path: Path) -> None:
    """A lock held past the 10 s busy wait (a sqlite3 shell or a backup with a transaction
    open) raised "database is locked", which opening took for corruption: the sound store
    was moved aside as fretcoach.db.corrupt-* and `sessions` showed none. Now it is a
    one-line error that says nothing is lost, the file stays, and it lists once freed."""
    folder = tmp_path / "state"
    session = start()
    with Store.open(folder) as store:
        store.begin_session(session)
        store.finish_session(session.session_id, progress(5.0, 2), [])
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(folder / DB_NAME)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        env = {**os.environ, "FRETCOACH_DATA_DIR": str(folder)}
        listed = subprocess.run(
            [sys.executable, "-m", "device.cli", "sessions"],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert listed.returncode == 1
    assert "is busy" in listed.stderr and "nothing stored is lost" in listed.stderr
    assert "Traceback" not in listed.stderr
    assert sorted(p.name for p in folder.iterdir() if "corrupt" in p.name) == []
    with Store.open(folder) as store:
        assert len(store.sessions()) == 1
