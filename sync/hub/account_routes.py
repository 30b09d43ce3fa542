"""Where a person signs in, approves a device's user code, and lists or revokes devices.

Two faces on the same rules: a JSON API under ``/account/`` (for scripts, tests and any
app) and a small HTML page at ``/device`` (the ``verification_uri`` a device shows, with
no script and nothing from a CDN). Both use the sign-in cookie; every change needs the
session's CSRF token, in ``X-CSRF-Token`` or the form's ``csrf_token`` field. Sign-in
and approval attempts are rate limited in the database (:mod:`sync.hub.throttle`).
"""

from __future__ import annotations

import html
import math
from typing import Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sync.hub import web
from sync.hub.accounts import SESSION_COOKIE, SESSION_LIFETIME, Accounts, SignedIn, csrf_ok
from sync.hub.answers import error_answer
from sync.hub.pairing import Pairing
from sync.hub.pairing_routes import client_address, form_fields
from sync.hub.throttle import APPROVE, SIGN_IN, Throttle

router = APIRouter(tags=["account"])


# --------------------------------------------------------------------------- shared steps


async def _sign_in(request: Request, user_id: str, password: str) -> tuple[str, SignedIn] | str:
    """(cookie, session) for the right password; else why not, in one line."""
    throttle: Throttle = request.app.state.throttle
    accounts: Accounts = request.app.state.accounts
    # Failures count, per address and per user (a botnet guessing one user's password
    # meets the second), and a blocked key is refused before the password is checked.
    keys = (f"addr:{client_address(request)}", f"user:{user_id[:128]}")
    for who in keys:
        wait_s = await to_thread.run_sync(throttle.blocked, SIGN_IN, who)
        if wait_s:
            return f"too many sign-in attempts; try again in {math.ceil(wait_s)} s"
    if not await to_thread.run_sync(accounts.verify, user_id, password):
        for who in keys:
            await to_thread.run_sync(throttle.allow, SIGN_IN, who)
        return "wrong user or password"
    return await to_thread.run_sync(accounts.sign_in, user_id)


def _set_cookie(response: Response, request: Request, cookie: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",  # the link from a scanned QR code is a top-level navigation
        path="/",
    )


async def _decide(request: Request, who: SignedIn, user_code: str, *, approve: bool) -> str | None:
    """'approved' / 'denied'; None for no such pending code; 'rate_limited' when throttled."""
    throttle: Throttle = request.app.state.throttle
    if await to_thread.run_sync(throttle.allow, APPROVE, who.user_id):
        return "rate_limited"
    pairing: Pairing = request.app.state.pairing
    done = await to_thread.run_sync(lambda: pairing.decide(user_code, who.user_id, approve=approve))
    return ("approved" if approve else "denied") if done else None


# --------------------------------------------------------------------------- JSON API


@router.post("/account/sign-in", summary="Sign in; sets the session cookie")
async def api_sign_in(request: Request) -> Any:
    form = await form_fields(request)
    result = await _sign_in(request, form.get("user_id", ""), form.get("password", ""))
    if isinstance(result, str):
        status = 429 if result.startswith("too many") else 401
        return error_answer(status, result)
    cookie, who = result
    response = JSONResponse({"user_id": who.user_id, "csrf_token": who.csrf_token})
    _set_cookie(response, request, cookie)
    return response


async def _api_user(request: Request, *, change: bool) -> SignedIn | JSONResponse:
    who = await web.signed_in(request)
    if who is None:
        return error_answer(401, "sign in first: POST /account/sign-in")
    if change and not csrf_ok(who, request.headers.get("x-csrf-token")):
        return error_answer(403, "send the csrf_token from sign-in as X-CSRF-Token")
    return who


