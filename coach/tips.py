"""The values the coach takes in and gives out: a metric snapshot and a tip.

A :class:`MetricSnapshot` is everything a tip may talk about, taken from the live
window's :class:`~dsp.scoring.Scores` by :func:`snapshot_from_scores`. Prompts, the
offline coach and the reply checks all read it, so a tip can never quote a number the
player was not shown. A :class:`Tip` is what the screen, the summary and the thumbs
buttons need, including the Opik trace id the thumbs attach to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dsp.scales import Scale
from dsp.scoring import METRICS, Scores

MetricKey = Literal["pitch", "scale", "timing"]
TipKind = Literal["model", "trimmed", "offline"]
"""Where a tip's text came from: a model reply as is, a model reply trimmed to fit, or
the rule-based offline coach (no key, no network, every provider failed, or a reply that
could not be shown)."""

METRIC_NAMES: dict[str, str] = {
    "pitch": "Pitch Accuracy",
    "scale": "Scale Conformity",
    "timing": "Timing Stability",
}
METRIC_SHORT: dict[str, str] = {"pitch": "Pitch", "scale": "Scale", "timing": "Timing"}


@dataclass(frozen=True, slots=True)
class MetricSnapshot:
    """The numbers one tip is about. Each metric is 0–1, or None when disabled or unjudged.

    ``bpm`` is the metronome's tempo when one is set, else the tempo measured from the
    playing (None when neither is known). ``notes`` counts the notes in the window.
    """

    metrics: tuple[str, ...]
    pitch: float | None
    scale: float | None
    timing: float | None
    scale_name: str
    bpm: float | None
    notes: int
    most_out_of_tune: str | None = None
    most_out_of_scale: str | None = None
    # The notes' mean signed offset to a metronome click the player heard (negative:
    # rushing); None without heard clicks, where the phase is only a guess.
    mean_offset_ms: float | None = None

    def value(self, metric: str) -> float | None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
        value: float | None = getattr(self, metric)
        return value

    def measured(self) -> tuple[tuple[str, float], ...]:
        """Enabled metrics that have a value, in the family's order (pitch, scale, timing)."""
        return tuple(
            (key, value)
            for key in METRICS
            if key in self.metrics and (value := self.value(key)) is not None
        )

    def strongest(self) -> tuple[str, float] | None:
        measured = self.measured()
        # Ties go to the earlier metric: stable wording for equal scores.
        return max(measured, key=lambda kv: kv[1]) if measured else None

    def weakest(self) -> tuple[str, float] | None:
        measured = self.measured()
        return min(measured, key=lambda kv: kv[1]) if measured else None

    def percent(self, metric: str) -> int | None:
        value = self.value(metric)
        return None if value is None else percent(value)

    def as_metadata(self) -> dict[str, float | None]:
        """The metric values as Opik metadata (None for disabled or unjudged)."""
        return {METRIC_NAMES[key].lower().replace(" ", "_"): self.value(key) for key in METRICS}


def percent(value: float) -> int:
    """0.953 → 95: how every percentage is printed, so prompt, tip and check agree."""
    return round(value * 100)


def snapshot_from_scores(
    scores: Scores,
    *,
    scale: Scale,
    metrics: Sequence[str] = METRICS,
    bpm: float | None = None,
    clicks_heard: bool = False,
) -> MetricSnapshot:
    """The snapshot of a live window: ``bpm`` is the metronome's, if one is set, else the
    measured tempo as a metronome would be set for it (:func:`beat_tempo`). With
    ``clicks_heard`` the scores' mean offset to the click goes with it."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics must be among {', '.join(METRICS)}, not {', '.join(unknown)}")
    enabled = tuple(m for m in METRICS if m in metrics)
    tempo = bpm if bpm is not None else beat_tempo(scores.tempo_bpm)
    return MetricSnapshot(
        metrics=enabled,
        pitch=scores.pitch_accuracy if "pitch" in enabled else None,
        scale=scores.scale_conformity if "scale" in enabled else None,
        timing=scores.timing_stability if "timing" in enabled else None,
        scale_name=scale.name,
        bpm=round(tempo) if tempo is not None else None,
        notes=scores.counts.total_notes,
        most_out_of_tune=scores.most_out_of_tune if "pitch" in enabled else None,
        most_out_of_scale=scores.most_out_of_scale if "scale" in enabled else None,
        mean_offset_ms=scores.mean_offset_ms if clicks_heard and "timing" in enabled else None,
    )


def beat_tempo(notes_per_minute: float | None) -> float | None:
    """A tempo measured from the playing, as a metronome would be set for it.

    The timing score measures the rate of notes, so eighths at 90 BPM read as 180: advice
    to "set a metronome to 135" would then be twice too fast. Halved (or doubled) into
    40–160 BPM, where a metronome for such playing is set."""
    if notes_per_minute is None or not math.isfinite(notes_per_minute) or notes_per_minute <= 0:
        return None
    tempo = notes_per_minute
    while tempo > 160.0:
        tempo /= 2.0
    while tempo < 40.0:
        tempo *= 2.0
    return float(round(tempo))  # a metronome is set in whole BPM


@dataclass(frozen=True, slots=True)
class Tip:
    """One piece of live feedback, as shown on the OLED and attached to an Opik trace.

    ``trace_id`` is None when tracing is off. ``provider`` is ``"openai"``,
    ``"fallback"`` or ``"offline"``; ``model`` the model that wrote the text
    (``"offline-coach"`` for the rule-based coach). ``created_at_stream_s`` is the
    session's stream time when the tip was asked for.
    """

    text: str
    session_id: str
    trace_id: str | None
    provider: str
    model: str
    created_at_stream_s: float
    kind: TipKind
