"""The whole device with a key: the demo through the daemon, the real ``openai`` client
against an OpenAI-compatible stub and the real ``opik`` SDK against a capture stub, both
processes on 127.0.0.1. Tips reach the screens; traces land in the session's thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.audio import WavSource
from device.config import load_config
from device.daemon import Daemon
from sync.store import Store
from tests.conftest import REPO
from tests.devicerun import recording_display, run_device
from tests.llmstub import LLMStub
from tests.opikstub import OpikStub

DEMO = REPO / "device" / "demo" / "demo.wav"
# No numbers, so it cannot contradict the scores; names the metrics, has a fix.
STUB_TIP = (
    "Your notes stay in the scale, but the timing wanders – tap your foot and play along "
    "with a slow metronome."
)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[LLMStub, OpikStub]]:
    with LLMStub() as llm, OpikStub(tmp_path / "opik.jsonl") as opik:
        llm.set_default(STUB_TIP)
        yield llm, opik


def coach_env(llm: LLMStub, opik: OpikStub) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": llm.base_url,
        "OPIK_URL_OVERRIDE": opik.url,
        "OPIK_PROJECT_NAME": "FretCoach",
    }


def test_model_tips_reach_the_screens_and_their_traces_the_thread(
    tmp_path: Path, servers: tuple[LLMStub, OpikStub]
) -> None:
    from coach import LiveCoach
    from display.state import PracticeScreen, SummaryScreen

    llm, opik = servers
    frames: list[object] = []
    config, _ = load_config(None, ["practice.scale='A minor pentatonic'", "coach.min_notes=4"])
    with Store.open(tmp_path / "state") as store:
        coach = LiveCoach.from_env(
            store=store, first_tip_s=3, interval_s=30, min_notes=4, environ=coach_env(llm, opik)
        ).start()
        display = recording_display(frames)
        daemon = Daemon(
            config,
            source=WavSource(DEMO, realtime=True),
            store=store,
            display=display,
            coach=coach,
        )
        [result] = daemon.run()
    live = {f.tip for f in frames if isinstance(f, PracticeScreen) and f.tip}
    summary_screen = {f.tip for f in frames if isinstance(f, SummaryScreen) and f.tip}
    assert STUB_TIP in live, f"the model's tip never reached the practice screen: {live}"
    summary = coach.summary(result.session_id)
    assert summary is not None and summary.provider == "openai"
    assert summary.text in summary_screen, "the summary screen never showed the summary"
    assert {r["model"] for r in llm.requests()} == {"gpt-4o-mini"}
    thread = f"{result.session_id}-live-aicoach-feedback"
    traces = opik.wait_for("trace", 2, timeout=30)
    ours = [t for t in traces if t.get("thread_id") == thread]
    names = sorted(t["name"] for t in ours)
    assert names.count("live-feedback") >= 1 and names.count("session-summary") == 1, names
    tip_trace = next(t for t in ours if t["name"] == "live-feedback")
    assert tip_trace["output"] == {"output": STUB_TIP}
    assert {"fretcoach-core", "gpt-4o-mini", "manual-mode", "fretcoach-portable"} <= set(
        tip_trace["tags"]
    )
    assert tip_trace["metadata"]["session_id"] == result.session_id
    assert tip_trace["metadata"]["provider"] == "openai"
    llm_spans = [s for s in opik.spans() if s.get("trace_id") == tip_trace["id"]]
    assert any(s.get("usage", {}).get("prompt_tokens") for s in llm_spans), llm_spans


def test_fretcoach_run_demo_with_a_key_traces_every_tip_in_the_session_thread(
    tmp_path: Path, servers: tuple[LLMStub, OpikStub]
) -> None:
    """`fretcoach run --source demo` as a process, as `make run` runs it, with both servers."""
    llm, opik = servers
    [session], _ = run_device(
        ["--source", "demo", "--display", "emulator", "--buttons", "none", "--local-hub"]
        + ["-o", "coach.first_tip_s=3", "-o", "coach.min_notes=4"]
        + ["-o", f"display.emulator_dir={json.dumps(str(tmp_path / 'oled'))}"],
        state_dir=tmp_path / "state",
        env=coach_env(llm, opik),
    )
    assert session["sync_state"] == "synced"
    thread = f"{session['session_id']}-live-aicoach-feedback"
    traces = [t for t in opik.wait_for("trace", 2, timeout=30) if t.get("thread_id") == thread]
    assert {t["name"] for t in traces} == {"live-feedback", "session-summary"}
    summary = next(t for t in traces if t["name"] == "session-summary")
    assert summary["output"]["output"] == session["coach_summary"]
    assert "session-summary" in summary["tags"]
    assert (tmp_path / "oled" / "oled.gif").exists()
