"""Streaming note tracker: float32 hops in, :class:`NoteEvent` values out.

Built on aubio's ``yinfast`` pitch and ``hfc`` onset detectors, with the design choices
that aubio 0.4.9's pitfalls force (each is covered by a test):

* **Half-rate analysis.** Every hop is low-passed ([1, 2, 1] / 4, zero at the input
  Nyquist) and decimated by 2 before aubio sees it. A 1024-sample YIN window at 24 kHz
  spans 42.7 ms — two periods of C2 (65 Hz), so the low E and drop tunings are in reach —
  at half the cost of a 2048 window at 48 kHz. ``yin``/``yinfast`` at 1024 × 48 kHz cannot
  see below ~94 Hz.
* **yinfast, not yinfft.** ``yinfft`` reads +169 cents sharp on a pure 82 Hz tone and
  its confidence is always 0; ``yinfast`` is unbiased and its confidence is usable.
* **Our own level gate.** aubio's silence gates are disabled (−90 dB) and replaced by an
  RMS gate set from ``sensitivity`` plus an adaptive noise floor, so a −30 dBFS guitar
  still counts while hum and hiss do not start notes.
* **Legato.** A softer new note under a still-ringing one often produces no onset; a
  steady pitch change of more than ~0.6 semitone for three hops starts a new note.
* **Octave errors.** A note's pitch is the median over its frames, and frames an octave
  away from the running median are voted out before it is taken.

A note is reported (``end_s is None``) once its pitch is settled, at most ~60 ms after the
onset; the same note is reported again with its final pitch and ``end_s`` when it ends.
Times are stream times (samples / rate), never wall-clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import aubio
import numpy as np
from scipy.signal import butter

from dsp.errors import InvalidSettingError
from dsp.notes import Tuning

SUPPORTED_RATES = (44100, 48000)

# 512 input samples = 10.7 ms at 48 kHz: the hop the device reads, and the step of every
# decision below. 256 decimated samples per aubio call.
HOP_SIZE = 512
_DECIMATION = 2
_PITCH_WINDOW = 1024  # decimated samples: 42.7 ms at 24 kHz
_ONSET_WINDOW = 512

# Reporting: a note's pitch is taken from frames whose window is mostly the new note.
_SETTLE_S = 0.025
_CORRECTION_S = 0.1
_REPORT_DEADLINE_S = 0.058
_GIVE_UP_S = 0.15
_FINAL_SKIP_S = 0.035  # skip the attack's pitch glide when taking the final pitch
_FINAL_SPAN_S = 0.6
_MIN_CONFIDENCE = 0.75
_YIN_TOLERANCE = 0.3
_HIGHPASS_HZ = 50.0
_LEGATO_SEMITONES = 0.6
_LEGATO_FRAMES = 3
_RELEASE_FRAMES = 6
_FLOOR_MARGIN_DB = 10.0
_RETRIGGER_RISE_DB = 2.0
_JUMP_DB = 6.0
_DECAY_BELOW_PEAK_DB = 45.0


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Settings that change what counts as a note. Validated on construction."""

    sample_rate: int = 48000
    a4_hz: float = 440.0
    sensitivity: float = 0.5
    min_midi: int = 36  # C2: below drop-C's low string
    max_midi: int = 91  # G6: above the 24th fret of the high E

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_RATES:
            raise InvalidSettingError(
                f"sample rate must be one of {', '.join(map(str, SUPPORTED_RATES))}, "
                f"not {self.sample_rate}"
            )
        if not 0.0 <= self.sensitivity <= 1.0:
            raise InvalidSettingError(
                f"sensitivity must be between 0 and 1, not {self.sensitivity}"
            )
        Tuning(self.a4_hz)  # validates the range
        if not 0 <= self.min_midi < self.max_midi <= 127:
            raise InvalidSettingError("min_midi must be below max_midi, both within 0–127")

    @property
    def gate_dbfs(self) -> float:
        """RMS level a hop must reach to start a note: −35 dBFS at 0, −75 dBFS at 1."""
        return -35.0 - 40.0 * self.sensitivity

    @property
    def hop_size(self) -> int:
        return HOP_SIZE


