"""The app factory: one FastAPI app from a database URL, device tokens and the limits.

Used by the command line and directly by tests that need no HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dsp.errors import HubServerConfigError
from sync.hub import faults, openapi, routes
from sync.hub.answers import install_error_handlers
from sync.hub.auth import TokenAuth
from sync.hub.limits import (
    AuthFailureLimit,
    BodyLimitMiddleware,
    FailureLimit,
    TokenGateMiddleware,
)
from sync.hub.options import (
    DEFAULT_AUTH_FAILURE_WINDOW_S,
    DEFAULT_AUTH_FAILURES,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_MAX_BODY_BYTES,
)
from sync.hub.storage import HubStore, make_engine


def create_app(
    *,
    database_url: str,
    tokens: dict[str, str],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    auth_failures: int = DEFAULT_AUTH_FAILURES,
    auth_failure_window_s: float = DEFAULT_AUTH_FAILURE_WINDOW_S,
    enable_faults: bool = False,
) -> FastAPI:
    """Build the server; creates the tables now, so a bad database fails here, not later.

    ``auth_failures`` requests without a valid token within ``auth_failure_window_s`` block
    a client address (0: never). The count lives in this process
    (:class:`~sync.hub.limits.AuthFailureLimit`); several workers need a shared
    :class:`~sync.hub.limits.FailureLimit` instead.

    Swagger UI and ReDoc are off: FastAPI loads their assets from a CDN, which a Hub on a
    LAN without internet cannot reach; ``/openapi.json`` is served.
    """
    auth = TokenAuth(tokens)
    if auth_failures < 0 or not auth_failure_window_s > 0:
        raise HubServerConfigError(
            f"auth_failures must be ≥ 0 and auth_failure_window_s > 0, not {auth_failures} "
            f"and {auth_failure_window_s}"
        )
    if max_body_bytes < 1:
        raise HubServerConfigError(f"max_body_bytes must be at least 1, not {max_body_bytes}")
    store = HubStore(make_engine(database_url))
    try:
        store.create_tables()
    except Exception:
        store.close()
        raise

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
    app.state.store = store
    install_error_handlers(app)
    app.include_router(routes.health)
    app.include_router(routes.api)
    if enable_faults:
        app.state.faults = faults.FaultPlan()
        app.include_router(faults.router)
        app.add_middleware(faults.FaultMiddleware, plan=app.state.faults)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s
    )
    failures: FailureLimit | None = None
    if auth_failures > 0:
        failures = AuthFailureLimit(auth_failures, auth_failure_window_s)
    # Outermost: no body before a token, and a blocked address costs one header check.
    app.add_middleware(TokenGateMiddleware, auth=auth, failures=failures)
    return app
