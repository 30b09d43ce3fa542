"""The practice session: a state machine on the main thread, a DSP loop on its own thread.

States: ``idle → practising ⇄ paused → summary → idle``, with ``tuner`` beside idle.
The main thread owns the state and the store; the DSP thread owns the analyzer of the
session in progress. They meet through two things only: the DSP thread reads the current
:class:`LiveSession` reference (swapped atomically by the main thread) and hands finished
notes back through a thread-safe queue, and it publishes an immutable
:class:`LiveSnapshot` (latest wins) for the screen. The DSP thread never waits on the
main thread, the store, the display or the network.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device.audio import END, Capture
from device.metronome import BeatNow, SessionMetronome
from dsp import HOP_SIZE, NoteEvent, NoteTracker, Scorer, Scores, ScoringConfig, TrackerConfig
from dsp.notes import note_name
from dsp.scales import Scale

log = logging.getLogger(__name__)

# How long the screen's news may wait for a note being named: the tracker names a note by
# ~57 ms after its onset (its report deadline), plus a hop.
NAMING_HOLD_S = 0.07


class State(enum.Enum):
    IDLE = "idle"
    PRACTISING = "practising"
    PAUSED = "paused"
    SUMMARY = "summary"
    TUNER = "tuner"


@dataclass(frozen=True, slots=True)
class PracticeSettings:
    scale: Scale
    bpm: float | None
    strictness: float
    sensitivity: float
    metrics: tuple[str, ...]
    a4_hz: float
    lowest_midi: int = 36  # the guitar's lowest string (``practice.lowest_note``): C2


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """What the screen needs, published by the DSP thread after every hop with news."""

    session_id: str | None
    stream_s: float  # stream time of the practice so far (pauses excluded)
    window: Scores | None
    session: Scores | None
    note_name: str | None
    cents: float | None
    in_scale: bool | None
    freq_hz: float | None
    beat: BeatNow | None = None  # the metronome, when it runs


class LiveSession:
    """One session's DSP state. Created by the main thread, then fed only by the DSP thread."""

    def __init__(
        self,
        session_id: str,
        settings: PracticeSettings,
        sample_rate: int,
        *,
        metronome: SessionMetronome | None = None,
    ) -> None:
        self.session_id = session_id
        self.metronome = metronome
        self.settings = settings
        self.tracker = NoteTracker(
            TrackerConfig(
                sample_rate=sample_rate,
                a4_hz=settings.a4_hz,
                sensitivity=settings.sensitivity,
                min_midi=settings.lowest_midi,
            )
        )
        self.scorer = Scorer(
            ScoringConfig(
                scale=settings.scale,
                strictness=settings.strictness,
                bpm=settings.bpm,
                metrics=settings.metrics,
            )
        )
        self.finished: queue.SimpleQueue[tuple[NoteEvent, bool]] = queue.SimpleQueue()
        self.hops = 0
        self.sample_rate = sample_rate
        self.paused = False
        self.scores: tuple[Scores, Scores] | None = None  # (window, session), DSP thread only
        self.held: bool | None = None  # news held while a note is named (True: urgent)
        self.ended = threading.Event()  # set by the DSP thread after the final flush
        self.beat: BeatNow | None = None  # the metronome's beat last published, DSP thread

    @property
    def stream_s(self) -> float:
        return self.hops * HOP_SIZE / self.sample_rate


@dataclass(frozen=True, slots=True)
class DspStats:
    hops: int
    hop_p50_us: float
    hop_p99_us: float
    hop_cpu_p50_us: float
    hop_cpu_p99_us: float
    max_queue: int


