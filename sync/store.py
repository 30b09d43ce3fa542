"""The one durable place: sessions, notes, checkpoints, plans, feedback and the outbox.

SQLite in WAL mode with ``synchronous=FULL``: every commit is on the card before it
returns, so a kill -9 or a power cut loses at most what came after the last commit. The
daemon commits a checkpoint every few seconds (a handful of pages), never per note, so an
SD card is not worn out. Finishing a session and queueing it for the Hub is one
transaction: a session is either live, or finished *and* queued — never finished and
forgotten.

Thread-safe: one connection behind a lock; every public method is one short transaction.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsp.errors import StoreError, StoreFullError
from sync.records import (
    HubPause,
    NoteRow,
    SessionProgress,
    SessionRecord,
    SessionStart,
    utc_iso,
)

log = logging.getLogger(__name__)

DB_NAME = "fretcoach.db"
# What goes to the Hub, as opposed to the coach's Opik traces and feedback scores that
# share the outbox: "N waiting to sync" on the screen and in `fretcoach sync` counts these.
HUB_KINDS: tuple[str, ...] = ("session", "practice_plan", "practice_plan_link", "session_summary")

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        software_version TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('live', 'completed', 'interrupted')),
        start_timestamp TEXT NOT NULL,
        end_timestamp TEXT,
        start_wall REAL NOT NULL,
        start_monotonic REAL NOT NULL,
        end_monotonic REAL,
        boot_id TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        scale_chosen TEXT NOT NULL,
        scale_type TEXT NOT NULL,
        total_inscale_notes INTEGER NOT NULL,
        sensitivity REAL NOT NULL,
        strictness REAL NOT NULL,
        bpm REAL,
        enabled_metrics TEXT NOT NULL,
        pitch_accuracy REAL,
        scale_conformity REAL,
        timing_stability REAL,
        total_notes_played INTEGER NOT NULL DEFAULT 0,
        correct_notes_played INTEGER NOT NULL DEFAULT 0,
        bad_notes_played INTEGER NOT NULL DEFAULT 0,
        duration_seconds REAL NOT NULL DEFAULT 0,
        summary TEXT,
        source TEXT NOT NULL DEFAULT 'device'
    );
    CREATE INDEX sessions_by_start ON sessions (start_wall);
    CREATE TABLE notes (
        session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        onset_s REAL NOT NULL,
        midi INTEGER NOT NULL,
        cents REAL NOT NULL,
        in_scale INTEGER NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE checkpoints (
        session_id TEXT PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
        saved_monotonic REAL NOT NULL,
        duration_seconds REAL NOT NULL,
        note_count INTEGER NOT NULL,
        count INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE practice_plans (
        practice_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        generated_at TEXT NOT NULL,
        practice_plan TEXT NOT NULL,
        executed_session_id TEXT
    );
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        session_id TEXT,
        target TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        payload TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (kind, ref)
    );
    CREATE INDEX outbox_by_state ON outbox (state, id);
    """,
    # 2: an item the Hub (or Opik) refused is 'rejected', the word the screen and
    # `fretcoach status` use; it was 'dead'. SQLite cannot alter a CHECK constraint, so
    # the outbox is copied into a new table — inside the migration's one transaction, so a
    # power cut leaves either the old table at version 1 or the new one at version 2.
    """
    CREATE TABLE outbox_v2 (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        payload TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (kind, ref)
    );
    INSERT INTO outbox_v2 (id, kind, ref, state, attempts, last_error, payload, created_at,
                           updated_at)
        SELECT id, kind, ref, CASE state WHEN 'dead' THEN 'rejected' ELSE state END,
               attempts, last_error, payload, created_at, updated_at
        FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v2 RENAME TO outbox;
    CREATE INDEX outbox_by_state ON outbox (state, id);
    """,
    # 3: the mean signed offset of notes to the metronome click (ms; null at free tempo).
    "ALTER TABLE sessions ADD COLUMN mean_offset_ms REAL",
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    ref: str
    attempts: int
    payload: str | None  # frozen at the first attempt, so retries send identical bytes


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    rejected: int


