"""The request size limit: 413 for a body over ``--max-body-bytes``, however it is framed."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.hub.answers import error_answer

log = logging.getLogger(__name__)


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
