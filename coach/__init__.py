"""Live AI coaching: prompts, LLM providers, Opik tracing, the offline coach, AI mode and
the voices that speak the tips; the daemon's calls are shown in docs/coach-live.md.
"""

from coach.feedback import TipGenerator, TipRequest
from coach.live import INTERVAL_CHOICES, LiveCoach
from coach.offline import offline_tip
from coach.prompts import LIVE_FEEDBACK_V1
from coach.providers import CoachSettings
from coach.replay import TraceReplayer
from coach.tips import MetricSnapshot, Tip, snapshot_from_scores
from coach.tracing import OpikSettings, Tracer
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