def default_data_dir() -> Path:
    """``FRETCOACH_DATA_DIR``, else systemd's ``$STATE_DIRECTORY``, else the XDG data dir."""
    explicit = os.environ.get("FRETCOACH_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "fretcoach"


class Store:
    """Open with :meth:`open`; close with :meth:`close` (or use it as a context manager)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._lock = threading.RLock()
        self.quarantined: Path | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path | None = None) -> Store:
        """Open (creating, migrating, checking) the store in ``data_dir``.

        A corrupt file is moved aside as ``fretcoach.db.corrupt-<time>`` and a fresh one
        started, with an error in the log: the device keeps working and the old file is
        kept for recovery, instead of a crash loop under systemd.
        """
        folder = data_dir or default_data_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StoreError(
                f"the state directory {folder} is not a directory (a file is in the way): "
                "set FRETCOACH_DATA_DIR (or --data-dir) to a writable folder"
            ) from None
        except OSError as err:
            raise StoreError(
                f"cannot create the state directory {folder} ({err.strerror}): "
                "set FRETCOACH_DATA_DIR to a writable folder"
            ) from err
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"the state directory {folder} is not writable by this user: fix its "
                "permissions or set FRETCOACH_DATA_DIR to a writable folder"
            )
        path = folder / DB_NAME
        quarantined = None
        store: Store | None = None
        try:
            if path.is_file() and path.stat().st_size == 0:
                # SQLite would quietly start a new store in it. Opening writes a 4 KiB
                # header at once, so 0 bytes means truncated (a card fault, a bad copy).
                raise sqlite3.DatabaseError("the file is empty (0 bytes)")
            store = cls(_connect(path), path)
            store._check_integrity()
        except sqlite3.DatabaseError as err:
            if store is not None:
                store.close()  # the file is moved aside or reported: let it go first
            if "disk is full" in str(err) or "disk I/O" in str(err):
                raise StoreError(f"cannot open {path}: {err}") from err
            if _is_busy(err):  # another process holds a lock: the file is fine
                raise _busy(path) from err
            quarantined = _quarantine(path, err)
            store = cls(_connect(path), path)
        store.quarantined = quarantined
        try:
            store._migrate()
        except sqlite3.OperationalError as err:
            store.close()
            raise _translate(err, path) from err
        except BaseException:
            store.close()
            raise
        return store

    def _check_integrity(self) -> None:
        row = self._db.execute("PRAGMA integrity_check").fetchone()
        verdict = row["integrity_check"] if row else "?"
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()["user_version"]
        if version > len(_MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer fretcoach (schema {version}, this one "
                f"knows {len(_MIGRATIONS)}): upgrade fretcoach, or move the file away"
            )
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self._transaction() as db:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            log.info("store %s: schema migrated to version %d", self.path, number)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(err, sqlite3.OperationalError):
                    raise _translate(err, self.path) from err
                raise

    # -- meta ----------------------------------------------------------------------------

    def device_id(self) -> str:
        """A stable id for this device, made once and kept in the store."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()
            if row:
                return str(row["value"])
            import uuid

            value = f"fcp-{uuid.uuid4()}"
            db.execute("INSERT INTO meta (key, value) VALUES ('device_id', ?)", (value,))
            return value

    # -- the Hub's verdict on this device's token ----------------------------------------

    def pause_hub(self, status: int, reason: str) -> None:
        """Record that the Hub refused the token: every item waits (none is rejected)."""
        value = json.dumps({"status": status, "reason": reason, "since": utc_iso(time.time())})
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('hub_paused', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (value,),
            )

    def resume_hub(self) -> bool:
        """Clear the pause (a delivery worked, or the device was paired again)."""
        with self._transaction() as db:
            return db.execute("DELETE FROM meta WHERE key = 'hub_paused'").rowcount == 1

    def hub_pause(self) -> HubPause | None:
        """Why the queue waits for a re-pair, or None when it does not."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'hub_paused'").fetchone()
        if row is None:
            return None
        data = json.loads(row["value"])
        return HubPause(int(data["status"]), str(data["reason"]), str(data["since"]))

    def retry_refused_token(self) -> int:
        """Queue again the items an older device rejected for a bad token (401/403), as a
        new pairing fixes exactly that; returns how many."""
        with self._transaction() as db:
            return db.execute(
                "UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'rejected' "
                "AND (last_error LIKE 'HTTP 401%' OR last_error LIKE 'HTTP 403%')",
                (utc_iso(time.time()),),
            ).rowcount

    # -- sessions ------------------------------------------------------------------------

    def begin_session(self, start: SessionStart) -> None:
        with self._transaction() as db:
            db.execute(
                """INSERT INTO sessions (session_id, user_id, device_id, software_version,
                       status, start_timestamp, start_wall, start_monotonic, boot_id,
                       clock_synced, scale_chosen, scale_type, total_inscale_notes,
                       sensitivity, strictness, bpm, enabled_metrics, source)
                   VALUES (?, ?, ?, ?, 'live', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    start.session_id,
                    start.user_id,
                    start.device_id,
                    start.software_version,
                    utc_iso(start.start_wall),
                    start.start_wall,
                    start.start_monotonic,
                    start.boot_id,
                    int(start.clock_synced),
                    start.scale_chosen,
                    start.scale_type,
                    start.total_inscale_notes,
                    start.sensitivity,
                    start.strictness,
                    start.bpm,
                    json.dumps(list(start.enabled_metrics)),
                    start.source,
                ),
            )

    def checkpoint(
        self,
        session_id: str,
        progress: SessionProgress,
        new_notes: Sequence[NoteRow],
        *,
        monotonic: float,
    ) -> None:
        """Save a live session's progress and the notes played since the last checkpoint."""
        with self._transaction() as db:
            self._write_progress(db, session_id, progress, new_notes, live=True)
            db.execute(
                """INSERT INTO checkpoints (session_id, saved_monotonic, duration_seconds,
                       note_count) VALUES (?, ?, ?, ?)
                   ON CONFLICT (session_id) DO UPDATE SET
                       saved_monotonic = excluded.saved_monotonic,
                       duration_seconds = excluded.duration_seconds,
                       note_count = excluded.note_count,
                       count = checkpoints.count + 1""",
                (session_id, monotonic, progress.duration_seconds, progress.total_notes_played),
            )

    def finish_session(
        self,
        session_id: str,
        progress: SessionProgress,
        new_notes: Sequence[NoteRow],
        *,
        status: str = "completed",
        summary: str | None = None,
    ) -> None:
        """Close the session and queue it for the Hub, in one durable transaction."""
        if status not in ("completed", "interrupted"):
            raise ValueError(f"status must be completed or interrupted, not {status!r}")
        with self._transaction() as db:
            self._write_progress(db, session_id, progress, new_notes, live=False)
            db.execute(
                "UPDATE sessions SET status = ?, summary = COALESCE(?, summary) "
                "WHERE session_id = ?",
                (status, summary, session_id),
            )
            self._enqueue(db, "session", session_id)

    def _write_progress(
        self,
        db: sqlite3.Connection,
        session_id: str,
        progress: SessionProgress,
        new_notes: Sequence[NoteRow],
        *,
        live: bool,
    ) -> None:
        row = db.execute(
            "SELECT status, start_wall, start_monotonic FROM sessions WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no session {session_id} in the store")
        if row["status"] != "live":
            raise StoreError(f"session {session_id} is already {row['status']}")
        next_seq = db.execute(
            "SELECT COALESCE(MAX(seq) + 1, 0) AS next_seq FROM notes WHERE session_id = ?",
            (session_id,),
        ).fetchone()["next_seq"]
        db.executemany(
            "INSERT INTO notes (session_id, seq, onset_s, midi, cents, in_scale) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (session_id, next_seq + i, n.onset_s, n.midi, n.cents, int(n.in_scale))
                for i, n in enumerate(new_notes)
            ],
        )
        db.execute(
            """UPDATE sessions SET duration_seconds = ?, pitch_accuracy = ?,
                   scale_conformity = ?, timing_stability = ?, total_notes_played = ?,
                   correct_notes_played = ?, bad_notes_played = ?, end_timestamp = ?,
                   end_monotonic = ?, mean_offset_ms = ?
               WHERE session_id = ?""",
            (
                progress.duration_seconds,
                progress.pitch_accuracy,
                progress.scale_conformity,
                progress.timing_stability,
                progress.total_notes_played,
                progress.correct_notes_played,
                progress.bad_notes_played,
                utc_iso(row["start_wall"] + progress.duration_seconds),
                row["start_monotonic"] + progress.duration_seconds,
                progress.mean_offset_ms,
                session_id,
            ),
        )

    def recover_interrupted(self) -> list[str]:
        """Close sessions left live by a crash as ``interrupted``, as last checkpointed."""
        with self._transaction() as db:
            ids = [
                row["session_id"]
                for row in db.execute("SELECT session_id FROM sessions WHERE status = 'live'")
            ]
            for session_id in ids:
                db.execute(
                    """UPDATE sessions SET status = 'interrupted',
                           end_timestamp = COALESCE(end_timestamp, start_timestamp),
                           end_monotonic = COALESCE(end_monotonic, start_monotonic)
                       WHERE session_id = ?""",
                    (session_id,),
                )
                self._enqueue(db, "session", session_id)
        for session_id in ids:
            log.warning(
                "session %s was interrupted (crash or power loss): kept as checkpointed", session_id
            )
        return ids

    def correct_clock(self, boot_id: str, offset: float) -> int:
        """Re-time sessions recorded before NTP sync in this boot; returns how many.

        Only sessions not yet offered to the Hub: a payload, once sent, never changes.
        """
        with self._transaction() as db:
            rows = db.execute(
                """SELECT s.session_id, s.start_monotonic, s.end_monotonic FROM sessions s
                   LEFT JOIN outbox o ON o.kind = 'session' AND o.ref = s.session_id
                   WHERE s.clock_synced = 0 AND s.boot_id = ? AND o.payload IS NULL""",
                (boot_id,),
            ).fetchall()
            for row in rows:
                start_wall = row["start_monotonic"] + offset
                end_mono = row["end_monotonic"]
                db.execute(
                    """UPDATE sessions SET start_wall = ?, start_timestamp = ?,
                           end_timestamp = CASE WHEN end_monotonic IS NULL THEN end_timestamp
                                                ELSE ? END,
                           clock_synced = 1
                       WHERE session_id = ?""",
                    (
                        start_wall,
                        utc_iso(start_wall),
                        utc_iso(
                            (end_mono if end_mono is not None else row["start_monotonic"]) + offset
                        ),
                        row["session_id"],
                    ),
                )
        return len(rows)

    def sessions_waiting_for_clock(self, boot_id: str) -> set[str]:
        """Queued sessions of this boot, recorded before NTP sync and not yet offered."""
        with self._lock:
            rows = self._db.execute(
                """SELECT s.session_id FROM sessions s JOIN outbox o
                       ON o.kind = 'session' AND o.ref = s.session_id
                   WHERE s.clock_synced = 0 AND s.boot_id = ? AND o.state = 'pending'
                     AND o.payload IS NULL""",
                (boot_id,),
            ).fetchall()
        return {row["session_id"] for row in rows}

    def session(self, session_id: str, *, with_notes: bool = True) -> SessionRecord | None:
        records = self._records("WHERE s.session_id = ?", (session_id,), with_notes=with_notes)
        return records[0] if records else None

    def sessions(self, *, limit: int | None = None) -> list[SessionRecord]:
        """Newest first, without their notes."""
        tail = "ORDER BY s.start_wall DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return self._records(tail, (), with_notes=False)

    def _records(
        self, where: str, params: tuple[Any, ...], *, with_notes: bool
    ) -> list[SessionRecord]:
        with self._lock:
            rows = self._db.execute(
                f"""SELECT s.*, o.state AS sync_state, o.attempts AS sync_attempts,
                        o.last_error AS sync_error
                    FROM sessions s
                    LEFT JOIN outbox o ON o.kind = 'session' AND o.ref = s.session_id
                    {where}""",
                params,
            ).fetchall()
            return [
                _session_record(row, self._notes(row["session_id"]) if with_notes else ())
                for row in rows
            ]

    def _notes(self, session_id: str) -> tuple[NoteRow, ...]:
        return tuple(
            NoteRow(row["onset_s"], row["midi"], row["cents"], bool(row["in_scale"]))
            for row in self._db.execute(
                "SELECT onset_s, midi, cents, in_scale FROM notes WHERE session_id = ? "
                "ORDER BY seq",
                (session_id,),
            )
        )

    def user_sessions(self, user_id: str, *, limit: int = 10) -> list[SessionRecord]:
        """A user's finished sessions, newest first, without their notes (for AI mode)."""
        return self._records(
            "WHERE s.user_id = ? AND s.status != 'live' ORDER BY s.start_wall DESC LIMIT ?",
            (user_id, int(limit)),
            with_notes=False,
        )

    # -- practice plans (AI mode) --------------------------------------------------------

    def add_practice_plan(
        self, practice_id: str, user_id: str, generated_at: str, plan: dict[str, Any]
    ) -> None:
        """Keep a plan and queue it for the Hub (``practice_plan``), in one transaction.

        The payload is frozen here with ``executed_session_id`` null: a plan is made
        before it is practised. :meth:`link_practice_plan` queues the one change later.
        """
        payload = {
            "practice_id": practice_id,
            "user_id": user_id,
            "generated_at": generated_at,
            "practice_plan": plan,
            "executed_session_id": None,
        }
        now = utc_iso(time.time())
        with self._transaction() as db:
            db.execute(
                "INSERT INTO practice_plans (practice_id, user_id, generated_at, practice_plan) "
                "VALUES (?, ?, ?, ?)",
                (practice_id, user_id, generated_at, json.dumps(plan, sort_keys=True)),
            )
            db.execute(
                "INSERT INTO outbox (kind, ref, state, payload, created_at, updated_at) "
                "VALUES ('practice_plan', ?, 'pending', ?, ?, ?) "
                "ON CONFLICT (kind, ref) DO NOTHING",
                (practice_id, _compact(payload), now, now),
            )

    def link_practice_plan(self, practice_id: str, session_id: str) -> bool:
        """Record the session a plan started and queue that change (``practice_plan_link``).

        Returns False when the plan is unknown or already linked: a plan runs once.
        """
        now = utc_iso(time.time())
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE practice_plans SET executed_session_id = ? "
                "WHERE practice_id = ? AND executed_session_id IS NULL",
                (session_id, practice_id),
            )
            if cursor.rowcount != 1:
                return False
            plan = db.execute(
                "SELECT user_id, generated_at, practice_plan FROM practice_plans "
                "WHERE practice_id = ?",
                (practice_id,),
            ).fetchone()
            payload = {
                "practice_id": practice_id,
                "user_id": plan["user_id"],
                "generated_at": plan["generated_at"],
                "practice_plan": json.loads(plan["practice_plan"]),
                "executed_session_id": session_id,
            }
            db.execute(
                "INSERT INTO outbox (kind, ref, state, payload, created_at, updated_at) "
                "VALUES ('practice_plan_link', ?, 'pending', ?, ?, ?) "
                "ON CONFLICT (kind, ref) DO NOTHING",
                (practice_id, _compact(payload), now, now),
            )
            return True

    def practice_plans(self, user_id: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """A user's plans, newest first: ``practice_id``, ``generated_at``,
        ``practice_plan`` (a dict) and ``executed_session_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT practice_id, generated_at, practice_plan, executed_session_id "
                "FROM practice_plans WHERE user_id = ? ORDER BY generated_at DESC, rowid DESC "
                "LIMIT ?",
                (user_id, int(limit)),
            ).fetchall()
        return [{**dict(row), "practice_plan": json.loads(row["practice_plan"])} for row in rows]

    # -- the coach's session summary -----------------------------------------------------

    def queue_session_summary(
        self,
        session_id: str,
        *,
        summary: str,
        source: str,
        model: str,
        trace_id: str | None = None,
    ) -> bool:
        """Queue the coach's summary of a finished session for the Hub (once per session).

        The session's own upload is frozen when it ends, and the summary comes seconds
        later, so it travels as its own item (``POST /api/v1/session-summaries``) under
        the session's id. Returns False when the session is unknown or already has one.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT user_id FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        if row is None:
            return False
        payload = {
            "session_id": session_id,
            "user_id": row["user_id"],
            "summary": summary,
            "source": source,
            "model": model,
            "trace_id": trace_id,
        }
        return self.enqueue_payload("session_summary", session_id, _compact(payload))

    def session_summary(self, session_id: str) -> str | None:
        """The summary queued for a session, if any (``fretcoach sessions`` and ``run``
        show it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM outbox WHERE kind = 'session_summary' AND ref = ?",
                (session_id,),
            ).fetchone()
        return str(json.loads(row["payload"])["summary"]) if row and row["payload"] else None

    # -- outbox --------------------------------------------------------------------------

    def _enqueue(self, db: sqlite3.Connection, kind: str, ref: str) -> None:
        now = utc_iso(time.time())
        db.execute(
            "INSERT INTO outbox (kind, ref, state, created_at, updated_at) "
            "VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (kind, ref) DO NOTHING",
            (kind, ref, now, now),
        )

    def enqueue(self, kind: str, ref: str) -> None:
        with self._transaction() as db:
            self._enqueue(db, kind, ref)

    def enqueue_payload(self, kind: str, ref: str, payload: str) -> bool:
        """Queue a ready-made payload (a trace, a feedback score) under a unique ref.

        Returns False when ``(kind, ref)`` is already queued: enqueueing is idempotent.
        """
        now = utc_iso(time.time())
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO outbox (kind, ref, state, payload, created_at, updated_at) "
                "VALUES (?, ?, 'pending', ?, ?, ?) ON CONFLICT (kind, ref) DO NOTHING",
                (kind, ref, payload, now, now),
            )
            return cursor.rowcount == 1

    def pending(self, *, limit: int = 100, kinds: Sequence[str] = ("session",)) -> list[OutboxItem]:
        marks = ",".join("?" for _ in kinds)
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, kind, ref, attempts, payload FROM outbox "
                f"WHERE state = 'pending' AND kind IN ({marks}) ORDER BY id LIMIT ?",
                (*kinds, limit),
            ).fetchall()
        return [OutboxItem(**dict(row)) for row in rows]

    def freeze_payload(self, item_id: int, payload: str) -> str:
        """Keep the first payload sent for an item; returns the one to send."""
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET payload = COALESCE(payload, ?) WHERE id = ?", (payload, item_id)
            )
            row = db.execute("SELECT payload FROM outbox WHERE id = ?", (item_id,)).fetchone()
            return str(row["payload"])

    def mark_sent(self, item_id: int) -> None:
        self._set_state(item_id, "sent", None, count_attempt=True)

    def mark_declined(self, item_id: int, reason: str) -> None:
        """Done with, though the Hub did not take it (an optional item it does not know);
        the reason is kept, and the item is neither resent nor counted as rejected, until
        :meth:`retry_rejected` asks again."""
        self._set_state(item_id, "sent", f"declined: {reason}", count_attempt=True)

    def mark_retry(self, item_id: int, error: str) -> None:
        self._set_state(item_id, "pending", error, count_attempt=True)

    def mark_rejected(self, item_id: int, reason: str) -> None:
        """Refused for good (a 4xx other than 408/425/429): kept with the reason, not resent
        until :meth:`retry_rejected`."""
        self._set_state(item_id, "rejected", reason, count_attempt=True)

    def _set_state(
        self, item_id: int, state: str, error: str | None, *, count_attempt: bool
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET state = ?, last_error = ?, updated_at = ?, "
                "attempts = attempts + ? WHERE id = ?",
                (state, error, utc_iso(time.time()), int(count_attempt), item_id),
            )

    def prune_sent(self, kinds: Sequence[str], *, older_than_s: float) -> int:
        """Delete items of ``kinds`` delivered more than ``older_than_s`` ago; returns how
        many. For what is kept nowhere else (Opik traces and scores: once Opik has them,
        the device needs no copy); never for sessions, plans or summaries, whose outbox
        rows carry their sync state and text."""
        if not kinds:
            return 0
        cutoff = utc_iso(time.time() - older_than_s)
        marks = ",".join("?" for _ in kinds)
        with self._transaction() as db:
            cursor = db.execute(
                f"DELETE FROM outbox WHERE state = 'sent' AND kind IN ({marks}) AND updated_at < ?",
                (*kinds, cutoff),
            )
            return cursor.rowcount

    def retry_rejected(self) -> int:
        """Move rejected items back to pending (``fretcoach sync --retry-rejected``), and
        declined ones too (a Hub that had no route for them may have one now)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'rejected' "
                "OR (state = 'sent' AND last_error LIKE 'declined:%')",
                (utc_iso(time.time()),),
            )
            return cursor.rowcount

    def outbox_counts(self, kinds: Sequence[str] | None = None) -> OutboxCounts:
        """Items per state; only ``kinds`` when given (e.g. :data:`HUB_KINDS`), else all."""
        where, params = "", ()
        if kinds is not None:
            where = f"WHERE kind IN ({','.join('?' for _ in kinds)}) "
            params = tuple(kinds)
        with self._lock:
            rows = self._db.execute(
                f"SELECT state, COUNT(*) AS items FROM outbox {where}GROUP BY state", params
            )
            counts = {row["state"]: row["items"] for row in rows}
        return OutboxCounts(
            pending=counts.get("pending", 0),
            sent=counts.get("sent", 0),
            rejected=counts.get("rejected", 0),
        )


