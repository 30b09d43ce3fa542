"""AI mode: what to practise next, from the local history — by the model (a checked,
structured reply), else by rules — and the plan kept and queued for the Hub.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from coach.prompts import LibraryPrompt
from coach.providers import Attempt, CoachSettings, Outcome, ProviderSettings
from coach.tracing import DEPLOYMENT, LLMCall, llm_spans
from dsp.errors import RecommendationError, UnknownScaleError
from dsp.scales import Scale, parse_scale
from sync.records import utc_iso

if TYPE_CHECKING:
    from coach.tracing import Tracer
    from sync.store import Store

log = logging.getLogger(__name__)

FocusArea = Literal["pitch", "scale", "timing"]
FOCUS_AREAS: tuple[FocusArea, ...] = ("pitch", "scale", "timing")
_SCORE_FIELDS = {
    "pitch": "pitch_accuracy",
    "scale": "scale_conformity",
    "timing": "timing_stability",
}
MAX_REASONING = 4000  # the Hub's limit
MAX_TOKENS = 400
TEMPERATURE = 0.4
# Suggestions made this recently are not made again (by rules; the model is told).
RECENT_PLANS = 3
TRACE_NAME = "ai-mode-recommendation"
PURPOSE_TAG = "practice-recommendation"
RULES_MODEL = "rule-based"  # the model tag of a plan the rules made


@dataclass(frozen=True, slots=True)
class SessionSummary:
    scale: str  # Hub form, "A Minor (Pentatonic)"
    scale_type: str
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    duration_seconds: float


@dataclass(frozen=True, slots=True)
class ScaleStats:
    sessions: int
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None


@dataclass(frozen=True)
class PracticeHistory:
    """What AI mode knows about a player; sessions newest first."""

    user_id: str
    sessions: tuple[SessionSummary, ...] = ()
    averages: dict[str, float | None] = field(default_factory=dict)  # by focus area
    per_scale: dict[str, ScaleStats] = field(default_factory=dict)
    weakest_area: FocusArea | None = None
    pending_plan: dict[str, Any] | None = None
    recent_suggestions: tuple[str, ...] = ()  # Hub scale names, newest first

    def as_prompt_data(self) -> dict[str, Any]:
        return {
            "last_sessions": [
                {
                    "scale": s.scale,
                    "scale_type": s.scale_type,
                    "pitch_accuracy": _round(s.pitch_accuracy),
                    "scale_conformity": _round(s.scale_conformity),
                    "timing_stability": _round(s.timing_stability),
                    "duration_seconds": round(s.duration_seconds),
                }
                for s in self.sessions
            ],
            "averages": {k: _round(v) for k, v in self.averages.items()},
            "per_scale": {
                name: {
                    "sessions": st.sessions,
                    "pitch_accuracy": _round(st.pitch_accuracy),
                    "scale_conformity": _round(st.scale_conformity),
                    "timing_stability": _round(st.timing_stability),
                }
                for name, st in self.per_scale.items()
            },
            "weakest_area": self.weakest_area,
            "pending_plan": self.pending_plan,
            "recent_suggestions_do_not_repeat": list(self.recent_suggestions),
        }


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A checked plan: the scale exists (Hub form), ranges are in 0–1.

    Build with :meth:`checked`, which validates and clamps; ``source`` is "model" or
    "rules" and is not part of the Hub's plan.
    """

    scale_name: str  # Hub form, "A Minor (Pentatonic)"
    scale_type: str  # the Hub's type, "pentatonic"
    focus_area: FocusArea
    reasoning: str
    strictness: float
    sensitivity: float
    source: str = "rules"

    @classmethod
    def checked(
        cls,
        *,
        scale_name: Any,
        scale_type: Any,
        focus_area: Any,
        reasoning: Any,
        strictness: Any,
        sensitivity: Any,
        source: str = "rules",
    ) -> Recommendation:
        scale = _known_scale(scale_name, scale_type)
        if focus_area not in FOCUS_AREAS:
            raise RecommendationError(
                f"focus_area must be one of {', '.join(FOCUS_AREAS)}, not {focus_area!r}"
            )
        if not isinstance(reasoning, str) or not reasoning.strip():
            raise RecommendationError("reasoning must be a non-empty text")
        return cls(
            scale_name=scale.hub_name,
            scale_type=scale.hub_type,
            focus_area=focus_area,
            reasoning=reasoning.strip()[:MAX_REASONING],
            strictness=_unit(strictness, "strictness"),
            sensitivity=_unit(sensitivity, "sensitivity"),
            source=source,
        )

    @property
    def scale(self) -> Scale:
        return parse_scale(self.scale_name)

    def plan(self) -> dict[str, Any]:
        """The Hub's ``practice_plan`` object (no other keys)."""
        return {
            "scale_name": self.scale_name,
            "scale_type": self.scale_type,
            "focus_area": self.focus_area,
            "reasoning": self.reasoning,
            "strictness": self.strictness,
            "sensitivity": self.sensitivity,
        }