@router.post("/account/sign-out", summary="End this browser session")
async def api_sign_out(request: Request) -> Any:
    who = await _api_user(request, change=True)
    if isinstance(who, JSONResponse):
        return who
    accounts: Accounts = request.app.state.accounts
    await to_thread.run_sync(accounts.sign_out, request.cookies.get(SESSION_COOKIE))
    response = JSONResponse({"result": "signed_out"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/account/approve", summary="Approve or deny a device's user code")
async def api_approve(request: Request) -> Any:
    who = await _api_user(request, change=True)
    if isinstance(who, JSONResponse):
        return who
    form = await form_fields(request)
    approve = str(form.get("approve", "true")).lower() not in ("false", "0", "no")
    outcome = await _decide(request, who, form.get("user_code", ""), approve=approve)
    if outcome == "rate_limited":
        return error_answer(429, "too many codes tried; wait a few minutes")
    if outcome is None:
        return error_answer(404, "no pending pairing with that code: check it, or start again")
    return JSONResponse({"result": outcome})


@router.get("/account/devices", summary="The signed-in user's paired devices")
async def api_devices(request: Request) -> Any:
    who = await _api_user(request, change=False)
    if isinstance(who, JSONResponse):
        return who
    pairing: Pairing = request.app.state.pairing
    devices = await to_thread.run_sync(pairing.devices_of, who.user_id)
    return JSONResponse(
        {
            "devices": [
                {
                    "device_ref": d.device_ref,
                    "device_name": d.device_name,
                    "created_at": d.created_at.isoformat(),
                    "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
                }
                for d in devices
            ]
        }
    )


@router.post("/account/devices/{device_ref}/revoke", summary="Revoke one of your devices")
async def api_revoke(request: Request, device_ref: str) -> Any:
    who = await _api_user(request, change=True)
    if isinstance(who, JSONResponse):
        return who
    pairing: Pairing = request.app.state.pairing
    if not await to_thread.run_sync(pairing.revoke, who.user_id, device_ref[:32]):
        return error_answer(404, "no such device of yours, or it is already revoked")
    return JSONResponse({"device_ref": device_ref, "result": "revoked"})


# --------------------------------------------------------------------------- HTML page

# Where a sign-in form may send the browser next, by name: a form field names a page of the
# Hub's own, never an address (no open redirect to another site).
AFTER_SIGN_IN = {"sessions": "/sessions"}


def sign_in_form(user_code: str = "", message: str = "", *, then: str = "") -> str:
    """The sign-in form; ``then`` (a key of :data:`AFTER_SIGN_IN`) is where it leads."""
    note = f'<p class="note" id="message">{html.escape(message)}</p>' if message else ""
    after = (
        f'<input type="hidden" name="then" value="{html.escape(then)}">'
        if then in AFTER_SIGN_IN
        else ""
    )
    return f"""{note}<form method="post" action="/device/sign-in">
<input type="hidden" name="user_code" value="{html.escape(user_code)}">{after}
<label>User <input name="user_id" autocomplete="username" required></label><br>
<label>Password <input name="password" type="password" autocomplete="current-password"
 required></label><br><button type="submit" id="sign-in">Sign in</button></form>"""


async def _approval_body(request: Request, who: SignedIn, user_code: str, message: str) -> str:
    pairing: Pairing = request.app.state.pairing
    csrf = html.escape(who.csrf_token)
    parts = [
        f"<p>Signed in as <b>{html.escape(who.user_id)}</b>.</p>"
        '<nav><a href="/sessions" id="sessions-link">Your sessions</a></nav>'
    ]
    if message:
        parts.append(f'<p class="note" id="message">{html.escape(message)}</p>')
    pending = await to_thread.run_sync(pairing.pending, user_code) if user_code else None
    if pending is not None:
        parts.append(
            f"""<p>Device <b>{html.escape(pending.device_name)}</b> asks to sync as you,
with code</p><p class="code">{html.escape(pending.user_code)}</p>
<p>Check that its screen shows the same code.</p>
<form method="post" action="/device/decide"><input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="user_code" value="{html.escape(pending.user_code)}">
<button type="submit" name="approve" value="true" id="approve">Approve</button>
<button type="submit" name="approve" value="false" id="deny">Deny</button></form>"""
        )
    else:
        parts.append(
            f"""<form method="get" action="/device"><label>Code on the device's screen
<input name="user_code" value="{html.escape(user_code)}" autocomplete="off"></label>
<button type="submit">Continue</button></form>"""
        )
    devices = await to_thread.run_sync(pairing.devices_of, who.user_id)
    if devices:
        rows = []
        for d in devices:
            state = "revoked" if d.revoked_at else "active"
            action = (
                ""
                if d.revoked_at
                else f"""<form method="post" action="/device/revoke">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="device_ref" value="{html.escape(d.device_ref)}">
<button type="submit">Revoke</button></form>"""
            )
            rows.append(
                f"<tr><td>{html.escape(d.device_name)}</td><td>{d.created_at:%Y-%m-%d}</td>"
                f"<td>{state}</td><td>{action}</td></tr>"
            )
        parts.append("<h2>Your devices</h2><table>" + "".join(rows) + "</table>")
    return "".join(parts)


# What the page says after a form, by code: a link cannot make the Hub's page say anything
# else (no text is taken from the address).
_NOTES = {
    "approved": "device approved: it syncs as you now",
    "denied": "device denied",
    "revoked": "device revoked",
    "unknown": "no pending pairing with that code: check it, or start again",
    "no-device": "no such device",
    "limited": "too many codes tried; wait a few minutes",
    "sign-in": "sign in first",
}


@router.get("/device", response_class=HTMLResponse, summary="The page a device's QR opens")
async def device_page(request: Request, user_code: str = "", note: str = "") -> Any:
    user_code = user_code[:32]
    message = _NOTES.get(note, "")
    who = await web.signed_in(request)
    if who is None:
        return web.page("Pair a device", sign_in_form(user_code, message))
    return web.page("Pair a device", await _approval_body(request, who, user_code, message))


def _back(user_code: str = "", note: str = "") -> RedirectResponse:
    query = urlencode({k: v for k, v in (("user_code", user_code), ("note", note)) if v})
    return RedirectResponse(f"/device{'?' + query if query else ''}", status_code=303)


@router.post("/device/sign-in", include_in_schema=False)
async def device_sign_in(request: Request) -> Any:
    form = await form_fields(request)
    user_code = form.get("user_code", "")[:32]
    result = await _sign_in(request, form.get("user_id", ""), form.get("password", ""))
    then = form.get("then", "")
    if isinstance(result, str):
        title = "Sign in" if then in AFTER_SIGN_IN else "Pair a device"
        return web.page(title, sign_in_form(user_code, result, then=then), status=401)
    cookie, _who = result
    response = (
        RedirectResponse(AFTER_SIGN_IN[then], status_code=303)
        if then in AFTER_SIGN_IN and not user_code
        else _back(user_code)
    )
    _set_cookie(response, request, cookie)
    return response


async def _page_user(request: Request, form: dict[str, str]) -> SignedIn | Response:
    who = await web.signed_in(request)
    if who is None:
        return _back(form.get("user_code", ""), "sign-in")
    if not csrf_ok(who, form.get("csrf_token")):
        return web.page("Pair a device", "<p>This form has expired: reload the page.</p>", 403)
    return who


@router.post("/device/decide", include_in_schema=False)
async def device_decide(request: Request) -> Any:
    form = await form_fields(request)
    who = await _page_user(request, form)
    if not isinstance(who, SignedIn):
        return who
    approve = form.get("approve") == "true"
    outcome = await _decide(request, who, form.get("user_code", ""), approve=approve)
    if outcome == "rate_limited":
        return _back(note="limited")
    return _back(note=outcome or "unknown")


@router.post("/device/revoke", include_in_schema=False)
async def device_revoke(request: Request) -> Any:
    form = await form_fields(request)
    who = await _page_user(request, form)
    if not isinstance(who, SignedIn):
        return who
    pairing: Pairing = request.app.state.pairing
    done = await to_thread.run_sync(pairing.revoke, who.user_id, form.get("device_ref", "")[:32])
    return _back(note="revoked" if done else "no-device")
