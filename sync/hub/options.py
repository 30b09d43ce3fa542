"""The Hub server's flags, declared once for ``fretcoach hub serve`` and ``python -m sync.hub``.

Standard library only (no FastAPI, no SQLAlchemy), so building the device's command line
stays fast; :func:`sync.hub.cli.main` runs a server from the parsed namespace.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.hub.auth import TOKENS_ENV

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_DB = Path("hub.db")
DATABASE_URL_ENV = "DATABASE_URL"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--db``/``--database-url``, ``--token``, the limits and logs."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8787, help="port (default %(default)s)")
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
        "--enable-fault-injection",
        action="store_true",
        help="expose /_faults to fail, delay or drop answers (tests only, never in production)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=LOG_LEVELS, help="server log level (default info)"
    )


def build_parser(prog: str = "python -m sync.hub") -> argparse.ArgumentParser:
    """The stand-alone parser of ``python -m sync.hub``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The reference FretCoach Hub ingest server (see sync/hub-api.md).",
    )
    add_serve_arguments(parser)
    return parser
