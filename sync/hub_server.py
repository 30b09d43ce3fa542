"""The reference FretCoach Hub ingest server: the contract in ``sync/hub-api.md``, served.

The device never holds database credentials; it posts finished sessions over HTTP with a
per-device bearer token. This server lets the device be developed, tested and shown end
to end, on SQLite by default or PostgreSQL through ``DATABASE_URL``.

Exactly-once rests on the database, not on this process: each row is keyed by its id and
carries the sha256 of its canonical content, so a retried POST is answered 200
(``duplicate``), a changed one 409, and two racing copies still make one row.

Fault injection (``enable_faults``; off unless asked for) lets tests fail, delay and drop
answers the way an overloaded Hub or a flaky network would.

    python -m sync.hub_server --db hub.sqlite3 --token TOKEN=USER [--enable-fault-injection]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import logging.config
import os
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, create_engine, event, inspect, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, defer
from sqlalchemy.pool import StaticPool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dsp.errors import HubError, HubServerConfigError
from sync.hub_models import (
    Base,
    ErrorAnswer,
    IngestResult,
    InvalidAnswer,
    PlanIngestResult,
    PracticePlanIn,
    PracticePlanRow,
    SessionIn,
    SessionList,
    SessionOut,
    SessionRow,
    SessionSummaryIn,
    SessionSummaryRow,
    SummaryIngestResult,
)

# Named explicitly: under `python -m` __name__ is "__main__", outside the "sync" logger.
log = logging.getLogger("sync.hub_server")

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
TOKENS_ENV = "FRETCOACH_HUB_TOKENS"
DATABASE_URL_ENV = "DATABASE_URL"

Outcome = Literal["created", "duplicate", "conflict"]
PlanOutcome = Literal["created", "duplicate", "updated", "conflict"]
RowT = TypeVar("RowT", SessionRow, PracticePlanRow, SessionSummaryRow)


# --------------------------------------------------------------------------- tokens


def _redacted(text: str) -> str:
    """Enough of a bad ``--token`` value to recognise it, never the whole secret."""
    token, sep, user = text.rpartition("=")
    if not sep:
        token, user = text, ""
    shown = token[:3] + "…" if len(token) > 3 else token
    return f"{shown}{sep}{user}"


def _parse_tokens(items: Sequence[str], *, source: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for item in items:
        # Split at the last "=": base64 tokens may end in "=" padding, user ids do not.
        token, sep, user = item.strip().rpartition("=")
        token, user = token.strip(), user.strip()
        if not sep or not token or not user:
            raise HubServerConfigError(
                f"{source} must look like TOKEN=USER, not {_redacted(item.strip())!r}"
            )
        if tokens.get(token, user) != user:
            raise HubServerConfigError(
                f"{source}: one token is given for two users ({tokens[token]!r} and {user!r});"
                " give each device user its own token"
            )
        tokens[token] = user
    return tokens


def parse_token_args(items: Sequence[str]) -> dict[str, str]:
    """``["tok1=alice", "tok2=bob"]`` → ``{"tok1": "alice", "tok2": "bob"}``.

    Raises :class:`HubServerConfigError` (a ``ValueError``) naming the expected form; the
    message shows only the first characters of a malformed token.
    """
    return _parse_tokens(items, source="--token")


def tokens_from_env(value: str) -> dict[str, str]:
    """``FRETCOACH_HUB_TOKENS="tok1=alice,tok2=bob"``; keeps tokens out of ``ps`` output."""
    items = [item for item in value.split(",") if item.strip()]
    return _parse_tokens(items, source=f"{TOKENS_ENV} entries")


class TokenAuth:
    """Maps bearer tokens to users in constant time; never logs or echoes a token."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        if not tokens:
            raise HubServerConfigError(
                "no device tokens: pass --token TOKEN=USER (or set "
                f"{TOKENS_ENV}=tok1=alice,tok2=bob); without one every request would be refused"
            )
        self._tokens = [(token.encode(), user) for token, user in tokens.items()]

    @property
    def users(self) -> list[str]:
        return sorted({user for _, user in self._tokens})

    def user_for(self, presented: str | None) -> str:
        if not presented:
            raise _unauthorized("send Authorization: Bearer <device token>")
        candidate = presented.encode()
        user = None
        for token, owner in self._tokens:  # no early exit: every check takes the same time
            if hmac.compare_digest(token, candidate):
                user = owner
        if user is None:
            raise _unauthorized(
                "unknown device token: compare the device's FRETCOACH_HUB_TOKEN with the "
                "Hub's --token list"
            )
        return user