def _session_record(row: sqlite3.Row, notes: tuple[NoteRow, ...]) -> SessionRecord:
    """A ``sessions`` row joined with its outbox state, as :class:`SessionRecord`."""
    state = row["sync_state"]
    return SessionRecord(
        session_id=row["session_id"],
        user_id=row["user_id"],
        device_id=row["device_id"],
        software_version=row["software_version"],
        status=row["status"],
        start_timestamp=row["start_timestamp"],
        end_timestamp=row["end_timestamp"],
        clock_synced=bool(row["clock_synced"]),
        scale_chosen=row["scale_chosen"],
        scale_type=row["scale_type"],
        total_inscale_notes=row["total_inscale_notes"],
        sensitivity=row["sensitivity"],
        strictness=row["strictness"],
        bpm=row["bpm"],
        enabled_metrics=tuple(json.loads(row["enabled_metrics"])),
        pitch_accuracy=row["pitch_accuracy"],
        scale_conformity=row["scale_conformity"],
        timing_stability=row["timing_stability"],
        total_notes_played=row["total_notes_played"],
        correct_notes_played=row["correct_notes_played"],
        bad_notes_played=row["bad_notes_played"],
        duration_seconds=row["duration_seconds"],
        source=row["source"],
        sync_state={"sent": "synced", None: "local"}.get(state, state),
        sync_attempts=row["sync_attempts"] or 0,
        sync_error=row["sync_error"],
        notes=notes,
        mean_offset_ms=row["mean_offset_ms"],
    )


