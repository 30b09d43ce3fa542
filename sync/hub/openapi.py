"""What ``GET /openapi.json`` says beyond the models: the title and each route's answers.

The answers listed here are the contract's (``sync/hub-api.md``); the routes name them in
their decorators, so a route's documented errors and the prose cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sync.hub.models import ErrorAnswer, InvalidAnswer

TITLE = "FretCoach Hub ingest API"
VERSION = "1"
DESCRIPTION = """The FretCoach Hub ingest API (see `sync/hub-api.md`). Devices pair with a
user by the OAuth 2.0 Device Authorization Grant (RFC 8628, `/oauth/*`), then post
finished sessions and AI-mode practice plans with their bearer token; the token says whose
they are. Re-posting the same content is answered 200 and stores nothing, so clients retry
freely."""

Answers = dict[int | str, dict[str, Any]]


def ingest_answers(ok: type[BaseModel], what: str) -> Answers:
    """The answers of a ``POST /api/v1/*`` that stores ``what`` exactly once."""
    return {
        200: {"model": ok, "description": f"the same {what} again, same content: not stored"},
        401: {"model": ErrorAnswer, "description": "missing, unknown or revoked device token"},
        408: {"model": ErrorAnswer, "description": "the body arrived too slowly; closed"},
        409: {"model": ErrorAnswer, "description": f"the same id with different {what} content"},
        413: {"model": ErrorAnswer, "description": "body over the size limit"},
        422: {"model": InvalidAnswer, "description": "invalid body or headers"},
        429: {"model": ErrorAnswer, "description": "overloaded; may carry Retry-After"},
        503: {"model": ErrorAnswer, "description": "unavailable; may carry Retry-After"},
    }


LIST_ANSWERS: Answers = {
    401: {"model": ErrorAnswer, "description": "missing, unknown or revoked device token"},
    403: {"model": ErrorAnswer, "description": "user_id is not the token's user"},
    422: {"model": InvalidAnswer, "description": "invalid query"},
}