# --------------------------------------------------------------------------- errors


def _unauthorized(detail: str) -> HubError:
    return HubError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _invalid(field: str, message: str) -> HubError:
    return HubError(422, "invalid", [{"field": field, "message": message}])


_STATUS_ERRORS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    500: "internal",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


def _error_name(status: int) -> str:
    return _STATUS_ERRORS.get(status, f"http_{status}")


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "header", "path", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "malformed")
            errors.append({"field": "body", "message": f"the body is not valid JSON: {reason}"})
            continue
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")  # our validators' own words
        errors.append({"field": _field_name(err.get("loc", ())), "message": message})
    return errors


def _install_error_handlers(app: FastAPI) -> None:
    async def on_hub_error(_request: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.error, "detail": exc.detail}, status_code=exc.status, headers=exc.headers
        )

    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid", "detail": _field_errors(exc)}, status_code=422)

    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": _error_name(exc.status_code), "detail": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    async def on_database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        # "database is locked" or a lost PostgreSQL connection: transient, so ask for a retry.
        log.warning("database unavailable: %s", getattr(exc, "orig", exc))
        return JSONResponse(
            {"error": "unavailable", "detail": "the Hub database is busy or down; retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    async def on_crash(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer goes out.
        return JSONResponse(
            {"error": "internal", "detail": "the Hub failed; it is logged, retry later"},
            status_code=500,
        )

    app.add_exception_handler(HubError, on_hub_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(Exception, on_crash)


# --------------------------------------------------------------------------- storage


def content_hash(model: BaseModel) -> str:
    """sha256 of the validated body as canonical JSON (keys sorted, compact, UTF-8).

    Hashing after validation means the same facts hash the same however they were
    spelled: ``Z`` or ``+00:00``, ``"A minor pentatonic"`` or ``"A Minor (Pentatonic)"``,
    an optional field omitted or sent as null.
    """
    canonical = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (tests, the list endpoint) never block
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """An engine for SQLite (file or memory) or anything else SQLAlchemy can reach."""
    url = make_url(database_url)
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
        """Create missing tables; refuse a pre-existing table that lacks our columns.

        ``create_all`` leaves an existing table alone, so an older Hub ``sessions`` table
        (without the device columns) would otherwise fail on the first insert, as a 500.
        """
        Base.metadata.create_all(self.engine)
        database = inspect(self.engine)
        for table in Base.metadata.sorted_tables:
            present = {column["name"] for column in database.get_columns(table.name)}
            missing = [column.name for column in table.columns if column.name not in present]
            if missing:
                raise HubServerConfigError(
                    f"table {table.name} in this database lacks column(s) {', '.join(missing)}: "
                    f"add them (ALTER TABLE {table.name} ADD COLUMN …, see "
                    "sync/hub_models.py) or point the server at a fresh database"
                )

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
            stored = db.execute(
                select(plans.plan_hash, plans.executed_session_id).where(
                    plans.practice_id == row.practice_id
                )
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
                .where(plans.practice_id == row.practice_id, plans.executed_session_id.is_(None))
                .values(executed_session_id=row.executed_session_id, content_hash=row.content_hash)
            )
            db.commit()
            if result.rowcount == 1:
                return "updated"
            now = db.scalar(select(plans.content_hash).where(plans.practice_id == row.practice_id))
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
            key_column = inspect(model).primary_key[0]
            stored = db.scalar(select(model.content_hash).where(key_column == key))
        if stored is None:
            raise clash  # an integrity error that is not a duplicate id: a bug
        return "duplicate" if stored == digest else "conflict"


# --------------------------------------------------------------------------- the API

_bearer = HTTPBearer(
    auto_error=False, description="the device token; the Hub maps each token to one user"
)


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    auth: TokenAuth = request.app.state.auth
    return auth.user_for(credentials.credentials if credentials else None)


async def _hub_store(request: Request) -> HubStore:
    store: HubStore = request.app.state.store
    return store


CurrentUser = Annotated[str, Depends(_current_user)]
Store = Annotated[HubStore, Depends(_hub_store)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="must equal the body's id"),
]


def _check_idempotency_key(key: str | None, record_id: UUID, id_field: str) -> None:
    if key is None:
        raise _invalid(
            "Idempotency-Key", f"missing: send Idempotency-Key: <{id_field}> with every post"
        )
    try:
        same = UUID(key.strip()) == record_id
    except ValueError:
        same = False
    if not same:
        raise _invalid(
            "Idempotency-Key", f"must equal the body's {id_field} ({record_id}), not {key[:64]!r}"
        )


def _check_owner(user: str, body_user: str) -> None:
    if user != body_user:
        raise HubError(
            403,
            "forbidden",
            f"this device token belongs to user {user!r}, not {body_user!r}: "
            "post with that user's token",
        )


def _answers(ok: type[BaseModel], what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"model": ok, "description": f"the same {what} again, same content: not stored"},
        401: {"model": ErrorAnswer, "description": "missing or unknown device token"},
        403: {"model": ErrorAnswer, "description": "user_id is not the token's user"},
        409: {"model": ErrorAnswer, "description": f"the same id with different {what} content"},
        413: {"model": ErrorAnswer, "description": "body over the size limit"},
        422: {"model": InvalidAnswer, "description": "invalid body or headers"},
        429: {"model": ErrorAnswer, "description": "overloaded; may carry Retry-After"},
        503: {"model": ErrorAnswer, "description": "unavailable; may carry Retry-After"},
    }


def _answer_outcome(outcome: str, response: Response, *, conflict: str) -> None:
    """201 for a new row (the route's default), 200 for anything else stored, 409 a clash."""
    if outcome == "conflict":
        raise HubError(409, "conflict", conflict)
    if outcome != "created":
        response.status_code = 200


api = APIRouter(prefix="/api/v1")


@api.post(
    "/sessions",
    status_code=201,
    response_model=IngestResult,
    responses=_answers(IngestResult, "session"),
    summary="Store a finished session exactly once",
)
def post_session(
    session: SessionIn,
    user: CurrentUser,
    store: Store,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> IngestResult:
    _check_idempotency_key(idempotency_key, session.session_id, "session_id")
    _check_owner(user, session.user_id)
    outcome = store.add_session(session)
    log.info("session %s from user %s: %s", session.session_id, user, outcome)
    _answer_outcome(
        outcome,
        response,
        conflict=f"session {session.session_id} is already stored with different content; "
        "a changed session needs a new session_id",
    )
    return IngestResult(session_id=session.session_id, result=outcome)


@api.get(
    "/sessions",
    response_model=SessionList,
    responses={
        401: {"model": ErrorAnswer, "description": "missing or unknown device token"},
        403: {"model": ErrorAnswer, "description": "user_id is not the token's user"},
        422: {"model": InvalidAnswer, "description": "invalid query"},
    },
    summary="List a user's sessions, newest first (without notes)",
)
def list_sessions(
    user: CurrentUser,
    store: Store,
    user_id: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SessionList:
    _check_owner(user, user_id)
    return SessionList(sessions=store.sessions_of(user_id, limit=limit))


@api.post(
    "/practice-plans",
    status_code=201,
    response_model=PlanIngestResult,
    responses=_answers(PlanIngestResult, "practice plan"),
    summary="Store an AI-mode practice plan exactly once",
)
def post_practice_plan(
    plan: PracticePlanIn,
    user: CurrentUser,
    store: Store,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PlanIngestResult:
    _check_idempotency_key(idempotency_key, plan.practice_id, "practice_id")
    _check_owner(user, plan.user_id)
    outcome = store.add_plan(plan)
    log.info("practice plan %s from user %s: %s", plan.practice_id, user, outcome)
    _answer_outcome(
        outcome,
        response,
        conflict=f"practice plan {plan.practice_id} is already stored with different content; "
        "only a null executed_session_id may be filled in later; "
        "a changed plan needs a new practice_id",
    )
    return PlanIngestResult(practice_id=plan.practice_id, result=outcome)


@api.post(
    "/session-summaries",
    status_code=201,
    response_model=SummaryIngestResult,
    responses=_answers(SummaryIngestResult, "session summary"),
    summary="Store the coach's summary of a session exactly once",
)
def post_session_summary(
    summary: SessionSummaryIn,
    user: CurrentUser,
    store: Store,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SummaryIngestResult:
    _check_idempotency_key(idempotency_key, summary.session_id, "session_id")
    _check_owner(user, summary.user_id)
    outcome = store.add_summary(summary)
    log.info("summary of session %s from user %s: %s", summary.session_id, user, outcome)
    _answer_outcome(
        outcome,
        response,
        conflict=f"session {summary.session_id} already has a different summary; "
        "a session has one summary",
    )
    return SummaryIngestResult(session_id=summary.session_id, result=outcome)


class Health(BaseModel):
    status: Literal["ok"]


health = APIRouter()


@health.get("/healthz", summary="Liveness; no token needed")
async def healthz() -> Health:
    return Health(status="ok")


# --------------------------------------------------------------------------- body limit


async def _send_json(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    content: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    await JSONResponse(content, status_code=status, headers=headers)(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over ``max_body_bytes``: by Content-Length, and by counting chunks.

    The body is read here (it is at most the limit) and replayed to the app, so a client
    that lies about its length or streams chunked gets the same answer. Over the limit we
    still read and discard up to four times the limit before answering: clients such as
    ``requests`` send the whole body before they read, and closing on them makes the 413
    a "connection reset". Beyond that we answer at once and let the connection drop.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.drain_bytes = 4 * max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            if declared <= self.drain_bytes:
                await self._discard(receive)
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; there is nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_body_bytes:
                if more:
                    await self._discard(receive, already=size)
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # http.disconnect, for apps that watch for it
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _discard(self, receive: Receive, *, already: int = 0) -> None:
        read = already
        while read <= self.drain_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning("refused a body over %d bytes on %s", self.max_body_bytes, scope["path"])
        await _send_json(
            scope,
            receive,
            send,
            413,
            {
                "error": "too_large",
                "detail": f"the body is over the Hub's {self.max_body_bytes}-byte limit; "
                "send fewer notes or raise the server's --max-body-bytes",
            },
            headers={"Connection": "close"},
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server rejects such a request before we see it
    return None


# --------------------------------------------------------------------------- fault injection


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusFault(_Step):
    """Answer this status without storing anything."""

    status: int = Field(ge=400, le=599)
    retry_after: int | None = Field(default=None, ge=0, le=3600)


class DelayBeforeFault(_Step):
    """Sleep, then handle the request normally (for client read-timeout tests)."""

    delay_before_s: float = Field(ge=0, le=60)


class CommitThenDelayFault(_Step):
    """Store the row, then sleep before answering: "response lost after commit"."""

    commit_then_delay_s: float = Field(ge=0, le=60)


class CommitThenStatusFault(_Step):
    """Store the row, then answer this status instead of the real answer."""

    commit_then_status: int = Field(ge=400, le=599)


FaultStep = StatusFault | DelayBeforeFault | CommitThenDelayFault | CommitThenStatusFault


class FaultPlan:
    """Steps for the next ``POST /api/v1/*`` requests, in order; one step per request.

    Touched only on the event loop (the middleware and async routes), so no lock.
    """

    def __init__(self) -> None:
        self._steps: deque[FaultStep] = deque()

    def replace(self, steps: Sequence[FaultStep]) -> None:
        self._steps = deque(steps)

    def take(self) -> FaultStep | None:
        return self._steps.popleft() if self._steps else None

    def pending(self) -> list[dict[str, Any]]:
        return [step.model_dump(exclude_none=True) for step in self._steps]


class FaultMiddleware:
    """Applies the :class:`FaultPlan` with ``asyncio.sleep``: a slow answer blocks nobody."""

    def __init__(self, app: ASGIApp, *, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        step = None
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith("/api/v1/")
        ):
            step = self.plan.take()
        if step is None:
            await self.app(scope, receive, send)
            return
        log.info("fault injection on %s: %s", scope["path"], step.model_dump(exclude_none=True))
        if isinstance(step, StatusFault):
            headers = None
            if step.retry_after is not None:
                headers = {"Retry-After": str(step.retry_after)}
            await _send_json(scope, receive, send, step.status, _injected(step.status), headers)
        elif isinstance(step, DelayBeforeFault):
            await asyncio.sleep(step.delay_before_s)
            await self.app(scope, receive, send)
        elif isinstance(step, CommitThenDelayFault):
            held: list[Message] = []
            await self.app(scope, receive, _collect_into(held))
            await asyncio.sleep(step.commit_then_delay_s)
            for message in held:
                await send(message)
        else:
            await self.app(scope, receive, _collect_into([]))
            status = step.commit_then_status
            await _send_json(scope, receive, send, status, _injected(status))


def _injected(status: int) -> dict[str, str]:
    return {"error": _error_name(status), "detail": f"injected fault: {status}"}


def _collect_into(held: list[Message]) -> Callable[[Message], Awaitable[None]]:
    async def collect(message: Message) -> None:
        held.append(message)

    return collect


faults = APIRouter(prefix="/_faults", include_in_schema=False)


def _fault_plan(request: Request) -> FaultPlan:
    plan: FaultPlan = request.app.state.faults
    return plan


Faults = Annotated[FaultPlan, Depends(_fault_plan)]


@faults.post("")
async def set_faults(steps: list[FaultStep], plan: Faults) -> dict[str, Any]:
    plan.replace(steps)
    return {"pending": plan.pending()}


@faults.get("")
async def show_faults(plan: Faults) -> dict[str, Any]:
    return {"pending": plan.pending()}


@faults.delete("")
async def clear_faults(plan: Faults) -> dict[str, Any]:
    plan.replace([])
    return {"pending": []}


# --------------------------------------------------------------------------- the app

_DESCRIPTION = """The FretCoach Hub ingest API (see `sync/hub-api.md`). Devices post finished
sessions and AI-mode practice plans with a per-device bearer token; re-posting the same
content is answered 200 and stores nothing, so clients retry freely."""


def create_app(
    *,
    database_url: str,
    tokens: dict[str, str],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    enable_faults: bool = False,
) -> FastAPI:
    """Build the server; creates the tables now, so a bad database fails here, not later."""
    auth = TokenAuth(tokens)
    if max_body_bytes < 1:
        raise HubServerConfigError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
    store = HubStore(make_engine(database_url))
    try:
        store.create_tables()
    except Exception:
        store.close()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="FretCoach Hub ingest API", version="1", description=_DESCRIPTION, lifespan=lifespan
    )
    app.state.auth = auth
    app.state.store = store
    _install_error_handlers(app)
    app.include_router(health)
    app.include_router(api)
    if enable_faults:
        app.state.faults = FaultPlan()
        app.include_router(faults)
        app.add_middleware(FaultMiddleware, plan=app.state.faults)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)  # outermost
    return app


def _log_config(level: str) -> dict[str, Any]:
    """Everything to stdout for journald, no own timestamps, no colours."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(name)s: %(message)s",
                "use_colors": False,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stdout",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "sync": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


def serve(
    *,
    host: str,
    port: int,
    database_url: str,
    tokens: dict[str, str],
    enable_faults: bool = False,
    log_level: str = "info",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Run the server until interrupted; logs go to stdout and never contain a token."""
    logging.config.dictConfig(_log_config(log_level))
    app = create_app(
        database_url=database_url,
        tokens=tokens,
        max_body_bytes=max_body_bytes,
        enable_faults=enable_faults,
    )
    auth: TokenAuth = app.state.auth
    log.info(
        "database %s; device tokens for %s; body limit %d bytes",
        make_url(database_url).render_as_string(hide_password=True),
        ", ".join(auth.users),
        max_body_bytes,
    )
    if enable_faults:
        log.warning("fault injection is ON (POST /_faults): for tests only")
    uvicorn.run(
        app, host=host, port=port, log_config=None, log_level=log_level, server_header=False
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync.hub_server",
        description="The reference FretCoach Hub ingest server (see sync/hub-api.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    parser.add_argument("--port", type=int, default=8787, help="default: %(default)s")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="PATH", help="SQLite database file (created if missing)")
    where.add_argument(
        "--database-url",
        metavar="URL",
        default=os.environ.get(DATABASE_URL_ENV),
        help=f"any SQLAlchemy URL, e.g. postgresql+psycopg://…; default: ${DATABASE_URL_ENV}",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN=USER",
        help=f"a device token and its user (repeatable); or set {TOKENS_ENV}=tok1=alice,…,"
        " which keeps tokens out of the process list",
    )
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument(
        "--enable-fault-injection",
        action="store_true",
        help="serve POST/GET/DELETE /_faults to fail, delay or drop answers (tests only)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    return parser


def collect_tokens(token_args: Sequence[str], env_value: str | None = None) -> dict[str, str]:
    """``--token`` arguments plus ``FRETCOACH_HUB_TOKENS`` (read from the environment when
    ``env_value`` is None); refuses to return none, since no request could then succeed."""
    if env_value is None:
        env_value = os.environ.get(TOKENS_ENV, "")
    tokens = tokens_from_env(env_value)
    for token, user in parse_token_args(token_args).items():
        if tokens.get(token, user) != user:
            raise HubServerConfigError(
                f"--token and {TOKENS_ENV} give one token to two users "
                f"({tokens[token]!r} and {user!r}); give each user its own token"
            )
        tokens[token] = user
    if not tokens:
        raise HubServerConfigError(
            f"no device tokens: pass --token TOKEN=USER or set {TOKENS_ENV}="
            "tok1=alice,tok2=bob; the Hub refuses to start without one"
        )
    return tokens


def resolve_database_url(db: str | None, database_url: str | None) -> str:
    """``--db PATH`` (SQLite) wins; else ``--database-url`` / ``DATABASE_URL``."""
    if db:
        return sqlite_url(db)
    if database_url:
        return database_url
    raise HubServerConfigError(
        f"no database: pass --db PATH (SQLite) or --database-url URL (or set ${DATABASE_URL_ENV})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        tokens = collect_tokens(args.token)
        database_url = resolve_database_url(args.db, args.database_url)
    except HubServerConfigError as err:
        parser.error(str(err))  # exits 2 after the usage line
    try:
        serve(
            host=args.host,
            port=args.port,
            database_url=database_url,
            tokens=tokens,
            enable_faults=args.enable_fault_injection,
            log_level=args.log_level,
            max_body_bytes=args.max_body_bytes,
        )
    except (HubServerConfigError, SQLAlchemyError, ModuleNotFoundError) as err:
        hint = ""
        if isinstance(err, ModuleNotFoundError) and not database_url.startswith("sqlite"):
            hint = " (install the database driver, e.g. pip install 'psycopg[binary]')"
        print(f"fretcoach hub: cannot start: {err}{hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
