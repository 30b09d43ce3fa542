"""How the Hub says no: every error answer is ``{"error": name, "detail": …}`` JSON, built here.

The routes raise :class:`~dsp.errors.HubError`; the handlers below turn it, FastAPI's
validation errors, unknown paths, a busy database and crashes into that one shape, and the
middlewares (body limit, fault injection) answer with :func:`error_answer` directly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dsp.errors import HubError

log = logging.getLogger(__name__)

_STATUS_ERRORS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    500: "internal",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


def error_name(status: int) -> str:
    """The ``error`` word for an HTTP status: ``409`` → ``"conflict"``."""
    return _STATUS_ERRORS.get(status, f"http_{status}")


def error_answer(
    status: int,
    detail: Any,
    *,
    error: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one writer of an error body; ``error`` defaults to the status's name."""
    return JSONResponse(
        {"error": error or error_name(status), "detail": detail},
        status_code=status,
        headers=headers,
    )


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "header", "path", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _field_errors(exc: RequestValidationError, content_type: str) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        if tuple(err.get("loc", ())) == ("body",) and not _is_json(content_type):
            # FastAPI reads a body not labelled JSON as bytes, and then says only that it
            # is no object: name the header that made it so.
            shown = content_type or "none"
            errors.append(
                {
                    "field": "body",
                    "message": f"send the body as JSON with Content-Type: application/json "
                    f"(this request's Content-Type: {shown})",
                }
            )
            continue
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "malformed")
            errors.append({"field": "body", "message": f"the body is not valid JSON: {reason}"})
            continue
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")  # our validators' own words
        errors.append({"field": _field_name(err.get("loc", ())), "message": message})
    return errors


_FASTAPI_PARSE_FAILURE = "There was an error parsing the body"


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """What was wrong with a JSON body FastAPI could not parse, or None for other errors.

    FastAPI answers a body that is not UTF-8, or nested deeper than Python's JSON parser
    recurses, with a bare 400 "There was an error parsing the body"; the contract says a
    malformed body is a 422 on field ``body`` that names the fix, as for broken JSON.
    """
    if exc.status_code != 400 or exc.detail != _FASTAPI_PARSE_FAILURE:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"the body is not valid UTF-8 (byte {cause.start}: {cause.reason}); "
            "send the JSON encoded as UTF-8"
        )
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deep to read (no Hub body nests more than 3 levels)"
    if isinstance(cause, ValueError):  # e.g. an integer of over 4300 digits
        return "the body could not be read as JSON (a number too long to read?)"
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure a request can meet to :func:`error_answer`."""

    async def on_hub_error(_request: Request, exc: HubError) -> JSONResponse:
        return error_answer(exc.status, exc.detail, error=exc.error, headers=exc.headers)

    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        return error_answer(422, _field_errors(exc, content_type), error="invalid")

    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unreadable = _unreadable_body(exc)
        if unreadable is not None:
            return error_answer(422, [{"field": "body", "message": unreadable}], error="invalid")
        return error_answer(exc.status_code, exc.detail, headers=exc.headers)

    async def on_database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        # "database is locked" or a lost PostgreSQL connection: transient, so ask for a retry.
        log.warning("database unavailable: %s", getattr(exc, "orig", exc))
        return error_answer(
            503, "the Hub database is busy or down; retry later", headers={"Retry-After": "5"}
        )

    async def on_crash(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer goes out.
        return error_answer(500, "the Hub failed; it is logged, retry later")

    app.add_exception_handler(HubError, on_hub_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(Exception, on_crash)
