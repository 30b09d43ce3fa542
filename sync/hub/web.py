"""The Hub's HTML pages' common parts: one page shell and "who is signed in".

Every page is rendered on the server as one small document with no script and nothing
from a CDN, so it works on a LAN without internet and on any phone. Pages that hold a
person's data are ``no-store`` (a shared computer's back button must not show them after
sign-out) and refuse to be framed (clickjacking of the Approve and Revoke buttons).
"""

from __future__ import annotations

import html

from anyio import to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse

from sync.hub.accounts import SESSION_COOKIE, Accounts, SignedIn

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FretCoach Hub: {title}</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em}}
body.wide{{max-width:52em}} svg{{width:100%;height:auto}}
input,button{{font-size:1.1em;margin:.3em 0}} .code{{font-family:monospace;font-size:1.6em}}
.note{{color:#555}} table{{border-collapse:collapse}} td,th{{padding:.2em .6em;text-align:left}}
nav a{{margin-right:1em}}</style>
</head><body{body_class}><h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str, status: int = 200, *, wide: bool = False) -> HTMLResponse:
    """A whole page around ``body``, which the caller has already escaped."""
    return HTMLResponse(
        _PAGE.format(
            title=html.escape(title), body=body, body_class=' class="wide"' if wide else ""
        ),
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


async def signed_in(request: Request) -> SignedIn | None:
    """Who the request's session cookie signs in, if anyone (one database read)."""
    accounts: Accounts = request.app.state.accounts
    return await to_thread.run_sync(accounts.session, request.cookies.get(SESSION_COOKIE))
