"""Fault injection for tests (``--enable-fault-injection``; off unless asked for).

``POST /_faults`` queues steps that fail, delay or drop the next ``POST /api/v1/*``
answers the way an overloaded Hub or a flaky network would.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.hub.answers import error_answer

log = logging.getLogger(__name__)


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


class CommitThenDribbleFault(_Step):
    """Store the row, then send the real answer's body one byte every this many seconds:
    a link or proxy so slow that each read arrives inside the client's read timeout while
    the whole answer takes far longer."""

    commit_then_dribble_s: float = Field(gt=0, le=60)


class CommitThenGzipFault(_Step):
    """Store the row, then send the real answer gzipped with ``Content-Encoding: gzip``, as
    a reverse proxy that compresses JSON does (whatever the client asked for)."""

    commit_then_gzip: Literal[True]


class PortalFault(_Step):
    """Answer as a Wi-Fi captive portal would, storing nothing: ``page``, 200 with an HTML
    sign-in page; ``redirect``, 302 to the portal."""

    portal: Literal["page", "redirect"]


FaultStep = (
    StatusFault
    | DelayBeforeFault
    | CommitThenDelayFault
    | CommitThenStatusFault
    | CommitThenDribbleFault
    | CommitThenGzipFault
    | PortalFault
)
PORTAL_URL = "http://portal.example/login"


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
            await _injected(step.status, headers)(scope, receive, send)
        elif isinstance(step, DelayBeforeFault):
            await asyncio.sleep(step.delay_before_s)
            await self.app(scope, receive, send)
        elif isinstance(step, PortalFault):
            await _portal(step.portal)(scope, receive, send)
        elif isinstance(step, CommitThenDelayFault):
            held: list[Message] = []
            await self.app(scope, receive, _collect_into(held))
            await asyncio.sleep(step.commit_then_delay_s)
            for message in held:
                await send(message)
        elif isinstance(step, CommitThenDribbleFault):
            held = []
            await self.app(scope, receive, _collect_into(held))
            await _dribble(held, step.commit_then_dribble_s, send)
        elif isinstance(step, CommitThenGzipFault):
            held = []
            await self.app(scope, receive, _collect_into(held))
            await _gzipped(held, send)
        else:
            await self.app(scope, receive, _collect_into([]))
            await _injected(step.commit_then_status)(scope, receive, send)


def _injected(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return error_answer(status, f"injected fault: {status}", headers=headers)


def _portal(kind: str) -> Response:
    if kind == "redirect":
        return RedirectResponse(PORTAL_URL, status_code=302)
    return HTMLResponse("<html><body><h1>Welcome! Sign in to use the Wi-Fi</h1></body></html>")


async def _dribble(held: list[Message], every_s: float, send: Send) -> None:
    """Send the held answer's headers at once and its body one byte every ``every_s``. A
    client that hangs up meanwhile does not end it (uvicorn drops sends on a closed
    connection): the rest of the short body is dribbled into the void."""
    start, body = _held_answer(held)
    try:
        await send(start)
        for i in range(len(body)):
            await send({"type": "http.response.body", "body": body[i : i + 1], "more_body": True})
            await asyncio.sleep(every_s)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        log.info("fault injection: the client left during a dribbled answer")


async def _gzipped(held: list[Message], send: Send) -> None:
    """Send the held answer with its body gzipped and the headers to say so."""
    start, body = _held_answer(held)
    packed = gzip.compress(body)
    headers = [
        (name, value)
        for name, value in start.get("headers", [])
        if name.lower() not in (b"content-length", b"content-encoding")
    ]
    headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(packed)).encode())]
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": packed, "more_body": False})


def _held_answer(held: list[Message]) -> tuple[Message, bytes]:
    """The answer the app sent into ``held``: its start message and its whole body."""
    body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
    return next(m for m in held if m["type"] == "http.response.start"), body


def _collect_into(held: list[Message]) -> Callable[[Message], Awaitable[None]]:
    async def collect(message: Message) -> None:
        held.append(message)

    return collect


router = APIRouter(prefix="/_faults", include_in_schema=False)


def _fault_plan(request: Request) -> FaultPlan:
    plan: FaultPlan = request.app.state.faults
    return plan


Faults = Annotated[FaultPlan, Depends(_fault_plan)]


@router.post("")
async def set_faults(steps: list[FaultStep], plan: Faults) -> dict[str, Any]:
    plan.replace(steps)
    return {"pending": plan.pending()}


@router.get("")
async def show_faults(plan: Faults) -> dict[str, Any]:
    return {"pending": plan.pending()}


@router.delete("")
async def clear_faults(plan: Faults) -> dict[str, Any]:
    plan.replace([])
    return {"pending": []}
