"""`make bench`, sync part: store wear and upload throughput to a loopback Hub.

* bytes written to the store per practice minute (a live session at 4 notes/s,
  checkpointed every 5 s as the daemon does), read from ``/proc/self/io``;
* the time to queue and to drain 10 000 sessions through the real client and the real
  reference Hub on 127.0.0.1, and the sessions per second that makes; the Hub's row count
  is checked afterwards (exactly once).

Prints a table and writes ``out/bench_sync.json`` and ``out/bench_sync.md``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sync.client import HubClient, HubSettings
from sync.clock import ClockReading
from sync.records import NoteRow, SessionProgress, SessionStart
from sync.store import Store
from sync.worker import SyncWorker
from tests.hubproc import HubProcess

OUT = Path("out")
DRAIN_SESSIONS = 10_000


def _io() -> dict[str, int]:
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v) for k, v in (line.split(": ") for line in lines)}


def _start(session_id: str, user: str = "alice") -> SessionStart:
    return SessionStart(
        session_id=session_id,
        user_id=user,
        device_id="fcp-bench",
        software_version="bench",
        scale_chosen="A Minor (Pentatonic)",
        scale_type="pentatonic",
        total_inscale_notes=5,
        sensitivity=0.5,
        strictness=0.5,
        bpm=90.0,
        enabled_metrics=("pitch", "scale", "timing"),
        start_wall=time.time(),
        start_monotonic=time.monotonic(),
        boot_id="bench",
        clock_synced=True,
    )


def bytes_per_practice_minute(folder: Path) -> dict[str, float]:
    """One simulated minute: 240 notes, a checkpoint every 5 s (12), then the finish."""
    with Store.open(folder) as store:
        session_id = str(uuid.uuid4())
        store.begin_session(_start(session_id))
        before = _io()
        size_before = sum(p.stat().st_size for p in folder.iterdir())
        for k in range(12):
            notes = [NoteRow(k * 5 + i * 0.25, 57 + i % 5, 1.0, True) for i in range(20)]
            progress = SessionProgress((k + 1) * 5.0, 0.9, 0.9, 0.8, (k + 1) * 20, (k + 1) * 20, 0)
            store.checkpoint(session_id, progress, notes, monotonic=float(k))
        store.finish_session(session_id, progress, [])
        after = _io()
        size_after = sum(p.stat().st_size for p in folder.iterdir())
    return {
        "write_syscall_bytes": float(after.get("wchar", 0) - before.get("wchar", 0)),
        "block_device_bytes": float(after.get("write_bytes", 0) - before.get("write_bytes", 0)),
        "file_growth_bytes": float(size_after - size_before),
        "commits": 13.0,
    }


def drain(folder: Path, hub_dir: Path, count: int) -> dict[str, float]:
    with HubProcess(hub_dir, enable_faults=False) as hub, Store.open(folder) as store:
        t0 = time.perf_counter()
        ids = []
        notes = [NoteRow(i * 0.5, 57, 0.0, True) for i in range(20)]
        progress = SessionProgress(60.0, 0.9, 0.9, 0.8, 20, 20, 0)
        for _ in range(count):
            session_id = str(uuid.uuid4())
            ids.append(session_id)
            store.begin_session(_start(session_id))
            store.finish_session(session_id, progress, notes)
        queued_s = time.perf_counter() - t0
        settings = HubSettings(url=hub.url, token=hub.token_for("alice"))
        client = HubClient(settings)

        def clock() -> ClockReading:
            return ClockReading(time.time(), time.monotonic(), "bench", True)

        worker = SyncWorker(store, client, clock=clock)
        t1 = time.perf_counter()
        done = 0
        while store.outbox_counts().pending:
            report = worker.sync_once(progress=_progress(count))
            done += report.sent
            if report.error:
                raise RuntimeError(f"sync failed during the benchmark: {report.error}")
        drain_s = time.perf_counter() - t1
        sys.stderr.write("\n")
        rows = {row["session_id"] for row in hub.rows()}
        client.close()
    exactly_once = len(rows) == count and rows == set(ids)
    return {
        "sessions": float(count),
        "queue_seconds": round(queued_s, 2),
        "drain_seconds": round(drain_s, 2),
        "sessions_per_second": round(count / drain_s, 1),
        "exactly_once": float(exactly_once),
    }


def _progress(total: int):
    def show(done: int, _total: int) -> None:
        if done % 500 == 0 or done == _total:
            sys.stderr.write(f"\r  drained {done}/{total}")
            sys.stderr.flush()

    return show


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fc-bench-sync-") as tmp:
        base = Path(tmp)
        print("store: one practice minute …", flush=True)
        wear = bytes_per_practice_minute(base / "wear")
        print(f"sync: queue and drain {DRAIN_SESSIONS} sessions to a loopback Hub …", flush=True)
        throughput = drain(base / "drain", base / "hub", DRAIN_SESSIONS)
    results = {"store_per_practice_minute": wear, "sync_drain": throughput}
    (OUT / "bench_sync.json").write_text(json.dumps(results, indent=2))
    rows = [
        (
            "store: bytes written per practice minute (write calls)",
            f"{wear['write_syscall_bytes'] / 1024:.0f} KiB",
        ),
        (
            "store: bytes to the block device per practice minute",
            f"{wear['block_device_bytes'] / 1024:.0f} KiB",
        ),
        ("store: commits per practice minute", f"{wear['commits']:.0f}"),
        (f"sync: queue {DRAIN_SESSIONS} finished sessions", f"{throughput['queue_seconds']:.1f} s"),
        (
            f"sync: drain {DRAIN_SESSIONS} sessions to the loopback Hub",
            f"{throughput['drain_seconds']:.1f} s",
        ),
        ("sync: throughput", f"{throughput['sessions_per_second']:.0f} sessions/s"),
        (
            "sync: every session on the Hub exactly once",
            "yes" if throughput["exactly_once"] else "NO",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    md = ["| sync and store | figure |", "|---|---|"] + [f"| {n} | {v} |" for n, v in rows]
    (OUT / "bench_sync.md").write_text("\n".join(md) + "\n")
    return 0 if throughput["exactly_once"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
