"""AI mode: history from the store, rule-based picks, the model's reply checked, plans queued.

Its Opik traces: ``test_recommend_tracing.py``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coach.providers import CoachSettings, ProviderSettings
from coach.recommend import (
    Recommendation,
    Recommender,
    history_from_store,
    recommend_for,
    rule_based,
    store_plan,
)
from dsp.errors import RecommendationError
from dsp.scales import parse_scale
from sync.records import SessionProgress
from sync.store import Store
from tests.conftest import session_start
from tests.llmstub import LLMStub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        yield opened


def add_session(
    store: Store,
    *,
    pitch: float | None,
    scale: float | None,
    timing: float | None,
    scale_name: str = "A Minor (Pentatonic)",
    user: str = "alice",
    age_s: float = 600.0,
) -> str:
    session_id = str(uuid.uuid4())
    parsed = parse_scale(scale_name)
    store.begin_session(
        session_start(
            session_id,
            user=user,
            scale_chosen=parsed.hub_name,
            scale_type=parsed.hub_type,
            total_inscale_notes=parsed.size,
            bpm=80.0,
            start_wall=time.time() - age_s,
        )
    )
    store.finish_session(session_id, SessionProgress(120.0, pitch, scale, timing, 40, 36, 4), [])
    return session_id


def settings_for(stub: LLMStub) -> CoachSettings:
    return CoachSettings(ProviderSettings("openai", "gpt-4o-mini", "sk-test", stub.base_url))


def reply(**changes: object) -> str:
    body = {
        "scale_name": "D Dorian",
        "scale_type": "dorian",
        "focus_area": "scale",
        "reasoning": "Your scale conformity lags. Dorian's raised sixth keeps you listening.",
        "strictness": 0.6,
        "sensitivity": 0.5,
    }
    return json.dumps({**body, **changes})


@pytest.mark.parametrize(
    ("scores", "focus", "scale_name"),
    [
        ((0.4, 0.9, 0.8), "pitch", "A Minor (Pentatonic)"),
        ((0.9, 0.5, 0.8), "scale", "C Major (Natural)"),
        ((0.9, 0.8, 0.3), "timing", "E Minor (Pentatonic)"),
    ],
)
def test_rules_train_the_weakest_area(
    store: Store, scores: tuple[float, float, float], focus: str, scale_name: str
) -> None:
    for age in (900.0, 600.0):
        add_session(store, pitch=scores[0], scale=scores[1], timing=scores[2], age_s=age)
    add_session(store, pitch=0.1, scale=0.1, timing=0.1, user="bob")  # another player
    history = history_from_store(store, "alice")
    assert len(history.sessions) == 2
    assert history.weakest_area == focus
    assert history.per_scale["A Minor (Pentatonic)"].sessions == 2
    rec = rule_based(history)
    assert (rec.focus_area, rec.scale_name, rec.source) == (focus, scale_name, "rules")
    assert 0.0 <= rec.strictness <= 1.0 and 0.0 <= rec.sensitivity <= 1.0
    assert rec.reasoning


def test_rules_do_not_repeat_recent_suggestions(store: Store) -> None:
    add_session(store, pitch=0.3, scale=0.9, timing=0.9)
    first = rule_based(history_from_store(store, "alice"))
    store_plan(store, first, "alice")
    history = history_from_store(store, "alice")
    assert history.recent_suggestions == (first.scale_name,)
    assert history.pending_plan is not None
    assert history.pending_plan["scale_name"] == first.scale_name
    second = rule_based(history)
    assert second.focus_area == "pitch"
    assert second.scale_name != first.scale_name


def test_no_history_still_recommends(store: Store) -> None:
    rec = Recommender().recommend(history_from_store(store, "alice"))  # no key: rules
    assert rec.source == "rules"
    assert rec.focus_area == "pitch"
    assert rec.reasoning.startswith("No sessions yet")


def test_recommendations_are_checked_and_clamped() -> None:
    rec = Recommendation.checked(
        scale_name="a minor pentatonic",
        scale_type="pentatonic",
        focus_area="timing",
        reasoning=" steady ",
        strictness=1.7,
        sensitivity=-0.2,
    )
    assert (rec.scale_name, rec.scale_type) == ("A Minor (Pentatonic)", "pentatonic")
    assert (rec.strictness, rec.sensitivity, rec.reasoning) == (1.0, 0.0, "steady")
    for bad in (
        {"scale_name": "H Minor (Pentatonic)"},
        {"scale_name": "A Super Locrian", "scale_type": "super locrian"},
        {"scale_type": "blues"},  # the name and the type disagree
        {"focus_area": "speed"},
        {"strictness": "high"},
        {"reasoning": ""},
    ):
        fields = {
            "scale_name": "A Minor (Pentatonic)",
            "scale_type": "pentatonic",
            "focus_area": "pitch",
            "reasoning": "r",
            "strictness": 0.5,
            "sensitivity": 0.5,
            **bad,
        }
        with pytest.raises(RecommendationError):
            Recommendation.checked(**fields)


def test_the_model_answers_with_a_json_schema(store: Store, llm: LLMStub) -> None:
    add_session(store, pitch=0.9, scale=0.5, timing=0.8)
    before = len(llm.requests())
    llm.script({"kind": "answer", "text": reply()})
    rec = Recommender(settings_for(llm)).recommend(history_from_store(store, "alice"))
    assert (rec.scale_name, rec.scale_type, rec.source) == ("D Dorian", "dorian", "model")
    [request] = llm.requests()[before:]
    history = json.loads(request["messages"][1]["content"])
    assert history["weakest_area"] == "scale"
    assert history["last_sessions"][0]["scale"] == "A Minor (Pentatonic)"


def test_an_unknown_scale_is_sent_back_once(store: Store, llm: LLMStub) -> None:
    add_session(store, pitch=0.9, scale=0.5, timing=0.8)
    before = len(llm.requests())
    llm.script(
        {"kind": "answer", "text": reply(scale_name="H Hyperlydian", scale_type="hyper")},
        {"kind": "answer", "text": reply(scale_name="G Mixolydian", scale_type="mixolydian")},
    )
    rec = Recommender(settings_for(llm)).recommend(history_from_store(store, "alice"))
    assert (rec.scale_name, rec.source) == ("G Mixolydian", "model")
    retry = llm.requests()[before:][1]["messages"]
    assert "H Hyperlydian" in retry[-2]["content"]  # its own answer, then why it was refused
    assert "not a scale FretCoach knows" in retry[-1]["content"]


def test_two_bad_replies_give_the_rule_based_pick(store: Store, llm: LLMStub) -> None:
    add_session(store, pitch=0.9, scale=0.8, timing=0.3)
    before = len(llm.requests())
    llm.script(
        {"kind": "answer", "text": "{not json"},
        {"kind": "answer", "text": reply(scale_name="Q Major (Natural)", scale_type="natural")},
    )
    rec = Recommender(settings_for(llm)).recommend(history_from_store(store, "alice"))
    assert len(llm.requests()) - before == 2
    assert (rec.source, rec.focus_area) == ("rules", "timing")


def test_a_failing_model_gives_the_rule_based_pick(store: Store, llm: LLMStub) -> None:
    add_session(store, pitch=0.2, scale=0.8, timing=0.9)
    llm.script({"kind": "status", "status": 500})
    rec = Recommender(settings_for(llm)).recommend(history_from_store(store, "alice"))
    assert (rec.source, rec.focus_area) == ("rules", "pitch")


def test_a_plan_is_stored_and_queued_for_the_hub(store: Store) -> None:
    add_session(store, pitch=0.9, scale=0.9, timing=0.4)
    rec, practice_id = recommend_for(store, "alice", Recommender())
    [plan] = store.practice_plans("alice")
    assert plan["practice_id"] == practice_id
    assert plan["practice_plan"] == rec.plan()
    assert plan["executed_session_id"] is None
    [item] = store.pending(kinds=("practice_plan",))
    assert item.ref == practice_id
    payload = json.loads(item.payload or "")
    assert set(payload) == {
        "practice_id",
        "user_id",
        "generated_at",
        "practice_plan",
        "executed_session_id",
    }
    assert payload["user_id"] == "alice"
    assert payload["generated_at"].endswith("+00:00")
    assert payload["executed_session_id"] is None
    assert set(payload["practice_plan"]) == {
        "scale_name",
        "scale_type",
        "focus_area",
        "reasoning",
        "strictness",
        "sensitivity",
    }
    session_id = add_session(store, pitch=0.9, scale=0.9, timing=0.6)
    assert store.link_practice_plan(practice_id, session_id)
    assert not store.link_practice_plan(practice_id, session_id)  # a plan runs once
    [link] = store.pending(kinds=("practice_plan_link",))
    assert json.loads(link.payload or "")["executed_session_id"] == session_id
    assert history_from_store(store, "alice").pending_plan is None
