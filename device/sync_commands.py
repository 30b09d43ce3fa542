"""``fretcoach sessions``, ``fretcoach sync`` and ``fretcoach hub serve``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from device.progress import ProgressBar
from dsp.errors import DeviceError
from sync.client import HubClient, HubSettings
from sync.records import SessionRecord
from sync.store import HUB_KINDS, Store, default_data_dir
from sync.worker import SyncWorker

EXIT_OK = 0
EXIT_NOT_SYNCED = 1


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sessions = commands.add_parser(
        "sessions",
        help="list the sessions stored on this device and their sync state",
        description="List stored sessions, newest first, with their Hub sync state "
        "(local, pending, synced, dead). Dead sessions show the Hub's reason.",
    )
    sessions.add_argument("--json", action="store_true", help="print a JSON list")
    sessions.add_argument("--limit", type=int, default=None, help="show at most N sessions")
    _add_data_dir(sessions)
    sessions.set_defaults(handler=cmd_sessions)

    sync = commands.add_parser(
        "sync",
        help="upload queued sessions to the Hub once",
        description="One pass over the outbox: upload every queued session to the Hub "
        "at FRETCOACH_HUB_URL with the token in FRETCOACH_HUB_TOKEN. Exit status 0 when "
        "everything is synced, 1 with a one-line reason otherwise.",
    )
    sync.add_argument("--json", action="store_true", help="print the outcome as JSON")
    sync.add_argument(
        "--retry-dead",
        action="store_true",
        help="first move dead-lettered sessions back into the queue",
    )
    _add_data_dir(sync)
    sync.set_defaults(handler=cmd_sync)

    hub = commands.add_parser(
        "hub",
        help="the reference FretCoach Hub ingest server",
        description="The reference Hub; `fretcoach hub serve --help` runs it.",
    )
    hub_commands = hub.add_subparsers(dest="hub_command", metavar="HUB_COMMAND")
    hub_commands.required = True
    serve = hub_commands.add_parser(
        "serve",
        help="run the reference Hub ingest server",
        description="Serve the Hub ingest API (sync/hub-api.md) for development, tests "
        "and demos. SQLite (hub.db) by default; --database-url or DATABASE_URL selects "
        "another database.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, help="SQLite database file (created if missing)")
    where.add_argument(
        "--database-url",
        metavar="URL",
        help="any SQLAlchemy URL, e.g. postgresql+psycopg://… (default: $DATABASE_URL)",
    )
    serve.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN=USER",
        help="a device token and the user it belongs to (repeatable; or set "
        "FRETCOACH_HUB_TOKENS=tok1=alice,tok2=bob, which keeps tokens out of `ps`)",
    )
    serve.add_argument(
        "--max-body-bytes", type=int, default=None, help="request size limit (default 2 MiB)"
    )
    serve.add_argument(
        "--enable-fault-injection",
        action="store_true",
        help="expose /_faults to fail, delay or drop answers (tests only, never in production)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default info)",
    )
    serve.set_defaults(handler=cmd_hub_serve)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="state directory holding the store "
        f"(default: FRETCOACH_DATA_DIR or {default_data_dir()})",
    )


def cmd_sessions(args: argparse.Namespace) -> int:
    with Store.open(args.data_dir) as store:
        records = store.sessions(limit=args.limit)
        counts = store.outbox_counts(("session",))
        summaries = {r.session_id: store.session_summary(r.session_id) for r in records}
    if args.json:
        json.dump(
            [{**r.as_json(), "coach_summary": summaries[r.session_id]} for r in records],
            sys.stdout,
            ensure_ascii=False,
        )
        sys.stdout.write("\n")
        return EXIT_OK
    if not records:
        print(f"No sessions stored yet in {store.path}.")
        return EXIT_OK
    print(
        "started (UTC)        length  scale                      "
        "pitch scale timing notes  status       sync"
    )
    for record in records:
        print(_session_line(record))
        if record.sync_state == "dead" and record.sync_error:
            print(f"    ↳ rejected by the Hub: {record.sync_error}")
        if summaries[record.session_id]:
            print(f"    coach: {summaries[record.session_id]}")
    print(
        f"\n{len(records)} session(s); {counts.pending} waiting to sync, {counts.sent} synced, "
        f"{counts.dead} rejected"
        + (" — fix, then `fretcoach sync --retry-dead`" if counts.dead else "")
    )
    return EXIT_OK


def _pct(value: float | None) -> str:
    return "   –" if value is None else f"{value:4.0%}"


def _session_line(record: SessionRecord) -> str:
    started = record.start_timestamp[:19].replace("T", " ")
    minutes, seconds = divmod(round(record.duration_seconds), 60)
    clock_mark = "" if record.clock_synced else "~"
    return (
        f"{clock_mark}{started:<20} {minutes:3d}:{seconds:02d}  {record.scale_chosen[:26]:<26} "
        f"{_pct(record.pitch_accuracy)}  {_pct(record.scale_conformity)}  "
        f"{_pct(record.timing_stability)} {record.total_notes_played:5d}  "
        f"{record.status:<12} {record.sync_state}"
    )


def cmd_sync(args: argparse.Namespace) -> int:
    settings = HubSettings.from_env()
    if settings is None:
        raise DeviceError(
            "no Hub configured: set FRETCOACH_HUB_URL (and FRETCOACH_HUB_TOKEN) to sync"
        )
    with Store.open(args.data_dir) as store:
        revived = store.retry_dead() if args.retry_dead else 0
        client = HubClient(settings)
        bar = ProgressBar("syncing")
        try:
            report = SyncWorker(store, client, clock_hold_s=0.0).sync_once(progress=bar)
        finally:
            bar.close()
            client.close()
        counts = store.outbox_counts(HUB_KINDS)
    if args.json:
        json.dump(
            {
                "sent": report.sent,
                "dead": counts.dead,
                "pending": counts.pending,
                "revived": revived,
                "error": report.error,
                "complete": counts.pending == 0 and counts.dead == 0,
            },
            sys.stdout,
        )
        sys.stdout.write("\n")
    if counts.pending == 0 and counts.dead == 0:
        if not args.json:
            print(f"synced: {report.sent} session(s) uploaded; nothing left to sync")
        return EXIT_OK
    if report.error:
        reason = f"{counts.pending} session(s) not synced: {report.error}"
    elif counts.dead:
        reason = (
            f"{counts.dead} item(s) (sessions, plans, summaries) rejected by the Hub (see "
            "`fretcoach sessions` for sessions); "
            "fix the cause, then run `fretcoach sync --retry-dead`"
        )
    else:
        reason = f"{counts.pending} item(s) still queued"
    print(f"fretcoach: {reason}", file=sys.stderr)
    return EXIT_NOT_SYNCED


def cmd_hub_serve(args: argparse.Namespace) -> int:
    from sync import hub_server  # FastAPI and uvicorn load only for the server

    argv = ["--host", args.host, "--port", str(args.port), "--log-level", args.log_level]
    if args.db is not None:
        argv += ["--db", str(args.db)]
    elif args.database_url:
        argv += ["--database-url", args.database_url]
    elif not os.environ.get("DATABASE_URL"):
        argv += ["--db", "hub.db"]
    for token in args.token:
        argv += ["--token", token]
    if args.max_body_bytes is not None:
        argv += ["--max-body-bytes", str(args.max_body_bytes)]
    if args.enable_fault_injection:
        argv.append("--enable-fault-injection")
    return int(hub_server.main(argv) or 0)
