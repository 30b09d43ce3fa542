"""The RFC 8628 endpoints a device talks to while it pairs: no token yet, so no ``/api/``.

``POST /oauth/device_authorization`` hands out a device code and a user code;
``POST /oauth/token`` answers each poll with the RFC's errors until the user decides.
Both take ``application/x-www-form-urlencoded`` bodies as RFC 6749 §4.1.3 asks, and answer
errors in its shape, ``{"error": …, "error_description": …}`` (§5.2), not the Hub's own.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import parse_qs, urlencode

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sync.hub.pairing import DEVICE_CODE_GRANT, Pairing, TokenRequestError
from sync.hub.throttle import PAIR, Throttle

log = logging.getLogger(__name__)

router = APIRouter(prefix="/oauth", tags=["pairing"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded body as {name: first value}; a JSON object is taken too (scripts)."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json reads
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in parsed.items()}


def oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**NO_STORE, **headers},
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def public_base(request: Request) -> str:
    """The Hub's address as people reach it: ``--public-url``, else this request's."""
    configured: str | None = request.app.state.public_url
    return (configured or str(request.base_url)).rstrip("/")


@router.post("/device_authorization", summary="RFC 8628 §3.1: start pairing a device")
async def device_authorization(request: Request) -> Any:
    form = await form_fields(request)
    if not form.get("client_id"):
        return oauth_error(400, "invalid_request", "client_id is required, e.g. fretcoach-portable")
    throttle: Throttle = request.app.state.throttle
    wait_s = await to_thread.run_sync(throttle.allow, PAIR, client_address(request))
    if wait_s:
        return oauth_error(
            429,
            "slow_down",
            "too many pairing requests from this address; wait Retry-After seconds",
            **{"Retry-After": str(math.ceil(wait_s))},
        )
    name = (form.get("device_name") or form["client_id"]).strip()[:128] or "device"
    pairing: Pairing = request.app.state.pairing
    grant = await to_thread.run_sync(pairing.start, name)
    base = public_base(request)
    verification_uri = f"{base}/device"
    log.info("pairing started for device %r", name)
    return JSONResponse(
        {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": (
                f"{verification_uri}?{urlencode({'user_code': grant.user_code})}"
            ),
            "expires_in": grant.expires_in,
            "interval": grant.interval,
        },
        headers=NO_STORE,
    )


@router.post("/token", summary="RFC 8628 §3.4: poll for the device token")
async def token(request: Request) -> Any:
    form = await form_fields(request)
    if not form.get("grant_type"):
        # Missing, or a body that could not be read at all: malformed, not a grant (§5.2).
        return oauth_error(
            400,
            "invalid_request",
            f"grant_type is required: send a form, grant_type={DEVICE_CODE_GRANT}&device_code=…",
        )
    if form["grant_type"] != DEVICE_CODE_GRANT:
        return oauth_error(
            400, "unsupported_grant_type", f"this Hub issues tokens for {DEVICE_CODE_GRANT} only"
        )
    if not form.get("device_code"):
        return oauth_error(400, "invalid_request", "device_code is required")
    pairing: Pairing = request.app.state.pairing
    try:
        issued = await to_thread.run_sync(pairing.poll, form["device_code"])
    except TokenRequestError as refused:
        return oauth_error(400, refused.error, refused.description)
    log.info("device %s paired with user %s", issued.device_ref, issued.user_id)
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "user_id": issued.user_id,
            "device_ref": issued.device_ref,
        },
        headers=NO_STORE,
    )
