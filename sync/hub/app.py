"""The app factory: one FastAPI app from a database URL, static tokens, and the limits.

Used by the command line and directly by tests that need no HTTP.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dsp.errors import HubServerConfigError
from sync.hub import account_routes, faults, openapi, pairing_routes, routes, session_pages
from sync.hub.accounts import Accounts
from sync.hub.answers import install_error_handlers
from sync.hub.auth import TokenAuth
from sync.hub.identity import Identity
from sync.hub.limits import BodyLimitMiddleware, FailureLimit, TokenGateMiddleware
from sync.hub.options import (
    DEFAULT_AUTH_FAILURE_WINDOW_S,
    DEFAULT_AUTH_FAILURES,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_MAX_BODY_BYTES,
)
from sync.hub.pairing import DEFAULT_INTERVAL_S, Pairing
from sync.hub.storage import HubStore, make_engine
from sync.hub.throttle import SharedFailureLimit, Throttle

# `hub serve --workers N`: the parent puts create_app's keyword arguments here as JSON.
APP_SETTINGS_ENV = "FRETCOACH_HUB_APP_SETTINGS"


def app_from_environment() -> FastAPI:
    """uvicorn's factory in each worker process of ``hub serve --workers N``."""
    return create_app(**json.loads(os.environ[APP_SETTINGS_ENV]))


def create_app(
    *,
    database_url: str,
    tokens: dict[str, str] | None = None,
    public_url: str | None = None,
    pairing_interval_s: int = DEFAULT_INTERVAL_S,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    auth_failures: int = DEFAULT_AUTH_FAILURES,
    auth_failure_window_s: float = DEFAULT_AUTH_FAILURE_WINDOW_S,
    enable_faults: bool = False,
) -> FastAPI:
    """Build the server; migrates the database now, so a bad one fails here, not later.

    ``tokens`` are static device tokens (token → user) for scripts and tests; devices
    that pair get theirs from the database. With no static token the database must hold
    a user, or no request could ever succeed. ``public_url`` is the address devices show
    for pairing (default: the address each pairing request came to).

    ``auth_failures`` requests without a valid token within ``auth_failure_window_s`` block
    a client address (0: never). The count lives in the database
    (:class:`~sync.hub.throttle.SharedFailureLimit`), so every worker and host shares it.

    Swagger UI and ReDoc are off: FastAPI loads their assets from a CDN, which a Hub on a
    LAN without internet cannot reach; ``/openapi.json`` is served.
    """
    auth = TokenAuth(tokens) if tokens else None
    if auth_failures < 0 or not auth_failure_window_s > 0:
        raise HubServerConfigError(
            f"auth_failures must be ≥ 0 and auth_failure_window_s > 0, not {auth_failures} "
            f"and {auth_failure_window_s}"
        )
    if max_body_bytes < 1:
        raise HubServerConfigError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
    store = HubStore(make_engine(database_url))
    accounts = Accounts(store.engine)
    try:
        store.create_tables()
        if auth is None and accounts.user_count() == 0:
            raise HubServerConfigError(
                "no device tokens and no users: add a user with `fretcoach hub add-user NAME` "
                "(devices then pair with `fretcoach pair`), or pass --token TOKEN=USER"
            )
    except Exception:
        store.close()
        raise
    pairing = Pairing(store.engine, interval_s=pairing_interval_s)
    identity = Identity(auth, pairing)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title=openapi.TITLE,
        version=openapi.VERSION,
        description=openapi.DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.auth = auth
    app.state.identity = identity
    app.state.store = store
    app.state.accounts = accounts
    app.state.pairing = pairing
    throttle = Throttle(store.engine)
    app.state.throttle = throttle
    app.state.public_url = public_url.rstrip("/") if public_url else None
    install_error_handlers(app)
    app.include_router(routes.health)
    app.include_router(routes.api)
    app.include_router(pairing_routes.router)
    app.include_router(account_routes.router)
    app.include_router(session_pages.router)
    if enable_faults:
        app.state.faults = faults.FaultPlan()
        app.include_router(faults.router)
        app.add_middleware(faults.FaultMiddleware, plan=app.state.faults)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s
    )
    failures: FailureLimit | None = None
    if auth_failures > 0:
        failures = SharedFailureLimit(throttle, auth_failures, auth_failure_window_s)
    # Outermost: no body before a token, and a blocked address costs one header check.
    app.add_middleware(TokenGateMiddleware, auth=identity, failures=failures)
    return app
