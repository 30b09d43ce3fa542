"""The feedback function: snapshot in, tip out — always a tip, never an exception — and
what its Opik trace says (one trace per tip, named after the request's purpose).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Any, Literal

from coach.offline import OFFLINE_MODEL, offline_summary, offline_tip
from coach.prompts import LIVE_FEEDBACK_V1, SESSION_SUMMARY_V1, PromptTemplate
from coach.providers import Attempt, CoachSettings, ProviderChain
from coach.tips import MetricSnapshot, Tip, TipKind
from coach.tracing import DEPLOYMENT, LLMCall, Tracer, llm_spans, thread_id_for
from coach.validate import check_reply

log = logging.getLogger(__name__)


Purpose = Literal["live-feedback", "session-summary"]
LIVE_FEEDBACK = "live-feedback"
OFFLINE_TAG = "offline-coach"


@dataclass(frozen=True, slots=True)
class TipRequest:
    """A live tip over the window's snapshot, or (``purpose="session-summary"``, with
    ``duration_s``) the summary over the whole session's."""

    session_id: str
    snapshot: MetricSnapshot
    stream_s: float
    ai_mode: bool = False
    purpose: Purpose = "live-feedback"
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """What the feedback function produced, with everything the trace records."""

    text: str
    kind: TipKind
    provider: str  # "openai" | "fallback" | "offline"
    model: str
    attempts: tuple[Attempt, ...]
    messages: tuple[dict[str, str], ...]
    prompt: PromptTemplate  # the template the messages were built from
    reason: str | None = None  # why the shown text is not the reply as given

    @property
    def prompt_version(self) -> str:
        return self.prompt.version


