"""The store and the Hub from the command line: ``fretcoach sessions`` lists what is stored,
``fretcoach sync`` uploads it, and ``fretcoach hub serve`` runs the reference Hub."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from device import pairing
from device.argtypes import count
from device.progress import ProgressBar
from dsp.errors import DeviceError
from sync.client import HubClient, HubSettings
from sync.hub.options import add_serve_arguments, add_user_arguments
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
        "(local, pending, synced, rejected). Rejected sessions show the Hub's reason; "
        "`fretcoach sync --retry-rejected` sends them again.",
    )
    sessions.add_argument("--json", action="store_true", help="print a JSON list")
    sessions.add_argument(
        "--limit", type=count, default=None, help="show at most N sessions (1 or more)"
    )
    _add_data_dir(sessions)
    sessions.set_defaults(handler=cmd_sessions)

    sync = commands.add_parser(
        "sync",
        help="upload queued sessions to the Hub once",
        description="One pass over the outbox: upload every queued session to the Hub "
        "at FRETCOACH_HUB_URL with the token in FRETCOACH_HUB_TOKEN. Exit status 0 when "
        "everything is synced, 1 with a one-line reason otherwise.",
    )
    sync.add_argument(
        "--json",
        action="store_true",
        help='print the outcome as JSON ("dead" is a deprecated alias of "rejected")',
    )
    sync.add_argument(
        "--retry-rejected",
        action="store_true",
        help="first move items the Hub rejected back into the queue",
    )
    # The old name, kept for scripts on devices in the field; hidden from --help.
    sync.add_argument(
        "--retry-dead", dest="retry_rejected", action="store_true", help=argparse.SUPPRESS
    )
    _add_data_dir(sync)
    sync.set_defaults(handler=cmd_sync)

    pairing.add_parser(commands)

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
    add_serve_arguments(serve)
    serve.set_defaults(handler=cmd_hub_serve)
    add_user = hub_commands.add_parser(
        "add-user",
        help="add a user who signs in to the Hub to approve devices",
        description="Add a user to the reference Hub's database (migrating it first). "
        "The password is read from standard input (one line) when it is piped, else asked "
        "for twice; it is stored only as an argon2id hash. Devices then pair with "
        "`fretcoach pair` and this user approves them at the Hub's /device page.",
    )
    add_user_arguments(add_user)
    add_user.set_defaults(handler=cmd_hub_add_user)


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
        if record.sync_state == "rejected" and record.sync_error:
            print(f"    ↳ rejected by the Hub: {record.sync_error}")
        if summaries[record.session_id]:
            print(f"    coach: {summaries[record.session_id]}")
    print(
        f"\n{len(records)} session(s); {counts.pending} waiting to sync, {counts.sent} synced, "
        f"{counts.rejected} rejected"
        + (" — fix, then `fretcoach sync --retry-rejected`" if counts.rejected else "")
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
    settings = HubSettings.from_env(data_dir=args.data_dir)
    if settings is None:
        raise DeviceError(
            "no Hub configured: pair with `fretcoach pair --hub URL`, or set "
            "FRETCOACH_HUB_URL and FRETCOACH_HUB_TOKEN, to sync"
        )
    with Store.open(args.data_dir) as store:
        revived = store.retry_rejected() if args.retry_rejected else 0
        client = HubClient(settings)
        bar = ProgressBar("syncing")
        try:
            report = SyncWorker(store, client, clock_hold_s=0.0).sync_once(progress=bar)
        finally:
            bar.close()
            client.close()
        counts = store.outbox_counts(HUB_KINDS)
        pause = store.hub_pause()
    if args.json:
        json.dump(
            {
                "sent": report.sent,
                "rejected": counts.rejected,
                "dead": counts.rejected,  # deprecated alias of "rejected", for old scripts
                "pending": counts.pending,
                "revived": revived,
                "error": report.error,
                "complete": counts.pending == 0 and counts.rejected == 0,
                "paused": pause.advice if pause else None,
            },
            sys.stdout,
        )
        sys.stdout.write("\n")
    if counts.pending == 0 and counts.rejected == 0:
        if not args.json:
            print(f"synced: {report.sent} session(s) uploaded; nothing left to sync")
        return EXIT_OK
    if pause is not None:
        reason = f"{counts.pending} item(s) not synced — {pause.advice}"
    elif report.error:
        reason = (
            f"{counts.pending} session(s) not synced: {report.error} — kept queued: run "
            "`fretcoach sync` again later (a running device retries by itself)"
        )
        if counts.rejected:
            reason += (
                f"; {counts.rejected} item(s) rejected by the Hub: fix the cause, then run "
                "`fretcoach sync --retry-rejected`"
            )
    elif counts.rejected:
        reason = (
            f"{counts.rejected} item(s) (sessions, plans, summaries) rejected by the Hub (see "
            "`fretcoach sessions` for sessions); "
            "fix the cause, then run `fretcoach sync --retry-rejected`"
        )
    else:
        reason = f"{counts.pending} item(s) still queued"
    print(f"fretcoach: {reason}", file=sys.stderr)
    return EXIT_NOT_SYNCED


def cmd_hub_serve(args: argparse.Namespace) -> int:
    from sync.hub import cli  # FastAPI, SQLAlchemy and uvicorn load only for the server

    return cli.main(args)


def cmd_hub_add_user(args: argparse.Namespace) -> int:
    from sync.hub import cli

    return cli.add_user_main(args)
