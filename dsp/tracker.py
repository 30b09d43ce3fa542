"""Streaming note tracker: float32 hops in, :class:`NoteEvent` values out, live.

``NoteTracker(TrackerConfig()).process(hop)`` returns the notes reported on that hop; a
note is reported within ~60 ms of its onset, again if the screen's name needs correcting,
and finally with its pitch from the note's body and ``end_s``. Times are stream times
(samples / rate), never wall-clock. Why each decision is made the way it is (half-rate
YIN, attacks by level, re-attacks by spectral novelty, the room gate, legato, octave
checks) is in ``docs/tracker.md``.

This module holds the hop loop (:meth:`NoteTracker.process`), a note's life from attack
to final report, and the state all of it shares. The questions the loop asks on the way
are answered in ``dsp/tracking/``, one part per question, each a base class of
:class:`NoteTracker` working on that one shared state: is this an attack (``attacks``),
or a vibration that goes on (``continuity``), where did a note heard late begin
(``breaks``), did the pitch move to a new note (``legato``), does it stand out of the
room (``room``), which name to show first (``naming``), what a new note added over
strings still ringing (``ringing``), and its final pitch and octave (``octaves``).
"""

from __future__ import annotations

import math
from collections import deque

import aubio
import numpy as np

from dsp.errors import InvalidSettingError
from dsp.notes import Tuning
from dsp.repair import InputRepair
from dsp.tracking.attacks import _Attacks
from dsp.tracking.audio import butterworth_highpass
from dsp.tracking.breaks import _Breaks
from dsp.tracking.constants import (
    _ATTACK_NOVELTY_S,
    _ATTACK_RISE_DB,
    _BLIP_DB,
    _BLIP_S,
    _BLOCK,
    _BLOCK_RISE_DB,
    _BLOCKS,
    _BODY_MIN_SAMPLES,
    _BODY_SKIP_S,
    _BODY_SPAN_S,
    _CHANGE_HOPS,
    _CHANGE_WINDOW,
    _CLICK_BELOW_PEAK_DB,
    _CLICK_RISE_DB,
    _CLICK_SHARE,
    _COMPRESSION,
    _CONFIRM_S,
    _CORRECTION_S,
    _DECAY_BELOW_PEAK_DB,
    _DECAYED_DB,
    _DECIMATION,
    _DIP_BELOW_PEAK_DB,
    _DRIFT_GAP_HOPS,
    _EARLY_CONFIDENCE,
    _EARLY_WINDOW,
    _FILTERED_HOP,
    _FINAL_SPAN_S,
    _FLOOR_CREEP_DB_PER_S,
    _FLOOR_MARGIN_DB,
    _FLOOR_START_DB,
    _FLUX_HISTORY,
    _GAP_BLOCKS,
    _GATE_GIVE_DB,
    _GATE_OVER_FLOOR_DB,
    _GIVE_UP_S,
    _GUESS_CONFIDENCE,
    _HIGHPASS_HZ,
    _HOLD_S,
    _LEGATO_FRAMES,
    _LEGATO_SEMITONES,
    _LOOKBACK_BLOCKS,
    _MIN_CONFIDENCE,
    _NOISE_HOPS,
    _NOVELTY_HISTORY,
    _NOVELTY_OVER_GATE_DB,
    _NOVELTY_SHARE,
    _ONSET_WINDOW,
    _PENDING_S,
    _PERIOD_FLAT_CENTS,
    _PERIOD_FROM_S,
    _PERIOD_SHARP_CENTS,
    _PITCH_WINDOW,
    _QUIET_INPUT_DB,
    _QUIET_SAME,
    _READ_BACK_HOPS,
    _RECENT_HOPS,
    _RELEASE_FRAMES,
    _REPICK_HOPS,
    _REPORT_DEADLINE_S,
    _RINGING_NOTES,
    _ROOM_END_DB,
    _SAME_ATTACK_S,
    _SETTLE_S,
    _SHALLOW_BELOW_PEAK_DB,
    _SHS_HARMONICS,
    _SHS_MAX_HZ,
    _SHS_STEP,
    _SNR_DB,
    _SPECTRUM_SAMPLES,
    _SPECTRUM_SIZE,
    _STOPPED_UNDER_DB,
    _SWELL_HOPS,
    _SWELL_OVER_ROOM_DB,
    _SWELLS_KEPT,
    _SWING_HOPS,
    _TOUCH_BLIP_DB,
    _TOUCH_BLIP_S,
    _UNDER_C2,
    _WEAK_AGREEMENT,
    _WEAK_CONFIDENCE,
    _WHITENING_DROP,
    _WHITENING_FLOOR,
    _WHITENING_S,
    _YIN_TOLERANCE,
    HOP_SIZE,
    SUPPORTED_RATES,
)
from dsp.tracking.continuity import _Continuity
from dsp.tracking.hfc import _HfcOnsets
from dsp.tracking.legato import _Legato
from dsp.tracking.naming import _Naming
from dsp.tracking.octaves import _FinalPitch
from dsp.tracking.pitches import (
    _early_agree,
    _harmonic_jump,
    _median,
    _steady_guess,
)
from dsp.tracking.ringing import _Ringing
from dsp.tracking.room import _Room
from dsp.tracking.state import _Attack, _BreakQuery, _Deferred, _FluxRise, _Note
from dsp.tracking.values import NoteEvent, TrackerConfig

__all__ = ["HOP_SIZE", "SUPPORTED_RATES", "NoteEvent", "NoteTracker", "TrackerConfig"]