# How long a statement waits for another connection's lock before giving up (SQLite's
# busy timeout): the daemon's transactions last milliseconds, so 10 s means a stuck holder.
BUSY_TIMEOUT_S = 10.0


def _compact(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
    )
    connection.row_factory = sqlite3.Row  # columns by name (row["state"]), never by position
    connection.execute("PRAGMA journal_mode = WAL")
    # FULL: every commit is fsynced, so a power cut loses nothing committed. Commits are
    # rare (a checkpoint every few seconds), so this costs no noticeable wear.
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _quarantine(path: Path, err: Exception) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    # rename() replaces silently: a second corrupt store in the same second gets "-2".
    number = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
        number += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(Path(f"{target}{suffix}"))
    log.error(
        "the session store %s is corrupt (%s): moved it to %s and started a fresh one; "
        "sessions in the old file are not lost — recover them with the sqlite3 .recover command",
        path,
        err,
        target,
    )
    return target


def _is_busy(err: sqlite3.DatabaseError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection held a lock past our 10 s wait. An
    OperationalError like corruption's, but the file is sound and must not be moved aside."""
    return isinstance(err, sqlite3.OperationalError) and (
        "locked" in str(err) or "busy" in str(err)
    )


def _busy(path: Path) -> StoreError:
    return StoreError(
        f"the session store {path} is busy: another process has held it locked for over "
        f"{BUSY_TIMEOUT_S:g} s (a sqlite3 shell or backup with a transaction open?) — nothing "
        "stored is lost; try again once it lets go"
    )


def _translate(err: sqlite3.OperationalError, path: Path) -> StoreError:
    text = str(err)
    if _is_busy(err):
        return _busy(path)
    if "full" in text:
        return StoreFullError(
            f"the disk holding {path} is full: free some space — nothing stored so far is lost"
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(
            f"{path} is read-only: fix the permissions of {path.parent} or set FRETCOACH_DATA_DIR"
        )
    return StoreError(f"session store {path}: {text}")
