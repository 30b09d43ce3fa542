"""What one client may cost the Hub: its token before its body, a size limit and deadlines.

Outermost first: :class:`TokenGateMiddleware` answers 401 before a byte of the body is
read, and 429 to an address with too many recent failures (a :class:`FailureLimit`),
held back a while so a client that ignores ``Retry-After`` waits anyway;
:class:`BodyLimitMiddleware` reads the body against ``--max-body-bytes`` and
``--body-timeout``; :func:`header_deadline_protocol` closes connections whose headers
never finish (uvicorn has no such timeout of its own).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from typing import Protocol

import h11
from anyio import to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from dsp.errors import HubError
from sync.hub.answers import error_answer

log = logging.getLogger(__name__)

GATED_PREFIX = "/api/"  # every route that takes a body or shows data needs a token
# How long a blocked address waits for its 429 (at most until its block ends).
BLOCKED_DELAY_S = 5.0
# Pairing and sign-in take a few short form fields from anyone: 16 KiB is plenty, and an
# anonymous client may not make the Hub buffer more.
OPEN_BODY_BYTES = 16 * 1024


class Resolver(Protocol):
    """Maps a bearer token to its user (:class:`sync.hub.identity.Identity`)."""

    async def resolve(self, presented: str | None) -> str:
        """The user; a 401 :class:`HubError` for a missing, unknown or revoked token."""
        ...


# Where the gate leaves the token's user for the routes (``request.state.hub_user``).
USER_STATE_KEY = "hub_user"


class FailureLimit(Protocol):
    """Counts failed authentications per client address and says which are blocked.

    The Hub's is :class:`sync.hub.throttle.SharedFailureLimit`: counted in the database, so
    every worker and host shares one count.
    """

    @property
    def window_s(self) -> float:
        """How long a block lasts, for the log."""
        ...

    def hit(self, address: str) -> bool:
        """Count one failure for ``address``; True if that blocks it from now on.

        May touch the database: the gate calls it off the event loop."""
        ...

    def blocked(self, address: str) -> float:
        """Seconds until ``address`` may fail again, 0.0 if it is not blocked; from memory,
        cheap enough for the event loop."""
        ...


class TokenGateMiddleware:
    """401 for a missing or unknown token on ``/api/*``, before the body is read; 429 for
    one from an address ``failures`` has blocked.

    A request that announced a body is answered with ``Connection: close``, so its body is
    never read: an anonymous client cannot make the Hub buffer or even wait for 2 MiB. A
    blocked address's 429 always closes the connection. A valid token is never refused
    here, whatever its address did before. The token's user is left in the request state
    (:data:`USER_STATE_KEY`), so the routes never look it up twice.

    The 429 is held back up to ``blocked_delay_s`` (never past the block's end) before it
    is sent. Attackers ignore ``Retry-After`` and come straight back: answered at once, a
    few clients posting back to back make the Hub accept and answer hundreds of
    connections a second (4 such clients cut a device's throughput to a quarter). Held,
    each costs one idle connection (uvicorn stops reading its body past 64 KiB) and a timer,
    and a client that waits for its answer makes a request every ``blocked_delay_s``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: Resolver,
        failures: FailureLimit | None = None,
        blocked_delay_s: float = BLOCKED_DELAY_S,
    ) -> None:
        self.app = app
        self.auth = auth
        self.failures = failures
        self.blocked_delay_s = blocked_delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(GATED_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            user = await self.auth.resolve(_bearer_token(scope))
        except HubError as err:
            await self._refuse(err, scope, receive, send)
            return
        scope.setdefault("state", {})[USER_STATE_KEY] = user
        await self.app(scope, receive, send)

    async def _count_failure(self, address: str) -> bool:
        """``failures.hit`` off the event loop; a database that cannot count is no reason to
        refuse anyone, so its error is logged and the failure goes uncounted."""
        assert self.failures is not None
        try:
            return await to_thread.run_sync(self.failures.hit, address)
        except SQLAlchemyError as err:
            log.warning("cannot count a failed token from %s: %s", address, err)
            return False

    async def _refuse_blocked(
        self, wait_s: float, scope: Scope, receive: Receive, send: Send
    ) -> None:
        held_s = min(wait_s, self.blocked_delay_s)
        await asyncio.sleep(held_s)
        answer = error_answer(
            429,
            "too many requests without a valid device token from this address; "
            "wait Retry-After seconds, then send the device's FRETCOACH_HUB_TOKEN",
            headers={
                "Retry-After": str(max(1, math.ceil(wait_s - held_s))),
                "Connection": "close",
            },
        )
        await answer(scope, receive, send)

    async def _refuse(self, err: HubError, scope: Scope, receive: Receive, send: Send) -> None:
        address = _client_address(scope)
        # A 503 (the Hub could not check the token) is no failure of the client's.
        if err.status == 401 and self.failures is not None and address is not None:
            wait_s = self.failures.blocked(address)
            if wait_s > 0:
                await self._refuse_blocked(wait_s, scope, receive, send)
                return
            if await self._count_failure(address):
                log.warning(
                    "%s sent too many requests without a valid token; refusing it for %g s",
                    address,
                    self.failures.window_s,
                )
        headers = dict(err.headers or {})
        if _has_body(scope):
            headers["Connection"] = "close"
        answer = error_answer(err.status, err.detail, error=err.error, headers=headers)
        await answer(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over ``max_body_bytes``: by Content-Length, and by counting chunks;
    408 (and the connection closed) for a body still unfinished ``body_timeout_s`` after
    its headers, so a client dribbling bytes holds its connection for a bounded time.

    The body is read here (it is at most the limit) and replayed to the app, so a client
    that lies about its length or streams chunked gets the same answer. Over the limit we
    still read and discard up to four times the limit before answering: clients such as
    ``requests`` send the whole body before they read, and closing on them makes the 413
    a "connection reset". Beyond that we answer at once and let the connection drop.
    Paths outside ``/api/`` (pairing, sign-in: no token) are held to
    :data:`OPEN_BODY_BYTES`.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.drain_bytes = 4 * max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if not scope["path"].startswith(GATED_PREFIX):
            limit = min(limit, OPEN_BODY_BYTES)
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._read(scope, receive, send, limit)
        except TimeoutError:
            await self._too_slow(scope, receive, send)
            return
        if body is None:
            return  # answered already, or the client left
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # http.disconnect, for apps that watch for it
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send, limit: int) -> bytes | None:
        """The whole body, or None once a 413 is sent or the client has gone."""
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= self.drain_bytes:
                await self._discard(receive)
            await self._too_large(scope, receive, send, limit)
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the client left; there is nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                if more:
                    await self._discard(receive, already=size)
                await self._too_large(scope, receive, send, limit)
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning(
            "closed a request on %s whose body took over %g s", scope["path"], self.body_timeout_s
        )
        answer = error_answer(
            408,
            f"the body did not arrive within {self.body_timeout_s:g} s; "
            "retry on a faster link or raise the server's --body-timeout",
            headers={"Connection": "close"},
        )
        await answer(scope, receive, send)

    async def _discard(self, receive: Receive, *, already: int = 0) -> None:
        read = already
        while read <= self.drain_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.warning("refused a body over %d bytes on %s", limit, scope["path"])
        if scope["path"].startswith(GATED_PREFIX):
            fix = "send fewer notes or raise the server's --max-body-bytes"
        else:  # pairing and sign-in: a few short fields, whatever --max-body-bytes says
            fix = "this route takes a few short form fields"
        answer = error_answer(
            413,
            f"the body is over the Hub's {limit}-byte limit; {fix}",
            headers={"Connection": "close"},
        )
        await answer(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server rejects such a request before we see it
    return None


def _bearer_token(scope: Scope) -> str | None:
    """The credentials of ``Authorization: Bearer <token>`` (scheme in any case), else None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


def _client_address(scope: Scope) -> str | None:
    """The peer's IP (uvicorn's ``--forwarded-allow-ips`` decides whether a proxy's
    ``X-Forwarded-For`` replaces it); None for a Unix socket or a test client without one."""
    client = scope.get("client")
    return client[0] if client else None


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


_HEADER_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"Content-Type: application/json\r\n"
    b"Connection: close\r\n"
    b"Content-Length: 74\r\n\r\n"
    b'{"error":"timeout","detail":"the request headers did not arrive in time"}\n'
)


class _HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline on headers (uvicorn times only idle keep-alive).

    The clock starts when a connection opens, or when the first byte of a later request
    arrives; it stops once h11 has a whole request. A connection still without one at the
    deadline is answered 408 and closed, so a client dribbling headers cannot hold a slot.
    """

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and self.cycle_done:
            self._arm_header_timer()  # a new request has begun; its headers are not all here
        else:
            self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    @property
    def cycle_done(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if not self.cycle_done:
            return
        log.info("closed a connection whose request headers took over %g s", self.header_timeout_s)
        self.transport.write(_HEADER_TIMEOUT_ANSWER)
        self.transport.close()


def header_deadline_protocol(header_timeout_s: float) -> type[H11Protocol]:
    """The protocol class for ``uvicorn.run(http=…)`` with this header deadline."""
    return type(
        "HeaderDeadlineH11Protocol",
        (_HeaderDeadlineProtocol,),
        {"header_timeout_s": header_timeout_s},
    )


# `hub serve --workers N`: spawned workers import the protocol by name, so its deadline
# comes from their environment, where the parent put it.
HEADER_TIMEOUT_ENV = "FRETCOACH_HUB_HEADER_TIMEOUT"


class EnvHeaderDeadlineProtocol(_HeaderDeadlineProtocol):
    """The header deadline protocol of a worker process (see :data:`HEADER_TIMEOUT_ENV`)."""

    header_timeout_s = float(os.environ.get(HEADER_TIMEOUT_ENV) or 10.0)
