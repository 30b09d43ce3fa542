"""Opik tracing: the real ``opik`` SDK against an Opik-compatible capture server.

Assertions are on the JSON the server received: thread id, tags, metadata, token usage,
feedback scores — and that every trace arrives exactly once, when Opik was down while
the tips were made, within one process and across a kill -9 and restart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from coach.feedback import TipGenerator, TipRequest
from coach.live import LiveCoach
from coach.prompts import LIVE_FEEDBACK_V1
from coach.providers import CoachSettings, ProviderSettings
from coach.replay import TraceReplayer
from coach.tips import MetricSnapshot
from coach.tracing import (
    FEEDBACK_KIND,
    TRACE_KIND,
    OpikSettings,
    Tracer,
    prepare_opik_environment,
)
from device.launcher import free_port
from sync.store import Store
from tests.conftest import REPO
from tests.llmstub import DEFAULT_TEXT, LLMStub
from tests.opikstub import OpikStub

WAIT_S = 30.0  # the first tip also imports opik and openai on the coach's thread
SNAPSHOT = MetricSnapshot(
    metrics=("pitch", "timing"),
    pitch=0.953,
    scale=None,
    timing=0.21,
    scale_name="A minor pentatonic",
    bpm=92,
    notes=24,
    most_out_of_tune="F#",
)
FAMILY_TAGS = [
    "fretcoach-core",
    "gpt-4o-mini",
    "manual-mode",
    "fretcoach-portable",
    "live-feedback",
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state") as opened:
        yield opened


def wait_until(condition: object, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def pending(store: Store, kind: str = TRACE_KIND) -> list[str]:
    return [item.ref for item in store.pending(kinds=(kind,))]


def test_a_live_tip_is_traced_as_the_family_expects(
    llm: LLMStub, opik_stub: OpikStub, store: Store
) -> None:
    environ = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": llm.base_url,
        "OPIK_URL_OVERRIDE": opik_stub.url,
    }
    coach = LiveCoach.from_env(store=store, environ=environ, replay_every_s=0.2).start()
    try:
        coach.maybe_request("sess-A", SNAPSHOT, 15.0, False)
        assert coach.wait_idle(WAIT_S)
        tip = coach.latest("sess-A")
        assert tip is not None and tip.text == DEFAULT_TEXT and tip.trace_id
        (trace,) = [t for t in opik_stub.wait_for("trace", 1) if t["id"] == tip.trace_id]
        assert trace["name"] == "live-feedback"
        assert trace["project_name"] == "FretCoach"
        assert trace["thread_id"] == "sess-A-live-aicoach-feedback"
        assert trace["tags"] == FAMILY_TAGS
        metadata = trace["metadata"]
        assert metadata["session_id"] == "sess-A"
        assert (metadata["scale"], metadata["bpm"]) == ("A minor pentatonic", 92)
        assert metadata["metrics"] == {
            "pitch_accuracy": 0.953,
            "scale_conformity": None,
            "timing_stability": 0.21,
        }
        assert (metadata["provider"], metadata["model"]) == ("openai", "gpt-4o-mini")
        assert (metadata["prompt_version"], metadata["prompt_commit"]) == (
            "live-feedback-v1",
            LIVE_FEEDBACK_V1.library.commit,
        )
        assert "Pitch 95%, Timing 21%" in trace["input"]["input"]
        assert trace["output"] == {"output": DEFAULT_TEXT}
        spans = {s["type"]: s for s in opik_stub.wait_for("span", 2)}
        llm_span = spans["llm"]
        assert llm_span["trace_id"] == tip.trace_id
        assert llm_span["parent_span_id"] == spans["general"]["id"]
        assert (llm_span["model"], llm_span["provider"]) == ("gpt-4o-mini", "openai")
        usage = llm_span["usage"]
        assert (usage["prompt_tokens"], usage["completion_tokens"]) == (120, 28)
        assert usage["total_tokens"] == 148

        # Thumbs down on the tip on screen → "User Feedback" on its trace.
        assert coach.feedback("sess-A", thumbs_up=False)
        (score,) = opik_stub.wait_for("feedback", 1)
        assert score["id"] == tip.trace_id
        assert (score["name"], score["value"], score["category_name"]) == (
            "User Feedback",
            0.0,
            "thumbs down",
        )
        # The end-of-session summary: its own trace in the same thread.
        coach.request_summary("sess-A", SNAPSHOT, 240.0)
        assert coach.wait_idle(WAIT_S)
        summary = coach.summary("sess-A")
        assert summary is not None and summary.trace_id
        (summary_trace,) = [
            t for t in opik_stub.wait_for("trace", 2) if t["id"] == summary.trace_id
        ]
        assert summary_trace["name"] == "session-summary"
        assert summary_trace["thread_id"] == "sess-A-live-aicoach-feedback"
        assert summary_trace["tags"] == [*FAMILY_TAGS[:4], "session-summary"]
        assert "Session: 4 min 0 s, 24 notes" in summary_trace["input"]["input"]
        # The outbox learns the SDK delivered the traces and does not send them again.
        wait_until(lambda: not pending(store), "the outbox to see the delivered traces")
        wait_until(lambda: not pending(store, FEEDBACK_KIND), "the feedback to be sent")
    finally:
        assert coach.close()
    assert Counter(t["id"] for t in opik_stub.traces()) == Counter([tip.trace_id, summary.trace_id])


def test_an_offline_coach_tip_is_traced_too(opik_stub: OpikStub, store: Store) -> None:
    coach = LiveCoach.from_env(store=store, environ={"OPIK_URL_OVERRIDE": opik_stub.url})
    coach.start()
    try:
        coach.maybe_request("sess-B", SNAPSHOT, 15.0, False, ai_mode=True)
        assert coach.wait_idle(WAIT_S)
        tip = coach.latest("sess-B")
        assert tip is not None and tip.provider == "offline" and tip.trace_id
        (trace,) = opik_stub.wait_for("trace", 1)
        assert trace["id"] == tip.trace_id
        assert trace["tags"] == [
            "fretcoach-core",
            "offline-coach",
            "ai-mode",
            "fretcoach-portable",
            "live-feedback",
        ]
        assert trace["metadata"]["provider"] == "offline"
        assert trace["output"] == {"output": tip.text}
        assert trace["thread_id"] == "sess-B-live-aicoach-feedback"
        assert [s["type"] for s in opik_stub.wait_for("span", 1)] == ["general"]  # no LLM call
    finally:
        assert coach.close()


def traced_generator(llm: LLMStub, opik_url: str, store: Store) -> tuple[TipGenerator, Tracer]:
    tracer = Tracer(OpikSettings(enabled=True, url=opik_url), store=store)
    primary = ProviderSettings(
        "openai", "gpt-4o-mini", "sk-test", llm.base_url, 5.0, trace_provider="openai"
    )
    return TipGenerator(CoachSettings(primary), tracer=tracer), tracer


def test_offline_then_online_in_one_process_every_trace_arrives_once(
    llm: LLMStub, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK's connection monitor pings every 10 s by default; quicker for the test.
    monkeypatch.setenv("OPIK_CONNECTION_MONITOR_PING_INTERVAL", "0.2")
    opik_stub = OpikStub(tmp_path / "opik-received.jsonl", port=free_port())  # not started
    generator, tracer = traced_generator(llm, opik_stub.url, store)
    replayer = TraceReplayer(store, tracer.settings, live_origin=tracer.origin)
    try:
        ids = [generator.generate(TipRequest("sess-C", SNAPSHOT, t)).trace_id for t in (15, 75)]
        assert all(ids) and sorted(pending(store)) == sorted(ids)
        assert replayer.replay_once().unreachable
        with opik_stub:
            # The running SDK replays its own backlog once Opik answers again ...
            opik_stub.wait_for("trace", 2)
            # ... and the outbox sees them there instead of sending them a second time.
            report = replayer.replay_once()
            assert (report.already_there, report.sent) == (2, 0)
            assert pending(store) == []
            assert (
                replayer.replay_once().as_dict()
                == TraceReplayer(store, tracer.settings).replay_once().as_dict()
            )  # nothing left for anyone
            assert Counter(t["id"] for t in opik_stub.traces()) == Counter(ids)
    finally:
        tracer.close(1)


def test_a_captive_portal_is_not_taken_for_opik(
    llm: LLMStub, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a Wi-Fi sign-in page every call answers 200 HTML: the outbox keeps the trace
    (the round ends as for a busy Opik) and sends it once the real Opik answers there."""
    monkeypatch.setenv("OPIK_CONNECTION_MONITOR_PING_INTERVAL", "0.2")
    port = free_port()
    portal = OpikStub(tmp_path / "portal.jsonl", port=port, portal=True).start()
    generator, tracer = traced_generator(llm, portal.url, store)
    replayer = TraceReplayer(store, tracer.settings, live_origin=tracer.origin)
    try:
        trace_id = generator.generate(TipRequest("sess-P", SNAPSHOT, 15)).trace_id
        assert trace_id and pending(store) == [trace_id]
        report = replayer.replay_once()
        assert (report.retry, report.sent, report.already_there, report.rejected) == (1, 0, 0, 0)
        assert pending(store) == [trace_id]
        portal.stop()
        with OpikStub(tmp_path / "opik-received.jsonl", port=port) as opik_stub:
            opik_stub.wait_for("trace", 1)  # the SDK did not take the portal for Opik either
            report = replayer.replay_once()
            assert report.already_there == 1
            assert pending(store) == []
            assert [t["id"] for t in opik_stub.traces()] == [trace_id]
    finally:
        portal.stop()
        tracer.close(1)


