"""The Hub's database: three tables and the one write pattern they need, insert once.

Exactly-once rests on the database, not on this process: each row is keyed by its user
and its id and carries the sha256 of its canonical content, so a retried POST is answered
200 (``duplicate``), a changed one 409, and two racing copies still make one row. Keys are
per user, so one user's ids never collide with, or reveal, another's.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, event, inspect, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer
from sqlalchemy.pool import StaticPool

from dsp.errors import HubServerConfigError
from sync.hub import schema
from sync.hub.models import (
    NoteEvent,
    PracticePlanIn,
    PracticePlanRow,
    SessionIn,
    SessionOut,
    SessionRow,
    SessionSummaryIn,
    SessionSummaryRow,
)

Outcome = Literal["created", "duplicate", "conflict"]
PlanOutcome = Literal["created", "duplicate", "updated", "conflict"]
RowT = TypeVar("RowT", SessionRow, PracticePlanRow, SessionSummaryRow)


# Fields added after rows were first hashed: left out of the hash while null, so a session
# stored before the field existed is still a 200 duplicate when its device retries it.
_LATE_OPTIONAL_FIELDS = ("mean_offset_ms",)


def content_hash(model: BaseModel) -> str:
    """sha256 of the validated body as canonical JSON (keys sorted, compact, UTF-8).

    Hashing after validation means the same facts hash the same however they were
    spelled: ``Z`` or ``+00:00``, ``"A minor pentatonic"`` or ``"A Minor (Pentatonic)"``,
    an optional field omitted or sent as null.
    """
    body = model.model_dump(mode="json")
    for name in _LATE_OPTIONAL_FIELDS:
        if name in body and body[name] is None:
            del body[name]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (tests, the list endpoint) never block
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """An engine for SQLite (file or memory) or anything else SQLAlchemy can reach."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        # A server that takes the connection but never answers would hang start-up and
        # every request: give up after 10 s (the error names the database).
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every pooled connection would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        # Concurrent writers queue on SQLite's lock; 30 s outlasts any burst we expect.
        engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """``--db PATH`` as a SQLAlchemy URL; the directory must exist (we never guess one)."""
    db_path = Path(path).expanduser().resolve()
    if not db_path.parent.is_dir():
        raise HubServerConfigError(
            f"--db {path}: directory {db_path.parent} does not exist; create it first"
        )
    return URL.create("sqlite", database=str(db_path)).render_as_string()


