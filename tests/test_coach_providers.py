"""Providers: the real ``openai`` client against an OpenAI-compatible stub on 127.0.0.1.

Primary answers; 429 (with Retry-After), 500, a hang past the timeout and a refused
connection move on to the fallback, then to the offline coach; a malformed or unusable
reply is replaced, never shown.
"""

from __future__ import annotations

import random

import pytest

from coach.feedback import TipGenerator, TipRequest
from coach.providers import CoachSettings, ProviderSettings
from coach.tips import MetricSnapshot
from device.launcher import free_port
from dsp.errors import CoachSettingError
from tests.llmstub import DEFAULT_TEXT, LLMStub

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
REQUEST = TipRequest("session-1", SNAPSHOT, 15.0)


def generator(
    primary_url: str | None, fallback_url: str | None = None, *, timeout_s: float = 5.0
) -> TipGenerator:
    primary = (
        ProviderSettings("openai", "gpt-4o-mini", "sk-test", primary_url, timeout_s)
        if primary_url
        else None
    )
    fallback = (
        ProviderSettings("fallback", "fallback-model", "sk-fb", fallback_url, timeout_s)
        if fallback_url
        else None
    )
    return TipGenerator(CoachSettings(primary, fallback), rng=random.Random(7))


def models(stub: LLMStub) -> list[str]:
    return [r["model"] for r in stub.requests()]


def test_primary_answers_with_the_family_settings(llm: LLMStub) -> None:
    tip = generator(llm.base_url).generate(REQUEST)
    assert (tip.text, tip.kind, tip.provider, tip.model) == (
        DEFAULT_TEXT,
        "model",
        "openai",
        "gpt-4o-mini",
    )
    assert (tip.session_id, tip.created_at_stream_s, tip.trace_id) == ("session-1", 15.0, None)
    (request,) = llm.requests()
    assert request["model"] == "gpt-4o-mini"
    assert request["temperature"] == 0.9 and request["max_tokens"] == 100
    assert request["authorized"]
    assert "Pitch 95%, Timing 21%" in request["messages"][1]["content"]


def test_rate_limit_falls_back_and_retry_after_is_honoured(llm: LLMStub) -> None:
    coach = generator(llm.base_url, llm.base_url)
    llm.script({"kind": "status", "status": 429, "retry_after": "120"})
    tip = coach.generate(REQUEST)
    assert (tip.provider, tip.model, tip.kind) == ("fallback", "fallback-model", "model")
    # The primary asked us to wait two minutes: the next tip goes straight to the fallback.
    assert coach.generate(REQUEST).provider == "fallback"
    assert models(llm) == ["gpt-4o-mini", "fallback-model", "fallback-model"]


def test_server_error_falls_back_then_offline(llm: LLMStub) -> None:
    coach = generator(llm.base_url, llm.base_url)
    llm.script({"kind": "status", "status": 500})
    assert coach.generate(REQUEST).provider == "fallback"
    llm.script({"kind": "status", "status": 500}, {"kind": "status", "status": 503})
    tip = coach.generate(REQUEST)
    assert (tip.provider, tip.model, tip.kind) == ("offline", "offline-coach", "offline")
    assert "metronome" in tip.text.lower() and "21%" in tip.text
    assert models(llm) == ["gpt-4o-mini", "fallback-model", "gpt-4o-mini", "fallback-model"]


def test_a_hang_past_the_timeout_falls_back(llm: LLMStub) -> None:
    coach = generator(llm.base_url, llm.base_url, timeout_s=1.0)
    llm.script({"kind": "hang", "seconds": 30})
    tip = coach.generate(REQUEST)
    llm.release()
    assert tip.provider == "fallback" and tip.text == DEFAULT_TEXT


def test_a_refused_connection_falls_back(llm: LLMStub) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    tip = generator(nobody, llm.base_url).generate(REQUEST)
    assert tip.provider == "fallback"
    assert models(llm) == ["fallback-model"]


def test_every_provider_unreachable_gives_the_offline_tip() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    tip = generator(nobody, nobody).generate(REQUEST)
    assert tip.provider == "offline" and tip.kind == "offline"


@pytest.mark.parametrize("kind", ["malformed", "shape"])
def test_a_malformed_reply_is_replaced_not_shown(llm: LLMStub, kind: str) -> None:
    llm.script({"kind": kind})
    tip = generator(llm.base_url, llm.base_url).generate(REQUEST)
    assert tip.kind == "offline" and "%" in tip.text
    assert models(llm) == ["gpt-4o-mini"]  # a broken reply is not a reason to ask again


def test_a_refused_key_goes_offline_without_fallback(llm: LLMStub) -> None:
    llm.script({"kind": "status", "status": 401})
    tip = generator(llm.base_url, llm.base_url).generate(REQUEST)
    assert tip.provider == "offline"
    assert models(llm) == ["gpt-4o-mini"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "offline"),
        ("Nice! Keep rocking, you legend!", "offline"),
        ("Timing is perfect at 95%, but pitch is poor at 21%.", "offline"),
        (
            "Pitch is strong at 95%, but timing lags at 21%. Count aloud with a metronome. "
            "Then add a drone, record yourself and compare each take carefully afterwards.",
            "trimmed",
        ),
    ],
)
def test_unusable_replies_are_trimmed_or_replaced(llm: LLMStub, text: str, kind: str) -> None:
    llm.script({"kind": "answer", "text": text})
    tip = generator(llm.base_url).generate(REQUEST)
    assert tip.kind == kind
    assert tip.text != text
    assert len(tip.text.split()) <= 30


def test_no_key_means_offline_tips_and_no_network() -> None:
    settings = CoachSettings.from_env({})
    assert settings.providers == ()
    tip = TipGenerator(settings).generate(REQUEST)
    assert tip.provider == "offline" and tip.text


def test_settings_from_the_environment() -> None:
    settings = CoachSettings.from_env(
        {
            "OPENAI_API_KEY": "sk-1",
            "OPENAI_BASE_URL": "http://llm.local/v1",
            "FRETCOACH_COACH_FALLBACK_MODEL": "llama3.1:8b",
            "FRETCOACH_COACH_FALLBACK_BASE_URL": "http://ollama.local:11434/v1",
            "FRETCOACH_COACH_TIMEOUT_S": "4",
        }
    )
    assert settings.primary is not None and settings.fallback is not None
    assert (settings.primary.model, settings.primary.base_url) == (
        "gpt-4o-mini",
        "http://llm.local/v1",
    )
    assert settings.primary.timeout_s == 4.0
    assert settings.primary.temperature == 0.9 and settings.primary.max_tokens == 100
    assert (settings.fallback.model, settings.fallback.api_key) == ("llama3.1:8b", "sk-1")
    assert settings.fallback.base_url == "http://ollama.local:11434/v1"
    assert "sk-1" not in repr(settings)
    # A fallback alone (say, a local server) still coaches with a model.
    only = CoachSettings.from_env(
        {"FRETCOACH_COACH_FALLBACK_MODEL": "m", "FRETCOACH_COACH_FALLBACK_API_KEY": "k"}
    )
    assert only.primary is None and [p.model for p in only.providers] == ["m"]
    with pytest.raises(CoachSettingError, match="FRETCOACH_COACH_TIMEOUT_S"):
        CoachSettings.from_env({"FRETCOACH_COACH_TIMEOUT_S": "soon"})
