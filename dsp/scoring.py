"""Scores, each 0–1 and explainable, computed per note (never per analysis frame).

* **Pitch accuracy** — how in tune the notes are, whatever the scale: a note inside a
  tolerance band of ±``cents_tolerance`` scores 1, beyond it the score falls linearly to
  0 at 50 cents (the most a note can be off before it *is* the next note). Strictness
  tightens the band from ±25 to ±10 cents. Out-of-scale notes are judged on tuning
  alone; scale membership is the next metric's business.
* **Scale conformity** — share of notes in the chosen scale. Coverage of the scale's
  degrees is reported beside it, so playing one safe note all session is visible.
* **Timing stability** — how far each onset lands from where a steady player would have
  put it (not how its interval compares with the last one, which counts one late note
  twice). With a metronome that is the beat's grid, subdivided (½, ⅓, ¼) as the recent
  intervals are, anchored at ``beat_origin_s`` (then ``mean_offset_ms`` tells rushing from
  dragging) or at a phase estimated from the notes. Without one it is a line fitted
  to the last dozen on-time onsets in units of the median recent spacing (halves and
  doubles allowed), or a curve once the tempo is seen to drift or accelerate. A note
  scores 1 within 0.4 × ``timing_tolerance`` (the larger of 18 ms and 2 % of the note
  spacing, at strictness 0.5), falling along half a cosine to 0 at 4 ×. Not scored: a
  phrase's first notes (until three intervals agree), notes after rests (gaps over 2.5 s,
  4.5 beats or 2.6 spacings), and now and then an extra onset on an occupied grid point.
  ``docs/timing-score.md`` explains the numbers.

Counts follow the Hub's columns: total, in-scale ("correct"), out-of-scale ("bad") and
the scale's size.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, replace

from dsp.errors import InvalidSettingError
from dsp.notes import pitch_class_name
from dsp.scales import Scale
from dsp.timing import Grid, MetronomeGrid, Revision, Timed, grid_for
from dsp.tracker import NoteEvent

METRICS = ("pitch", "scale", "timing")
_MAX_CENTS = 50.0


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """What the scores judge against.

    ``bpm`` sets a metronome grid; ``beat_origin_s`` (only with ``bpm``) is the time of
    one click on the notes' clock, which pins the grid's phase so ``mean_offset_ms``
    reads as rushing or dragging. Without it the phase is estimated from the notes.
    """

    scale: Scale
    strictness: float = 0.5
    bpm: float | None = None
    window_notes: int = 24
    metrics: tuple[str, ...] = METRICS
    beat_origin_s: float | None = None

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
        if self.beat_origin_s is not None:
            if self.bpm is None:
                raise InvalidSettingError(
                    "beat_origin_s needs bpm: a click's time means nothing without its tempo"
                )
            if not math.isfinite(self.beat_origin_s):
                raise InvalidSettingError(
                    f"beat_origin_s must be a finite time in seconds, not {self.beat_origin_s}"
                )

    @property
    def cents_tolerance(self) -> float:
        """±25 cents at strictness 0, ±17.5 at 0.5, ±10 at 1."""
        return 25.0 - 15.0 * self.strictness

    def timing_tolerance(self, spacing_s: float) -> float:
        """The timing score's scale, in seconds, for notes ``spacing_s`` apart.

        The larger of a floor (24 ms at strictness 0, 18 at 0.5, 12 at 1: onsets much
        closer than 20 ms are hard to tell apart) and a share of the spacing (2.5 %, 2 %,
        1.5 %: slow notes are heard in proportion). A note this far off scores 0.93; twice
        as far, about 0.6; four times, 0.
        """
        floor = 0.024 - 0.012 * self.strictness
        return max(floor, (0.025 - 0.01 * self.strictness) * spacing_s)


@dataclass(frozen=True, slots=True)
class Counts:
    total_notes: int
    in_scale_notes: int
    out_of_scale_notes: int
    scale_size: int
    degrees_played: int


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores over some notes; a metric is None when disabled or when nothing to judge.

    ``mean_offset_ms`` is the mean signed distance of the timed notes from the metronome
    grid (negative: ahead of the beat, rushing; positive: dragging); None without a BPM or
    without timed notes.
    Its phase is only known when ``beat_origin_s`` is set; otherwise it is estimated from
    the notes themselves, so the mean shows drift, not a steady lead or lag.
    """

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
    mean_offset_ms: float | None = None

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
    timed: Timed | None