class HubStore:
    """The three tables and the one write pattern they need: insert once, compare on clash."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_tables(self) -> None:
        """Migrate the database to this Hub's schema (:func:`sync.hub.schema.upgrade`).

        Creates a fresh database; carries one made by an older Hub forward with its rows;
        refuses a table that lacks the columns an older Hub made (it would fail on the
        first insert, as a 500).
        """
        schema.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def add_session(self, session: SessionIn) -> Outcome:
        fields = session.model_dump(exclude={"session_id"})
        row = SessionRow(
            **fields,
            session_id=str(session.session_id),
            content_hash=content_hash(session),
            received_at=datetime.now(UTC),
        )
        return self._store_once(row, row.session_id, row.content_hash)

    def add_plan(self, plan: PracticePlanIn) -> PlanOutcome:
        """Store a plan once; later, accept the one change a plan has: the session that ran it.

        The device posts a plan when it is made (``executed_session_id`` null) and again once
        a session has followed it. That second post differs only in ``executed_session_id``
        and is answered ``updated``; any other change, or naming a different session, is a
        conflict.
        """
        executed = str(plan.executed_session_id) if plan.executed_session_id else None
        row = PracticePlanRow(
            practice_id=str(plan.practice_id),
            user_id=plan.user_id,
            generated_at=plan.generated_at,
            practice_plan=plan.practice_plan.model_dump(mode="json"),
            executed_session_id=executed,
            content_hash=content_hash(plan),
            plan_hash=content_hash(plan.model_copy(update={"executed_session_id": None})),
            received_at=datetime.now(UTC),
        )
        outcome = self._store_once(row, row.practice_id, row.content_hash)
        if outcome != "conflict":
            return outcome
        return self._record_execution(row)

    def _record_execution(self, row: PracticePlanRow) -> PlanOutcome:
        plans = PracticePlanRow
        with Session(self.engine) as db:
            mine = (plans.user_id == row.user_id) & (plans.practice_id == row.practice_id)
            stored = db.execute(
                select(plans.plan_hash, plans.executed_session_id).where(mine)
            ).one()
            if stored.plan_hash != row.plan_hash:
                return "conflict"  # the plan itself changed
            if row.executed_session_id is None:
                return "duplicate"  # an earlier state of a plan the Hub has seen run
            if stored.executed_session_id is not None:
                return "conflict"  # already run by another session
            # Conditional, so two racing updates cannot both win.
            result = db.execute(
                update(plans)
                .where(mine, plans.executed_session_id.is_(None))
                .values(executed_session_id=row.executed_session_id, content_hash=row.content_hash)
            )
            db.commit()
            if result.rowcount == 1:
                return "updated"
            now = db.scalar(select(plans.content_hash).where(mine))
        return "duplicate" if now == row.content_hash else "conflict"

    def add_summary(self, summary: SessionSummaryIn) -> Outcome:
        row = SessionSummaryRow(
            **summary.model_dump(exclude={"session_id"}),
            session_id=str(summary.session_id),
            content_hash=content_hash(summary),
            received_at=datetime.now(UTC),
        )
        return self._store_once(row, row.session_id, row.content_hash)

    def sessions_of(self, user_id: str, *, limit: int) -> list[SessionOut]:
        """A user's sessions, newest first, each with its coach summary when there is one."""
        query = (
            select(SessionRow, SessionSummaryRow.summary)
            .options(defer(SessionRow.notes))  # up to 20 000 notes each; the list omits them
            .outerjoin(
                SessionSummaryRow,
                # The same user's summary only: nobody's words appear on another's session.
                (SessionSummaryRow.session_id == SessionRow.session_id)
                & (SessionSummaryRow.user_id == SessionRow.user_id),
            )
            .where(SessionRow.user_id == user_id)
            .order_by(SessionRow.start_timestamp.desc(), SessionRow.session_id)
            .limit(limit)
        )
        with Session(self.engine) as db:
            return [
                SessionOut.model_validate(row).model_copy(update={"coach_summary": text})
                for row, text in db.execute(query)
            ]

    def session_of(
        self, user_id: str, session_id: str
    ) -> tuple[SessionOut, list[NoteEvent] | None] | None:
        """One of the user's sessions with its notes (None: the device sent none), or None
        when the user has no session with that id: another user's id finds nothing too."""
        query = (
            select(SessionRow, SessionSummaryRow.summary)
            .outerjoin(
                SessionSummaryRow,
                (SessionSummaryRow.session_id == SessionRow.session_id)
                & (SessionSummaryRow.user_id == SessionRow.user_id),
            )
            .where(SessionRow.user_id == user_id, SessionRow.session_id == session_id)
        )
        with Session(self.engine) as db:
            found = db.execute(query).first()
            if found is None:
                return None
            row, text = found
            session = SessionOut.model_validate(row).model_copy(update={"coach_summary": text})
            notes = None if row.notes is None else [NoteEvent(**n) for n in row.notes]
        return session, notes

    def _store_once(self, row: RowT, key: str, digest: str) -> Outcome:
        """Insert; on a primary-key clash compare hashes with the stored row.

        No read before the insert: the primary key decides a race between two identical
        posts, so exactly one commits, and the loser re-reads in a fresh transaction.
        """
        model = type(row)
        with Session(self.engine) as db:
            db.add(row)
            try:
                db.commit()
                return "created"
            except IntegrityError as err:
                db.rollback()
                clash = err
            key_column = inspect(model).primary_key[1]  # (user_id, the record's id)
            stored = db.scalar(
                select(model.content_hash).where(model.user_id == row.user_id, key_column == key)
            )
        if stored is None:
            raise clash  # an integrity error that is not a duplicate id: a bug
        return "duplicate" if stored == digest else "conflict"