CHILD = """
import sys, time
from pathlib import Path
from coach.feedback import TipGenerator, TipRequest
from coach.providers import CoachSettings, ProviderSettings
from coach.tips import MetricSnapshot
from coach.tracing import OpikSettings, Tracer
from sync.store import Store

state, opik_url, llm_url = sys.argv[1:4]
store = Store.open(Path(state))
tracer = Tracer(OpikSettings(enabled=True, url=opik_url), store=store)
primary = ProviderSettings("openai", "gpt-4o-mini", "k", llm_url, 5.0, trace_provider="openai")
generator = TipGenerator(CoachSettings(primary), tracer=tracer)
snapshot = MetricSnapshot(("pitch", "timing"), 0.953, None, 0.21, "A minor pentatonic", 92, 24)
for stream_s in (15.0, 75.0):
    print(generator.generate(TipRequest("sess-K", snapshot, stream_s)).trace_id, flush=True)
time.sleep(600)
"""


def test_traces_pending_at_a_kill_9_arrive_after_restart_exactly_once(
    llm: LLMStub, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    opik_stub = OpikStub(tmp_path / "opik-received.jsonl", port=free_port())  # Opik is down
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state), opik_stub.url, llm.base_url],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        ids = [child.stdout.readline().strip() for _ in range(2)]
    finally:
        child.kill()  # SIGKILL: no atexit, no flush — the SDK's buffer is gone
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    killed_at = dt.datetime.now(dt.UTC)
    assert all(ids), "the child made no traced tips"

    settings = OpikSettings(enabled=True, url=opik_stub.url)
    with Store.open(state) as store, opik_stub:
        assert sorted(pending(store)) == sorted(ids)
        assert Tracer(settings, store=store).queue_feedback(ids[0], thumbs_up=True)
        report = TraceReplayer(store, settings).replay_once()
        assert (report.sent, report.feedback_sent, report.rejected) == (2, 1, 0)
        traces = opik_stub.traces()
        assert Counter(t["id"] for t in traces) == Counter(ids)
        for trace in traces:
            assert dt.datetime.fromisoformat(trace["start_time"]) < killed_at  # original time
            assert trace["thread_id"] == "sess-K-live-aicoach-feedback"
            assert trace["tags"] == FAMILY_TAGS
            assert trace["metadata"]["session_id"] == "sess-K"
            # The prompt's version survives the kill: the outbox record carries it.
            assert trace["metadata"]["prompt_commit"] == LIVE_FEEDBACK_V1.library.commit
            assert trace["metadata"]["prompt_name"] == "fretcoach-live-feedback"
        llm_spans = [s for s in opik_stub.spans() if s["type"] == "llm"]
        assert sorted(s["trace_id"] for s in llm_spans) == sorted(ids)
        assert all(s["usage"]["total_tokens"] == 148 for s in llm_spans)
        (score,) = opik_stub.feedback()
        assert (score["id"], score["name"], score["value"]) == (ids[0], "User Feedback", 1.0)
        # Once more, and from yet another "restart": nothing is sent twice.
        assert TraceReplayer(store, settings).replay_once().as_dict() == {
            "sent": 0,
            "already_there": 0,
            "deferred": 0,
            "retry": 0,
            "rejected": 0,
            "feedback_sent": 0,
            "unreachable": False,
        }
        assert len(opik_stub.traces()) == 2 and len(opik_stub.feedback()) == 1


