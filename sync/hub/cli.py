"""Runs the Hub from parsed ``hub serve`` flags, under uvicorn, logging to stdout for journald.

``fretcoach hub serve`` and ``python -m sync.hub`` both end in :func:`main`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import logging.config
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from dsp.errors import HubServerConfigError
from sync.hub.accounts import Accounts, check_new_user
from sync.hub.app import APP_SETTINGS_ENV, create_app
from sync.hub.auth import TokenAuth, collect_tokens
from sync.hub.limits import HEADER_TIMEOUT_ENV, header_deadline_protocol
from sync.hub.options import (
    DATABASE_URL_ENV,
    DEFAULT_AUTH_FAILURE_WINDOW_S,
    DEFAULT_AUTH_FAILURES,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_DB,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PAIRING_INTERVAL_S,
    DEFAULT_SHUTDOWN_TIMEOUT_S,
)
from sync.hub.storage import HubStore, make_engine, sqlite_url

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CANNOT_START = 1
EXIT_BAD_SETTINGS = 2  # what argparse gives a bad flag
H11_MAX_HEADER_BYTES = 16 * 1024  # h11's default, pinned: a device sends under 1 KiB


def main(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 for settings that cannot work, 1 if the server fails to start.

    ``args`` is what :func:`sync.hub.options.add_serve_arguments` parsed; other attributes
    (the device CLI's own) are ignored.
    """
    try:
        tokens = collect_tokens(args.token, required=False)
        database_url = resolve_database_url(args.db, args.database_url)
        if not tokens and _missing_sqlite_file(database_url):
            # Not even a user to pair with: say so before an empty database is created.
            collect_tokens(args.token)
    except HubServerConfigError as err:
        print(f"fretcoach hub: error: {err}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    try:
        check_listen(args.host, args.port)
        serve(
            host=args.host,
            port=args.port,
            database_url=database_url,
            tokens=tokens,
            public_url=args.public_url,
            pairing_interval_s=args.pairing_interval,
            workers=args.workers,
            enable_faults=args.enable_fault_injection,
            log_level=args.log_level,
            max_body_bytes=args.max_body_bytes,
            limits=ConnectionLimits(
                max_connections=args.max_connections,
                header_timeout_s=args.header_timeout,
                body_timeout_s=args.body_timeout,
                keep_alive_s=args.keep_alive_timeout,
                shutdown_timeout_s=args.shutdown_timeout,
                auth_failures=args.auth_failures,
                auth_failure_window_s=args.auth_failure_window,
            ),
        )
    except SQLAlchemyError as err:
        print(
            f"fretcoach hub: cannot start: {database_problem(err, database_url)}", file=sys.stderr
        )
        return EXIT_CANNOT_START
    except (HubServerConfigError, ModuleNotFoundError) as err:
        hint = ""
        if isinstance(err, ModuleNotFoundError) and not database_url.startswith("sqlite"):
            hint = " (install the database driver, e.g. pip install 'psycopg[binary]')"
        print(f"fretcoach hub: cannot start: {err}{hint}", file=sys.stderr)
        return EXIT_CANNOT_START
    return EXIT_OK


def check_listen(host: str, port: int) -> None:
    """Refuse, in one line, an address this machine cannot listen on (a mistyped
    ``--host``, a port in use or privileged), before the app and its database start.
    uvicorn would only log the error and exit 3."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        raise HubServerConfigError(
            f"--host {host!r} is not an address or name this machine knows ({err}): use "
            "127.0.0.1 for this machine only, 0.0.0.0 for every interface"
        ) from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as err:
            raise HubServerConfigError(
                f"cannot listen on {host}:{port} ({err.strerror}): stop whatever uses that "
                "port or pick another --port; ports under 1024 need root"
            ) from None


def database_problem(err: SQLAlchemyError, database_url: str) -> str:
    """One line for a database the Hub cannot open: the driver's own words, without
    SQLAlchemy's multi-line decoration or the URL's password, and what to do."""
    cause = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    shown = make_url(database_url).render_as_string(hide_password=True)
    if "file is not a database" in cause or "disk I/O error" in cause:
        return (
            f"{shown} is not a SQLite database the Hub can use ({cause}): give --db a new "
            "file's path, or the Hub's own database"
        )
    return f"cannot open the database {shown} ({cause}): check DATABASE_URL / --db"


def add_user_main(args: argparse.Namespace, *, stdin: TextIO | None = None) -> int:
    """``fretcoach hub add-user USER``: the password is read from standard input (one
    line) when it is not a terminal, else asked for twice without echo. Never an argument:
    it would show in ``ps`` and the shell's history."""
    stdin = stdin or sys.stdin
    try:
        database_url = resolve_database_url(args.db, args.database_url)
        if stdin.isatty():
            password = getpass.getpass(f"password for {args.user_id}: ")
            if getpass.getpass("again: ") != password:
                raise HubServerConfigError("the two passwords differ: nothing was changed")
        else:
            password = stdin.readline().rstrip("\r\n")
        check_new_user(args.user_id, password)
    except HubServerConfigError as err:
        print(f"fretcoach hub: error: {err}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    store = HubStore(make_engine(database_url))
    try:
        store.create_tables()
        accounts = Accounts(store.engine)
        if args.reset_password:
            accounts.set_password(args.user_id, password)
        else:
            accounts.add_user(args.user_id, password)
    except (HubServerConfigError, SQLAlchemyError) as err:
        print(f"fretcoach hub: error: {err}", file=sys.stderr)
        return EXIT_CANNOT_START
    finally:
        store.close()
    done = "new password set for" if args.reset_password else "added user"
    print(f"{done} {args.user_id}; devices pair with `fretcoach pair` and this user approves")
    return EXIT_OK


def _missing_sqlite_file(database_url: str) -> bool:
    url = make_url(database_url)
    return url.get_backend_name() == "sqlite" and not (
        url.database and os.path.exists(url.database)
    )


def resolve_database_url(db: str | os.PathLike[str] | None, database_url: str | None) -> str:
    """``--db PATH`` (SQLite) wins; else ``--database-url``, ``$DATABASE_URL``, ``hub.db``."""
    if db:
        return sqlite_url(db)
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    return url or sqlite_url(DEFAULT_DB)


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may hold, and how long shutdown waits; see ``hub serve --help``."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    keep_alive_s: int = DEFAULT_KEEP_ALIVE_S
    shutdown_timeout_s: int = DEFAULT_SHUTDOWN_TIMEOUT_S
    auth_failures: int = DEFAULT_AUTH_FAILURES  # per client address; 0: no limit
    auth_failure_window_s: float = DEFAULT_AUTH_FAILURE_WINDOW_S


def serve(
    *,
    host: str,
    port: int,
    database_url: str,
    tokens: dict[str, str],
    public_url: str | None = None,
    pairing_interval_s: int = DEFAULT_PAIRING_INTERVAL_S,
    enable_faults: bool = False,
    log_level: str = "info",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    limits: ConnectionLimits = ConnectionLimits(),
    workers: int = 1,
) -> None:
    """Run the server until interrupted; logs go to stdout and never contain a token.

    ``workers`` > 1 runs that many uvicorn worker processes on one socket: everything
    they share (rows, pairing, sign-in sessions, rate limits) is in the database, so use
    PostgreSQL for it.

    SIGTERM stops accepting, waits up to ``limits.shutdown_timeout_s`` for requests in
    flight, then cancels them and exits, so one stuck client cannot hold the Hub up.
    """
    logging.config.dictConfig(_log_config(log_level))
    if workers > 1 and enable_faults:
        raise HubServerConfigError(
            "--enable-fault-injection keeps its plan in one process: use it with --workers 1"
        )
    settings: dict[str, Any] = {
        "database_url": database_url,
        "tokens": tokens,
        "public_url": public_url,
        "pairing_interval_s": pairing_interval_s,
        "max_body_bytes": max_body_bytes,
        "body_timeout_s": limits.body_timeout_s,
        "auth_failures": limits.auth_failures,
        "auth_failure_window_s": limits.auth_failure_window_s,
        "enable_faults": enable_faults,
    }
    # Built here even for several workers: the database is migrated (and a bad one
    # refused) once, before any worker starts.
    app = create_app(**settings)
    auth: TokenAuth | None = app.state.auth
    log.info(
        "database %s; static device tokens for %s; paired devices; body limit %d bytes",
        make_url(database_url).render_as_string(hide_password=True),
        ", ".join(auth.users) if auth else "nobody",
        max_body_bytes,
    )
    if enable_faults:
        log.warning("fault injection is ON (POST /_faults): for tests only")
    log.info(
        "at most %d connections; headers within %g s, bodies within %g s; "
        "idle connections closed after %d s; shutdown waits %d s",
        limits.max_connections,
        limits.header_timeout_s,
        limits.body_timeout_s,
        limits.keep_alive_s,
        limits.shutdown_timeout_s,
    )
    if limits.auth_failures:
        log.info(
            "an address with %d requests without a valid token in %g s gets 429 until those "
            "%g s end (counted in the database, across workers)",
            limits.auth_failures,
            limits.auth_failure_window_s,
            limits.auth_failure_window_s,
        )
    else:
        log.info("failed authentications are not rate limited (--auth-failures 0)")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "server_header": False,
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": limits.keep_alive_s,
        "timeout_graceful_shutdown": limits.shutdown_timeout_s,
        "h11_max_incomplete_event_size": H11_MAX_HEADER_BYTES,
    }
    if workers == 1:
        uvicorn.run(
            app, log_config=None, http=header_deadline_protocol(limits.header_timeout_s), **common
        )
        return
    app.state.store.close()
    log.info("%d worker processes; each has the connection limit above", workers)
    # Workers are spawned, not forked: they rebuild the app from their environment.
    os.environ[APP_SETTINGS_ENV] = json.dumps(settings)
    os.environ[HEADER_TIMEOUT_ENV] = str(limits.header_timeout_s)
    uvicorn.run(
        "sync.hub.app:app_from_environment",
        factory=True,
        workers=workers,
        log_config=_log_config(log_level),
        http="sync.hub.limits:EnvHeaderDeadlineProtocol",
        **common,
    )


def _log_config(level: str) -> dict[str, Any]:
    """Everything to stdout for journald, no own timestamps, no colours."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(name)s: %(message)s",
                "use_colors": False,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stdout",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "sync": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
