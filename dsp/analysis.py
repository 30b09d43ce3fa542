"""The DSP path end to end: hops → :class:`NoteTracker` → :class:`Scorer`.

The daemon, ``fretcoach analyze`` and the benchmark all drive this one class, so what
``analyze`` prints for a file is what the device would have scored live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from dsp.scoring import Scorer, Scores, ScoringConfig
from dsp.tracker import HOP_SIZE, NoteEvent, NoteTracker, TrackerConfig


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything ``analyze`` reports about one performance."""

    audio_seconds: float
    sample_rate: int
    notes: tuple[NoteEvent, ...]
    in_scale: tuple[bool, ...]
    scores: Scores


class Analyzer:
    """Feed hops, collect final notes and their scores. One per performance."""

    def __init__(self, tracker: TrackerConfig, scoring: ScoringConfig) -> None:
        self.tracker = NoteTracker(tracker)
        self.scorer = Scorer(scoring)
        self._notes: list[NoteEvent] = []
        self._in_scale: list[bool] = []
        self._samples = 0

    def feed(self, hop: np.ndarray, *, valid: int = HOP_SIZE) -> list[NoteEvent]:
        """Process one hop (``valid`` real samples, the rest zero padding at the end)."""
        self._samples += valid
        events = self.tracker.process(hop)
        self._take(events)
        return events

    def finish(self) -> Analysis:
        self._take(self.tracker.flush())
        rate = self.tracker.config.sample_rate
        seconds = round(self._samples / rate, 3)
        # The last hop is zero-padded: a note sounding at the end ends with the audio.
        notes = tuple(
            replace(n, end_s=seconds) if n.end_s is not None and n.end_s > seconds else n
            for n in self._notes
        )
        return Analysis(
            audio_seconds=seconds,
            sample_rate=rate,
            notes=notes,
            in_scale=tuple(self._in_scale),
            scores=self.scorer.session(),
        )

    def _take(self, events: Iterable[NoteEvent]) -> None:
        for event in events:
            if event.is_final:
                self._notes.append(event)
                self._in_scale.append(self.scorer.add(event))


def hops_of(samples: np.ndarray) -> Iterable[tuple[np.ndarray, int]]:
    """Split a mono float32 signal into full hops, zero-padding the last one."""
    samples = np.asarray(samples, dtype=np.float32)
    for start in range(0, len(samples), HOP_SIZE):
        hop = samples[start : start + HOP_SIZE]
        valid = len(hop)
        if valid < HOP_SIZE:
            hop = np.concatenate([hop, np.zeros(HOP_SIZE - valid, dtype=np.float32)])
        yield hop, valid


def analyze_samples(
    samples: np.ndarray, tracker: TrackerConfig, scoring: ScoringConfig
) -> Analysis:
    """Convenience for tests and the benchmark: a whole signal in memory."""
    analyzer = Analyzer(tracker, scoring)
    for hop, valid in hops_of(samples):
        analyzer.feed(hop, valid=valid)
    return analyzer.finish()