class NoteTracker(_Continuity, _Attacks, _Breaks, _Legato, _Room, _Naming, _Ringing, _FinalPitch):
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
        self._early_pitch = aubio.pitch("yinfast", _EARLY_WINDOW, _EARLY_WINDOW, half)
        self._early_pitch.set_unit("Hz")
        self._early_pitch.set_silence(-90.0)
        self._early_pitch.set_tolerance(_YIN_TOLERANCE)
        self._early_span_s = _EARLY_WINDOW / half
        # The last 21 ms of filtered audio, hop by hop (see _early_window). aubio returns
        # its own output buffer and overwrites it on the next call: each hop is a copy.
        self._filtered: deque[np.ndarray] = deque(
            [np.zeros(_FILTERED_HOP, dtype=np.float32)] * (_EARLY_WINDOW // _FILTERED_HOP),
            maxlen=_EARLY_WINDOW // _FILTERED_HOP,
        )
        # Rumble, handling noise and mains hum below the lowest string pull YIN towards
        # sub-octaves; a 2nd-order high-pass at 50 Hz removes them before pitch analysis.
        self._highpass = aubio.digital_filter(3)
        self._highpass.set_biquad(*butterworth_highpass(_HIGHPASS_HZ, half))
        # One 512-point spectrum per hop (aubio's phase vocoder, Hann) feeds two descriptors.
        # Spectral novelty: aubio's ``specdiff``. A re-pluck of a ringing string, or a new
        # note over a ringing one, changes the spectrum when the level hardly moves; a
        # decay, beating or vibrato barely do.
        self._pvoc = aubio.pvoc(_ONSET_WINDOW, HOP_SIZE // _DECIMATION)
        self._specdiff = aubio.specdesc("specdiff", _ONSET_WINDOW)
        # specdiff per hop: its last 8 are the re-attack's background, and 5 more the
        # re-pick's (see _is_novel, _repicked).
        self._novelty: deque[float] = deque(maxlen=_NOVELTY_HISTORY + _REPICK_HOPS)
        # aubio's own hfc peak picker, for re-picks the two above miss (fast runs of one
        # pitch): its onset counts when the spectrum changed and the level rose a little.
        self._hfc = _HfcOnsets(half)
        # aubio's ``specflux`` (see _whitened_flux): each bin whitened by its own recent
        # peak, log-compressed, rises only, summed. A re-pick softer than the ringing
        # string restores its decayed upper partials (see _flux_repick).
        self._flux = aubio.specdesc("specflux", _ONSET_WINDOW)
        self._flux_peaks = np.full(_ONSET_WINDOW // 2 + 1, _WHITENING_FLOOR, dtype=np.float32)
        decay = np.float32(_WHITENING_DROP) ** (
            np.float32(HOP_SIZE // _DECIMATION) / np.float32(half) / np.float32(_WHITENING_S)
        )
        # Its constants as arrays of the spectrum's length: the same float32 products as
        # with scalars, without numpy converting a scalar on each of the four calls.
        bins = _ONSET_WINDOW // 2 + 1
        self._flux_decay = np.full(bins, decay, dtype=np.float32)
        self._flux_ones = np.ones(bins, dtype=np.float32)
        self._flux_compression = np.full(bins, _COMPRESSION, dtype=np.float32)
        self._fluxes: deque[float] = deque(maxlen=_FLUX_HISTORY)
        self._flux_run = 0  # consecutive hops of flux risen 2.5× ...
        self._flux_strong_run = 0  # ... and 5×
        self._flux_dipped = False  # YIN's confidence dipped since the pending rise
        self._flux_pending: _FluxRise | None = None  # a rise waiting for its confirmation
        self._flux_hops = 0
        # Second-difference energy per 2.7 ms block of the last hops asked for: (hop
        # number, blocks) (see _click_blocks).
        self._click_kept: deque[tuple[int, list[float]]] = deque(maxlen=4)
        self._click_audio = np.zeros(HOP_SIZE + 2, dtype=np.float32)  # (see _clicked)
        self._edges = np.zeros(HOP_SIZE, dtype=np.float32)
        self._edge_squares = np.zeros(HOP_SIZE, dtype=np.float32)
        # ... and their views, made once: a slice costs a new array object on every hop.
        x = self._click_audio
        self._click_views = (x[:2], x[2:], x[1:-1], x[:-2])
        self._edge_blocks = self._edge_squares.reshape(_BLOCKS, _BLOCK)
        self._click_rise = 10.0 ** (_CLICK_RISE_DB / 10.0)
        self._attack_click = 0.0  # the loudest click block of the sounding note's attack
        self._novel_run = 0  # consecutive hops of spectral novelty
        self._background = 0.0  # the median specdiff the last hop was compared with
        # A quiet re-pick waiting for its confirmation (see _quiet_repick): (onset, level).
        self._repick: tuple[float, float] | None = None
        self._repick_hops = 0
        self._repick_dipped = False
        self._steady: tuple[float, float] = (math.nan, 0.0)  # the last hop's (MIDI, conf)
        self._read: tuple[float, float] = (math.nan, 0.0)  # ... and this hop's (see _reads_low)
        # The level of the room: the 80th percentile of the last 1.6 s of hops when no
        # note sounded (a hum or a mic'd room is bursty: its loud hops are what a note
        # must stand clear of). (hop end s, dB): a note found late takes its hops back.
        self._history_db: deque[tuple[float, float]] = deque(maxlen=_NOISE_HOPS)
        self._noise_db = -120.0
        self._quietest_db = 0.0  # the quietest hop heard yet
        self._previous_peak_db = 0.0
        self._held: list[tuple[NoteEvent, float]] = []  # short notes: (final report, peak dB)
        self._block_rise = 10.0 ** (_BLOCK_RISE_DB / 10.0)
        self._hop_s = HOP_SIZE / self._rate
        self._half_rate = self._rate / _DECIMATION
        self._min_voiced = self.config.min_midi - 0.5
        self._max_voiced = self.config.max_midi + 0.5
        self._a4 = self.config.a4_hz
        self._rise_ratio = 10.0 ** (_ATTACK_RISE_DB / 10.0)
        self._floor_creep = _FLOOR_CREEP_DB_PER_S * self._hop_s
        # Decimation: the mean of each pair of samples (a low-pass with its zero at the
        # input Nyquist, −3 dB at the new one), one BLAS call instead of a filter and a copy.
        self._pair_mean = np.full(_DECIMATION, 1.0 / _DECIMATION, dtype=np.float32)
        self._attack_db = -120.0
        body_hops = math.ceil(_BODY_SPAN_S * self._rate / HOP_SIZE)
        self._body = np.zeros(body_hops * HOP_SIZE, dtype=np.float32)
        self._body_window = np.hanning(_SPECTRUM_SAMPLES // _DECIMATION).astype(np.float32)
        self._bin_hz = self._rate / _DECIMATION / _SPECTRUM_SIZE
        # Harmonic sums for the first report's name (see _harmonic_name): for each pitch
        # on a 10-cent grid, the spectrum's bins at its harmonics 1–16 and half-way between
        # them, up to 4 kHz; a bin past that points at a zero appended to the spectrum. Not
        # under C2, whatever the lowest note (see _low_tuned).
        lowest = max(self._min_voiced, _UNDER_C2)
        self._shs_grid = np.arange(lowest, self._max_voiced, _SHS_STEP)
        self._shs_pitches = self._shs_grid.tolist()  # (for bisect)
        f0 = self._a4 * 2.0 ** ((self._shs_grid - 69.0) / 12.0)
        self._shs_bins = math.ceil(_SHS_MAX_HZ / self._bin_hz) + 2
        ks = np.arange(1, _SHS_HARMONICS + 1)[:, None]
        on, off = ks * f0, (ks - 0.5) * f0
        zero = self._shs_bins
        on = np.where(on < _SHS_MAX_HZ, np.rint(on / self._bin_hz), zero)
        off = np.where(off < _SHS_MAX_HZ, np.rint(off / self._bin_hz), zero)
        self._shs_index = np.concatenate((on, off)).astype(np.intp)
        self._shs_sign = np.repeat(np.float32([1.0, -1.0]), _SHS_HARMONICS)
        # The harmonic sums over the last attack spectrum read, and the last spectrum of
        # what rang before a note: (its audio before, length, it) (see _attack_sums, _rang).
        self._attack_shs: tuple[np.ndarray, np.ndarray] | None = None
        self._rang_kept: tuple[np.ndarray, int, np.ndarray] | None = None
        # The attack's audio and spectrum at a report, computed once: ((index, time), them).
        self._attack_cache: tuple[tuple[int, float], _Attack | None] | None = None
        self._squares = np.empty(HOP_SIZE, dtype=np.float32)
        self._gate_db = self.config.gate_dbfs
        self._quiet_gate_db = self._gate_db  # the gate under this hop's floor (see process)
        self._last_peak_db = -math.inf  # the sounding or last note's loudest hop
        self._samples = 0
        self._blocks: deque[float] = deque(
            [0.0] * (_LOOKBACK_BLOCKS + _GAP_BLOCKS), maxlen=_LOOKBACK_BLOCKS + _GAP_BLOCKS
        )
        self._levels: deque[tuple[float, float]] = deque(maxlen=12)  # (end of hop, rms dB)
        # The last hops' magnitude spectra, by hop number modulo their count (see
        # _note_shape) ...
        bins = _ONSET_WINDOW // 2 + 1
        self._shape_ring = np.zeros((_SWELL_HOPS + 1, bins), dtype=np.float32)
        self._shape_rows = list(self._shape_ring)  # (its rows' views, made once)
        # ... and the last swells: (hop number, judged a tremolo's: see _note_shape).
        self._swells: deque[tuple[int, bool]] = deque(maxlen=_SWELLS_KEPT)
        self._swell_dip = np.zeros(bins, dtype=np.float32)  # the latest's dip's spectrum ...
        self._swell_dip_db = 0.0  # ... and level,
        self._swell_own = np.zeros(bins, dtype=np.float32)  # ... the one it was judged on,
        # ... and the one before the level last fell 3 dB in a hop (a square tremolo's
        # off-phase can be silence: the shape to compare with is the one before it).
        self._swell_before = np.zeros(bins, dtype=np.float32)
        self._before_fall = np.zeros(bins, dtype=np.float32)
        self._swell_falling = False
        self._swelled = (-math.inf, -math.inf)  # the last swell vetoed (s, from and to)
        self._deferred: _Deferred | None = None  # a level attack on a swell's edge
        self._recent: deque[np.ndarray] = deque(maxlen=_RECENT_HOPS)
        self._recent_joined: tuple[int, np.ndarray] | None = None  # (see _recent_audio)
        # The last 341 ms at half rate: what a legato note changed (see _changed); its last
        # 128 ms, where a note heard late began (see _lookback, _period_break).
        self._change_audio: deque[np.ndarray] = deque(maxlen=_CHANGE_HOPS)
        self._change_window = np.hanning(_CHANGE_WINDOW).astype(np.float32)
        # A new note heard late, and where to look for the break it made (see
        # _attack_heard_late), until it is looked for.
        self._break_query: tuple[_Note, _BreakQuery] | None = None
        # The last voiced frames, whichever note they belong to: (end of hop, midi, conf).
        # Voiced frames (end of hop, MIDI, confidence): a run, and where it was first read.
        self._voiced: deque[tuple[float, float, float]] = deque(maxlen=_READ_BACK_HOPS)
        # ... and the last quarter second of them: is the pitch swinging (see _swinging)?
        self._swings: deque[tuple[float, float]] = deque(maxlen=_SWING_HOPS)
        self._note: _Note | None = None
        self._previous: tuple[float, float] | None = None  # last final note: (MIDI, end_s)
        self._released = False  # ... which faded out, rather than being cut by a note
        # The last sound dropped unpitched: (its peak, when); see _hear_room.
        self._unpitched: tuple[float, float] | None = None
        self._played: deque[tuple[float, float]] = deque(maxlen=_RINGING_NOTES)  # (MIDI, onset)
        self._last_attack_s = -1.0
        self._ringing_from = 0.0
        self._rise_s = 0.0
        self._was_loud = False
        self._next_index = 0
        self._floor_db: float | None = None
        self._quiet_frames = 0
        self._repair = InputRepair(self._rate)
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

    @property
    def pending_onset_s(self) -> float | None:
        """Onset of a note heard but not named yet (its pitch is still settling), else None.

        The live screen's hint that a report is due: by ~60 ms after this onset, unless the
        sound turns out to be unpitched (a knock, a pick scrape) and is dropped.
        """
        note = self._note
        return note.onset_s if note is not None and note.reported is None else None

    def process(self, hop: np.ndarray) -> list[NoteEvent]:
        """Feed one hop; returns the notes reported or finished during it (often none)."""
        if hop.shape != (HOP_SIZE,):
            raise InvalidSettingError(f"hops must hold {HOP_SIZE} samples, not {hop.shape}")
        hop = hop.astype(np.float32)  # a copy: the caller may reuse its buffer
        if self._break_query is not None:
            self._answer_break()  # (the attack's hop did the note's finish)
        repair = self._repair
        hop = repair.process(hop, period_of=self._period_samples)
        self._recent.append(hop)
        start = self._samples
        self._samples += HOP_SIZE
        self.hops += 1
        now = self._samples / self._rate

        energy = repair.energy  # (``np.dot(hop, hop)``: the repair's click test needs it too)
        rms_db = 10.0 * math.log10(energy / HOP_SIZE + 1e-12)
        if self.hops == 1:
            # Nothing came before the stream, not digital silence: the first hop is
            # compared with itself, so room noise at the start is no attack.
            self._blocks.extend((energy / _BLOCKS,) * len(self._blocks))
        self._quietest_db = min(self._quietest_db, rms_db)
        # Noise floor: follows quiet hops down at once, creeps up 3 dB per second, so
        # sustained hum or hiss raises the start level while a sustained note cannot
        # (it lasts seconds, the floor needs ~10 s to climb to it). It starts no higher
        # than −60 dBFS, so a stream that opens on a note still hears it.
        floor_db = self._floor_db
        if floor_db is None:
            floor_db = min(rms_db, _FLOOR_START_DB)
        elif rms_db < floor_db:
            floor_db = rms_db
        else:
            floor_db += self._floor_creep
        self._floor_db = floor_db
        # A quiet input (the last note peaked within 10 dB of the gate) over a quiet floor
        # (a clean interface, nothing in the room): a note may start up to 12 dB under the
        # gate, if 30 dB over the floor; at −40 dBFS input a high note's hops peak near
        # −57 dBFS. It ends 6 dB under where it may start (below), or a beating note
        # sinking past the end would start again. Not after a louder note: its decay and
        # beating, 45 dB under its peak, would (see _DECAY_BELOW_PEAK_DB). Nor while a
        # note sounds: aubio's specdiff there is a few bins' noise (it ignores bins under
        # a fixed magnitude), and a real note decaying at −57 dBFS re-triggered on it.
        gate_db = self._gate_db
        if self._last_peak_db < gate_db + _QUIET_INPUT_DB:
            gate_db = max(gate_db - _GATE_GIVE_DB, min(gate_db, floor_db + _GATE_OVER_FLOOR_DB))
        self._quiet_gate_db = gate_db
        if self._note is not None:
            gate_db = self._gate_db
        start_db = max(gate_db, floor_db + _FLOOR_MARGIN_DB)
        loud = rms_db >= start_db
        attack_s = self._find_attack(hop, energy, start, start_db)
        if loud and not self._was_loud:
            self._rise_s = start / self._rate
        self._was_loud = loud
        self._levels.append((now, rms_db))

        half = hop.reshape(-1, _DECIMATION).dot(self._pair_mean)  # (np.dot's, undispatched)
        self._change_audio.append(half)
        grain = self._pvoc(half)
        self._note_shape(grain.norm, loud and rms_db >= self._noise_db + _SWELL_OVER_ROOM_DB)
        descriptor = self._specdiff(grain).item(0)  # (float(x[0]), without a scalar)
        flux = self._whitened_flux(grain)
        self._hfc.push(half)
        novel = self._is_novel(descriptor)
        filtered = self._highpass(half)
        self._filtered.append(filtered.copy())
        freq = self._pitch(filtered).item(0)
        confidence = float(self._pitch.get_confidence())
        midi = guess = math.nan
        if freq > 0 and confidence >= _GUESS_CONFIDENCE:
            guess = 69.0 + 12.0 * math.log2(freq / self._a4)
            if not self._min_voiced <= guess <= self._max_voiced:
                guess = math.nan
            elif confidence >= _WEAK_CONFIDENCE:
                midi = guess
        self._read = (guess, confidence)

        flux_s = self._flux_repick(start, rms_db, flux, confidence)
        events: list[NoteEvent] = []
        if self._held and now - self._held[0][0].onset_s > _HOLD_S:
            self._release_held(events, now - _HOLD_S)
        note = self._note
        deferred, self._deferred = self._deferred, None
        if self._swell_only():
            # A pedal's tremolo, not a pick: nor is an onset found in it later (hfc's).
            self._swelled = ((self._swells[-1][0] - 2) * self._hop_s, now)
        elif deferred is not None and self._edge_of_swell():
            self._deferred = deferred.heard(descriptor, flux, self._loudest_click())
        elif deferred is not None:
            self._attack(deferred.onset_s, deferred.level_db, now, events)
            self._seed_attack(deferred.heard(descriptor, flux, self._loudest_click()))
        elif attack_s is not None and note is None and self._edge_of_swell():
            # (Only with no note sounding, a square tremolo's off-phase having ended it:
            # a sounding note would take the waiting hops' frames and triggers as its own.)
            self._deferred = _Deferred(
                attack_s, self._attack_db, descriptor, flux, self._loudest_click()
            )
        elif attack_s is not None:
            if not self._goes_on(attack_s):  # (a square tremolo's edge: see _goes_on)
                self._attack(attack_s, self._attack_db, now, events)
        elif (
            novel
            and loud
            and self._rising()
            and (
                note is None
                or (
                    descriptor >= _NOVELTY_SHARE * note.novelty
                    and rms_db >= self._gate_db + _NOVELTY_OVER_GATE_DB
                )
            )
        ):
            # Not while the level falls (a note letting go), nor a change far smaller than
            # the note's own attack made (a sample's loop, a harmonic fading in), nor over
            # a note sunk to near the gate (see _NOVELTY_OVER_GATE_DB).
            onset_s = self._novelty_onset(start)
            if onset_s - self._last_attack_s >= _SAME_ATTACK_S and not self._goes_on(onset_s):
                self._attack_heard_late(onset_s, rms_db, now, events, note)
        elif (
            note is not None
            and loud
            and rms_db >= note.peak_db - _DIP_BELOW_PEAK_DB
            and self._dip_and_rise(rms_db, descriptor)
        ):
            # A re-pluck the spectrum hides (distortion keeps it busy): the pick stopped
            # the string, the level dipped and rose again. Not far into the note's decay:
            # there its two polarisations, the one that drove the top hardest dying
            # first, beat ever more deeply (a rise 15 dB or more under the note's peak is
            # a beat; a re-pick that far into a clean note is a jump in level, above).
            # Nor a swell of a waveform that goes on (see _goes_on).
            onset_s = self._novelty_onset(start)
            if onset_s - self._last_attack_s >= _SAME_ATTACK_S and not self._goes_on(onset_s):
                self._attack_heard_late(onset_s, rms_db, now, events, note)
        elif note is not None and loud and note.reported is not None and flux_s is not None:
            # A re-pick softer than the ringing string (see _flux_repick), taken three hops
            # late, when the tests above have not heard it.
            if flux_s - self._last_attack_s >= _SAME_ATTACK_S and not self._goes_on(flux_s):
                ringing_from = self._ringing_from
                self._attack(flux_s, rms_db, now, events)
                # The flux's flicker is still the string's: no new attack was heard.
                self._ringing_from = ringing_from
                if self._note is not None and self._note.onset_s == flux_s:
                    self._note.restruck = True
        elif (
            note is not None
            and loud
            and note.reported is not None
            and rms_db >= note.peak_db - _CLICK_BELOW_PEAK_DB
            and abs(self._steady[0] - note.ref) < _QUIET_SAME
            # (the last hop's click, computed only once the tests above let it matter)
            and (click := self._clicked(self.hops - 1)) is not None
            and click[1] >= _CLICK_SHARE * self._attack_click
        ):
            # A re-pick of the sounding pitch, heard by its click (see _clicked), taken a
            # hop late so that the tests above time the attack when they hear it at all.
            if click[0] - self._last_attack_s >= _SAME_ATTACK_S:
                self._attack(click[0], rms_db, now, events)
        elif (
            note is not None
            and loud
            and self._hfc.latest() * _DECIMATION / self._rate - self._last_attack_s
            >= _SAME_ATTACK_S
            and self._repicked(note)
            and self._hfc.onset()
        ):
            onset_s = max(self._hfc.last() * _DECIMATION / self._rate, 0.0)
            swelled = self._swelled[0] <= onset_s <= self._swelled[1]
            if (
                onset_s - self._last_attack_s >= _SAME_ATTACK_S
                and not swelled
                and not self._building(note, onset_s)
                and not self._goes_on(onset_s)
            ):
                self._attack_heard_late(onset_s, rms_db, now, events, note)
        elif (
            note is None
            and loud
            and confidence >= _MIN_CONFIDENCE
            and midi == midi
            and (crept_s := self._crept_in(midi, now)) is not None
        ):
            # A note that crept in without a detected attack.
            self._attack(max(crept_s, 0.0), rms_db, now, events)
        elif note is not None and self._quiet_repick(
            note, start, rms_db, descriptor, midi, confidence, now
        ):
            onset_s, level_db = self._repick  # type: ignore[misc]
            if not self._swelled[0] <= onset_s <= self._swelled[1] and not self._goes_on(onset_s):
                self._attack(onset_s, level_db, now, events)
        elif (
            note is not None
            and loud
            and note.reported is not None
            and rms_db >= note.peak_db - _SHALLOW_BELOW_PEAK_DB
            and self._shallow_repick(note, rms_db)
        ):
            onset_s = self._novelty_onset(start)
            if onset_s - self._last_attack_s >= _SAME_ATTACK_S:
                self._attack_heard_late(onset_s, rms_db, now, events, note)
        self._steady = (midi, confidence)

        note = self._note
        if note is None:
            self._hear_room(rms_db, now)
            return events
        if rms_db > note.peak_db:
            note.peak_db = note.trough_db = rms_db
            if self._held and note.reported is not None:
                self._drop_blips(note)
        elif rms_db < note.trough_db:
            note.trough_db = rms_db
            note.fell_db = max(note.fell_db, note.peak_db - rms_db)
        self._last_peak_db = note.peak_db
        if now - note.onset_s <= _ATTACK_NOVELTY_S:
            note.novelty = max(note.novelty, descriptor)
            note.flux = max(note.flux, flux)
        if now - note.onset_s <= _ATTACK_NOVELTY_S + self._hop_s:
            self._attack_click = max(self._attack_click, self._loudest_click())
        if midi == midi:
            self._voiced.append((now, midi, confidence))
            self._swings.append((now, midi))
        if midi == midi and now - note.onset_s <= _FINAL_SPAN_S:
            note.times.append(now)
            note.midis.append(midi)
            note.confidences.append(confidence)
        if note.reported is None and guess == guess and now >= note.onset_s + _SETTLE_S:
            note.guesses.append(guess)
        if (
            note.reported is None
            and now - self._early_span_s >= note.onset_s - 0.002
            and now - note.onset_s <= _REPORT_DEADLINE_S + self._hop_s
        ):
            # Only until the deadline: later the main window is full of the note, and a
            # short window on a low note reads its partials (E2 as B3).
            note.early.append(self._early_reading())
        taken = note.body
        if taken < len(self._body) and start >= note.body_from * self._rate:
            self._body[taken : taken + HOP_SIZE] = hop
            note.body = taken + HOP_SIZE
            if note.spectrum is None and note.body >= _SPECTRUM_SAMPLES:
                note.spectrum = self._spectrum(_SPECTRUM_SAMPLES)
                note.spectrum_len = _SPECTRUM_SAMPLES // _DECIMATION
            elif (
                note.spectrum is not None and note.over_ringing is None and note.shown == note.shown
            ):
                # On the next hop, a light one, at the pitch the screen shows (over strings
                # ringing, YIN's frames often read a period shared with them): not on the
                # note's last.
                note.over_ringing = self._read_over_ringing(note, note.shown)
        quiet = rms_db < max(
            self._quiet_gate_db - 6.0,
            note.peak_db - _DECAY_BELOW_PEAK_DB,
            self._noise_db + _ROOM_END_DB,  # (a note that has sunk into the room's noise)
        )
        self._quiet_frames = self._quiet_frames + 1 if quiet else 0
        if self._quiet_frames >= _RELEASE_FRAMES:
            self._finish(now - _RELEASE_FRAMES * self._hop_s, events)
            self._released = True
        elif note.reported is None:
            self._try_report(note, now, events)
        else:
            self._follow(note, midi, confidence, now, events)
        return events

    def flush(self) -> list[NoteEvent]:
        """End of stream: finish the sounding note, if any."""
        events: list[NoteEvent] = []
        if self._break_query is not None:
            self._answer_break()
        if self._note is not None:
            self._finish(self.time_s, events)
        self._release_held(events)
        return events

    def _release_held(self, events: list[NoteEvent], before: float = math.inf) -> None:
        """Report the short notes held back by ``_finish`` (those with onsets before
        ``before``): no louder pluck came right after them.

        A short note is held until ``_HOLD_S`` after its onset (or a longer note ends, or
        the stream does); if a note named within ``_BLIP_S`` of it peaks ``_BLIP_DB``
        louder meanwhile, the short one was the pick touching or scraping the string first
        (however many such sounds came before the pluck) and is dropped (see _drop_blips).
        Its final report comes up to ~0.4 s after its onset; the live screen never waits
        for it.
        """
        while self._held and self._held[0][0].onset_s < before:
            events.append(self._held.pop(0)[0])

    def _drop_blips(self, note: _Note) -> None:
        """Drop the held short notes that were the pick before ``note`` (see _blip)."""
        self._held = [
            (event, peak) for event, peak in self._held if not self._blip(event, peak, note)
        ]

    @staticmethod
    def _blip(event: NoteEvent, peak_db: float, note: _Note) -> bool:
        """The held short note ``event`` (its peak ``peak_db``) was the pick before ``note``:
        ``note`` began within ``_BLIP_S`` of it and peaks ``_BLIP_DB`` over it, or within
        ``_TOUCH_BLIP_S`` and ``_TOUCH_BLIP_DB`` over it. A touch sounds for as long as
        the pick rests on the string before it plucks, 50–90 ms; no note is played that
        briefly, that much softer than the next, in a run (re-picks are never held: see
        _restruck). The tuning half of the real notes through a 180 Hz resonance: a
        Takamine's touch, 54 ms before its D3 and 14 dB under it, was kept as a G#3."""
        since = note.onset_s - event.onset_s
        louder = note.peak_db - peak_db
        return since > 0.0 and (
            (since < _BLIP_S and louder >= _BLIP_DB)
            or (since < _TOUCH_BLIP_S and louder >= _TOUCH_BLIP_DB)
        )

    def _try_report(self, note: _Note, now: float, events: list[NoteEvent]) -> None:
        """Report the note once its pitch holds: two confident frames that agree, or three
        weaker ones that agree closely (a new note under a ringing one reads with low
        confidence but a steady period); at the deadline, the confident frames so far."""
        age = now - note.onset_s
        settle = note.onset_s + _SETTLE_S
        strong: list[float] = []
        midis: list[float] = []
        for t, m, c in zip(note.times, note.midis, note.confidences, strict=True):
            if t >= settle:
                midis.append(m)
                if c >= _MIN_CONFIDENCE:
                    strong.append(m)
        early = note.early[-2:]
        sure_early = [m for m, c in early[-1:] if m == m and c >= _EARLY_CONFIDENCE]
        unsure = False
        if len(early) == 2 and _early_agree(*early):
            pool = [m for m, _ in early]
        elif len(strong) >= 2 and abs(strong[-1] - strong[-2]) < 0.3:
            pool = strong
        elif (
            len(midis) >= 3
            and max(midis[-3:]) - min(midis[-3:]) < _WEAK_AGREEMENT
            and not self._fell_away(note)
        ):
            pool = midis
        elif age + self._hop_s > _REPORT_DEADLINE_S and (
            midis or sure_early or _steady_guess(note.guesses)
        ):
            # The last hop before the deadline: the best reading so far, however unsure
            # (the final report corrects it).
            pool = strong or midis or sure_early or note.guesses[-1:]
            unsure = True
        elif age <= _REPORT_DEADLINE_S < age + self._hop_s and (
            (added := self._added_unread(note, now)) is not None
        ):
            pool = [added]
            unsure = True
        else:
            decayed = note.peak_db - self._levels[-1][1] >= _DECAYED_DB
            if age >= _PENDING_S or (age >= _GIVE_UP_S and decayed):
                self._note = None  # unpitched: a pick scrape, a knock, a muted string
                self._unpitched = (note.peak_db, now)
            return
        # Hops heard as the room before this note was found, from its onset on, were
        # the note's (see _unhear_room): not the room it is judged against.
        self._unhear_room(note.onset_s)
        if not self._stands_out(note, unsure):
            # A pitch in the room's noise (an amp's hum, a mic'd room) with no note before
            # it: a note played stands clear of the noise it is played into. What it was
            # heard in was the room (else a bursty room, heard as one such note after
            # another, would never be measured). Not a sound that never rose clear of
            # the quietest hop yet, in a stream that has not rested: that is the note a
            # stream opened on (and the same string ringing on), lost for want of a room
            # to judge it by; its loudness taken for the room's would have every later
            # note of a stream that never rests judged inside it. Once a hop has been the
            # room's, such a sound is a burst of it: else only the room's troughs are
            # heard, its bursts taken as notes one after another, and it is measured from
            # the troughs alone (an amp's 180 Hz hum, its level jumping 14 dB every
            # 40 ms: a room 6 hops long, 8 dB under the bursts, that let 8 in as notes).
            self._note = None
            if note.peak_db - self._quietest_db >= _SNR_DB or self._history_db:
                self._history_db.extend((t, db) for t, db in self._levels if t > note.onset_s)
                self._update_room()
            return
        last = pool[-1]
        self._decide(note, _median([m for m in pool if abs(m - last) < 0.5]), now)
        name = self._settled_name(note, self._early_name(note, note.ref, now))
        name = self._harmonic_name(note, name, now)
        name = self._partial_of(note, name, now)
        note.reported = self._event(note, name, None, now)
        note.shown = name
        if self._held:
            self._drop_blips(note)
        events.append(note.reported)

    def _decide(self, note: _Note, midi: float, now: float) -> None:
        """Set the note's pitch from a frame estimate, after the octave check."""
        available = int((now - note.onset_s - 0.005) * self._rate)
        checked, note.locked = self._octave_check(midi, available)
        if checked != midi:
            # Re-read the pitch from the frames that see the note in the octave found.
            direct = [m for m in note.midis[-8:] if abs(m - checked) < 0.5]
            if direct:
                checked = _median(direct)
        note.ref = checked

    def _follow(
        self, note: _Note, midi: float, confidence: float, now: float, events: list[NoteEvent]
    ) -> None:
        """After the report: confirm the octave once, correct a young note, spot legato."""
        age = now - note.onset_s
        if not note.confirmed and age >= _CONFIRM_S:
            note.confirmed = True
            if not note.locked and note.midis:
                last = note.midis[-1]
                before = round(note.ref)
                self._decide(
                    note, _median([m for m in note.midis[-5:] if abs(m - last) < 0.5]), now
                )
                # (Else the screen keeps the report's name; nor for a 3rd-5th harmonic of
                # it, unless that name is a string still ringing, which the body's
                # spectrum judges at ~0.22 s: see _under_harmonic.)
                if round(note.ref) != before and (
                    self._over_shown(note, note.ref) is None
                    or self._rings_under(note.shown, note.onset_s)
                ):
                    self._show(note, note.ref, events)
        if not note.previewed and note.spectrum is not None:
            # The body's spectrum is in (~0.22 s): what the final report would name now.
            note.previewed = True
            self._show(note, self._octave_of_body(note, self._frames_pitch(note)), events)
        if midi != midi:
            return
        offset = midi - note.ref
        if abs(offset) < _LEGATO_SEMITONES:  # the note itself: the usual case, kept cheap
            if confidence >= _MIN_CONFIDENCE:
                note.support += 1
            return
        harmonic = _harmonic_jump(offset)
        if confidence >= _MIN_CONFIDENCE and harmonic:
            note.support += 1
        if harmonic or self._drifting(note, midi, now):
            continued = now - note.partial_s <= (_DRIFT_GAP_HOPS + 1.5) * self._hop_s
            note.partial_run = note.partial_run + 1 if continued else 1
            note.partial, note.partial_s = midi, now
            return
        if self._quiet_frames and self._levels[-1][1] < note.peak_db - _STOPPED_UNDER_DB:
            return  # a stopped string's last murmur: ending (see process), far under its peak
        run = self._pitch_run(now)
        if run is None:
            return
        recent = [m for _, m, _ in run]
        jump = _median(recent) - note.ref
        if abs(jump) < _LEGATO_SEMITONES or _harmonic_jump(jump):
            return
        if round(note.ref + jump) == note.reported.midi:
            return  # the pitch the screen already names the note by (a corrected misread)
        shown_as = (note.shown, note.reported.midi)
        if any(named == named and _harmonic_jump(note.ref + jump - named) for named in shown_as):
            return  # a harmonic of a name the screen showed: the note still (``ref`` drifted)
        back = abs(note.ref + jump - note.shown) < _LEGATO_SEMITONES
        if age < _CORRECTION_S or note.support < _LEGATO_FRAMES or back:
            # (``back``: the pitch the first report named, after a correction away from it:
            # the attack's sharp start, or its partials, misread for a moment.)
            if len(run) < _LEGATO_FRAMES:
                return  # a correction waits for the third frame, as it always has
            # Still the attack (the first frames mix it with what rang before), or a pitch
            # no steady frame has confirmed yet: a better reading of the same note.
            self._decide(note, _median(recent), now)
            note.reported = self._event(note, note.ref, None, note.reported.reported_s)
            events.append(note.reported)
            return
        if self._swinging(note, _median(recent), run[0][0]):
            return  # a vibrato's crest
        if self._needs_attack(_median(recent), note.ref):
            return  # (see _needs_attack)
        # A new note without an attack. Its onset: the first frame of the run, less ~half a
        # window of analysis lag.
        first_s = self._first_read(run[0][0], _median(recent), note.ref)
        onset_s = max(self._legato_onset(first_s), note.onset_s + 0.02)
        if not self._changed(note, onset_s, _median(recent)):
            return  # another string, sounding all along, outlasting this one
        query = self._legato_break(note, onset_s, _median(recent))
        self._finish(onset_s, events)
        new = _Note(self._next_index, onset_s, self._levels[-1][1])
        if query is not None:
            if self._break_query is not None:
                self._answer_break()  # (one query at a time; none is pending here, as a rule)
            self._break_query = (new, query)
        new.body_from = onset_s + _BODY_SKIP_S
        self._next_index += 1
        self._quiet_frames = 0
        for t, m, c in run:
            new.times.append(t)
            new.midis.append(m)
            new.confidences.append(c)
        self._note = new
        self._try_report(new, now, events)

    def _finish(self, end_s: float, events: list[NoteEvent]) -> None:
        note = self._note
        self._note = None
        if note is None or note.reported is None:
            return
        final = self._frames_pitch(note)
        body = note.body
        if note.body_from + body / self._rate > end_s:  # the body ran past the note's end
            body = max(int((end_s - note.body_from) * self._rate), 0)
        if note.spectrum is None and body >= _BODY_MIN_SAMPLES:
            note.spectrum = self._spectrum(body)
            note.spectrum_len = min(body, _SPECTRUM_SAMPLES) // _DECIMATION
        if note.spectrum is not None:
            final = self._octave_of_body(note, final)
        final = self._not_ringing(note, final)
        final = self._added_name(note, final)
        if self._low_tuned(final) and note.spectrum is not None:
            final = self._low_phantom(note.spectrum, final)
        self._previous = None
        if body >= _BODY_MIN_SAMPLES:
            settled = int((_PERIOD_FROM_S - _BODY_SKIP_S) * self._rate)
            start = settled if body - settled >= _BODY_MIN_SAMPLES else 0
            period = self._period_pitch(self._body[start:body], final)
            over = self._pitch_over_ringing(note, period, final)
            partials = (
                self._partials_pitch(note.spectrum, final) if note.spectrum is not None else None
            )
            # On a stiff string a period reads sharper than the partials' peaks (it weighs
            # the sharp upper partials in), by up to ~20 cents on low notes. A period
            # flatter than the peaks, or far sharper, has been bent by something else
            # still ringing; a partial's peak stays where it is.
            if over is not None:
                final = over
            elif partials is not None and not (
                -_PERIOD_FLAT_CENTS <= (period - partials) * 100.0 <= _PERIOD_SHARP_CENTS
            ):
                final = partials
            else:
                final = period
        end_s = max(end_s, note.onset_s + self._hop_s)
        event = self._event(note, final, end_s, note.reported.reported_s)
        if end_s - note.onset_s < _BLIP_S and not self._restruck(note):
            # A short note may be the pick touching the string before it plucks: held
            # until no louder pluck can come right after it (see _release_held); not a
            # re-pick (see _restruck).
            self._held.append((event, note.peak_db))
        else:
            self._release_held(events)
            events.append(event)
        self._previous = (final, end_s)
        self._released = False
        self._played.append((final, note.onset_s))
        self._previous_peak_db = note.peak_db

    def _show(self, note: _Note, midi_exact: float, events: list[NoteEvent]) -> None:
        """Correct the note the live screen shows when a later look names another semitone.

        Only the report changes (its time stays the first report's): the note's own
        decisions, and so its final report, are not touched.
        """
        reported = note.reported
        if reported is not None and round(midi_exact) != reported.midi:
            note.reported = self._event(note, midi_exact, None, reported.reported_s)
            events.append(note.reported)

    def _event(self, note: _Note, midi_exact: float, end_s: float | None, now: float) -> NoteEvent:
        query = self._break_query
        if query is not None and query[0] is note and query[1].new_midi != query[1].new_midi:
            self._answer_break()  # (reported on its attack's hop: its onset is read now)
        nearest = round(midi_exact)
        return NoteEvent(
            index=note.index,
            onset_s=round(note.onset_s if note.began_s != note.began_s else note.began_s, 4),
            end_s=None if end_s is None else round(end_s, 4),
            midi=nearest,
            cents=round((midi_exact - nearest) * 100.0, 1),
            freq_hz=round(self._tuning.midi_to_hz(midi_exact), 2),
            confidence=round(_median(note.confidences), 3) if note.confidences else 0.0,
            level_db=round(note.peak_db, 1),
            reported_s=round(now, 4),
        )