def test_a_record_opik_refuses_is_dead_lettered_not_retried_forever(
    opik_stub: OpikStub, store: Store
) -> None:
    store.enqueue_payload(TRACE_KIND, "not-json", "{nope")
    report = TraceReplayer(store, OpikSettings(enabled=True, url=opik_stub.url)).replay_once()
    assert report.rejected == 1 and pending(store) == []
    assert store.outbox_counts().rejected == 1


def test_opik_settings_and_device_defaults(tmp_path: Path) -> None:
    assert not OpikSettings.from_env({}).enabled
    settings = OpikSettings.from_env(
        {"OPIK_URL_OVERRIDE": "http://opik.local/api/", "RUNTIME_DIRECTORY": "/run/fretcoach"}
    )
    assert settings.enabled and settings.project_name == "FretCoach"
    assert settings.buffer_dir == "/run/fretcoach"
    named = OpikSettings.from_env({"OPIK_API_KEY": "k", "OPIK_PROJECT_NAME": "P"})
    assert named.project_name == "P"
    assert not OpikSettings.from_env({"OPIK_API_KEY": "k", "OPIK_TRACK_DISABLE": "true"}).enabled
    environ = {"OPIK_ANALYTICS_ENABLE": "true"}  # an explicit choice is kept
    applied = prepare_opik_environment(settings, environ)
    assert environ["OPIK_DEFAULT_FLUSH_TIMEOUT"] == "3"
    assert environ["OPIK_SENTRY_ENABLE"] == "false"
    assert environ["OPIK_ANALYTICS_ENABLE"] == "true"
    assert environ["OPIK_PROJECT_NAME"] == "FretCoach"
    assert environ["TMPDIR"] == "/run/fretcoach"
    assert "OPIK_ANALYTICS_ENABLE" not in applied
    assert json.dumps(applied)  # plain strings, loggable


def test_logs_show_the_opik_url_without_its_credentials() -> None:
    settings = OpikSettings(enabled=True, url="https://ana:s3cret@opik.example:8443/api/")
    assert settings.shown_url == "https://***@opik.example:8443/api"
    assert "s3cret" not in settings.shown_url and "ana" not in settings.shown_url
    plain = OpikSettings(enabled=True, url="http://127.0.0.1:5173/api")
    assert plain.shown_url == plain.base_url == "http://127.0.0.1:5173/api"
