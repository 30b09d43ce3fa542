"""The live coach's schedule and threading, driven by stream time (no clocks asserted).

The schedule runs on the offline coach (no key, no network); the in-flight tests hold a
request inside the OpenAI-compatible stub so "the worker is busy" is a fact, not a sleep.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from coach.feedback import TipGenerator
from coach.live import LiveCoach
from coach.providers import CoachSettings, ProviderSettings
from dsp.errors import CoachSettingError
from tests.conftest import metric_snapshot
from tests.llmstub import DEFAULT_TEXT, LLMStub

WAIT_S = 10.0  # generous upper bound for a background step on a loaded machine


@pytest.fixture
def offline_coach() -> Iterator[LiveCoach]:
    coach = LiveCoach(TipGenerator(CoachSettings(None), rng=random.Random(3))).start()
    yield coach
    assert coach.close()


def ask(coach: LiveCoach, stream_s: float, *, paused: bool = False, notes: int = 24) -> bool:
    """One call as the daemon makes it; True when it started a request."""
    before = coach.tips_made
    coach.maybe_request("s1", metric_snapshot(notes=notes), stream_s, paused)
    assert coach.wait_idle(WAIT_S)  # a request, if started, is finished now
    assert coach.tips_made - before in (0, 1)
    return coach.tips_made > before


def test_first_tip_after_15_s_then_every_60_s(offline_coach: LiveCoach) -> None:
    coach = offline_coach
    assert coach.latest("s1") is None
    assert [ask(coach, t) for t in (0.0, 5.0, 14.9)] == [False, False, False]
    assert ask(coach, 15.0)
    tip = coach.latest("s1")
    assert tip is not None and tip.created_at_stream_s == 15.0 and tip.kind == "offline"
    assert [ask(coach, t) for t in (16.0, 45.0, 74.9)] == [False, False, False]
    assert ask(coach, 75.0)
    assert ask(coach, 135.0)


def test_paused_suspends_and_few_notes_wait(offline_coach: LiveCoach) -> None:
    coach = offline_coach
    assert not ask(coach, 20.0, paused=True)
    assert not ask(coach, 21.0, notes=3)  # too few notes in the window to judge
    assert ask(coach, 22.0)  # enough notes now: the due tip comes at once
    assert not ask(coach, 90.0, paused=True)
    assert ask(coach, 90.0)


def test_interval_choices(offline_coach: LiveCoach) -> None:
    coach = offline_coach
    assert ask(coach, 15.0)
    coach.set_interval(120.0)
    assert not ask(coach, 75.0)
    assert ask(coach, 135.0)
    coach.set_interval(30.0)
    assert ask(coach, 165.0)
    with pytest.raises(CoachSettingError, match="30, 60, 120, 300"):
        coach.set_interval(45.0)
    with pytest.raises(CoachSettingError, match="interval_s"):
        LiveCoach(TipGenerator(CoachSettings(None)), interval_s=10.0)


def test_a_new_session_starts_its_own_schedule(offline_coach: LiveCoach) -> None:
    coach = offline_coach
    assert ask(coach, 15.0)
    coach.maybe_request("s2", metric_snapshot(), 10.0, False)
    assert not coach.in_flight
    assert coach.latest("s1") is None  # s1 ended when s2 began
    assert coach.summary_tip("s1") is not None


def stub_coach(stub: LLMStub) -> LiveCoach:
    # A timeout far past anything the test waits for: the stub holds the request.
    settings = CoachSettings(ProviderSettings("openai", "gpt-4o-mini", "k", stub.base_url, 60))
    return LiveCoach(TipGenerator(settings)).start()


def test_at_most_one_request_in_flight_and_asking_never_blocks(llm: LLMStub) -> None:
    coach = stub_coach(llm)
    try:
        llm.script({"kind": "hang", "seconds": 60})
        coach.maybe_request("s1", metric_snapshot(), 15.0, False)
        llm.wait_holding(1)  # the worker is now blocked inside the HTTP call
        # Due again (75 s) while the first is held: returns at once, starts nothing.
        coach.maybe_request("s1", metric_snapshot(), 75.0, False)
        coach.maybe_request("s1", metric_snapshot(), 80.0, False)
        assert coach.in_flight
        assert coach.latest("s1") is None
        assert len(llm.requests()) == 1
        llm.release()
        assert coach.wait_idle(WAIT_S)
        tip = coach.latest("s1")
        assert tip is not None and tip.text == DEFAULT_TEXT and tip.created_at_stream_s == 15.0
        # The next due call goes out now that nothing is in flight.
        coach.maybe_request("s1", metric_snapshot(), 80.0, False)
        assert coach.wait_idle(WAIT_S)
        assert len(llm.requests()) == 2
    finally:
        llm.release()
        coach.close()


def test_a_tip_after_the_session_ended_goes_to_the_summary(llm: LLMStub) -> None:
    coach = stub_coach(llm)
    try:
        llm.script({"kind": "hang", "seconds": 60})
        coach.maybe_request("s1", metric_snapshot(), 15.0, False)
        llm.wait_holding(1)
        coach.end_session("s1")
        llm.release()
        assert coach.wait_idle(WAIT_S)
        assert coach.latest("s1") is None
        late = coach.summary_tip("s1")
        assert late is not None and late.text == DEFAULT_TEXT
        coach.maybe_request("s1", metric_snapshot(), 200.0, False)
        assert not coach.in_flight  # an ended session asks no more
    finally:
        coach.close()


def test_close_does_not_wait_for_a_hanging_request(llm: LLMStub) -> None:
    coach = stub_coach(llm)
    llm.script({"kind": "hang", "seconds": 60})
    coach.maybe_request("s1", metric_snapshot(), 15.0, False)
    llm.wait_holding(1)
    assert coach.close(timeout=0.2) is False  # returned while the request is still held
    assert llm.holding() == 1
    coach.maybe_request("s1", metric_snapshot(), 100.0, False)  # after close: ignored, no error
    llm.release()


def test_the_session_summary_comes_on_request(offline_coach: LiveCoach) -> None:
    coach = offline_coach
    assert ask(coach, 15.0)
    live_tip = coach.latest("s1")
    assert live_tip is not None and coach.tip_on_screen("s1") is live_tip
    coach.request_summary("s1", metric_snapshot(notes=200), 180.0)
    assert coach.wait_idle(WAIT_S)
    summary = coach.summary("s1")
    assert summary is not None and summary.text.startswith("3 min 0 s of A minor pentatonic")
    assert coach.latest("s1") is None  # the session has ended
    assert coach.summary_tip("s1") is not None  # its last live tip is kept for the screen
    assert coach.tip_on_screen("s1") is summary  # what thumbs up/down now rate
    assert not ask(coach, 200.0)


def test_feedback_needs_a_traced_tip(offline_coach: LiveCoach) -> None:
    assert not offline_coach.feedback("s1", thumbs_up=True)  # no tip yet
    assert ask(offline_coach, 15.0)
    assert not offline_coach.feedback("s1", thumbs_up=True)  # tracing is off: no trace id
