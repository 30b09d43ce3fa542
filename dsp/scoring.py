"""Scores, each 0–1 and explainable, computed per note (never per analysis frame).

* **Pitch accuracy** — how in tune the notes are, whatever the scale: a note inside a
  tolerance band of ±``cents_tolerance`` scores 1, beyond it the score falls linearly to
  0 at 50 cents (the most a note can be off before it *is* the next note). Strictness
  tightens the band from ±25 to ±10 cents. Out-of-scale notes are judged on tuning
  alone; scale membership is the next metric's business.
* **Scale conformity** — share of notes in the chosen scale. Coverage of the scale's
  degrees is reported beside it, so playing one safe note all session is visible.
* **Timing stability** — regularity of inter-onset intervals. Each interval is compared
  with a reference beat — the metronome's when a BPM is set, else the median of the
  recent intervals, so a steady accelerando follows along instead of reading as chaos —
  allowing for halves and doubles (and ¼, ⅓, 3 and 4 beats against a metronome). Gaps
  longer than 2.5 s, four beats, or 2.6 × the recent beat are rests and not scored. Within
  ±``timing_tolerance`` of the nearest allowed multiple an interval scores 1, falling to
  0 at 20 % off.

Counts follow the Hub's columns: total, in-scale ("correct"), out-of-scale ("bad") and
the scale's size.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from dsp.errors import InvalidSettingError
from dsp.notes import pitch_class_name
from dsp.scales import Scale
from dsp.tracker import NoteEvent

METRICS = ("pitch", "scale", "timing")
_MAX_CENTS = 50.0
_TIMING_ZERO = 0.2
_REST_S = 2.5
_FREE_MULTIPLES = (0.5, 1.0, 2.0)
_FREE_REST_RATIO = 2.6
_GRID_MULTIPLES = (0.25, 1 / 3, 0.5, 1.0, 2.0, 3.0, 4.0)
_REFERENCE_SPAN = 3


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    scale: Scale
    strictness: float = 0.5
    bpm: float | None = None
    window_notes: int = 24
    metrics: tuple[str, ...] = METRICS

    def __post_init__(self) -> None:
        if not 0.0 <= self.strictness <= 1.0:
            raise InvalidSettingError(f"strictness must be between 0 and 1, not {self.strictness}")
        if self.bpm is not None and not 20 <= self.bpm <= 400:
            raise InvalidSettingError(f"bpm must be between 20 and 400, not {self.bpm:g}")
        unknown = set(self.metrics) - set(METRICS)
        if unknown or not self.metrics:
            raise InvalidSettingError(
                f"metrics must be a non-empty selection of {', '.join(METRICS)}, "
                f"not {', '.join(self.metrics) or 'nothing'}"
            )
        if self.window_notes < 4:
            raise InvalidSettingError("window_notes must be at least 4")

    @property
    def cents_tolerance(self) -> float:
        """±25 cents at strictness 0, ±17.5 at 0.5, ±10 at 1."""
        return 25.0 - 15.0 * self.strictness

    @property
    def timing_tolerance(self) -> float:
        """Relative interval error scored as perfect: 12 % at strictness 0, 4 % at 1."""
        return 0.12 - 0.08 * self.strictness


@dataclass(frozen=True, slots=True)
class Counts:
    total_notes: int
    in_scale_notes: int
    out_of_scale_notes: int
    scale_size: int
    degrees_played: int


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores over some notes; a metric is None when disabled or when nothing to judge."""

    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    scale_coverage: float
    counts: Counts
    in_tune_notes: int
    cents_tolerance: float
    mean_abs_cents: float | None
    tempo_bpm: float | None
    timed_intervals: int
    most_out_of_tune: str | None
    most_out_of_scale: str | None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "pitch_accuracy": self.pitch_accuracy,
            "scale_conformity": self.scale_conformity,
            "timing_stability": self.timing_stability,
        }


@dataclass(frozen=True, slots=True)
class _Scored:
    onset_s: float
    midi: int
    cents: float
    in_scale: bool
    pitch_score: float
    timing_score: float | None
    beat_s: float | None


