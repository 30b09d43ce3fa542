"""AI mode's Opik traces: the real ``opik`` SDK against the Opik capture server.

A recommendation is one trace in ``portable-ai-mode-<practice_id>``, sent by the SDK and
queued in the store's outbox with the same ids; assertions are on the JSON the server
received — and that the trace arrives exactly once when Opik was down while the plan was
made: within one process (the SDK's own backlog) and across a kill -9 (the outbox).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coach.providers import CoachSettings, ProviderSettings
from coach.recommend import Recommender, recommend_for
from coach.replay import TraceReplayer
from coach.tracing import TRACE_KIND, OpikSettings, Tracer
from device.launcher import free_port
from sync.store import Store
from tests.conftest import REPO
from tests.llmstub import LLMStub
from tests.opikstub import OpikStub
from tests.test_recommend import add_session as add_scored_session

FAMILY_TAGS = [
    "fretcoach-core",
    "gpt-4o-mini",
    "ai-mode",
    "fretcoach-portable",
    "practice-recommendation",
]
REPLY = json.dumps(
    {
        "scale_name": "D Dorian",
        "scale_type": "dorian",
        "focus_area": "scale",
        "reasoning": "Your scale conformity lags. Dorian's raised sixth keeps you listening.",
        "strictness": 0.6,
        "sensitivity": 0.5,
    }
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state") as opened:
        yield opened


def add_session(store: Store, user: str = "alice") -> None:
    """One finished session of history (pitch 90 %, scale 50 %, timing 80 %)."""
    add_scored_session(store, pitch=0.9, scale=0.5, timing=0.8, user=user)


def model(stub: LLMStub, fallback: str | None = None) -> CoachSettings:
    def provider(name: str, model_name: str) -> ProviderSettings:
        return ProviderSettings(
            name, model_name, "sk-test", stub.base_url, 5.0, trace_provider="openai"
        )

    return CoachSettings(
        provider("openai", "gpt-4o-mini"), provider("fallback", fallback) if fallback else None
    )


def queued(store: Store) -> list[dict[str, Any]]:
    return [json.loads(item.payload or "") for item in store.pending(kinds=(TRACE_KIND,))]


def assert_family_trace(trace: dict[str, Any], practice_id: str) -> None:
    assert trace["name"] == "ai-mode-recommendation"
    assert trace["project_name"] == "FretCoach"
    assert trace["thread_id"] == f"portable-ai-mode-{practice_id}"
    assert trace["tags"] == FAMILY_TAGS
    metadata = trace["metadata"]
    assert (metadata["user_id"], metadata["practice_id"]) == ("alice", practice_id)
    assert (metadata["source"], metadata["provider"], metadata["model"]) == (
        "model",
        "openai",
        "gpt-4o-mini",
    )
    assert trace["input"]["history"]["weakest_area"] == "scale"
    assert trace["output"]["scale_name"] == "D Dorian"


def test_a_recommendation_is_traced_in_its_own_thread_and_queued_once(
    store: Store, llm: LLMStub, tmp_path: Path
) -> None:
    add_session(store)
    llm.script({"kind": "answer", "text": REPLY})
    with OpikStub(tmp_path / "opik-received.jsonl") as opik_stub:
        tracer = Tracer(OpikSettings(enabled=True, url=opik_stub.url), store=store)
        try:
            rec, practice_id = recommend_for(store, "alice", Recommender(model(llm), tracer=tracer))
            assert tracer.flush(5.0)
            (trace,) = opik_stub.wait_for("trace", 1)
            spans = opik_stub.wait_for("span", 2)
            # The outbox holds the same trace, and learns that Opik has it.
            (record,) = queued(store)
            assert record["trace"]["id"] == trace["id"]
            report = TraceReplayer(store, tracer.settings, live_origin=tracer.origin).replay_once()
            assert (report.already_there, report.sent) == (1, 0)
            assert queued(store) == []
        finally:
            tracer.close(3.0)
        assert [t["id"] for t in opik_stub.traces()] == [trace["id"]]
    assert rec.source == "model"
    assert_family_trace(trace, practice_id)
    (llm_span,) = [s for s in spans if s["type"] == "llm"]
    assert llm_span["trace_id"] == trace["id"]
    assert llm_span["usage"]["total_tokens"] == 148


def test_offline_then_online_in_one_process_the_trace_arrives_once(
    store: Store, llm: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK's connection monitor pings every 10 s by default; quicker for the test.
    monkeypatch.setenv("OPIK_CONNECTION_MONITOR_PING_INTERVAL", "0.2")
    add_session(store)
    llm.script({"kind": "answer", "text": REPLY})
    opik_stub = OpikStub(tmp_path / "opik-received.jsonl", port=free_port())  # Opik is down
    tracer = Tracer(OpikSettings(enabled=True, url=opik_stub.url), store=store)
    # The daemon's replayer runs in the live coach, with the live coach's tracer: another
    # tracer of the same process, so AI mode's traces are left to AI mode's SDK client.
    live_coach_tracer = Tracer(tracer.settings, store=store)
    replayer = TraceReplayer(store, tracer.settings, live_origin=live_coach_tracer.origin)
    try:
        _, practice_id = recommend_for(store, "alice", Recommender(model(llm), tracer=tracer))
        (record,) = queued(store)
        assert replayer.replay_once().unreachable
        with opik_stub:
            # While the SDK has not delivered it, the outbox only checks, never posts ...
            rounds = [replayer.replay_once()]
            # ... the running SDK replays its own backlog once Opik answers again ...
            (trace,) = opik_stub.wait_for("trace", 1, timeout=30)
            # ... and the outbox sees it there instead of sending it a second time.
            rounds.append(replayer.replay_once())
            assert sum(r.sent for r in rounds) == 0
            assert sum(r.already_there for r in rounds) == 1
            assert queued(store) == []
            assert TraceReplayer(store, tracer.settings).replay_once().sent == 0
            assert [t["id"] for t in opik_stub.traces()] == [record["trace"]["id"]]
    finally:
        tracer.close(1)
    assert_family_trace(trace, practice_id)


CHILD = """
import sys, time
from pathlib import Path
from coach.providers import CoachSettings, ProviderSettings
from coach.recommend import Recommender, recommend_for
from coach.tracing import OpikSettings, Tracer
from sync.store import Store