class DspLoop:
    """The DSP thread: hop in, notes and scores out, snapshot published. Nothing else."""

    def __init__(
        self,
        capture: Capture,
        *,
        on_snapshot: Callable[[LiveSnapshot, bool], None],
        on_end_of_stream: Callable[[], None],
        tuner_a4_hz: float = 440.0,
        tuner_lowest_midi: int = 36,
    ) -> None:
        self.capture = capture
        self.on_snapshot = on_snapshot
        self.on_end_of_stream = on_end_of_stream
        self.session: LiveSession | None = None
        self.tuning = False
        self._tuner: NoteTracker | None = None
        self._tuner_a4 = tuner_a4_hz
        self._tuner_lowest = tuner_lowest_midi  # a B1 string is tuned too
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Rings of per-hop µs: wall time (what the audio path waits, GIL included) and this
        # thread's CPU time (the DSP work itself, whatever other threads do).
        self._timings = np.zeros(4096, dtype=np.float64)
        self._cpu_timings = np.zeros(4096, dtype=np.float64)
        self._count = 0
        self._max_queue = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dsp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)

    def finish(self, session: LiveSession, timeout: float = 2.0) -> None:
        """Ask the DSP thread to flush ``session``'s last note; wait briefly for it."""
        session.paused = True
        self._flush_request = session
        session.ended.wait(timeout)

    _flush_request: LiveSession | None = None

    @property
    def stats(self) -> DspStats:
        n = min(self._count, len(self._timings))
        wall = self._timings[:n] if n else np.zeros(1)
        cpu = self._cpu_timings[:n] if n else np.zeros(1)
        return DspStats(
            self._count,
            float(np.percentile(wall, 50)),
            float(np.percentile(wall, 99)),
            float(np.percentile(cpu, 50)),
            float(np.percentile(cpu, 99)),
            self._max_queue,
        )

    def _run(self) -> None:
        hops = self.capture.hops
        while not self._stop.is_set():
            request = self._flush_request
            if request is not None:
                self._flush(request)
            try:
                item = hops.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is END:
                session = self.session
                if session is not None:
                    self._flush(session)
                self.on_end_of_stream()
                return
            self._max_queue = max(self._max_queue, hops.qsize())
            started = time.perf_counter_ns()
            cpu_started = time.thread_time_ns()
            self._process(*item)
            slot = self._count % len(self._timings)
            self._cpu_timings[slot] = (time.thread_time_ns() - cpu_started) / 1e3
            self._timings[slot] = (time.perf_counter_ns() - started) / 1e3
            self._count += 1

    def _process(self, index: int, hop: np.ndarray) -> None:
        session = self.session
        if self.tuning:
            self._tune(hop)
            return
        if session is None or session.paused:
            if session is not None and session.metronome is not None:
                session.metronome.stop()
            return
        metronome = session.metronome
        beat_news = False
        if metronome is not None:
            heard, origin = metronome.admit(index, hop, session.stream_s)
            if origin is not None:
                session.scorer.rephase(origin)
            beat, shown = metronome.beat, session.beat
            beat_news = (beat.number if beat else None) != (shown.number if shown else None)
            session.beat = beat
            if heard is None:  # the count-in: clicks, nothing scored
                if beat_news or (index // HOP_SIZE) % 8 == 0:  # the flash goes off too
                    self.on_snapshot(self._snapshot(session), beat_news)
                return
            hop = heard
        session.hops += 1
        tracker = session.tracker
        events = tracker.process(hop)
        news = bool(events) or beat_news or session.hops % 8 == 0
        scored = False
        for event in events:
            if event.is_final:
                in_scale = session.scorer.add(event)
                session.finished.put((event, in_scale))
                scored = True
        if scored or session.scores is None:
            # Scores change only when a note is added: compute them then, not every hop.
            session.scores = (session.scorer.window(), session.scorer.session())
        # "urgent" when a note was reported or ended: the screen should show it now, not at
        # the main loop's next tick.
        urgent = bool(events) or session.held is True
        news = news or session.held is not None
        pending = tracker.pending_onset_s
        if news and pending is not None and tracker.time_s - pending < NAMING_HOLD_S:
            # A pluck is being named. What changed now (the last note's end and scores, the
            # note gone from the screen) would take the panel's bus 10–50 ms before the new
            # name, which would then wait for it: it goes out with the name instead, and the
            # screen keeps the last note meanwhile, as a tuner does.
            session.held = urgent
            return
        session.held = None
        if news:
            self.on_snapshot(self._snapshot(session), urgent)

    def _flush(self, session: LiveSession) -> None:
        self._flush_request = None
        if session.metronome is not None:
            session.metronome.stop()
        if session.ended.is_set():
            return
        for event in session.tracker.flush():
            if event.is_final:
                session.finished.put((event, session.scorer.add(event)))
        session.scores = (session.scorer.window(), session.scorer.session())
        self.on_snapshot(self._snapshot(session), True)
        session.ended.set()

    def _snapshot(self, session: LiveSession) -> LiveSnapshot:
        current = session.tracker.current
        scale = session.settings.scale
        return LiveSnapshot(
            session_id=session.session_id,
            stream_s=session.stream_s,
            window=session.scores[0] if session.scores else None,
            session=session.scores[1] if session.scores else None,
            note_name=note_name(current.midi, flats=scale.prefers_flats) if current else None,
            cents=current.cents if current else None,
            in_scale=scale.contains(current.midi) if current else None,
            freq_hz=current.freq_hz if current else None,
            beat=session.beat,
        )

    def _tune(self, hop: np.ndarray) -> None:
        if self._tuner is None:
            rate = getattr(self.capture.source, "sample_rate", 48000)
            self._tuner = NoteTracker(
                TrackerConfig(sample_rate=rate, a4_hz=self._tuner_a4, min_midi=self._tuner_lowest)
            )
        changed = bool(self._tuner.process(hop))
        current = self._tuner.current
        self.on_snapshot(
            LiveSnapshot(
                None,
                0.0,
                None,
                None,
                note_name(current.midi) if current else None,
                current.cents if current else None,
                None,
                current.freq_hz if current else None,
            ),
            changed,
        )