class Scorer:
    """Accumulates final notes and answers for the live window and the whole session.

    Memory is bounded: the session keeps running sums, the window a fixed-size deque.
    """

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self._window: deque[_Scored] = deque(maxlen=config.window_notes)
        self._recent_beats: deque[float] = deque(maxlen=_REFERENCE_SPAN)
        self._last_onset: float | None = None
        self._n = 0
        self._in_scale = 0
        self._in_tune = 0
        self._pitch_sum = 0.0
        self._abs_cents_sum = 0.0
        self._timing_sum = 0.0
        self._timed = 0
        self._degrees: set[int] = set()
        self._out_of_tune: Counter[int] = Counter()
        self._out_of_scale: Counter[int] = Counter()
        self._beat_sum = 0.0

    def add(self, note: NoteEvent) -> bool:
        """Score one finished note. Returns whether it is in the scale."""
        cfg = self.config
        in_scale = cfg.scale.contains(note.midi)
        pitch_score = _pitch_score(note.cents, cfg.cents_tolerance)
        timing_score, beat = self._timing(note.onset_s)
        scored = _Scored(
            note.onset_s, note.midi, note.cents, in_scale, pitch_score, timing_score, beat
        )
        self._window.append(scored)
        self._n += 1
        self._pitch_sum += pitch_score
        self._abs_cents_sum += abs(note.cents)
        if abs(note.cents) <= cfg.cents_tolerance:
            self._in_tune += 1
        else:
            self._out_of_tune[note.midi % 12] += 1
        if in_scale:
            self._in_scale += 1
            degree = cfg.scale.degree_of(note.midi)
            if degree is not None:
                self._degrees.add(degree)
        else:
            self._out_of_scale[note.midi % 12] += 1
        if timing_score is not None and beat is not None:
            self._timing_sum += timing_score
            self._timed += 1
            self._beat_sum += beat
        return in_scale

    def _timing(self, onset_s: float) -> tuple[float | None, float | None]:
        previous, self._last_onset = self._last_onset, onset_s
        if previous is None:
            return None, None
        interval = onset_s - previous
        cfg = self.config
        if cfg.bpm is not None:
            beat = 60.0 / cfg.bpm
            if interval > max(_REST_S, 4.5 * beat):
                return None, None
            error, multiple = _nearest_multiple(interval / beat, _GRID_MULTIPLES)
            return _timing_score(error, cfg.timing_tolerance), beat
        if interval > _REST_S or interval <= 0:
            return None, None
        if not self._recent_beats:
            self._recent_beats.append(interval)
            return None, None
        reference = float(np.median(self._recent_beats))
        if interval / reference > _FREE_REST_RATIO:
            return None, None  # a held note or a rest: neither steady nor unsteady
        error, multiple = _nearest_multiple(interval / reference, _FREE_MULTIPLES)
        self._recent_beats.append(interval / multiple)
        return _timing_score(error, cfg.timing_tolerance), reference

    def session(self) -> Scores:
        """Scores over every note so far."""
        return self._scores(
            n=self._n,
            in_scale=self._in_scale,
            in_tune=self._in_tune,
            pitch_sum=self._pitch_sum,
            abs_cents_sum=self._abs_cents_sum,
            timing_sum=self._timing_sum,
            timed=self._timed,
            beat_sum=self._beat_sum,
            degrees=self._degrees,
            out_of_tune=self._out_of_tune,
            out_of_scale=self._out_of_scale,
        )

    def window(self) -> Scores:
        """Scores over the last ``window_notes`` notes: what the live screen shows."""
        notes = list(self._window)
        tol = self.config.cents_tolerance
        timed = [s for s in notes if s.timing_score is not None and s.beat_s is not None]
        return self._scores(
            n=len(notes),
            in_scale=sum(s.in_scale for s in notes),
            in_tune=sum(abs(s.cents) <= tol for s in notes),
            pitch_sum=sum(s.pitch_score for s in notes),
            abs_cents_sum=sum(abs(s.cents) for s in notes),
            timing_sum=sum(s.timing_score or 0.0 for s in timed),
            timed=len(timed),
            beat_sum=sum(s.beat_s or 0.0 for s in timed),
            degrees={d for s in notes if (d := self.config.scale.degree_of(s.midi)) is not None},
            out_of_tune=Counter(s.midi % 12 for s in notes if abs(s.cents) > tol),
            out_of_scale=Counter(s.midi % 12 for s in notes if not s.in_scale),
        )

    def _scores(
        self,
        *,
        n: int,
        in_scale: int,
        in_tune: int,
        pitch_sum: float,
        abs_cents_sum: float,
        timing_sum: float,
        timed: int,
        beat_sum: float,
        degrees: set[int],
        out_of_tune: Counter[int],
        out_of_scale: Counter[int],
    ) -> Scores:
        cfg = self.config
        size = cfg.scale.size
        enabled = set(cfg.metrics)
        flats = cfg.scale.prefers_flats
        return Scores(
            pitch_accuracy=_ratio(pitch_sum, n) if "pitch" in enabled else None,
            scale_conformity=_ratio(in_scale, n) if "scale" in enabled else None,
            timing_stability=_ratio(timing_sum, timed) if "timing" in enabled else None,
            scale_coverage=round(len(degrees) / size, 3),
            counts=Counts(n, in_scale, n - in_scale, size, len(degrees)),
            in_tune_notes=in_tune,
            cents_tolerance=cfg.cents_tolerance,
            mean_abs_cents=round(abs_cents_sum / n, 1) if n else None,
            tempo_bpm=round(60.0 * timed / beat_sum, 1) if timed and beat_sum > 0 else None,
            timed_intervals=timed,
            most_out_of_tune=_most_common(out_of_tune, flats),
            most_out_of_scale=_most_common(out_of_scale, flats),
        )


def _pitch_score(cents: float, tolerance: float) -> float:
    off = abs(cents)
    if off <= tolerance:
        return 1.0
    return max(0.0, 1.0 - (off - tolerance) / (_MAX_CENTS - tolerance))


def _timing_score(error: float, tolerance: float) -> float:
    if error <= tolerance:
        return 1.0
    return max(0.0, 1.0 - (error - tolerance) / (_TIMING_ZERO - tolerance))


def _nearest_multiple(ratio: float, multiples: tuple[float, ...]) -> tuple[float, float]:
    """Relative error to the closest allowed multiple of the beat, and that multiple."""
    return min((abs(ratio / k - 1.0), k) for k in multiples)


def _ratio(total: float, n: int) -> float | None:
    return round(total / n, 3) if n else None


def _most_common(counter: Counter[int], flats: bool) -> str | None:
    if not counter:
        return None
    pitch_class, _ = counter.most_common(1)[0]
    return pitch_class_name(pitch_class, flats=flats)