state, opik_url, llm_url = sys.argv[1:4]
store = Store.open(Path(state))
tracer = Tracer(OpikSettings(enabled=True, url=opik_url), store=store)
primary = ProviderSettings("openai", "gpt-4o-mini", "k", llm_url, 5.0, trace_provider="openai")
_, practice_id = recommend_for(store, "alice", Recommender(CoachSettings(primary), tracer=tracer))
print(practice_id, flush=True)
time.sleep(600)
"""


def test_a_recommendation_pending_at_a_kill_9_arrives_after_restart_exactly_once(
    llm: LLMStub, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        add_session(store)
    # A reply naming a scale that does not exist is sent back once: two LLM spans.
    llm.script(
        {"kind": "answer", "text": REPLY.replace("D Dorian", "H Hyperlydian")},
        {"kind": "answer", "text": REPLY},
    )
    opik_stub = OpikStub(tmp_path / "opik-received.jsonl", port=free_port())  # Opik is down
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state), opik_stub.url, llm.base_url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        practice_id = child.stdout.readline().strip()
    finally:
        child.kill()  # SIGKILL: no atexit, no flush — the SDK's buffer is gone
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    killed_at = dt.datetime.now(dt.UTC)
    assert practice_id, "the child made no recommendation"

    settings = OpikSettings(enabled=True, url=opik_stub.url)
    with Store.open(state) as store, opik_stub:
        (record,) = queued(store)
        report = TraceReplayer(store, settings).replay_once()
        assert (report.sent, report.rejected) == (1, 0)
        (trace,) = opik_stub.traces()
        assert trace["id"] == record["trace"]["id"]
        assert_family_trace(trace, practice_id)
        assert dt.datetime.fromisoformat(trace["start_time"]) < killed_at  # original time
        spans = opik_stub.spans()
        (root,) = [s for s in spans if s["type"] == "general"]
        llm_spans = [s for s in spans if s["type"] == "llm"]
        assert [s["parent_span_id"] for s in llm_spans] == [root["id"], root["id"]]
        assert all(s["trace_id"] == trace["id"] for s in spans)
        assert all(s["usage"]["total_tokens"] == 148 for s in llm_spans)
        assert all(s["model"] == "gpt-4o-mini" for s in llm_spans)
        retry = llm_spans[1]["input"]["messages"]
        assert "H Hyperlydian" in retry[-2]["content"]  # the refused answer went back
        assert llm_spans[1]["output"]["content"] == REPLY
        # Once more, and from yet another "restart": nothing is sent twice.
        assert TraceReplayer(store, settings).replay_once().sent == 0
        assert len(opik_stub.traces()) == 1


def test_the_trace_names_the_model_that_answered_or_the_rules(
    store: Store, llm: LLMStub, tmp_path: Path
) -> None:
    """The primary fails (500), the fallback answers: its model is the tag and each
    request is an LLM span. Without a model, the rules: ``rule-based``, no LLM span."""
    add_session(store)
    llm.script({"kind": "status", "status": 500}, {"kind": "answer", "text": REPLY})
    with OpikStub(tmp_path / "opik-received.jsonl") as opik_stub:
        tracer = Tracer(OpikSettings(enabled=True, url=opik_stub.url), store=store)
        try:
            recommend_for(store, "alice", Recommender(model(llm, "gpt-4.1-mini"), tracer=tracer))
            recommend_for(store, "alice", Recommender(CoachSettings(None), tracer=tracer))
        finally:
            tracer.close(3.0)
    by_fallback, by_rules = queued(store)
    assert by_fallback["trace"]["tags"][1] == "gpt-4.1-mini"
    assert by_fallback["trace"]["metadata"]["provider"] == "fallback"
    assert by_fallback["trace"]["metadata"]["attempts"] == [
        {"provider": "openai", "model": "gpt-4o-mini", "outcome": "server-error"},
        {"provider": "fallback", "model": "gpt-4.1-mini", "outcome": "ok"},
    ]
    failed, answered = [s for s in by_fallback["spans"] if s["type"] == "llm"]
    assert failed["error_info"]["exception_type"] == "InternalServerError"
    assert failed["usage"] is None and answered["usage"]["total_tokens"] == 148
    assert by_rules["trace"]["tags"] == [
        "fretcoach-core",
        "rule-based",
        "ai-mode",
        "fretcoach-portable",
        "practice-recommendation",
    ]
    assert by_rules["trace"]["metadata"]["source"] == "rules"
    assert [s["type"] for s in by_rules["spans"]] == ["general"]


def test_without_a_store_the_sdk_still_traces_and_nothing_is_queued(
    store: Store, llm: LLMStub, tmp_path: Path
) -> None:
    add_session(store)
    llm.script({"kind": "answer", "text": REPLY})
    with OpikStub(tmp_path / "opik-received.jsonl") as opik_stub:
        tracer = Tracer(OpikSettings(enabled=True, url=opik_stub.url))
        try:
            _, practice_id = recommend_for(store, "alice", Recommender(model(llm), tracer=tracer))
            assert tracer.flush(5.0)
            (trace,) = opik_stub.wait_for("trace", 1)
        finally:
            tracer.close(3.0)
    assert_family_trace(trace, practice_id)
    assert queued(store) == []
    assert Counter(s["type"] for s in opik_stub.spans()) == {"general": 1, "llm": 1}
