"""What the ``live-coach-tts`` trace of one spoken tip says: tags, metadata and a span per
synthesis attempt and for the playback, recorded by :meth:`coach.tracing.Tracer.record`."""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from typing import Any

from coach.speech_settings import ESPEAK
from coach.tracing import DEPLOYMENT, Span, Tracer, error_info, thread_id_for
from coach.voices.base import Synthesis
from coach.voices.wav import Audio
from device.playback import Playback
from device.utterance import Utterance, UtteranceOutcome

TTS_TRACE = "live-coach-tts"
LIVE_COACH_TAG = "live-coach"
TTS_TAG = "tts"


def tts_tags(attempts: Sequence[Synthesis]) -> list[str]:
    """The backends tried, in order (``gpt-4o-mini-tts``, ``espeak-ng``), then the
    family's ``live-coach`` and ``tts``: an OpenAI failure spoken by espeak-ng is found
    under both."""
    return list(dict.fromkeys([*(a.model for a in attempts), LIVE_COACH_TAG, TTS_TAG]))


def record_utterance(
    tracer: Tracer,
    *,
    utterance: Utterance,
    started: dt.datetime,
    waited_s: float,
    attempts: Sequence[Synthesis],
    audio: Audio | None,
    playback: Playback | None,
    outcome: UtteranceOutcome,
) -> str | None:
    """Trace one utterance in its tip's thread; returns the trace id (None: tracing off)."""
    spoken_by = attempts[-1] if audio is not None and attempts else None
    metadata: dict[str, Any] = {
        "session_id": utterance.session_id,
        "ai_mode": utterance.ai_mode,
        "backend": spoken_by.backend if spoken_by else None,
        "model": spoken_by.model if spoken_by else None,
        "voice": spoken_by.voice if spoken_by else None,
        "characters": len(utterance.text),
        "duration_s": round(audio.duration_s, 3) if audio else None,
        "outcome": outcome,
        "ok": outcome == "played",
        "attempts": [
            {"backend": a.backend, "model": a.model, "outcome": a.outcome} for a in attempts
        ],
        "replaced_tips": utterance.replaced,
        "waited_s": round(waited_s, 3),  # in the slot, behind the tip before it
        "synthesis_s": round((attempts[-1].ended_at - started).total_seconds(), 3)
        if attempts
        else None,
        "device": playback.device if playback else None,
        "deployment": DEPLOYMENT,
    }
    error = None
    if outcome in ("failed", "player-failed"):
        message = (playback.error if playback else None) or (
            attempts[-1].error if attempts else "no synthesis backend"
        )
        error = error_info(
            message or outcome,
            "PlayerError" if outcome == "player-failed" else "SynthesisError",
        )
    spans = [_synthesis_span(utterance.text, attempt) for attempt in attempts]
    if playback is not None:
        spans.append(_playback_span(playback))
    return tracer.record(
        TTS_TRACE,
        trace_input={"input": utterance.text},
        trace_output={
            "output": outcome,
            "duration_s": metadata["duration_s"],
            "backend": metadata["backend"],
        },
        tags=tts_tags(attempts),
        metadata=metadata,
        thread_id=thread_id_for(utterance.session_id),
        started=started,
        spans=spans,
        error=error,
    )


def _synthesis_span(text: str, attempt: Synthesis) -> Span:
    by_openai = attempt.backend == "openai"
    return Span(
        name="audio_speech_create" if by_openai else ESPEAK,
        type="llm" if by_openai else "tool",
        started=attempt.started_at,
        ended=attempt.ended_at,
        input={"input": text, "voice": attempt.voice},
        output={"duration_s": round(attempt.audio.duration_s, 3)} if attempt.audio else None,
        metadata={"outcome": attempt.outcome, "backend": attempt.backend},
        fields={"model": attempt.model, "provider": "openai"} if by_openai else {},
        error_info=error_info(attempt.error) if attempt.error else None,
    )


def _playback_span(playback: Playback) -> Span:
    return Span(
        name="playback",
        type="general",
        started=playback.started_at,
        ended=playback.ended_at,
        input={"device": playback.device, "command": shlex.join(playback.command)},
        output={"outcome": playback.outcome, "returncode": playback.returncode},
        metadata={"outcome": playback.outcome},
        error_info=error_info(playback.error, "PlayerError") if playback.error else None,
    )
