"""What one client may cost the Hub: its token before its body, a size limit and deadlines.

Outermost first: :class:`TokenGateMiddleware` answers 401 before a byte of the body is
read; :class:`BodyLimitMiddleware` reads the body against ``--max-body-bytes`` and
``--body-timeout``; :func:`header_deadline_protocol` closes connections whose headers
never finish (uvicorn has no such timeout of its own).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from dsp.errors import HubError
from sync.hub.answers import error_answer
from sync.hub.auth import TokenAuth

log = logging.getLogger(__name__)

GATED_PREFIX = "/api/"  # every route that takes a body or shows data needs a token


class TokenGateMiddleware:
    """401 for a missing or unknown token on ``/api/*``, before the body is read.

    A request that announced a body is answered with ``Connection: close``, so its body is
    never read: an anonymous client cannot make the Hub buffer or even wait for 2 MiB.
    (The routes still map the token to its user; this only decides who may send.)
    """

    def __init__(self, app: ASGIApp, *, auth: TokenAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(GATED_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            self.auth.user_for(_bearer_token(scope))
        except HubError as err:
            headers = dict(err.headers or {})
            if _has_body(scope):
                headers["Connection"] = "close"
            answer = error_answer(err.status, err.detail, error=err.error, headers=headers)
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over ``max_body_bytes``: by Content-Length, and by counting chunks;
    408 (and the connection closed) for a body still unfinished ``body_timeout_s`` after
    its headers, so a client dribbling bytes holds its connection for a bounded time.

    The body is read here (it is at most the limit) and replayed to the app, so a client
    that lies about its length or streams chunked gets the same answer. Over the limit we
    still read and discard up to four times the limit before answering: clients such as
    ``requests`` send the whole body before they read, and closing on them makes the 413
    a "connection reset". Beyond that we answer at once and let the connection drop.
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
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._read(scope, receive, send)
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

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a 413 is sent or the client has gone."""
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            if declared <= self.drain_bytes:
                await self._discard(receive)
            await self._too_large(scope, receive, send)
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
            if size > self.max_body_bytes:
                if more:
                    await self._discard(receive, already=size)
                await self._too_large(scope, receive, send)
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

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.warning("refused a body over %d bytes on %s", self.max_body_bytes, scope["path"])
        answer = error_answer(
            413,
            f"the body is over the Hub's {self.max_body_bytes}-byte limit; "
            "send fewer notes or raise the server's --max-body-bytes",
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
