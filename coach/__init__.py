"""Live AI coaching: prompts, LLM providers, Opik tracing, the offline coach.

The daemon needs three calls, all non-blocking on its main thread::

    coach = LiveCoach.from_env(store=store, first_tip_s=15, interval_s=60).start()
    coach.maybe_request(session_id, snapshot_from_scores(window, scale=..., metrics=...,
                        bpm=...), stream_s, paused)        # every frame or so
    tip = coach.latest(session_id)                          # for the practice screen

then at the end ``coach.request_summary(id, session_snapshot, duration_s)`` (which ends
the session) and ``coach.summary(id)`` / ``coach.summary_tip(id)`` for the summary screen,
``coach.feedback(id, thumbs_up=...)`` for the buttons, ``coach.set_interval(s)`` for the
30/60/120/300 s choice and ``coach.close()`` at shutdown.

Imports: ``dsp`` types, and ``sync.store`` for the trace outbox (see
:mod:`coach.tracing`). ``openai`` and ``opik`` are imported lazily, on the coach's own
thread. Modules: :mod:`~coach.tips` (values), :mod:`~coach.prompts` (versioned
templates), :mod:`~coach.offline`, :mod:`~coach.validate`, :mod:`~coach.providers`,
:mod:`~coach.feedback` (the traced feedback function), :mod:`~coach.tracing`,
:mod:`~coach.live`.
"""

from coach.feedback import TipGenerator, TipRequest
from coach.live import INTERVAL_CHOICES, LiveCoach
from coach.offline import offline_tip
from coach.prompts import LIVE_FEEDBACK_V1
from coach.providers import CoachSettings
from coach.tips import MetricSnapshot, Tip, snapshot_from_scores
from coach.tracing import OpikSettings, Tracer, TraceReplayer
from coach.validate import check_reply
from dsp.errors import CoachError, CoachSettingError

__all__ = [
    "INTERVAL_CHOICES",
    "LIVE_FEEDBACK_V1",
    "CoachError",
    "CoachSettingError",
    "CoachSettings",
    "LiveCoach",
    "MetricSnapshot",
    "OpikSettings",
    "Tip",
    "TipGenerator",
    "TipRequest",
    "TraceReplayer",
    "Tracer",
    "check_reply",
    "offline_tip",
    "snapshot_from_scores",
]
