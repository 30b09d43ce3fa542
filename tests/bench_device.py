"""`make bench`, device part: the daemon replaying the demo at real-time pace.

* note-to-screen latency: from a note's onset in the audio to the first pushed frame that
  shows it (the display's own ``on_frame`` hook), in stream time — target p95 ≤ 80 ms;
* the daemon's CPU share of one core (process CPU time over wall time; target ≤ 5 %) and
  its peak RSS;
* per-hop DSP time p99 while the display and a sync backlog are busy, against a quiet run
  with neither (target ratio ≤ 1.1).

Prints a table, writes ``out/bench_device.json`` and ``out/bench_device.md``.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from device.audio import WavSource
from device.bundled import demo_paths
from device.config import Config, load_config
from device.daemon import Daemon
from display.device import DisplayWorker, open_display
from display.state import PracticeScreen
from dsp.notes import note_name
from sync.client import HubClient, HubSettings
from sync.clock import ClockReading
from sync.records import NoteRow, SessionProgress, SessionStart
from sync.store import Store
from sync.worker import SyncWorker
from tests.hubproc import HubProcess

OUT = Path("out")


def _config() -> Config:
    scale = demo_paths()[1].get("scale", "A minor pentatonic")
    config, _ = load_config(None, [f"practice.scale={json.dumps(scale)}", "sync.user_id='alice'"])
    return config


def _queue_backlog(store: Store, count: int) -> None:
    notes = [NoteRow(i * 0.5, 57, 0.0, True) for i in range(50)]
    for _ in range(count):
        session_id = str(uuid.uuid4())
        store.begin_session(
            SessionStart(
                session_id,
                "alice",
                "fcp-bench",
                "bench",
                "A Minor (Pentatonic)",
                "pentatonic",
                5,
                0.5,
                0.5,
                None,
                ("pitch", "scale", "timing"),
                time.time(),
                time.monotonic(),
                "bench",
                True,
            )
        )
        store.finish_session(session_id, SessionProgress(60, 0.9, 0.9, 0.9, 50, 50, 0), notes)


def run_once(
    folder: Path, *, display_on: bool, hub: HubProcess | None, backlog: int = 0
) -> dict[str, Any]:
    frames: list[tuple[float, Any]] = []
    wav = demo_paths()[0]
    with Store.open(folder) as store:
        display = None
        sync_worker = None
        if display_on:
            display = DisplayWorker(
                lambda: open_display("dummy"),
                max_fps=15,
                on_frame=lambda state, t: frames.append((t, state)),
            )
        if hub is not None:
            _queue_backlog(store, backlog)
            client = HubClient(HubSettings(url=hub.url, token=hub.token_for("alice")))

            def clock() -> ClockReading:
                return ClockReading(time.time(), time.monotonic(), "bench", True)

            sync_worker = SyncWorker(store, client, clock=clock)
        source = WavSource(wav, realtime=True)
        daemon = Daemon(
            _config(), source=source, store=store, display=display, sync_worker=sync_worker
        )
        wall0, cpu0 = time.monotonic(), time.process_time()
        results = daemon.run()
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        stats = daemon.dsp.stats
        record = store.session(results[0].session_id)
        started = source._started  # the monotonic time the paced source began
    latencies = []
    missed = 0
    if display_on and record is not None:
        notes = list(record.notes)
        previous = None
        for i, note in enumerate(notes):
            name = note_name(note.midi)
            changed = name != previous
            previous = name
            if not changed or note.onset_s < 1.0:
                # Same name: nothing changes on screen to time. First second: the display
                # thread is still importing luma — start-up, not steady state.
                continue
            onset_at = started + note.onset_s
            ends_at = started + (notes[i + 1].onset_s if i + 1 < len(notes) else 1e9)
            shown = [
                t
                for t, state in frames
                if isinstance(state, PracticeScreen)
                and state.note_name == name
                and onset_at <= t < ends_at
            ]
            if shown:
                latencies.append((shown[0] - onset_at) * 1000.0)
            else:
                missed += 1  # never shown under its final name while it sounded
    return {
        "wall_s": wall,
        "cpu_share": cpu / wall,
        "hop_p50_us": stats.hop_p50_us,
        "hop_p99_us": stats.hop_p99_us,
        "hop_cpu_p99_us": stats.hop_cpu_p99_us,
        "hops": stats.hops,
        "frames": len(frames),
        "latencies_ms": latencies,
        "missed": missed,
        "dropped": daemon.capture.stats.dropped,
    }


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fc-bench-device-") as tmp:
        base = Path(tmp)
        print("device: quiet run (no display, no sync) …", flush=True)
        quiet = run_once(base / "quiet", display_on=False, hub=None)
        with HubProcess(base / "hub", enable_faults=False) as hub:
            print("device: normal run (display, Hub configured, nothing to sync) …", flush=True)
            normal = run_once(base / "normal", display_on=True, hub=hub)
            print("device: busy run (display + 300 queued sessions syncing) …", flush=True)
            busy = run_once(base / "busy", display_on=True, hub=hub, backlog=300)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    latencies = normal["latencies_ms"] + busy["latencies_ms"]
    lat = np.array(latencies) if latencies else np.array([np.nan])
    results = {
        "note_to_screen_ms_p50": float(np.percentile(lat, 50)),
        "note_to_screen_ms_p95": float(np.percentile(lat, 95)),
        "notes_seen_on_screen": len(latencies),
        "notes_never_shown_by_final_name": normal["missed"] + busy["missed"],
        "cpu_share_quiet": quiet["cpu_share"],
        "cpu_share_normal": normal["cpu_share"],
        "cpu_share_busy": busy["cpu_share"],
        "peak_rss_mib": rss_mib,
        "hop_p99_us": {k: r["hop_p99_us"] for k, r in (("quiet", quiet), ("busy", busy))},
        "hop_cpu_p99_us": {k: r["hop_cpu_p99_us"] for k, r in (("quiet", quiet), ("busy", busy))},
        "hop_p99_ratio_wall": busy["hop_p99_us"] / quiet["hop_p99_us"],
        "hop_p99_ratio_cpu": busy["hop_cpu_p99_us"] / quiet["hop_cpu_p99_us"],
        "dropped_hops": quiet["dropped"] + normal["dropped"] + busy["dropped"],
    }
    (OUT / "bench_device.json").write_text(json.dumps(results, indent=2))
    rows = [
        (
            "note-to-screen latency p50 / p95 (target p95 ≤ 80 ms)",
            f"{results['note_to_screen_ms_p50']:.0f} / {results['note_to_screen_ms_p95']:.0f} ms"
            f" ({len(latencies)} note changes; {normal['missed'] + busy['missed']} never shown"
            " under their final name while sounding)",
        ),
        (
            "daemon CPU share of one core: quiet / normal / busy (target ≤ 5 %)",
            f"{quiet['cpu_share']:.1%} / {normal['cpu_share']:.1%} / {busy['cpu_share']:.1%}",
        ),
        ("peak RSS (bench process, incl. the daemon)", f"{rss_mib:.0f} MiB"),
        (
            "per-hop DSP p99, thread CPU: quiet / busy",
            f"{quiet['hop_cpu_p99_us']:.0f} / {busy['hop_cpu_p99_us']:.0f} µs "
            f"(ratio {results['hop_p99_ratio_cpu']:.2f}; target ≤ 1.1)",
        ),
        (
            "per-hop DSP p99, wall (GIL waits included): quiet / busy",
            f"{quiet['hop_p99_us']:.0f} / {busy['hop_p99_us']:.0f} µs "
            f"(ratio {results['hop_p99_ratio_wall']:.2f})",
        ),
        ("hops dropped (all runs)", str(results["dropped_hops"])),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    md = ["| device (demo replayed in real time) | figure |", "|---|---|"]
    md += [f"| {n} | {v} |" for n, v in rows]
    (OUT / "bench_device.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