def _known_scale(name: Any, scale_type: Any) -> Scale:
    """The Hub form ("A Minor (Pentatonic)") or "<root> <type>" — else rejected."""
    if not isinstance(name, str) or not name.strip():
        raise RecommendationError("scale_name must be a scale such as 'A Minor (Pentatonic)'")
    typed = isinstance(scale_type, str) and scale_type.strip()
    try:
        scale = parse_scale(name)
    except UnknownScaleError:
        # "A Minor" + "pentatonic": the type completes the name.
        try:
            scale = parse_scale(f"{name} {scale_type}") if typed else None
        except UnknownScaleError:
            scale = None
        if scale is not None:
            return scale
    else:
        if not typed or scale_type.strip().lower() in (
            scale.hub_type,
            scale.type.key.replace("_", " "),
            scale.type.display,
        ):
            return scale
    raise RecommendationError(
        f"{name!r} ({scale_type!r}) is not a scale FretCoach knows: use the Hub form, e.g. "
        "'A Minor (Pentatonic)' with scale_type 'pentatonic', 'E Blues' with 'blues', "
        "'D Dorian' with 'dorian', 'C Major (Natural)' with 'natural'"
    )


def _unit(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise RecommendationError(f"{name} must be a number from 0 to 1, not {value!r}")
    return round(min(1.0, max(0.0, float(value))), 3)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- history ------------------------------------------------------------------------------


def history_from_store(store: Store, user_id: str, limit: int = 10) -> PracticeHistory:
    records = store.user_sessions(user_id, limit=limit)
    sessions = tuple(
        SessionSummary(
            scale=r.scale_chosen,
            scale_type=r.scale_type,
            pitch_accuracy=r.pitch_accuracy,
            scale_conformity=r.scale_conformity,
            timing_stability=r.timing_stability,
            duration_seconds=r.duration_seconds,
        )
        for r in records
    )
    averages = {
        area: _mean(getattr(s, _SCORE_FIELDS[area]) for s in sessions) for area in FOCUS_AREAS
    }
    per_scale: dict[str, ScaleStats] = {}
    for name in dict.fromkeys(s.scale for s in sessions):
        mine = [s for s in sessions if s.scale == name]
        per_scale[name] = ScaleStats(
            len(mine), *(_mean(getattr(s, _SCORE_FIELDS[a]) for s in mine) for a in FOCUS_AREAS)
        )
    scored = {a: v for a, v in averages.items() if v is not None}
    weakest: FocusArea | None = min(scored, key=lambda a: scored[a]) if scored else None
    plans = store.practice_plans(user_id, limit=max(RECENT_PLANS, 1))
    pending = next((p for p in plans if p["executed_session_id"] is None), None)
    return PracticeHistory(
        user_id=user_id,
        sessions=sessions,
        averages=averages,
        per_scale=per_scale,
        weakest_area=weakest,
        pending_plan=(
            {"generated_at": pending["generated_at"], **pending["practice_plan"]}
            if pending
            else None
        ),
        recent_suggestions=tuple(p["practice_plan"]["scale_name"] for p in plans[:RECENT_PLANS]),
    )


def _mean(values: Any) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


# -- rules ----------------------------------------------------------------------------------

# Per focus: scales that train it (first fits best) and the settings to practise it with.
_RULES: dict[str, tuple[tuple[str, ...], float, float, str]] = {
    "pitch": (
        ("A minor pentatonic", "E minor pentatonic", "G major pentatonic", "D minor pentatonic"),
        0.7,
        0.5,
        "Pitch is your weakest area: a five-note scale lets you listen to every note and "
        "fret just behind the fret wire; stricter tuning shows each bent or sharp note.",
    ),
    "scale": (
        ("C major", "A natural minor", "D dorian", "G mixolydian"),
        0.5,
        0.6,
        "Scale conformity is your weakest area: a seven-note scale with its half steps "
        "trains you to stay inside the key; play it up and down slowly, then in thirds.",
    ),
    "timing": (
        ("E minor pentatonic", "A blues", "G major pentatonic", "D minor pentatonic"),
        0.4,
        0.6,
        "Timing is your weakest area: a familiar, small scale leaves your attention for the "
        "beat; play even eighth notes with the metronome and keep every note the same length.",
    ),
}


def rule_based(history: PracticeHistory) -> Recommendation:
    """The weakest area → a scale and settings that train it, not one suggested lately."""
    focus: FocusArea = history.weakest_area or "pitch"
    names, strictness, sensitivity, why = _RULES[focus]
    recent = set(history.recent_suggestions)
    scales = [parse_scale(n) for n in names]
    scale = next((s for s in scales if s.hub_name not in recent), scales[0])
    score = history.averages.get(focus)
    if score is not None:
        # Ease off when the area is weak, ask more once it is good.
        strictness = min(0.9, max(0.3, strictness - 0.2 + 0.3 * score))
        why = f"{why} (average {score:.0%} over your last {len(history.sessions)} sessions)"
    elif not history.sessions:
        why = "No sessions yet: " + why.split(": ", 1)[1]
    return Recommendation.checked(
        scale_name=scale.hub_name,
        scale_type=scale.hub_type,
        focus_area=focus,
        reasoning=why,
        strictness=strictness,
        sensitivity=sensitivity,
        source="rules",
    )


# -- model ----------------------------------------------------------------------------------

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scale_name": {"type": "string"},
        "scale_type": {"type": "string"},
        "focus_area": {"type": "string", "enum": list(FOCUS_AREAS)},
        "reasoning": {"type": "string"},
        "strictness": {"type": "number"},
        "sensitivity": {"type": "number"},
    },
    "required": [
        "scale_name",
        "scale_type",
        "focus_area",
        "reasoning",
        "strictness",
        "sensitivity",
    ],
    "additionalProperties": False,
}
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "practice_recommendation", "strict": True, "schema": RESPONSE_SCHEMA},
}
SYSTEM_PROMPT = (
    "You are FretCoach, a guitar practice coach. From the player's recent practice history, "
    "recommend the next session: one scale, the area to focus on (pitch, scale or timing), "
    "a short reasoning (two sentences, addressed to the player), and the settings "
    "strictness and sensitivity, each from 0 to 1 (higher strictness = a narrower pitch "
    "tolerance; higher sensitivity = quieter notes are heard). Name the scale in the Hub "
    "form: '<root> <base> (<variant>)' such as 'A Minor (Pentatonic)', 'C Major (Natural)', "
    "'F# Minor (Harmonic)', or '<root> <name>' such as 'E Blues', 'D Dorian', 'G Mixolydian'; "
    "scale_type is the variant or name in lower case ('pentatonic', 'natural', 'harmonic', "
    "'melodic', 'blues', 'dorian', ...). Do not repeat a recent suggestion."
)