class Scorer:
    """Accumulates final notes and answers for the live window and the whole session.

    Memory is bounded: the session keeps running sums, the window a fixed-size deque, the
    timing grid the last dozen onsets.
    """

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self._window: deque[_Scored] = deque(maxlen=config.window_notes)
        self._grid: Grid = grid_for(config)
        self._n = 0
        self._in_scale = 0
        self._in_tune = 0
        self._pitch_sum = 0.0
        self._abs_cents_sum = 0.0
        self._timing_sum = 0.0
        self._timed = 0
        self._beat_sum = 0.0
        self._offset_sum = 0.0
        self._degrees: set[int] = set()
        self._out_of_tune: Counter[int] = Counter()
        self._out_of_scale: Counter[int] = Counter()

    def add(self, note: NoteEvent) -> bool:
        """Score one finished note. Returns whether it is in the scale."""
        cfg = self.config
        in_scale = cfg.scale.contains(note.midi)
        pitch_score = _pitch_score(note.cents, cfg.cents_tolerance)
        timed, revision = self._grid.judge(note.onset_s)
        if revision is not None:
            self._revise(revision)
        self._window.append(
            _Scored(note.onset_s, note.midi, note.cents, in_scale, pitch_score, timed)
        )
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
        if timed is not None:
            self._count(timed, 1)
        return in_scale

    def rephase(self, origin_s: float) -> None:
        """The metronome's clicks (re)started with one at ``origin_s`` on the notes' clock
        (see :meth:`MetronomeGrid.rephase`). Without a BPM there is no grid to move."""
        if isinstance(self._grid, MetronomeGrid):
            self._grid.rephase(origin_s)

    def _revise(self, revision: Revision) -> None:
        """The next onset showed what the previous one was: judge it again."""
        self._count(revision.old, -1)
        if revision.new is not None:
            self._count(revision.new, 1)
        for i in range(len(self._window) - 1, -1, -1):
            if self._window[i].timed is revision.old:
                self._window[i] = replace(self._window[i], timed=revision.new)
                break

    def _count(self, timed: Timed, sign: int) -> None:
        self._timing_sum += sign * timed.score
        self._timed += sign
        self._beat_sum += sign * timed.beat_s
        self._offset_sum += sign * timed.offset_s

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
            offset_sum=self._offset_sum,
            degrees=self._degrees,
            out_of_tune=self._out_of_tune,
            out_of_scale=self._out_of_scale,
        )

    def window(self) -> Scores:
        """Scores over the last ``window_notes`` notes: what the live screen shows."""
        notes = list(self._window)
        tol = self.config.cents_tolerance
        timed = [s.timed for s in notes if s.timed is not None]
        return self._scores(
            n=len(notes),
            in_scale=sum(s.in_scale for s in notes),
            in_tune=sum(abs(s.cents) <= tol for s in notes),
            pitch_sum=sum(s.pitch_score for s in notes),
            abs_cents_sum=sum(abs(s.cents) for s in notes),
            timing_sum=sum(t.score for t in timed),
            timed=len(timed),
            beat_sum=sum(t.beat_s for t in timed),
            offset_sum=sum(t.offset_s for t in timed),
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
        offset_sum: float,
        degrees: set[int],
        out_of_tune: Counter[int],
        out_of_scale: Counter[int],
    ) -> Scores:
        cfg = self.config
        size = cfg.scale.size
        enabled = set(cfg.metrics)
        flats = cfg.scale.prefers_flats
        timing_on = "timing" in enabled
        return Scores(
            pitch_accuracy=_ratio(pitch_sum, n) if "pitch" in enabled else None,
            scale_conformity=_ratio(in_scale, n) if "scale" in enabled else None,
            timing_stability=_ratio(max(0.0, timing_sum), timed) if timing_on else None,
            scale_coverage=round(len(degrees) / size, 3),
            counts=Counts(n, in_scale, n - in_scale, size, len(degrees)),
            in_tune_notes=in_tune,
            cents_tolerance=cfg.cents_tolerance,
            mean_abs_cents=round(abs_cents_sum / n, 1) if n else None,
            tempo_bpm=round(60.0 * timed / beat_sum, 1) if timed and beat_sum > 0 else None,
            timed_intervals=timed,
            most_out_of_tune=_most_common(out_of_tune, flats),
            most_out_of_scale=_most_common(out_of_scale, flats),
            mean_offset_ms=(
                round(1000.0 * offset_sum / timed, 1) if cfg.bpm is not None and timed else None
            ),
        )


def _pitch_score(cents: float, tolerance: float) -> float:
    off = abs(cents)
    if off <= tolerance:
        return 1.0
    return max(0.0, 1.0 - (off - tolerance) / (_MAX_CENTS - tolerance))


def _ratio(total: float, n: int) -> float | None:
    return round(total / n, 3) if n else None


def _most_common(counter: Counter[int], flats: bool) -> str | None:
    if not counter:
        return None
    pitch_class, _ = counter.most_common(1)[0]
    return pitch_class_name(pitch_class, flats=flats)
