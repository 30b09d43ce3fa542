"""`make bench`, coach part: what the live coach costs the device, measured in one run.

The daemon replays the bundled demo four times over (~39 s) at real-time pace, each
scenario in a fresh process so the coach's imports (``openai`` and ``opik``, seconds of
CPU on the coach's thread) land inside the run, as they do when the Pi boots:

* ``idle``  — no coach;
* ``coach`` — the live coach on the real ``openai`` client against an OpenAI-compatible
  stub and the real ``opik`` SDK tracing to a capture stub, both on 127.0.0.1, with the
  display worker on a dummy luma device: tips at 3 s (cold: the imports) and 33 s (warm);
* ``busy``  — as ``coach``, plus a second generator asking for traced tips back to back
  on its own thread for the whole run (far more than the 30 s minimum interval allows).

Each scenario runs twice, the rounds interleaved (idle, coach, busy, idle, ...), and the
per-hop p99s are those of the less disturbed round: one round's p99 can catch another
process's busy spell on the shared machine. Figures: per-hop DSP time p99 (thread CPU
and wall) with the coach busy against idle (target ratio ≤ 1.1); the time from a tip
request to the first frame that shows the tip; peak RSS with and without the coach
loaded; hops dropped. Writes ``out/bench_coach.json`` and ``out/bench_coach.md``.

    python -m bench.coach
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from pathlib import Path
from typing import Any

OUT = Path("out")
ROUNDS = 2  # each scenario twice, interleaved; the less disturbed round counts
STEADY_AFTER_S = 15.0
REPEATS = 4  # the 9.8 s demo, four times: room for a cold and a warm tip at 3 s and 33 s
SCENARIOS = ("idle", "coach", "busy")
BENCH_TIP = "Your pitch is steady, but timing drifts – play along with a slow metronome."
# Each scheduled tip a different text, or a repeat would leave the screen unchanged and
# the request → screen time would be measured to some later frame.
BENCH_FIXES = (
    "count the beats aloud",
    "tap your foot on every beat",
    "play each note twice, evenly",
    "slow down until it is even",
)


def _long_demo(folder: Path) -> Path:
    from device.bundled import demo_paths

    with wave.open(str(demo_paths()[0]), "rb") as demo:
        params = demo.getparams()
        frames = demo.readframes(params.nframes)
    path = folder / "demo-x4.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        for _ in range(REPEATS):
            out.writeframes(frames)
    return path


def _hammer(store: Any, stop: threading.Event, made: list[float]) -> None:
    """Traced tips back to back through a generator of its own (the coach's is its own)."""
    from coach.feedback import TipGenerator, TipRequest
    from coach.providers import CoachSettings
    from coach.tips import MetricSnapshot
    from coach.tracing import OpikSettings, Tracer

    generator = TipGenerator(
        CoachSettings.from_env(), tracer=Tracer(OpikSettings.from_env(), store=store)
    )
    snapshot = MetricSnapshot(
        metrics=("pitch", "scale", "timing"),
        pitch=0.9,
        scale=0.8,
        timing=0.4,
        scale_name="A minor pentatonic",
        bpm=92,
        notes=24,
    )
    session_id = str(uuid.uuid4())
    while not stop.is_set():
        start = time.monotonic()
        generator.generate(TipRequest(session_id, snapshot, 20.0))
        made.append(time.monotonic() - start)


def run_scenario(scenario: str) -> dict[str, Any]:
    """One daemon run in this process; returns its figures (JSON-ready)."""
    from coach import LiveCoach
    from device.audio import WavSource
    from device.bundled import demo_paths
    from device.config import load_config
    from device.daemon import Daemon
    from display.device import DisplayWorker, open_display
    from display.state import PracticeScreen
    from sync.store import Store

    frames: list[tuple[float, Any]] = []
    requests: list[dict[str, Any]] = []
    hammered: list[float] = []
    stop_hammer = threading.Event()
    with tempfile.TemporaryDirectory() as folder:
        wav = _long_demo(Path(folder))
        scale = demo_paths()[1].get("scale", "A minor pentatonic")
        config, _ = load_config(
            None, [f"practice.scale={json.dumps(scale)}", "coach.interval_s=30"]
        )
        with Store.open(Path(folder) / "state") as store:
            coach = None
            if scenario != "idle":
                coach = LiveCoach.from_env(
                    store=store, first_tip_s=3, interval_s=30, min_notes=4
                ).start()
                generate = coach.generator.generate

                def timed_generate(request: Any) -> Any:
                    started = time.monotonic()
                    tip = generate(request)
                    requests.append(
                        {
                            "purpose": request.purpose,
                            "asked_at": started,
                            "answered_s": time.monotonic() - started,
                            "text": tip.text,
                            "provider": tip.provider,
                            "kind": tip.kind,
                            "traced": tip.trace_id is not None,
                        }
                    )
                    return tip

                coach.generator.generate = timed_generate  # type: ignore[method-assign]
            display = DisplayWorker(
                lambda: open_display("dummy"),
                max_fps=15,
                on_frame=lambda state, t: frames.append((t, state)),
            )
            hammer = None
            if scenario == "busy":
                hammer = threading.Thread(
                    target=_hammer, args=(store, stop_hammer, hammered), daemon=True
                )
                hammer.start()
            daemon = Daemon(
                config,
                source=WavSource(wav, realtime=True),
                store=store,
                display=display,
                coach=coach,
            )
            wall0, cpu0 = time.monotonic(), time.process_time()
            # Steady state: after start-up (the coach imports openai and opik once).
            mark: list[tuple[float, float]] = []
            timer = threading.Timer(
                STEADY_AFTER_S, lambda: mark.append((time.monotonic(), time.process_time()))
            )
            timer.start()
            daemon.run()
            timer.cancel()
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            if mark:
                steady = (time.process_time() - mark[0][1]) / (time.monotonic() - mark[0][0])
            else:
                steady = float("nan")
            stop_hammer.set()
            if hammer is not None:
                hammer.join(timeout=10)
            stats = daemon.dsp.stats
    tips = []
    for request in requests:
        if request["purpose"] != "live-feedback":
            continue
        shown = [
            t
            for t, state in frames
            if isinstance(state, PracticeScreen)
            and state.tip == request["text"]
            and t >= request["asked_at"]
        ]
        tips.append(
            {
                "to_screen_ms": (shown[0] - request["asked_at"]) * 1000 if shown else None,
                "answered_ms": request["answered_s"] * 1000,
                "provider": request["provider"],
                "kind": request["kind"],
                "traced": request["traced"],
            }
        )
    return {
        "scenario": scenario,
        "wall_s": round(wall, 2),
        "cpu_share": round(cpu / wall, 4),
        "cpu_share_steady": round(steady, 4),
        "hops": stats.hops,
        "hop_p99_us": stats.hop_p99_us,
        "hop_cpu_p99_us": stats.hop_cpu_p99_us,
        "dropped": daemon.capture.stats.dropped,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tips": tips,
        "hammer_tips": len(hammered),
        "hammer_tip_ms_p50": round(sorted(hammered)[len(hammered) // 2] * 1000, 1)
        if hammered
        else None,
    }


def _child(scenario: str, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.coach", "--scenario", scenario],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench_coach: scenario {scenario} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def _combined(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario over its rounds: the per-hop p99s of the least disturbed round (as
    ``timeit`` takes the best: on a shared machine a round can catch someone else's busy
    spell, +70 % seen), the rest from the first round, every round kept under ``rounds``."""
    first = dict(results[0])
    for key in ("hop_p99_us", "hop_cpu_p99_us"):
        first[key] = min(r[key] for r in results)
    first["dropped"] = sum(r["dropped"] for r in results)
    first["rounds"] = results
    return first


def _ms(value: float | None) -> str:
    return "never shown" if value is None else f"{value:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coach", description=__doc__)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario)))
        return 0

    from tests.devicerun import offline_env
    from tests.llmstub import LLMStub
    from tests.opikstub import OpikStub

    with (
        tempfile.TemporaryDirectory() as folder,
        LLMStub() as llm,
        OpikStub(Path(folder) / "opik.jsonl") as opik,
    ):
        llm.set_default(BENCH_TIP)
        base = offline_env()
        coach_env = {
            **base,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": llm.base_url,
            "OPIK_URL_OVERRIDE": opik.url,
            "OPIK_PROJECT_NAME": "FretCoach-bench",
        }
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in SCENARIOS}
        for round_ in range(ROUNDS):
            for scenario in SCENARIOS:
                print(
                    f"bench_coach: {scenario}, round {round_ + 1} of {ROUNDS} "
                    f"(~{REPEATS * 10} s)...",
                    flush=True,
                )
                if scenario == "coach":
                    llm.script(
                        *[
                            {
                                "kind": "answer",
                                "text": f"Your pitch is steady, but timing drifts – {fix}.",
                            }
                            for fix in BENCH_FIXES
                        ]
                    )
                env = base if scenario == "idle" else coach_env
                rounds[scenario].append(_child(scenario, env))
        runs = {name: _combined(results) for name, results in rounds.items()}
        traces = len(opik.traces())
    idle, coach, busy = runs["idle"], runs["coach"], runs["busy"]
    tips = coach["tips"]
    cold = tips[0]["to_screen_ms"] if tips else None
    warm = [t["to_screen_ms"] for t in tips[1:]]
    table = [
        ("per-hop DSP p99 (best of 2 rounds), thread CPU: idle / coach busy (target ≤ 1.1)",
         f"{idle['hop_cpu_p99_us']:.0f} / {busy['hop_cpu_p99_us']:.0f} µs "
         f"(ratio {busy['hop_cpu_p99_us'] / idle['hop_cpu_p99_us']:.2f})"),
        ("per-hop DSP p99, wall (GIL waits included): idle / coach busy",
         f"{idle['hop_p99_us']:.0f} / {busy['hop_p99_us']:.0f} µs "
         f"(ratio {busy['hop_p99_us'] / idle['hop_p99_us']:.2f})"),
        ("per-hop DSP p99, thread CPU / wall: live coach on its own schedule",
         f"{coach['hop_cpu_p99_us']:.0f} / {coach['hop_p99_us']:.0f} µs "
         f"(ratios {coach['hop_cpu_p99_us'] / idle['hop_cpu_p99_us']:.2f} / "
         f"{coach['hop_p99_us'] / idle['hop_p99_us']:.2f})"),
        ("tip request → screen: first tip / later (openai + opik imported at start-up)",
         f"{_ms(cold)} / " + (", ".join(_ms(w) for w in warm) or "none")),
        ("tip providers", ", ".join(f"{t['provider']} ({t['kind']})" for t in tips) or "none"),
        ("busy: traced tips made back to back by the second generator (p50 each)",
         f"{busy['hammer_tips']} ({busy['hammer_tip_ms_p50']} ms)"),
        ("peak RSS: no coach / coach loaded / coach busy",
         f"{idle['peak_rss_mib']:.0f} / {coach['peak_rss_mib']:.0f} / "
         f"{busy['peak_rss_mib']:.0f} MiB"),
        ("daemon CPU share of one core, whole run: no coach / coach / busy",
         f"{idle['cpu_share']:.1%} / {coach['cpu_share']:.1%} / {busy['cpu_share']:.1%}"),
        (f"daemon CPU share after the first {STEADY_AFTER_S:g} s: no coach / coach",
         f"{idle['cpu_share_steady']:.1%} / {coach['cpu_share_steady']:.1%}"),
        ("traces received by the Opik stub (all runs)", str(traces)),
        ("hops dropped (all runs)",
         str(idle["dropped"] + coach["dropped"] + busy["dropped"])),
    ]  # fmt: skip
    width = max(len(name) for name, _ in table)
    print()
    for name, value in table:
        print(f"{name:<{width}}  {value}")
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_coach.json").write_text(json.dumps(runs, indent=2) + "\n")
    md = ["| coach (demo ×4 replayed in real time) | figure |", "|---|---|"]
    md += [f"| {name} | {value} |" for name, value in table]
    (OUT / "bench_coach.md").write_text("\n".join(md) + "\n")
    print(f"\nwrote {OUT / 'bench_coach.json'} and {OUT / 'bench_coach.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