# The AI-mode prompt as the prompt library holds it: the user message is the history JSON.
AI_MODE_PROMPT = LibraryPrompt(
    name="fretcoach-ai-mode-recommendation",
    version="ai-mode-recommendation-v1",
    messages=(("system", SYSTEM_PROMPT), ("user", "{{history}}")),
)


def thread_id_for_plan(practice_id: str) -> str:
    """The family's AI-mode thread: every trace about one plan."""
    return f"portable-ai-mode-{practice_id}"


class Recommender:
    """Model first (primary, then fallback), rules always. Call from a worker thread."""

    def __init__(
        self, settings: CoachSettings | None = None, *, tracer: Tracer | None = None
    ) -> None:
        self.settings = settings if settings is not None else CoachSettings(None)
        self.tracer = tracer
        self._clients: dict[str, Any] = {}

    def recommend(
        self, history: PracticeHistory, *, practice_id: str | None = None
    ) -> Recommendation:
        """Never raises for the model's or the tracer's sake; traced when a tracer is given
        and starts (``practice_id`` names the thread)."""
        tracer = self.tracer
        if tracer is None or practice_id is None or not tracer.start():
            return self._recommend(history, [])
        made: list[Recommendation] = []
        try:
            return tracer.run_traced(TRACE_NAME, self._traced, tracer, history, practice_id, made)
        except Exception:  # tracing is optional: it must not cost the player the plan
            log.exception("ai mode: tracing the recommendation failed")
            return made[0] if made else self._recommend(history, [])

    def _traced(
        self, tracer: Tracer, history: PracticeHistory, practice_id: str, made: list[Recommendation]
    ) -> Recommendation:
        started = _utcnow()
        calls: list[LLMCall] = []
        rec = self._recommend(history, calls)
        made.append(rec)
        tags, metadata = plan_trace_fields(history, practice_id, rec, calls)
        tracer.record(
            TRACE_NAME,
            trace_input={"history": history.as_prompt_data()},
            trace_output=rec.plan(),
            tags=tags,
            metadata=metadata,
            thread_id=thread_id_for_plan(practice_id),
            started=started,
            spans=llm_spans(calls),
        )
        return rec

    def _recommend(self, history: PracticeHistory, calls: list[LLMCall]) -> Recommendation:
        """The plan; every model request made is appended to ``calls``."""
        for provider in self.settings.providers:
            try:
                rec = self._ask(provider, history, calls)
            except Exception as err:  # AI mode must answer: any failure → next, then rules
                log.info("ai mode: %s (%s) failed: %s", provider.name, provider.model, err)
                continue
            if rec is not None:
                return rec
            break  # the model answered, twice, with no usable plan: the rules decide
        return rule_based(history)

    def _ask(
        self, provider: ProviderSettings, history: PracticeHistory, calls: list[LLMCall]
    ) -> Recommendation | None:
        messages: list[dict[str, str]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(history.as_prompt_data(), sort_keys=True)},
        ]
        for attempt in range(2):
            text = self._complete(provider, messages, calls)
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise RecommendationError("the reply must be one JSON object")
                return Recommendation.checked(
                    scale_name=data.get("scale_name"),
                    scale_type=data.get("scale_type"),
                    focus_area=data.get("focus_area"),
                    reasoning=data.get("reasoning"),
                    strictness=data.get("strictness"),
                    sensitivity=data.get("sensitivity"),
                    source="model",
                )
            except ValueError as err:  # JSONDecodeError and RecommendationError
                log.info(
                    "ai mode: unusable reply from %s (try %d): %s", provider.model, attempt + 1, err
                )
                messages += [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": f"That cannot be used: {err}. Answer again."},
                ]
        return None

    def _complete(
        self,
        provider: ProviderSettings,
        messages: Sequence[dict[str, str]],
        calls: list[LLMCall],
    ) -> str:
        """The reply's text; the request, answered or not, is appended to ``calls``."""
        client = self._clients.get(provider.name)
        if client is None:
            import openai

            client = openai.OpenAI(
                api_key=provider.api_key,
                base_url=provider.base_url,
                timeout=provider.timeout_s,
                max_retries=0,
            )
            if self.tracer is not None:
                client = self.tracer.wrap_openai(client, provider.trace_provider)
            self._clients[provider.name] = client
        sent = tuple(dict(m) for m in messages)  # the list grows on a retry

        def attempt(outcome: Outcome, **fields: Any) -> Attempt:
            return Attempt(
                provider=provider.name,
                model=provider.model,
                outcome=outcome,
                started_at=started,
                ended_at=_utcnow(),
                trace_provider=provider.trace_provider,
                **fields,
            )

        started = _utcnow()
        try:
            completion = client.chat.completions.create(
                model=provider.model,
                messages=list(messages),
                temperature=TEMPERATURE,
                max_tokens=MAX_TOKENS,
                response_format=RESPONSE_FORMAT,
            )
            text = completion.choices[0].message.content
        except Exception as err:
            calls.append(
                LLMCall(sent, attempt(_outcome(err), error=f"{type(err).__name__}: {err}"[:300]))
            )
            raise
        if not isinstance(text, str):
            calls.append(LLMCall(sent, attempt("rejected", error="the reply has no text")))
            raise RecommendationError("the reply has no text (refused?)")
        calls.append(LLMCall(sent, attempt("ok", text=text, usage=_usage(completion))))
        return text


