"""The Hub's HTTP routes: ``/api/v1/*`` (ingest and listing, behind a token) and ``/healthz``.

A new route goes on :data:`api` (or on :data:`health` if it needs no token), and
:func:`sync.hub.app.create_app` mounts both. Rows go through
:class:`~sync.hub.storage.HubStore`; a refusal is raised as :class:`~dsp.errors.HubError`
and written by :mod:`sync.hub.answers`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from dsp.errors import HubError
from sync.hub.limits import USER_STATE_KEY
from sync.hub.models import (
    IngestResult,
    PlanIngestResult,
    PracticePlanIn,
    SessionIn,
    SessionList,
    SessionSummaryIn,
    SummaryIngestResult,
)
from sync.hub.openapi import LIST_ANSWERS, ingest_answers
from sync.hub.storage import HubStore

log = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", SessionIn, PracticePlanIn, SessionSummaryIn)

_bearer = HTTPBearer(
    auto_error=False, description="the device token; the Hub maps each token to one user"
)


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The token's user, as :class:`~sync.hub.limits.TokenGateMiddleware` resolved it."""
    user = getattr(request.state, USER_STATE_KEY, None)
    if user is None:  # the gate always sets it on /api/*; resolve anyway rather than trust
        user = await request.app.state.identity.resolve(
            credentials.credentials if credentials else None
        )
    return str(user)


async def _hub_store(request: Request) -> HubStore:
    store: HubStore = request.app.state.store
    return store


CurrentUser = Annotated[str, Depends(_current_user)]
Store = Annotated[HubStore, Depends(_hub_store)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="must equal the body's id"),
]


def _invalid(field: str, message: str) -> HubError:
    return HubError(422, "invalid", [{"field": field, "message": message}])


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
            "list with that user's token",
        )


def _owned(record: ModelT, user: str) -> ModelT:
    """The record as the token's user's: identity comes from the token, never the body.

    A session recorded before the device was paired (under the default user) or under
    another id is stored as the token's user's, so nothing recorded is ever stranded.
    """
    return record if record.user_id == user else record.model_copy(update={"user_id": user})


def _answer_outcome(outcome: str, response: Response, *, conflict: str) -> None:
    """201 for a new row (the route's default), 200 for anything else stored, 409 a clash."""
    if outcome == "conflict":
        raise HubError(409, "conflict", conflict)
    if outcome != "created":
        response.status_code = 200


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s object hook: a key twice in one object is refused, not resolved.

    Python keeps the last value, so ``{"pitch_accuracy": 0.9, …, "pitch_accuracy": 0.1}``
    was stored as 0.1 and the 0.9 silently dropped; which one the sender meant is unknown.
    Raised as a JSONDecodeError, FastAPI answers it as malformed JSON: a 422 on ``body``.
    """
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise json.JSONDecodeError(
                f"the key {key!r} appears twice in one object (send each field once)", "", 0
            )
        seen[key] = value
    return seen


class _OneValuePerKeyRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=_refuse_repeated_keys)
        return self._json


class OneValuePerKeyRoute(APIRoute):
    """A route whose JSON body may not repeat a key in any object (see
    :func:`_refuse_repeated_keys`)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def one_value_per_key(request: Request) -> Response:
            return await handler(_OneValuePerKeyRequest(request.scope, request.receive))

        return one_value_per_key


api = APIRouter(prefix="/api/v1", route_class=OneValuePerKeyRoute)


@api.post(
    "/sessions",
    status_code=201,
    response_model=IngestResult,
    responses=ingest_answers(IngestResult, "session"),
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
    session = _owned(session, user)
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
    responses=LIST_ANSWERS,
    summary="List a user's sessions, newest first (without notes)",
)
def list_sessions(
    user: CurrentUser,
    store: Store,
    user_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SessionList:
    if user_id is not None:
        _check_owner(user, user_id)
    return SessionList(sessions=store.sessions_of(user, limit=limit))


@api.post(
    "/practice-plans",
    status_code=201,
    response_model=PlanIngestResult,
    responses=ingest_answers(PlanIngestResult, "practice plan"),
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
    plan = _owned(plan, user)
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
    responses=ingest_answers(SummaryIngestResult, "session summary"),
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
    summary = _owned(summary, user)
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


@health.get("/healthz", summary="Liveness; no token needed (HEAD too)")
async def healthz() -> Health:
    return Health(status="ok")


@health.head("/healthz", include_in_schema=False)
async def healthz_head() -> Response:
    """HEAD is what many uptime monitors and ``curl -I`` send; it got 405 before. Kept out
    of the OpenAPI document: one route for two methods gave both one operationId."""
    return Response(status_code=200)
