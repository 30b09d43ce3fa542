"""The Hub server's flags, declared once for ``fretcoach hub serve`` and ``python -m sync.hub``.

Standard library only (no FastAPI, no SQLAlchemy), so building the device's command line
stays fast; :func:`sync.hub.cli.main` runs a server from the parsed namespace.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from sync.hub.auth import TOKENS_ENV

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
# A Pi-sized Hub: each open connection costs at most ~100 KiB before its token is checked
# (h11's 16 KiB header limit plus uvicorn's 64 KiB read buffer), so 400 stay under 40 MB.
DEFAULT_MAX_CONNECTIONS = 400
DEFAULT_HEADER_TIMEOUT_S = 10.0  # a request's headers, from its first byte
DEFAULT_BODY_TIMEOUT_S = 30.0  # a whole 2 MiB body at ~70 KB/s, a poor Wi-Fi link
DEFAULT_KEEP_ALIVE_S = 5  # uvicorn's own default
DEFAULT_SHUTDOWN_TIMEOUT_S = 10
# A device with a wrong token fails a handful of times a minute (it backs off); 20 in 10 s
# is a client hammering the Hub, which then pays only for a 429 and a closed connection.
DEFAULT_AUTH_FAILURES = 20
DEFAULT_AUTH_FAILURE_WINDOW_S = 10.0
DEFAULT_PAIRING_INTERVAL_S = 5  # RFC 8628's default: seconds between a device's polls
DEFAULT_DB = Path("hub.db")
DATABASE_URL_ENV = "DATABASE_URL"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--db``/``--database-url``, ``--token``, the limits and logs."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=port_number, default=8787, help="port, 1–65535 (default %(default)s)"
    )
    add_database_arguments(parser)
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN=USER",
        help="a device token and the user it belongs to (repeatable; or set "
        f"{TOKENS_ENV}=tok1=alice,tok2=bob, which keeps tokens out of `ps`)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help="request size limit (default %(default)s, 2 MiB)",
    )
    parser.add_argument(
        "--max-connections",
        type=_at_least(1, int),
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open connections (and requests in flight) above which a request is answered "
        "503 (default %(default)s)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_at_least(0.1, float),
        default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="SECONDS",
        help="a request's headers must arrive within this, or the connection is closed "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--body-timeout",
        type=_at_least(0.1, float),
        default=DEFAULT_BODY_TIMEOUT_S,
        metavar="SECONDS",
        help="a request's whole body must arrive within this after its headers, or it is "
        "answered 408 and the connection closed (default %(default)s)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=_at_least(1, int),
        default=DEFAULT_KEEP_ALIVE_S,
        metavar="SECONDS",
        help="close an idle kept-alive connection after this (default %(default)s)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=_at_least(0, int),
        default=DEFAULT_SHUTDOWN_TIMEOUT_S,
        metavar="SECONDS",
        help="on SIGTERM, wait at most this for requests in flight, then cancel them and "
        "exit (default %(default)s)",
    )
    parser.add_argument(
        "--auth-failures",
        type=_at_least(0, int),
        default=DEFAULT_AUTH_FAILURES,
        metavar="N",
        help="a client address with this many requests without a valid token within "
        "--auth-failure-window is answered 429 (Retry-After, connection closed, held up to "
        "5 s) until the window has passed; valid tokens are never limited; 0 turns this "
        "off (default %(default)s; counted in the database, across workers)",
    )
    parser.add_argument(
        "--auth-failure-window",
        type=_at_least(0.1, float),
        default=DEFAULT_AUTH_FAILURE_WINDOW_S,
        metavar="SECONDS",
        help="the window for --auth-failures, from an address's first failure; a blocked "
        "address waits until it ends "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=_at_least(1, int),
        default=1,
        metavar="N",
        help="worker processes on the one port (default %(default)s); everything they share "
        "lives in the database, so use PostgreSQL (--database-url) for more than one",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the Hub's address as phones reach it, e.g. https://hub.example.com; pairing "
        "devices show <URL>/device (default: the address each device used)",
    )
    parser.add_argument(
        "--pairing-interval",
        type=_at_least(1, int),
        default=DEFAULT_PAIRING_INTERVAL_S,
        metavar="SECONDS",
        help="how often a pairing device may poll for its token; faster polls are told "
        "slow_down (default %(default)s)",
    )
    parser.add_argument(
        "--enable-fault-injection",
        action="store_true",
        help="expose /_faults to fail, delay or drop answers (tests only, never in production)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=LOG_LEVELS, help="server log level (default info)"
    )


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db`` / ``--database-url``: which Hub database (as ``hub serve`` takes them)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"SQLite database file, created if missing (default {DEFAULT_DB} when neither "
        f"--database-url nor ${DATABASE_URL_ENV} is given)",
    )
    where.add_argument(
        "--database-url",
        metavar="URL",
        help=f"any SQLAlchemy URL, e.g. postgresql+psycopg://… (default: ${DATABASE_URL_ENV})",
    )


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    """``hub add-user NAME``: the database flags, the name, and where the password comes from."""
    parser.add_argument("user_id", metavar="USER", help="the new user's id, e.g. alice")
    add_database_arguments(parser)
    parser.add_argument(
        "--reset-password",
        action="store_true",
        help="set a new password for an existing user instead of adding one",
    )


def port_number(text: str) -> int:
    """``--port``: 1–65535, or 0 for any free port (the log says which)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"must be a port number, 1–65535 (or 0 for any free one), not {text!r}"
        )
    return port


def _at_least(low: float, kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse ``type=`` that reads ``kind`` and refuses values below ``low``."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number ≥ {low}, not {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def build_parser(prog: str = "python -m sync.hub") -> argparse.ArgumentParser:
    """The stand-alone parser of ``python -m sync.hub``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The reference FretCoach Hub ingest server (see sync/hub-api.md).",
    )
    add_serve_arguments(parser)
    return parser