def plan_trace_fields(
    history: PracticeHistory,
    practice_id: str,
    rec: Recommendation,
    calls: Sequence[LLMCall],
) -> tuple[list[str], dict[str, Any]]:
    """A recommendation trace's tags and metadata. The model tag is the model that
    answered (the fallback's, when it did), ``rule-based`` when the rules decided."""
    answered = next((c.attempt for c in reversed(calls) if c.attempt.outcome == "ok"), None)
    by_model = rec.source == "model" and answered is not None
    model = answered.model if by_model and answered else RULES_MODEL
    tags = list(dict.fromkeys(["fretcoach-core", model, "ai-mode", DEPLOYMENT, PURPOSE_TAG]))
    metadata = {
        "user_id": history.user_id,
        "practice_id": practice_id,
        "source": rec.source,
        "provider": answered.provider if by_model and answered else "rules",
        "model": model,
        "weakest_area": history.weakest_area,
        "sessions": len(history.sessions),
        "attempts": [
            {"provider": c.attempt.provider, "model": c.attempt.model, "outcome": c.attempt.outcome}
            for c in calls
        ],
        **AI_MODE_PROMPT.trace_metadata(),
        "deployment": DEPLOYMENT,
    }
    return tags, metadata


def _outcome(err: Exception) -> Outcome:
    """The provider outcome an exception from the ``openai`` client stands for."""
    import openai

    if isinstance(err, openai.RateLimitError):
        return "rate-limited"
    if isinstance(err, openai.APITimeoutError):
        return "timeout"
    if isinstance(err, openai.APIConnectionError):
        return "connection-error"
    if isinstance(err, openai.APIStatusError):
        return "server-error" if err.status_code >= 500 else "rejected"
    return "malformed"


def _usage(completion: Any) -> dict[str, int] | None:
    """The token counts Opik's LLM span carries, as :mod:`coach.providers` reads them."""
    usage = getattr(completion, "usage", None)
    counts = {
        key: value
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
        if isinstance(value := getattr(usage, key, None), int)
    }
    return counts or None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- plans ----------------------------------------------------------------------------------


def new_practice_id() -> str:
    return str(uuid.uuid4())


def store_plan(
    store: Store, rec: Recommendation, user_id: str, *, practice_id: str | None = None
) -> str:
    """Keep the plan and queue it for the Hub; returns its ``practice_id``."""
    practice_id = practice_id or new_practice_id()
    store.add_practice_plan(practice_id, user_id, utc_iso(time.time()), rec.plan())
    return practice_id


def recommend_for(
    store: Store, user_id: str, recommender: Recommender
) -> tuple[Recommendation, str]:
    """History → recommendation → stored plan: what AI mode's button does."""
    practice_id = new_practice_id()
    rec = recommender.recommend(history_from_store(store, user_id), practice_id=practice_id)
    return rec, store_plan(store, rec, user_id, practice_id=practice_id)