class TipGenerator:
    """Makes tips. Not thread-safe: one worker thread owns it (see :class:`LiveCoach`)."""

    def __init__(
        self,
        settings: CoachSettings,
        *,
        tracer: Tracer | None = None,
        prompt: PromptTemplate = LIVE_FEEDBACK_V1,
        summary_prompt: PromptTemplate = SESSION_SUMMARY_V1,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.tracer = tracer
        self.prompt = prompt
        self.summary_prompt = summary_prompt
        self._rng = rng or random.Random()
        self._chain: ProviderChain | None = None

    def prepare(self) -> None:
        """The slow part (imports ``opik`` and ``openai``, builds clients); once, off the
        main thread. Called by :meth:`generate` if not before."""
        if self._chain is not None:
            return
        wrap = None
        if self.tracer is not None and self.tracer.start():
            wrap = self.tracer.wrap_openai
        chain = ProviderChain.from_settings(self.settings, wrap=wrap)
        try:
            chain.prepare()
        except Exception as err:  # optional part: a broken install still coaches offline
            log.warning("coach: the LLM client could not be set up (%s); offline tips only", err)
            chain = ProviderChain([])
        if not chain.providers:
            log.info("coach: no OPENAI_API_KEY; tips come from the offline coach")
        self._chain = chain

    def generate(self, request: TipRequest) -> Tip:
        self.prepare()
        trace_id: str | None = None
        try:
            if self.tracer is not None and self.tracer.active:
                result, trace_id = self.tracer.run_traced(
                    request.purpose, self._traced, self.tracer, request
                )
            else:
                result = self.produce(request)
        except Exception:
            # Tracing is optional: a fault in it must not cost the player a tip.
            log.exception("coach: tracing failed; giving an untraced offline tip")
            result = self._offline(request, (), (), "tracing failed")
        return Tip(
            text=result.text,
            session_id=request.session_id,
            trace_id=trace_id,
            provider=result.provider,
            model=result.model,
            created_at_stream_s=request.stream_s,
            kind=result.kind,
        )

    def _traced(self, tracer: Tracer, request: TipRequest) -> tuple[FeedbackResult, str | None]:
        """:meth:`produce` inside the tip's SDK trace, which it fills in and records."""
        started = _utcnow()
        result = self.produce(request)
        trace_id = tracer.record(
            request.purpose,
            trace_input={"input": result.messages[-1]["content"] if result.messages else ""},
            trace_output={"output": result.text},
            tags=live_tags(
                result.model,
                ai_mode=request.ai_mode,
                offline=result.provider == "offline",
                purpose=request.purpose,
            ),
            metadata=live_metadata(request, result),
            thread_id=thread_id_for(request.session_id),
            started=started,
            spans=llm_spans([LLMCall(result.messages, attempt) for attempt in result.attempts]),
        )
        return result, trace_id

    def _template(self, request: TipRequest) -> PromptTemplate:
        return self.summary_prompt if request.purpose == "session-summary" else self.prompt

    def produce(self, request: TipRequest) -> FeedbackResult:
        """The untraced core: providers, checks, offline fallback."""
        template = self._template(request)
        messages = tuple(template.messages(request.snapshot, duration_s=request.duration_s))
        chain = self._chain or ProviderChain([])
        try:
            attempts = tuple(chain.complete(messages))
        except Exception as err:  # a bug in a provider path: still a tip
            log.exception("coach: provider chain failed")
            return self._offline(request, messages, (), f"provider error: {err}")
        answered = attempts[-1] if attempts and attempts[-1].outcome == "ok" else None
        if answered is None:
            reason = (
                f"{attempts[-1].provider} {attempts[-1].outcome}" if attempts else "no provider"
            )
            return self._offline(request, messages, attempts, reason)
        checked = check_reply(
            answered.text,
            request.snapshot,
            truncated=answered.truncated,
            max_words=template.max_words,
            max_sentences=template.max_sentences,
        )
        if checked.text is None:
            log.info("coach: %s reply replaced: %s", answered.model, checked.reason)
            return self._offline(request, messages, attempts, checked.reason)
        return FeedbackResult(
            text=checked.text,
            kind=checked.kind,
            provider=answered.provider,
            model=answered.model,
            attempts=attempts,
            messages=messages,
            prompt=template,
            reason=checked.reason,
        )

    def _offline(
        self,
        request: TipRequest,
        messages: tuple[dict[str, str], ...],
        attempts: tuple[Attempt, ...],
        reason: str | None,
    ) -> FeedbackResult:
        template = self._template(request)
        if request.purpose == "session-summary":
            text = offline_summary(request.snapshot, request.duration_s or 0.0, rng=self._rng)
        else:
            text = offline_tip(request.snapshot, rng=self._rng)
        return FeedbackResult(
            text=text,
            kind="offline",
            provider="offline",
            model=OFFLINE_MODEL,
            attempts=attempts,
            messages=messages
            or tuple(template.messages(request.snapshot, duration_s=request.duration_s)),
            prompt=template,
            reason=reason,
        )


def live_tags(
    model: str, *, ai_mode: bool, offline: bool, purpose: str = LIVE_FEEDBACK
) -> list[str]:
    """The family's tags; ``purpose`` is ``live-feedback`` or ``session-summary``."""
    tags = [
        "fretcoach-core",
        model,
        "ai-mode" if ai_mode else "manual-mode",
        DEPLOYMENT,
        purpose,
    ]
    if offline:
        tags.append(OFFLINE_TAG)
    return list(dict.fromkeys(tags))  # the offline coach's model name is its tag too


def live_metadata(request: TipRequest, result: FeedbackResult) -> dict[str, Any]:
    snapshot = request.snapshot
    return {
        "session_id": request.session_id,
        "scale": snapshot.scale_name,
        "bpm": snapshot.bpm,
        "mean_offset_ms": snapshot.mean_offset_ms,
        "metrics": snapshot.as_metadata(),
        "enabled_metrics": list(snapshot.metrics),
        "notes": snapshot.notes,
        "most_out_of_tune": snapshot.most_out_of_tune,
        "most_out_of_scale": snapshot.most_out_of_scale,
        "stream_s": round(request.stream_s, 1),
        "duration_s": request.duration_s,
        "provider": result.provider,
        "model": result.model,
        "tip_kind": result.kind,
        "replaced_because": result.reason,
        "attempts": [
            {"provider": a.provider, "model": a.model, "outcome": a.outcome}
            for a in result.attempts
        ],
        **result.prompt.library.trace_metadata(),
        "deployment": DEPLOYMENT,
    }


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