@dataclass(frozen=True, slots=True)
class NoteEvent:
    """One played note. Crosses package boundaries (display, coach, store).

    ``midi`` is the nearest semitone to the pitch actually played and ``cents`` the
    deviation from it, so a D3 bent 60 cents up reads as D#3 at −40.
    """

    index: int
    onset_s: float
    end_s: float | None
    midi: int
    cents: float
    freq_hz: float
    confidence: float
    level_db: float
    reported_s: float

    @property
    def is_final(self) -> bool:
        return self.end_s is not None

    @property
    def latency_s(self) -> float:
        return self.reported_s - self.onset_s


@dataclass(slots=True)
class _Frame:
    time_s: float  # end of the hop
    midi: float  # fractional; nan when unvoiced
    confidence: float
    rms_db: float


@dataclass(slots=True)
class _Note:
    index: int
    onset_s: float
    frames: list[_Frame]
    peak_db: float
    reported: NoteEvent | None = None


class NoteTracker:
    """Turns hops of ``config.hop_size`` float32 samples into :class:`NoteEvent` values.

    Pure and causal: no I/O, no clocks; the same object serves the daemon, ``analyze``
    and the tests. Not thread-safe: one DSP thread owns it.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tuning = Tuning(self.config.a4_hz)
        self._rate = self.config.sample_rate
        half = self._rate // _DECIMATION
        self._pitch = aubio.pitch("yinfast", _PITCH_WINDOW, HOP_SIZE // _DECIMATION, half)
        self._pitch.set_unit("Hz")
        self._pitch.set_silence(-90.0)
        self._pitch.set_tolerance(_YIN_TOLERANCE)
        # Rumble, handling noise and mains hum below the lowest string pull YIN towards
        # sub-octaves; a 2nd-order high-pass at 50 Hz removes them before pitch analysis.
        self._highpass = aubio.digital_filter(3)
        b, a = butter(2, _HIGHPASS_HZ, "highpass", fs=half)
        self._highpass.set_biquad(*map(float, b), *map(float, a[1:]))
        self._onset = aubio.onset("hfc", _ONSET_WINDOW, HOP_SIZE // _DECIMATION, half)
        self._onset.set_silence(-90.0)
        self._onset.set_threshold(0.3)
        self._onset.set_minioi_ms(45.0)
        # aubio back-dates onsets by 4.3 hops; measured on plucked strings that lands
        # ~11 ms early at this hop size, so back-date less.
        self._onset.set_delay(max(int(self._onset.get_delay() - 0.011 * half), 0))
        self._prev_sample = np.float32(0.0)
        self._samples = 0
        self._history: deque[_Frame] = deque(maxlen=24)
        self._note: _Note | None = None
        self._was_loud = False
        self._rise_s = 0.0
        self._next_index = 0
        self._floor_db = -90.0
        self._quiet_frames = 0
        self.hops = 0

    # -- public -------------------------------------------------------------------------

    @property
    def time_s(self) -> float:
        """Stream time at the end of the last hop processed."""
        return self._samples / self._rate

    @property
    def current(self) -> NoteEvent | None:
        """The note sounding now, as last reported (for the live screen and the tuner)."""
        return self._note.reported if self._note else None

    def process(self, hop: np.ndarray) -> list[NoteEvent]:
        """Feed one hop; returns the notes reported or finished during it (often none)."""
        if hop.shape != (HOP_SIZE,):
            raise InvalidSettingError(f"hops must hold {HOP_SIZE} samples, not {hop.shape}")
        if hop.dtype != np.float32:
            hop = hop.astype(np.float32)
        half = self._decimate(hop)
        self._samples += HOP_SIZE
        self.hops += 1
        now = self._samples / self._rate

        energy = float(np.dot(hop, hop)) / HOP_SIZE
        rms_db = 10.0 * math.log10(energy + 1e-12)
        self._track_floor(rms_db)

        is_onset = bool(self._onset(half)[0])
        freq = float(self._pitch(self._highpass(half))[0])
        confidence = float(self._pitch.get_confidence())
        midi = self._tuning.hz_to_midi(freq) if freq > 0 else math.nan
        voiced = (
            confidence >= _MIN_CONFIDENCE
            and self.config.min_midi - 0.5 <= midi <= self.config.max_midi + 0.5
        )
        frame = _Frame(now, midi if voiced else math.nan, confidence, rms_db)
        self._history.append(frame)

        events: list[NoteEvent] = []
        start_level = self._start_level_db
        loud = rms_db >= start_level
        previous_db = self._history[-2].rms_db if len(self._history) > 1 else -120.0
        if loud and (not self._was_loud or rms_db - previous_db >= _JUMP_DB):
            # An attack by level alone: remember where, to the sample, in case aubio's
            # onset does not fire (soft attacks, low strings with little HF content).
            threshold = 10.0 ** (max(start_level, previous_db + 3.0) / 20.0)
            above = np.flatnonzero(np.abs(hop) >= threshold)
            offset = int(above[0]) if above.size else 0
            self._rise_s = (self._samples - HOP_SIZE + offset) / self._rate
        self._was_loud = loud
        if is_onset and loud:
            onset_s = max(self._onset.get_last() * _DECIMATION / self._rate, 0.0)
            if self._note is None or self._rose_since(onset_s):
                self._start_note(onset_s, now, events)
        elif self._note is None and loud and voiced:
            # A note that crept in without a detected attack.
            rise = self._rise_s if now - self._rise_s < _GIVE_UP_S else now - HOP_SIZE / self._rate
            self._start_note(max(rise, 0.0), now, events)
        elif self._note is not None:
            self._note.frames.append(frame)
            self._note.peak_db = max(self._note.peak_db, rms_db)
            if self._ended(self._note, frame):
                self._finish(now - _RELEASE_FRAMES * HOP_SIZE / self._rate, events)
            else:
                self._check_legato(self._note, now, events)
        if self._note is not None and self._note.reported is None:
            self._try_report(self._note, now, events)
        return events

    def flush(self) -> list[NoteEvent]:
        """End of stream: finish the sounding note, if any."""
        events: list[NoteEvent] = []
        if self._note is not None:
            self._finish(self.time_s, events)
        return events

    # -- internals ----------------------------------------------------------------------

    @property
    def _start_level_db(self) -> float:
        return max(self.config.gate_dbfs, self._floor_db + _FLOOR_MARGIN_DB)

    def _rose_since(self, onset_s: float) -> bool:
        """Did the level jump at ``onset_s``? Re-plucks do; fret buzz and vibrato do not."""
        before = [f.rms_db for f in self._history if f.time_s <= onset_s]
        after = [f.rms_db for f in self._history if f.time_s > onset_s]
        if not before or not after:
            return True
        return max(after) - min(before[-3:]) >= _RETRIGGER_RISE_DB

    def _decimate(self, hop: np.ndarray) -> np.ndarray:
        # [1, 2, 1] / 4 low-pass then keep every other sample; carries one sample of state.
        padded = np.empty(HOP_SIZE + 1, dtype=np.float32)
        padded[0] = self._prev_sample
        padded[1:] = hop
        self._prev_sample = hop[-1]
        out = padded[1::2] * np.float32(0.5)
        out += (padded[0:-1:2] + padded[2::2]) * np.float32(0.25)
        return out

    def _track_floor(self, rms_db: float) -> None:
        # Noise floor: follows quiet hops down at once, creeps up 3 dB per second, so
        # sustained hum or hiss raises the start level while a sustained note cannot
        # (it lasts seconds, the floor needs ~10 s to climb to it).
        if rms_db < self._floor_db:
            self._floor_db = rms_db
        else:
            self._floor_db += 3.0 * HOP_SIZE / self._rate

    def _start_note(self, onset_s: float, now: float, events: list[NoteEvent]) -> None:
        if self._note is not None:
            if self._note.reported is None and now - self._note.onset_s < 0.05:
                # Two triggers for one attack: keep the earlier onset.
                return
            self._finish(onset_s, events)
        frames = [f for f in self._history if f.time_s > onset_s]
        self._note = _Note(self._next_index, onset_s, frames, max(f.rms_db for f in frames))
        self._next_index += 1
        self._quiet_frames = 0

    def _settled_midis(self, note: _Note, skip_s: float, span_s: float) -> list[float]:
        start = note.onset_s + skip_s
        stop = note.onset_s + span_s
        return [f.midi for f in note.frames if start <= f.time_s <= stop and not math.isnan(f.midi)]

    def _try_report(self, note: _Note, now: float, events: list[NoteEvent]) -> None:
        age = now - note.onset_s
        midis = self._settled_midis(note, _SETTLE_S, _FINAL_SPAN_S)
        stable = len(midis) >= 2 and abs(midis[-1] - midis[-2]) < 0.3
        if midis and (stable or age >= _REPORT_DEADLINE_S):
            note.reported = self._event(note, _robust_midi(midis), None, now)
            events.append(note.reported)
        elif age >= _GIVE_UP_S:
            self._note = None  # unpitched: a pick scrape, a knock, a muted string

    def _ended(self, note: _Note, frame: _Frame) -> bool:
        quiet = frame.rms_db < max(self.config.gate_dbfs - 6.0, note.peak_db - _DECAY_BELOW_PEAK_DB)
        self._quiet_frames = self._quiet_frames + 1 if quiet else 0
        return self._quiet_frames >= _RELEASE_FRAMES

    def _check_legato(self, note: _Note, now: float, events: list[NoteEvent]) -> None:
        """Split the note when its pitch moves to a new steady value without an onset.

        While the note is young a change is taken as a better reading of the same note
        (the first frames mix the attack with what came before); later it is a new note,
        unless it is an octave or a twelfth away — a harmonic taking over, not a finger.
        """
        reported = note.reported
        if reported is None:
            return
        midis = self._settled_midis(note, _SETTLE_S, _FINAL_SPAN_S)
        if not midis:
            return
        age = now - note.onset_s
        if age < _CORRECTION_S:
            estimate = _robust_midi(midis)
            if abs(estimate - (reported.midi + reported.cents / 100.0)) >= _LEGATO_SEMITONES:
                note.reported = self._event(note, estimate, None, reported.reported_s)
                events.append(note.reported)
            return
        recent = [f.midi for f in note.frames[-_LEGATO_FRAMES:]]
        if len(recent) < _LEGATO_FRAMES or any(math.isnan(m) for m in recent):
            return
        if max(recent) - min(recent) >= 0.5:
            return
        jump = float(np.median(recent)) - _robust_midi(midis)
        harmonic = any(abs(abs(jump) - k) < 0.5 for k in (12, 19, 24))
        if abs(jump) >= _LEGATO_SEMITONES and not harmonic:
            # Onset: the first frame of the run, less ~half a window of analysis lag.
            onset_s = max(note.frames[-_LEGATO_FRAMES].time_s - 0.02, note.onset_s + 0.02)
            self._start_note(onset_s, now, events)

    def _finish(self, end_s: float, events: list[NoteEvent]) -> None:
        note = self._note
        self._note = None
        if note is None or note.reported is None:
            return
        midis = self._settled_midis(note, _FINAL_SKIP_S, _FINAL_SPAN_S) or self._settled_midis(
            note, 0.0, _FINAL_SPAN_S
        )
        final_midi = (
            _robust_midi(midis) if midis else note.reported.midi + note.reported.cents / 100
        )
        end_s = max(end_s, note.onset_s + HOP_SIZE / self._rate)
        event = self._event(note, final_midi, end_s, note.reported.reported_s)
        events.append(event)

    def _event(self, note: _Note, midi_exact: float, end_s: float | None, now: float) -> NoteEvent:
        nearest = round(midi_exact)
        confidences = [f.confidence for f in note.frames if not math.isnan(f.midi)]
        return NoteEvent(
            index=note.index,
            onset_s=round(note.onset_s, 4),
            end_s=None if end_s is None else round(end_s, 4),
            midi=nearest,
            cents=round((midi_exact - nearest) * 100.0, 1),
            freq_hz=round(self._tuning.midi_to_hz(midi_exact), 2),
            confidence=round(float(np.median(confidences)) if confidences else 0.0, 3),
            level_db=round(note.peak_db, 1),
            reported_s=round(now, 4),
        )


def _robust_midi(midis: list[float]) -> float:
    """Median pitch after voting out frames an octave (or a fifth above it) away."""
    center = float(np.median(midis))
    kept = [m for m in midis if abs(m - center) < 0.5]
    return float(np.median(kept)) if kept else center
