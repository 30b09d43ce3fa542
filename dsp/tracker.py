"""Streaming note tracker: float32 hops in, :class:`NoteEvent` values out, live.

``NoteTracker(TrackerConfig()).process(hop)`` returns the notes reported on that hop; a
note is reported within ~60 ms of its onset, again if the screen's name needs correcting,
and finally with its pitch from the note's body and ``end_s``. Times are stream times
(samples / rate), never wall-clock. Why each decision is made the way it is (half-rate
YIN, attacks by level, re-attacks by spectral novelty, the room gate, legato, octave
checks) is in ``docs/tracker.md``.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field, replace
from itertools import islice, pairwise

import aubio
import numpy as np

from dsp.errors import InvalidSettingError
from dsp.notes import Tuning
from dsp.repair import InputRepair

SUPPORTED_RATES = (44100, 48000)

# 512 input samples = 10.7 ms at 48 kHz: the hop the device reads, and the step of every
# decision below. 256 decimated samples per aubio call.
HOP_SIZE = 512
_DECIMATION = 2
_PITCH_WINDOW = 1024  # decimated samples: 42.7 ms at 24 kHz
_EARLY_WINDOW = 512  # 21 ms: the first readings of a note (lags up to 256: ≥ 94 Hz)
_FILTERED_HOP = HOP_SIZE // _DECIMATION  # (the early window holds two of them)
_ONSET_WINDOW = 512
# aubio's ``specflux`` settings (see _whitened_flux).
_WHITENING_FLOOR = 1e-4  # the peaks' start
_WHITENING_DROP = 0.001  # the peaks fall 60 dB ...
_WHITENING_S = 100.0  # ... in this long
_COMPRESSION = 10.0
# aubio's hfc onsets (see _HfcOnsets).
_HFC_WINDOW = 1024  # half-rate samples
_HFC_HOP = 256
_HFC_PENDING = 64  # hops kept before their descriptors are computed anyway ...
_HFC_TAIL = 14  # ... those of the last hops first, often all that is needed (see _resume)
_HFC_DELAY_HOPS = 4.3
_HFC_MIN_GAP_S = 0.05
_HFC_SILENCE = 1e-9  # mean square: −90 dB
_PEAK_SPAN = 7  # descriptors the peak picker smooths: 5 back, 1 ahead, the hop itself
_PEAK_POST = 5
_PEAK_THRESHOLD = 0.058
_PEAK_BIQUAD = (0.15998789, 0.31997577, 0.15998789, 0.23484048)  # b0, b1, b2, a1
_BLOCKS = 4  # level blocks per hop: 128 samples, 2.7 ms
_BLOCK = HOP_SIZE // _BLOCKS
_LOOKBACK_BLOCKS = 6  # 16 ms: what an attack is compared with ...
_GAP_BLOCKS = 2  # ... ending 5.3 ms before it, for attacks that take a few ms to rise
_RECENT_HOPS = 8  # full-rate audio kept for the octave check: 85 ms

# Attacks.
_ATTACK_RISE_DB = 9.0
_SAME_ATTACK_S = 0.05  # triggers closer than this are one attack
_RESTART_DB = 6.0  # a trigger this much over a pending note's peak is its real attack
_RESTART_DIP_DB = 12.0  # ... or one after the pending note fell this far: a new sound
_BLIP_S = 0.25
_BLIP_DB = 15.0
_TOUCH_BLIP_S = 0.1  # ... or this close before a note (a pick's touch, see _blip) ...
_TOUCH_BLIP_DB = 10.0  # ... and this much under it
_HOLD_S = 0.4  # a held short note is reported by then whatever follows
_NOVELTY_RATIO = 2.5  # specdiff over its recent median: a re-attack (see _is_novel)
_NOVELTY_HISTORY = 8
_NOVELTY_RISE_DB = 1.0
# A re-attack heard by its spectral change stands this far over the gate: aubio's specdiff
# counts only bins over a fixed magnitude, and a note near the gate has a few such bins; a
# beat that moves one across reads as novelty (three quiet nylon-like notes, re-triggered
# at -54 dBFS, 1 dB over the gate, by 2-3 dB beats).
_NOVELTY_OVER_GATE_DB = 6.0
_REPLUCK_RISE_DB = 4.5
_REPLUCK_RISE_HOPS = 3  # ... within this many hops out of the dip (_dip_and_rise writes 3 out)
_REPLUCK_DIP_DB = 3.0
_REPLUCK_NOVELTY = 1.5
_DEEP_DIP_DB = 12.0  # a dip this deep needs no spectral change: the string was stopped
_DIP_BELOW_PEAK_DB = 15.0  # ... and the rise reaches within this of the note's peak
_DIP_HOPS = 6  # the hops a dip and rise is looked for in
_BLOCK_RISE_DB = 1.0  # a re-attack's onset: a 2.7 ms block at least this much louder
_NOISE_HOPS = 150
_NOISE_MIN_HOPS = 6
_QUIETEST_TO_ROOM_DB = 3.0
_ROOM_AFTER_S = 0.3  # a note's tail, still fading after its end, is not the room
_ROOM_AFTER_UNPITCHED_S = 2.0  # ... nor a sound dropped unpitched (see _hear_room)
_ROOM_UNDER_UNPITCHED_DB = 15.0  # ... until it falls this far under its peak
_SNR_DB = 6.0  # a note's peak over the room's level (see _stands_out); dev: softest 6.8
_OPENING_S = 0.05  # a note starting this early in a stream opened it: see _stands_out
_OPENING_MIN_DB = -40.0  # ... and is played, not the room's, at least this loud (hop RMS)
_ROOM_END_DB = 3.0  # a hop this close to the room's level is the room: a note ends there
_BURST_SNR_DB = 12.0  # over a room guessed, or for an unsure note half gone: see _stands_out
_REPICK_NOVELTY = 1.5
_REPICK_RISE_DB = 1.0
_REPICK_HOPS = 5
_REPICK_BELOW_PEAK_DB = 15.0  # ... and reached within this of the sounding note's peak
# A re-pick no louder than the ringing string (see _quiet_repick).
_QUIET_NOVELTY = 2.0  # specdiff over its recent median
_QUIET_SURE = 0.95  # YIN's confidence before the change and after the dip
_QUIET_DIP = 0.9
_QUIET_SAME = 0.35  # semitones from the sounding note
_QUIET_FALL_DB = 6.0
_QUIET_HOPS = 5  # at most, and only while it can still be named within 60 ms
# A pick's click on a ringing string (see _clicked): a 2.7 ms block of the audio's second
# difference this much over the loudest of the six before the two that precede it.
_CLICK_RISE_DB = 10.0
_CLICK_SHARE = 0.1  # ... at least this share of the sounding note's own attack click
_CLICK_BELOW_PEAK_DB = 12.0  # ... and the level within this of the note's peak
_NOVELTY_SHARE = 0.1  # of the sounding note's own attack novelty
# A re-pick heard by the whitened spectral flux (see _flux_repick): aubio's ``specflux``
# this many times its median over the last 8 hops (or, when that is less, over a share of
# the ringing note's own attack flux), ...
_FLUX_RATIO = 5.0
_FLUX_HISTORY = 8
_FLUX_FLOOR = 0.01
_FLUX_WEAK_RATIO = 2.5  # ... or this many times, when YIN's confidence dipped (_QUIET_DIP)
_FLUX_CONFIRM_HOPS = 3  # ... confirmed this many hops later (a glide has moved by then),
_FLUX_FALL_DB = 15.0  # ... the level within this of the hop before the rise until then,
_FLUX_BELOW_PEAK_DB = 20.0  # ... and within this of the ringing note's peak,
_FLUX_OVER_FLICKER = 1.5  # ... and this many times the ringing note's own highest flux
_FLICKER_MIN_HOPS = 3  # ... over the hops heard of it after its attack (see _flicker)
# and the last 21 ms reading the ringing note's pitch surely (see _reads_pitch_of).
_ATTACK_NOVELTY_S = 0.06
# A tremolo's swell (see _note_shape, _swell_only): the level rose this much over the
# quietest of the last ``_SWELL_HOPS`` (its dip), the spectrum's shape within this of the
# dip's (half the L1 distance of the two magnitude spectra, each over its sum) ...
_SWELL_RISE_DB = 3.0
_SWELL_HOPS = 3
_SWELL_SHAPE = 0.12
_SWELL_TILT_DB = 2.0  # ... nor the balance of its bands over 2 kHz and under 1 kHz moved
_SWELL_LOW_BINS = 22  # (of the 512-point spectrum at half rate: under 1 kHz) ...
_SWELL_HIGH_BIN = 43  # ... and from 2 kHz
_SWELL_EDGE_RISE_DB = 9.0  # ... or, after a rise this steep (a square tremolo's edge),
_SWELL_EDGE_HOPS = 1  # ... a hop or two later (a level attack waits that long for it),
_SWELL_EDGE_SHAPE = 0.15  # ... within this;
_SWELL_OVER_ROOM_DB = 12.0  # ... on a hop this far over the room (and loud enough).
_SWELL_JUDGED_HOPS = 5  # Its hops take no attack this long
_SWELL_NOW_SHAPE = 0.2  # ... while still this close to its shapes,
_SWELL_BACK_HOPS = 60  # ... when another swell this recent (0.64 s) was a tremolo's too.
_SWELLS_KEPT = 8
# Does the string's waveform go on (see _goes_on)? At a candidate attack over a named
# note, 10 ms of half-rate audio after it (the latest, and the first from the onset: the
# worse) against the audio whole periods earlier, ending 5 ms before the candidate's
# onset (one placed a little late), with the best gain: a re-pick resets the string's
# vibration (its partials' phases, its shape), while a tremolo's swell, a knock on the
# body, a beat or a sympathetic string only scale or add to a waveform that goes on.
# The residual (1 - best correlation², dB) under which it went on: a tremolo's phantoms
# a median −10 dB (quartiles −16, −6), true attacks −0.3 (one of 1076 under −12).
_GOES_ON_DB = -12.0
_GOES_ON_WINDOW = 240  # half-rate samples compared: 10 ms ...
_GOES_ON_AFTER = 120  # ... of which at least this many (5 ms) after the onset, else not asked
_GOES_ON_MARGIN = 120  # the audio compared with ends this far before the onset: 5 ms
_GOES_ON_HOPS = 16  # half-rate audio looked back in: 171 ms
_GOES_ON_CENTS = 40.0  # the sounding note's period, refined within this on the audio before
_GOES_ON_SPREAD = 2  # samples either side of whole periods of it
_SINE_LIKE = -0.75  # ... not asked of a waveform this close to a sine (see _sine_like)
# A re-pick of an overdriven string that barely moves the level (see _shallow_repick): a
# dip of 1.5 dB and a rise of 2.5 dB out of it (the dip-and-rise test's 3 and 4.5, less),
# when this hop's waveform was reset (its residual against the audio whole periods before
# the hop over this) while 30–40 ms earlier the note repeated its period (under this).
_SHALLOW_RISE_DB = 2.5
_SHALLOW_DIP_DB = 1.5
# ... only on a level clipped flat, within this of the note's peak (a fuzz's re-picks rose
# back to it, 0.0 dB; on dev let-ring seeds 37 and 39 a tail's beats 4–12 dB under it,
# over strings still ringing, read as reset 7 times with the note's period held before)
_SHALLOW_BELOW_PEAK_DB = 2.0
_RESET_DB = -3.0
_WENT_ON_DB = -10.0
_WENT_ON_BEFORE = 720  # half-rate samples (30 ms) before this hop: the span's end
# Where a note heard late began (see _period_break): where the sounding note's period
# stopped fitting the audio.
_BREAK_HOPS = 12  # half-rate audio kept to look back in: 128 ms
_BREAK_BLOCK = 32  # half-rate samples: 1.3 ms, the step of the search
_BREAK_BEFORE = 16  # blocks (21 ms) the note must fit its period over, before the break ...
_BREAK_FIT_DB = -11.0  # ... this well on average (the audio's misfit, relative to it)
_BREAK_RISE_DB = 8.0  # ... and the misfit rises this much over the next period (≤ 4 blocks)
_BREAK_CENTS = (-40.0, -20.0, 0.0, 20.0, 40.0)  # periods tried around the note's
_BREAK_RATIOS = 2.0 ** (np.array(_BREAK_CENTS) / 1200.0)
_BREAK_SPAN_S = 0.05  # the break is looked for at most this long before the attack heard
_ADDED_DB = 10.0  # what the break adds: at most this far under the note's level
_STOPPED_DB = 9.0  # a note that fell this far before the attack heard was stopped first
_GLIDE_STEP = 0.2  # semitones between the periods a glide is followed through
_GLIDE_FIT_DB = -6.0  # a glide repeats one of them at least this well in every block
_GLIDE_FIRST_BLOCKS = 4  # blocks whose fit is looked at before the rest are computed

# A pick's touch before its pluck (see _touched): the sound it began is dated back there.
_TOUCH_S = 0.12  # at most this long before the pluck heard
_TOUCH_FALL_DB = 10.0  # the touch fell this far from its peak before the pluck: a click
_TOUCH_ROOM_DB = 10.0  # every 2.7 ms block from the touch on stands this far over the room

# Pitch and reporting: a note's pitch is taken from frames whose window is mostly the note.
_MIN_CONFIDENCE = 0.75  # a confident frame
_WEAK_CONFIDENCE = 0.5  # a frame that counts when its neighbours agree with it
_GUESS_CONFIDENCE = 0.3  # a reading shown at the report deadline when there is nothing better
_WEAK_AGREEMENT = 0.2
_EARLY_CONFIDENCE = 0.85  # two such readings within 0.3 semitone report a note ...
_WEAK_EARLY_CONFIDENCE = 0.7  # ... or two such within 0.1
# Below G3 a short-window reading may be the octave of a note too low for it (E2–F#2).
_EARLY_MIN_MIDI = 54.5
_YIN_TOLERANCE = 0.3
_UNDER_C2 = 35.5  # MIDI: under C2, notes only a guitar tuned lower plays (see _under_c2)
_LOW_LEGATO_SEMITONES = 7.0  # a pull-off to the open low string, from its 7th fret at most
_HIGHPASS_HZ = 50.0
_SETTLE_S = 0.025
_REPORT_DEADLINE_S = 0.057  # after the attack: ≤ 60 ms after the onset heard
_GIVE_UP_S = 0.15  # an unpitched note that has decayed by then is dropped
_DECAYED_DB = 20.0
_PENDING_S = 0.5  # ... and any note still unpitched by this age
_CONFIRM_S = 0.1  # second octave check, with a full window
_CORRECTION_S = 0.1
_FINAL_SKIP_S = 0.035  # skip the attack's pitch glide when taking the final pitch
_FINAL_SPAN_S = 0.6
_LEGATO_SEMITONES = 0.6
_VIBRATO_SWING = 0.2  # ... unless the pitch swung back and forth this far (_swinging)
_VIBRATO_STEP = 0.8  # ... and the new pitch is less than this from the swing's middle
_VIBRATO_HELD_HOPS = 5  # ... and the pitch never held within _VIBRATO_HELD_SPREAD this long
_VIBRATO_HELD_SPREAD = 0.06
_SWING_HOPS = 24  # (256 ms)
_LEGATO_FRAMES = 3
_LEGATO_SURE_FRAMES = 2  # ... or this many frames, each this sure, this close (see _pitch_run)
_LEGATO_SURE = 0.92
_LEGATO_SURE_SPREAD = 0.2
_LEGATO_FALL_DB = 6.0  # ... and not while the level falls this fast (see _falling)
_DRIFT_STEP = 0.5  # semitones: a harmonic's reading drifting (see _drifting) ...
_DRIFT_AFTER_HOPS = 10  # ... once read this many hops in a row (107 ms) ...
_DRIFT_GAP_HOPS = 3  # ... across gaps of up to this many unvoiced hops
_LEGATO_LOOKBACK_S = 0.1
_LEGATO_LAG_S = 0.045
_STOPPED_UNDER_DB = 30.0  # a note ending this far under its peak starts no legato note
_CHANGE_HOPS = 32  # half-rate audio kept to see what a legato note changed: 341 ms ...
_CHANGE_WINDOW = 2048  # ... compared over 85 ms before its onset and the last 85 ms ...
_CHANGE_SIZE = 8192  # ... (FFT size: 2.9 Hz bins) ...
_CHANGE_DB = 8.0  # ... its partials rose this much over the sounding note's (see _changed)
_CHANGE_UNDER_PEAK_DB = 15.0  # ... asked once the sounding note has faded this far
_CHANGE_PARTIALS = 8
_CHANGE_MAX_HZ = 8000.0
_CHANGE_APART_HZ = 12.0  # a partial this close to one of the other note's is shared
_READ_BACK_HOPS = 12  # a new note's pitch first read: looked for this far back ...
_READ_TOLERANCE = 0.75  # semitones a new note's first frames may read off (see _first_read)
_READ_GAP_HOPS = 3  # ... across gaps of up to this many unvoiced hops (see _first_read)
_DIP_DB = 3.0
_STEADY_SEMITONES = 0.35
_LEGATO_CONFIDENCE = 0.8  # mean over the run; each frame ≥ _MIN_CONFIDENCE
_HARMONIC_JUMPS = (12.0, 19.0, 24.0, -12.0, -19.0, -24.0)
_HARMONIC_TOLERANCE = 0.6
_SUB_HARMONIC_MAX = 16  # a period up to this many times the note's: see _harmonic_jump
# Harmonics 5–8, and the periods of partials 5 and 7 doubled: see _harmonic_jump.
_HIGH_HARMONICS = tuple(12.0 * math.log2(k) for k in (2.5, 3.5, 5.0, 6.0, 7.0, 8.0))

# Octave check: normalised square-difference function (NSDF) of the note's audio.
_CHECK_WINDOW = 2048  # samples at the input rate
_CHECK_MIN_WINDOW = 768
_LAG_SPAN = 4  # integer lags either side of the one expected
_DOWN_MIN_FIT = 0.95
_DOWN_MARGIN = 0.05
_UP_MARGIN = 0.005

# The note's body: full-rate audio from 50 ms to 0.42 s after the attack. Its first 171 ms
# give a spectrum (8192 points at half rate, Hann, zero-padded ×2) for the octave check on
# partials; 0.1–0.4 s of it (less when the note is shorter) give the final pitch, a period.
_BODY_SKIP_S = 0.05
_BODY_SPAN_S = 0.37
_PERIOD_FROM_S = 0.1  # after the attack: its sharp start has settled by then
_SPECTRUM_SAMPLES = 8192  # of the body, at the input rate (4096 once halved)
_BODY_MIN_SAMPLES = 2048
_SPECTRUM_SIZE = 8192
_PERIOD_SPAN_CENTS = 20.0
_PERIOD_WINDOW_S = 0.3
_PARTIALS = 4
_PARTIAL_SEARCH_CENTS = 50.0
_PERIOD_FLAT_CENTS = 2.0
_PERIOD_SHARP_CENTS = 25.0
_RINGING_SHARP_CENTS = 5.0  # ... when another string rings in the body (see _pitch_over_ringing)
_RINGING_BODY_SHARE = 0.03  # a played note's partial this loud in the body still rings
_OWN_HARMONICS = 16
_REREAD_SEMITONES = 0.25  # a final this far from the pitch the partials were read at
_PARTIAL_SEMITONES = {j: 12.0 * math.log2(j) for j in (1, 2, 3)}
_SHARED_SHARE = 0.5  # a partial where what rang was over this share of the body's is shared
_OWN_FLOOR = 0.03  # partials under this share of the loudest one's magnitude are noise
# Octave check on the spectrum (up only): see _odd_share. Measured on 573 rendered and real
# notes: true notes ≥ 5e-3 (the −31 dB low E), ≥ 5e-2 all others; readings an octave low
# < 1e-3 in 454 of 499.
_ODD_SEARCH_CENTS = 25.0
_ODD_SHARE = 1e-3
_LOCKED_ODD_SHARE = 1e-4
_PHANTOM_SHARE = 1e-3  # energy at partials 1 and 2, relative to the loudest peak
_PHANTOM_HARMONICS = 8
# The first report's name, for the screen only: see _early_name.
_EARLY_SKIP_S = 0.008
_EARLY_MIN_FIT = 0.5
_EARLY_PHANTOM_SHARE = 0.2
_EARLY_PHANTOM_MARGIN = 0.2
_EARLY_ODD_SHARE = 0.1
_EARLY_OCTAVE_MARGIN = 0.06
_EARLY_EMPTY_SHARE = 0.1  # a phantom with nothing at its partials 1–4 ...
_EARLY_PEAK_SHARE = 0.2  # ... is the harmonic with this much at its fundamental
# ... but not when the reading has this much (of the loudest peak) at a partial below
# the candidate's k: a played low note the microphone lost the fundamental of (see
# _explained_by). Dev: the wrong phantoms k ≥ 3 had ≥ 0.051 there.
_EARLY_OWN_SHARE = 0.05
# A plucked string starts sharp: a first reading 50–80 cents above a semitone, not rising,
# with a reading of that semitone among the attack's, names it (see _settled_name).
_SHARP_FROM = -0.5
_SHARP_TO = -0.2
_SHARP_REACH = 0.8
# ... and a name whose harmonics explain far less of the attack's spectrum than another
# pitch's do gives way to that pitch (see _harmonic_name).
_SHS_STEP = 0.1  # semitones between the pitches tried
_SHS_HARMONICS = 16
_SHS_MAX_HZ = 4000.0
_SHS_GIVE_WAY = 0.8
_PARTIAL_OF_SHARE = 0.75  # a pitch the name is a partial of sums this well (see _partial_of)
_BEFORE_GUARD = 96  # samples: 2 ms (see _new_over_ringing)
_RANG_MIN_SHARE = 0.1  # of the attack's spectral energy: something rang before it
_ADDED_MIN_SHARE = 0.1  # ... and something new came with it
_NEW_RISE = 4.0  # 6 dB: the new pitch's partials rose this much over the onset
_NEW_MIN_SHARE = 0.2  # ... to at least this share of the attack's loudest peak
_NEW_UNDER_MIN_SHARE = 0.3  # ... or this, for a pitch under the one heard
_NEW_HOLDS_ADDED = 0.3  # of what was added's loudest peak: a harmonic of the pitch heard
_SHARED_ONLY = 0.01  # ... that added next to nothing at that pitch's own partials
_FRESH_PARTIALS = 2  # ... or this many of them each rose so, from under it to over ...
_FRESH_SHARE = 0.05  # ... this share of the loudest peak
_OWN_PARTIALS_SHARE = 0.2  # a sub-harmonic's own partials in what a note added
_OCTAVE_ODD = 0.3  # other harmonics' mean under this share of the k-th's: see _octave_over
_OVER_STEPS = 2  # octaves or twelfths over the harmonic sum's pick at most
_HARMONIC_NUMBERS = np.arange(1, _SHS_HARMONICS + 1)
_MULTIPLES = {k: _HARMONIC_NUMBERS % k == 0 for k in (2, 3)}  # which of them ``k`` divides

# Let-ring: a final pitch that a note played within 2.5 s had (or a sub-harmonic of it)
# gives way to the first report's, 1.5+ semitones higher (see _not_ringing).
_RINGING_NOTES = 3
_RINGING_S = 2.5
_RINGING_JUMP = 1.5
_TAIL_SEMITONES = 0.5  # a reading this close to the last note's pitch class is its tail
_TAIL_REPICK_RISE_DB = 6.0  # ... unless the level rose this much within 8 hops (see
_TAIL_REPICK_HOPS = 8  # _picked_again) while the whitened flux peaked 5× its median
_RINGING_TOLERANCE = 0.75  # semitones: a reading of two notes at once lies between them
_SUB_HARMONICS = (0.0, 12.0, 12.0 * math.log2(3.0), 24.0)  # a ringing note over its 1st–4th

# Level gate and note end.
_RELEASE_FRAMES = 6
_FLOOR_MARGIN_DB = 6.0
_FLOOR_START_DB = -60.0
_GATE_GIVE_DB = 12.0  # a note may start this far under the gate ...
_GATE_OVER_FLOOR_DB = 30.0  # ... when it is this far over the noise floor ...
_QUIET_INPUT_DB = 10.0  # ... and the last note peaked under the gate plus this
_FLOOR_CREEP_DB_PER_S = 3.0
_DECAY_BELOW_PEAK_DB = 45.0


_Attack = tuple[np.ndarray, np.ndarray]  # a note's audio since its attack, and its spectrum


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


class _HfcOnsets:
    """``aubio.onset("hfc", 1024, 256, rate)``'s onsets (silence −90 dB), computed only
    when asked.

    The tracker asks on few hops (a sounding note's re-pick, see _repicked), but aubio's
    peak picker must see every hop's descriptor, and its phase vocoder cost ~17 µs a hop,
    the most of any of the tracker's aubio calls. Here each hop's audio is only kept; when
    asked (or every ``_HFC_PENDING`` hops), the descriptors of the hops since are computed
    in one batched FFT and aubio's peak picker is run over them, as aubio does, step by
    step (``src/onset/onset.c`` and ``peakpicker.c`` of aubio 0.4.9), or over the last
    ``_HFC_TAIL`` of them only, when those tell what all of them would (see _resume: on
    the dev split they always did; a fast run asks every ~90 hops):

    * descriptor: a Hann window of 1024 half-rate samples, magnitudes ``log(1 + |X|)``,
      summed weighted by bin number plus one (``hfc``);
    * its last 7 low-passed forward and backward (the biquad as aubio 0.4.9 ships it,
      ``b = (0.16, 0.32, 0.16)`` and one feedback term 0.235, from rest each pass); the
      6th less their median less 0.058 of their mean is the thresholded value;
    * a peak of that one hop back, over zero, is an onset at its parabola's vertex, unless
      the hop is silent or within 50 ms of the last onset; the first hops of the stream
      (up to the 4.3-hop delay) are an onset when not silent;
    * onset times lag 4.3 hops, which ``last`` takes off.

    The descriptors are aubio's to ~1e-5 (numpy's FFT and log, not aubio's), the peak
    picker runs in double precision: on 46 dev clips every onset and onset time was
    aubio's (see tests/test_tracker_descriptors.py).
    """

    def __init__(self, rate: int) -> None:
        n = np.arange(_HFC_WINDOW, dtype=np.float32)
        self._window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / _HFC_WINDOW)).astype(np.float32)
        self._weights = np.arange(1, _HFC_WINDOW // 2 + 2, dtype=np.float32)
        self._kept = _HFC_WINDOW - _HFC_HOP  # the samples before the oldest pending hop
        self._audio = np.zeros(self._kept + _HFC_HOP * _HFC_PENDING, dtype=np.float32)
        self._pending = 0
        self._history = np.zeros(_PEAK_SPAN - 1)  # the descriptors before the pending hops
        # Each pending hop's span of descriptors, and what the peak picker makes of one:
        # the low-pass forward and backward is a linear map of the seven, and so is their
        # mean (an 8th column).
        self._spans = np.arange(_HFC_PENDING)[:, None] + np.arange(_PEAK_SPAN)
        smoothing = _filtfilt_matrix()
        self._smoothing = np.column_stack((smoothing.T, smoothing.sum(axis=0) / _PEAK_SPAN))
        self._peek = [0.0, 0.0, 0.0]  # thresholded values of the last three hops
        self._delay = int(_HFC_DELAY_HOPS * _HFC_HOP)
        self._min_gap = math.floor(np.float32(_HFC_MIN_GAP_S) * np.float32(rate) + 0.5)
        self._frames = 0  # samples analysed before the pending hops
        self._last = 0  # the last onset, in samples, the delay not yet taken off
        self._onset = False  # whether the last hop analysed had an onset

    def push(self, half: np.ndarray) -> None:
        """Keep one hop of half-rate audio."""
        at = self._kept + _HFC_HOP * self._pending
        self._audio[at : at + _HFC_HOP] = half
        self._pending += 1
        if self._pending == _HFC_PENDING:
            self._advance()

    def onset(self) -> bool:
        """Whether the last hop pushed brought an onset (aubio's ``onset(x)[0] > 0``)."""
        if self._pending:
            self._advance()
        return self._onset

    def last(self) -> int:
        """The last onset, in half-rate samples from the stream's start (``get_last``)."""
        return self._last - self._delay

    def latest(self) -> int:
        """The latest ``last`` an onset on the last hop pushed could give: its peak lies a
        hop back, at most half a hop either way, and the delay comes off; at the stream's
        start an onset is the hop itself."""
        frames = self._frames + (self._pending - 1) * _HFC_HOP  # before the last hop
        if frames <= self._delay:
            return frames
        return frames + _HFC_HOP + _HFC_HOP // 2 - self._delay

    def _advance(self) -> None:
        """The pending hops' peak-picker values, then aubio's onset test hop by hop; when
        many are pending, only the last few hops' (see _resume), if that is exact."""
        k = self._pending
        tail = _HFC_TAIL + _PEAK_SPAN - 1  # the descriptors the last _HFC_TAIL values need
        late = None
        if k > tail and self._frames > self._delay:
            late = self._descriptors(k - tail, tail)
            if self._resume(late, k):
                self._finish_advance(late, k)
                return
        early = self._descriptors(0, k if late is None else k - tail)
        descriptors = early if late is None else np.concatenate((early, late))
        history = np.concatenate((self._history, descriptors))
        for j, value in enumerate(self._thresholded(history, k).tolist()):
            self._step(value, j)
        self._finish_advance(history, k)

    def _descriptors(self, first: int, count: int) -> np.ndarray:
        """The hfc descriptors of ``count`` pending hops from the ``first``-th, in one
        batched FFT."""
        audio = self._audio
        size = audio.itemsize
        frames = np.ndarray(
            (count, _HFC_WINDOW),
            np.float32,
            audio,
            first * _HFC_HOP * size,
            (_HFC_HOP * size, size),
        )
        # numpy transforms float32 in double precision; given the double-precision frames
        # itself, it computes the same values in less time over 20-64 frames (it no longer
        # casts them through its small buffer frame by frame; 1-45 % less, measured twice
        # on two numpy builds), and they round back the same.
        windowed = np.multiply(frames, self._window).astype(np.float64)
        magnitudes = np.abs(np.fft.rfft(windowed, axis=1).astype(np.complex64))
        np.log1p(magnitudes, out=magnitudes)
        return magnitudes @ self._weights

    def _thresholded(self, descriptors: np.ndarray, count: int) -> np.ndarray:
        """The peak picker's values of the last ``count`` hops of ``descriptors`` (each
        needs the six before it too)."""
        spans = descriptors[self._spans[:count] + (len(descriptors) - count - _PEAK_SPAN + 1)]
        smooth = spans @ self._smoothing
        middle = np.partition(smooth[:, :_PEAK_SPAN], _PEAK_SPAN // 2, axis=1)
        return (
            smooth[:, _PEAK_POST]
            - middle[:, _PEAK_SPAN // 2]
            - _PEAK_THRESHOLD * smooth[:, _PEAK_SPAN]
        )

    def _resume(self, late: np.ndarray, k: int) -> bool:
        """Run the onset test over the last of the ``k`` pending hops only (``late``: the
        descriptors of their last ``_HFC_TAIL`` + 6), when that gives what running it over
        all of them would; False when it cannot tell.

        It can from the end of a run of hops with no peak of the thresholded values over
        zero (no onset, whatever came before) at least ``_min_gap`` long: an onset before
        that run, wherever it lay, is then over ``_min_gap`` before any the test can find
        after it (an onset lies half a hop to a hop and a half back), so the test finds
        the same onsets there as it would have, and only the last onset's time, which
        ``last`` reads after an onset, was skipped. Not at the stream's start, where the
        delay counts too (see _step)."""
        values = self._thresholded(late, _HFC_TAIL).tolist()
        quiet = self._min_gap // _HFC_HOP + 1  # hops: ``_min_gap`` < quiet hops - a hop
        run = 0
        resume = None
        for j in range(2, _HFC_TAIL):
            s0, s1, s2 = values[j - 2 : j + 1]
            run = 0 if s1 > s0 and s1 > s2 and s1 > 0.0 else run + 1
            if run >= quiet:
                resume = j + 1  # the first hop (of the tail) after the run
        if resume is None:
            return False
        self._peek = values[resume - 3 : resume]
        first = k - _HFC_TAIL  # the tail's first hop, among the pending ones
        self._frames += (first + resume) * _HFC_HOP
        self._onset = False
        for j in range(resume, _HFC_TAIL):
            self._step(values[j], first + j)
        return True

    def _finish_advance(self, descriptors: np.ndarray, k: int) -> None:
        """Keep the last six descriptors and the audio the next hops' frames overlap."""
        self._history = descriptors[-(_PEAK_SPAN - 1) :].copy()
        audio = self._audio
        audio[: self._kept] = audio[k * _HFC_HOP : k * _HFC_HOP + self._kept]
        self._pending = 0

    def _step(self, thresholded: float, pending: int) -> None:
        """aubio's onset test on the ``pending``-th pending hop, ``thresholded`` its
        peak picker's value."""
        peek = self._peek
        del peek[0]
        peek.append(thresholded)
        s0, s1, s2 = peek
        onset = False
        frames = self._frames
        if s1 > s0 and s1 > s2 and s1 > 0.0:
            if not self._silent(pending):
                vertex = 1.0 + 0.5 * (s0 - s2) / (s0 - 2.0 * s1 + s2)  # in hops back
                new = frames + math.floor(vertex * _HFC_HOP + 0.5)
                if self._last + self._min_gap < new and not (self._last > 0 and new < self._delay):
                    self._last = max(self._delay, new)
                    onset = True
        elif (
            frames <= self._delay
            and (frames == 0 or self._last + self._min_gap < frames)
            and not self._silent(pending)
        ):
            self._last = frames + self._delay
            onset = True
        self._onset = onset
        self._frames = frames + _HFC_HOP

    def _silent(self, pending: int) -> bool:
        """The ``pending``-th pending hop lies under −90 dB (mean square)."""
        at = self._kept + pending * _HFC_HOP
        hop = self._audio[at : at + _HFC_HOP]
        return float(np.dot(hop, hop)) < _HFC_SILENCE * _HFC_HOP


def _filtfilt_matrix() -> np.ndarray:
    """aubio's peak picker's low-pass over its seven descriptors, forward then backward,
    each pass from rest, as one 7 × 7 matrix: the filter's impulse response, causal, then
    the same reversed in time."""
    b0, b1, b2, a1 = _PEAK_BIQUAD
    response = [b0, b1 - a1 * b0]
    response.append(b2 - a1 * response[1])
    while len(response) < _PEAK_SPAN:
        response.append(-a1 * response[-1])
    k = np.arange(_PEAK_SPAN)
    lag = k[:, None] - k[None, :]
    forward = np.where(lag >= 0, np.array(response)[np.clip(lag, 0, None)], 0.0)
    reverse = forward[::-1, ::-1]
    return reverse @ forward


@dataclass(frozen=True, slots=True)
class _FluxRise:
    """A rise of the whitened flux waiting for its confirmation (see _flux_repick)."""

    onset_s: float
    level_db: float  # the hop's before the rise
    strong: bool  # it rose 5× (else 2.5×)
    sure: bool  # YIN was sure of the pitch on the hop before it


@dataclass(frozen=True, slots=True)
class _BreakQuery:
    """Where to look for the break a note heard late made in the one it cut short (see
    _attack_heard_late, _legato_break): that note, when the new one was heard, the
    half-rate audio kept then and the stream's length then; for a legato note its pitch
    (``_period_break``'s ``new_midi``), and then the break is not looked for at its first
    report (see _event)."""

    note: _Note
    heard_s: float
    lookback: tuple[np.ndarray, ...]
    samples: int
    new_midi: float = math.nan


@dataclass(frozen=True, slots=True)
class _Deferred:
    """A level attack waiting on a swell's edge (see _edge_of_swell), and the largest
    spectral change, flux and click of the hops it has waited through."""

    onset_s: float
    level_db: float
    novelty: float
    flux: float
    click: float

    def heard(self, novelty: float, flux: float, click: float) -> _Deferred:
        return _Deferred(
            self.onset_s,
            self.level_db,
            max(self.novelty, novelty),
            max(self.flux, flux),
            max(self.click, click),
        )


@dataclass(slots=True)
class _Note:
    index: int
    onset_s: float  # where its attack was heard: what its analysis is timed from
    peak_db: float
    began_s: float = math.nan  # where it began, when heard late (see _period_break)
    touch_s: float = math.nan  # the pick's touch before its pluck (see _touch_before)
    from_room: bool = False  # it, or the unnamed sound it restarted, began with no note sounding
    novelty: float = 0.0  # the largest spectral change of its attack
    restruck: bool = False  # a re-pick of the ringing string, heard by the flux
    over: float = math.nan  # the pitch of the named note its attack cut short (see _restruck)
    partial: float = math.nan  # the last reading of a harmonic of it, or its drift ...
    partial_s: float = -math.inf  # ... and when (see _drifting) ...
    partial_run: int = 0  # ... and how many hops in a row it has been read
    flux: float = 0.0  # the largest spectral flux of its attack
    trough_db: float = 0.0  # the quietest hop since its peak
    shown: float = math.nan  # the pitch its first report showed
    times: list[float] = field(default_factory=list)  # voiced frames: end of hop
    midis: list[float] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    early: list[tuple[float, float]] = field(default_factory=list)  # short window: MIDI, conf
    guesses: list[float] = field(default_factory=list)  # unsure readings, for the deadline
    ref: float = math.nan  # the note's pitch as decided so far (fractional MIDI)
    locked: bool = False  # the octave check decided ``ref``'s octave
    support: int = 0  # confident frames since the report that read ``ref`` (or a harmonic)
    confirmed: bool = False
    previewed: bool = False  # the live screen was checked against the body's spectrum
    reported: NoteEvent | None = None
    body_from: float = 0.0  # the note's body, for the spectrum, starts here
    body: int = 0  # half-rate samples of the body collected
    spectrum: np.ndarray | None = None
    spectrum_len: int = 0  # half-rate samples the spectrum was taken over
    before: np.ndarray | None = None  # the audio that rang up to its onset (see _rang)
    rang: np.ndarray | None = None  # its spectrum at ``spectrum_len``, once taken (see _rang_of)
    rang_taken: bool = False
    over_ringing: tuple[float, float | None] | None = None  # see _read_over_ringing
    unchanged: tuple[int, float] | None = None  # a legato pitch refused, and its onset (_changed)


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
        # Second-difference energy per 2.7 ms block, the last eight (see _clicked).
        self._clicks: deque[float] = deque([0.0] * 8, maxlen=8)
        self._click_audio = np.zeros(HOP_SIZE + 2, dtype=np.float32)  # (see _clicked)
        self._edges = np.zeros(HOP_SIZE, dtype=np.float32)
        self._edge_squares = np.zeros(HOP_SIZE, dtype=np.float32)
        # ... and their views, made once: a slice costs a new array object on every hop.
        x = self._click_audio
        self._click_views = (x[:2], x[2:], x[1:-1], x[:-2])
        self._edge_blocks = self._edge_squares.reshape(_BLOCKS, _BLOCK)
        self._click_rise = 10.0 ** (_CLICK_RISE_DB / 10.0)
        self._click: tuple[float, float] | None = None  # last hop's click: (time, energy)
        self._last_click = 0.0  # the loudest block of the last hop
        self._attack_click = 0.0  # ... and of the sounding note's attack
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
        # under C2, whatever the lowest note (see _under_c2).
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
        self._windows: dict[int, np.ndarray] = {}  # Hann windows by length
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
        click, self._click = self._click, self._clicked(hop, start)
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
            self._deferred = deferred.heard(descriptor, flux, self._last_click)
        elif deferred is not None:
            self._attack(deferred.onset_s, deferred.level_db, now, events)
            self._seed_attack(deferred.heard(descriptor, flux, self._last_click))
        elif attack_s is not None and note is None and self._edge_of_swell():
            # (Only with no note sounding, a square tremolo's off-phase having ended it:
            # a sounding note would take the waiting hops' frames and triggers as its own.)
            self._deferred = _Deferred(
                attack_s, self._attack_db, descriptor, flux, self._last_click
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
            and click is not None
            and note.reported is not None
            and click[1] >= _CLICK_SHARE * self._attack_click
            and rms_db >= note.peak_db - _CLICK_BELOW_PEAK_DB
            and abs(self._steady[0] - note.ref) < _QUIET_SAME
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
        self._last_peak_db = note.peak_db
        if now - note.onset_s <= _ATTACK_NOVELTY_S:
            note.novelty = max(note.novelty, descriptor)
            note.flux = max(note.flux, flux)
        if now - note.onset_s <= _ATTACK_NOVELTY_S + self._hop_s:
            self._attack_click = max(self._attack_click, self._last_click)
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

    def _note_shape(self, magnitudes: np.ndarray, played: bool) -> None:
        """Keep this hop's magnitude spectrum, and follow the swells (see _swell_only):
        one begins on a hop whose level rose ``_SWELL_RISE_DB`` over the quietest of the
        three before it (its dip), and is judged a tremolo's on that hop by how close its
        shape is to the dip's (see _shape_distance), or, after a rise of
        ``_SWELL_EDGE_RISE_DB``, on either of the next two, whose 21 ms frames no longer
        hold a square tremolo's edge (which smears the frame as a pick's transient
        does), by how close they are to the dip's or the pre-fall's (see
        _swell_distance); only when the hop is ``played``, loud enough to start a
        note and ``_SWELL_OVER_ROOM_DB`` over the room (the room's own swells keep its
        shape, and taken for a tremolo they held back the attack of the next note). A
        few µs a hop: a copy and a few comparisons of levels."""
        ring = self._shape_rows
        slot = self.hops % len(ring)
        np.copyto(ring[slot], magnitudes)
        levels = self._levels
        if len(levels) <= _SWELL_HOPS or self.hops <= _SWELL_HOPS:
            return
        now_db, last_db = levels[-1][1], levels[-2][1]
        if now_db < last_db - _SWELL_RISE_DB:
            if not self._swell_falling:  # the hop before a fall, for the swell after it
                np.copyto(self._before_fall, ring[slot - 1])
            self._swell_falling = True
        elif now_db >= last_db:
            self._swell_falling = False
        swells = self._swells
        age = self.hops - swells[-1][0] if swells else _SWELL_JUDGED_HOPS + 1
        if age > _SWELL_JUDGED_HOPS:
            back = 1
            if levels[-3][1] < levels[-1 - back][1]:
                back = 2
            if levels[-4][1] < levels[-1 - back][1]:
                back = 3
            dip_db = levels[-1 - back][1]
            if now_db - dip_db >= _SWELL_RISE_DB:
                np.copyto(self._swell_dip, ring[slot - back])
                np.copyto(self._swell_before, self._before_fall)
                np.copyto(self._swell_own, ring[slot])
                self._swell_dip_db = dip_db
                same = played and _shape_distance(ring[slot], self._swell_dip) < _SWELL_SHAPE
                swells.append((self.hops, same))
        elif (
            0 < age <= _SWELL_EDGE_HOPS + 1
            and not swells[-1][1]
            and played
            and now_db - self._swell_dip_db >= _SWELL_EDGE_RISE_DB
            and self._swell_distance(ring[slot]) < _SWELL_EDGE_SHAPE
        ):
            swells[-1] = (swells[-1][0], True)
            np.copyto(self._swell_own, ring[slot])

    def _swell_distance(self, shape: np.ndarray) -> float:
        """How far ``shape`` is from the latest swell's dip's, or from the last before the
        level fell into it (a square tremolo's off-phase can be silence). Not on the
        rise's own hop: a string the pick damped falls 3 dB in a hop too, and the frame
        before that is its last pick's, which a soft re-pick resembles (dev repick-soft
        seed 25: one re-pick lost when the rise's hop was judged so)."""
        return min(
            _shape_distance(shape, self._swell_dip), _shape_distance(shape, self._swell_before)
        )

    def _swell_only(self) -> bool:
        """The level rises as a tremolo pedal swells it, not as a pick does: the spectrum
        only grew, keeping the shape it had at the dip (a pick's transient and the upper
        partials it restores change the shape), and so did the swell before this one,
        within ``_SWELL_BACK_HOPS`` (a re-pick that happens to keep its shape is alone
        in a run of picks that did not), and this hop is still close to the dip's, the
        pre-fall's or the judged hop's shape (a pick landing inside a swell changes it).
        A tremolo's rate runs independently of the picking, so its swells cannot be told
        by their timing; through a sine tremolo dev clips gave 1.4 phantom notes per note
        played (bench.stress --variants pedals)."""
        swells = self._swells
        if not swells or self.hops - swells[-1][0] > _SWELL_JUDGED_HOPS or not swells[-1][1]:
            return False
        if not self._tremolo_heard():
            return False
        shape = self._shape_rows[self.hops % len(self._shape_rows)]
        return (
            min(self._swell_distance(shape), _shape_distance(shape, self._swell_own))
            < _SWELL_NOW_SHAPE
        )

    def _tremolo_heard(self) -> bool:
        """A swell is rising now (it began within ``_SWELL_JUDGED_HOPS``), and one before
        it, within ``_SWELL_BACK_HOPS``, was judged a tremolo's (see _note_shape)."""
        swells = self._swells
        if len(swells) < 2 or self.hops - swells[-1][0] > _SWELL_JUDGED_HOPS:
            return False
        latest = swells[-1][0]
        return any(latest - began <= _SWELL_BACK_HOPS and same for began, same in list(swells)[:-1])

    def _seed_attack(self, deferred: _Deferred) -> None:
        """A deferred attack, now taken: its note's attack measures (the largest spectral
        change, flux and click, against which later re-picks are weighed) include the hops
        it waited through, as they would had it been taken at once."""
        note = self._note
        if note is None or note.onset_s != deferred.onset_s:
            return
        note.novelty = max(note.novelty, deferred.novelty)
        note.flux = max(note.flux, deferred.flux)
        self._attack_click = max(self._attack_click, deferred.click)

    def _edge_of_swell(self) -> bool:
        """A swell began on this hop or the one before, rising ``_SWELL_EDGE_RISE_DB``
        out of its dip, in a tremolo (see _tremolo_heard): a square tremolo's edge then
        falls inside this hop's spectrum frame (two hops long), whose shape it smears, so
        a level attack waits for _note_shape to judge the frames after the edge."""
        if not self._swells or self.hops - self._swells[-1][0] > _SWELL_EDGE_HOPS:
            return False
        return (
            not self._swells[-1][1]
            and self._levels[-1][1] - self._swell_dip_db >= _SWELL_EDGE_RISE_DB
            and self._tremolo_heard()
        )

    @property
    def _lookback(self) -> tuple[np.ndarray, ...]:
        """The last ``_BREAK_HOPS`` hops of half-rate audio (128 ms), oldest first."""
        return self._last_hops(_BREAK_HOPS)

    def _last_hops(self, count: int) -> tuple[np.ndarray, ...]:
        """The last ``count`` hops of half-rate audio kept, oldest first."""
        kept = self._change_audio
        return tuple(islice(kept, max(len(kept) - count, 0), None))

    def _goes_on(self, onset_s: float) -> bool:
        """The sounding, named note's waveform goes on through a candidate attack at
        ``onset_s``: the audio after it repeats the audio whole periods earlier, before
        it, within ``_GOES_ON_DB`` (see _repeats_through). False when that cannot be asked
        (no named note, too little audio after the onset, a waveform nearly a sine).

        A re-pick stops the string and plucks it again: a new displacement, new phases
        of its partials, a new waveform, however little the level moved. A tremolo
        pedal's swell or edge, a knock on the body, a fuzz's compression, a beat between
        two polarisations or a sympathetic string only scale the waveform or add to one
        that goes on. Measured at every attack the level, novelty, dip-and-rise, flux,
        hfc and quiet re-pick paths took over a named note (``bench.stress --variants
        pedals`` clips of ten conditions through a sine and a square tremolo and a fuzz;
        the dev split's repeated, repick-soft, fast-16ths, clean, let-ring, sustain,
        sustain-beating and legato seeds 0–3; 31 distortion seeds): 56 of the tremolos'
        207 phantoms on the paths heard late went on under −12 dB (the others are swells
        out of noise or a room, or over strings ringing together, which repeat no one
        period), one of 1076 true attacks (a tremolo clip); 85 of a square tremolo's 515
        level-path phantoms, none of 549 true level attacks elsewhere.
        """
        note = self._note
        if note is None or note.reported is None or note.ref != note.ref:
            return False
        return self._repeats_through(note.ref, onset_s)

    def _repeats_through(self, midi: float, onset_s: float) -> bool:
        """The audio after ``onset_s`` repeats the audio whole periods of ``midi`` earlier,
        ending ``_GOES_ON_MARGIN`` before the onset, within ``_GOES_ON_DB`` (see
        _repeat_db): both the last ``_GOES_ON_WINDOW`` samples (the latest, where a swell
        has grown most) and as many from the onset on (a sampled re-pick restarts the
        same shape, and once its attack has passed it can lie close to the old note's
        phase: dev fast-16ths seed 45, D3 re-picks 109 ms apart, −14 to −16 dB there
        48 ms on, −9 dB over the attack). Not when fewer than ``_GOES_ON_AFTER`` samples
        follow the onset, the audio kept does not reach back far enough, or the waveform
        is nearly a sine (see _sine_like). The latest span is asked first: a re-pick
        mostly fails there, and the rest (~20 µs) is not computed."""
        audio = self._goes_on_audio()
        n = len(audio)
        onset = round(onset_s * self._half_rate) - (self._samples // _DECIMATION - n)
        if n - onset < _GOES_ON_AFTER:
            return False
        before = onset - _GOES_ON_MARGIN  # the audio compared with ends here
        period = _period_before(audio, before, self._tau(midi))
        start = max(n - _GOES_ON_WINDOW, before)
        if period is None or not _repeat_db(audio, start, n, before, period) < _GOES_ON_DB:
            return False
        if _sine_like(audio, start, n, period):
            return False
        end = min(onset + _GOES_ON_WINDOW, n)
        return _repeat_db(audio, onset, end, before, period) < _GOES_ON_DB

    def _goes_on_audio(self) -> np.ndarray:
        """The last ``_GOES_ON_HOPS`` hops of half-rate audio, oldest first, as one array."""
        return np.concatenate(self._last_hops(_GOES_ON_HOPS))

    def _tau(self, midi: float) -> float:
        """The period of ``midi`` in half-rate samples."""
        return self._half_rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))

    def _period_samples(self) -> float | None:
        """The period of the pitch sounding (samples), for the input repair; else None."""
        note = self._note
        midi = note.ref if note is not None and note.reported is not None else self._steady[0]
        if midi != midi:
            return None
        return self._rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))

    def _whitened_flux(self, grain: aubio.cvec) -> float:
        """aubio's ``specflux`` onset descriptor from the hop's spectrum, as
        ``aubio.onset("specflux")`` computes it on a spectrum of its own: each bin over the
        larger of 1 and its own peak, decaying 60 dB in 100 s (adaptive whitening), then
        ``log(1 + 10 x)``, then the rises over the last hop summed. The same float32 steps;
        numpy's log may differ from C's ``logf`` in the last bit. The magnitudes are
        whitened in place: ``specdiff`` has read them, and the next hop overwrites them.
        (Outputs go in positionally where numpy allows it: an ``out=`` keyword costs a
        parse on every call.)"""
        norm = grain.norm
        peaks = self._flux_peaks
        ones = self._flux_ones
        np.multiply(peaks, self._flux_decay, peaks)
        np.maximum(peaks, ones, out=peaks)  # (np.maximum deprecates a positional out)
        np.maximum(norm, peaks, out=peaks)
        np.divide(norm, peaks, norm)
        np.multiply(norm, self._flux_compression, norm)
        np.add(norm, ones, norm)
        np.log(norm, norm)
        return self._flux(grain).item(0)

    def _early_window(self) -> np.ndarray:
        """The last 21 ms of filtered audio, put together when YIN reads it (a few hops of
        a note), not shifted along on every hop."""
        return np.concatenate(self._filtered)

    def _early_reading(self) -> tuple[float, float]:
        """YIN on just the last 21 ms, all of it after the attack: the main window needs
        43 ms of the new note before it is confident. (MIDI, confidence); NaN when unsure
        or too low for the window to tell its octave."""
        freq = float(self._early_pitch(self._early_window())[0])
        confidence = float(self._early_pitch.get_confidence())
        if freq <= 0 or confidence < _WEAK_EARLY_CONFIDENCE:
            return math.nan, confidence
        midi = 69.0 + 12.0 * math.log2(freq / self._a4)
        return (midi if _EARLY_MIN_MIDI <= midi <= self._max_voiced else math.nan), confidence

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

    # -- level --------------------------------------------------------------------------

    def _find_attack(
        self, hop: np.ndarray, energy: float, start: int, start_db: float
    ) -> float | None:
        """Time of a pluck in this hop: a block ≥ 9 dB above the loudest of the six before
        the two that precede it (16 ms, ending 5 ms back, so an attack that takes a few ms
        to rise still counts), and loud enough.

        Most hops are cleared without splitting them into blocks: no block holds more than
        the whole hop, and every block's reference includes three blocks of the history.
        """
        history = self._blocks
        rise = self._rise_ratio
        floor = _BLOCK * 10.0 ** (start_db / 10.0)
        shared = max(history[3], history[4], history[5])
        if energy < rise * shared or energy < floor:
            history.extend((energy / _BLOCKS,) * _BLOCKS)
            return None
        blocks = np.multiply(hop, hop, self._squares).reshape(_BLOCKS, _BLOCK).sum(axis=1)
        blocks = blocks.tolist()
        sequence = [*history, *blocks]
        history.extend(blocks)
        span = len(sequence) - _BLOCKS  # blocks before this hop
        triggered = []
        for k, block in enumerate(blocks):
            i = span + k
            reference = max(sequence[i - _LOOKBACK_BLOCKS - _GAP_BLOCKS : i - _GAP_BLOCKS])
            if block >= floor and block >= rise * reference:
                triggered.append(k)
        if not triggered:
            return None
        # The loudest triggering block, not the first: a pluck whose rise a hop boundary
        # splits triggers on its first, quiet block too, and half of that block's RMS is a
        # threshold the pick's touch already crosses (the onset then moved 10–16 ms with the
        # sample rate on 12 of the 109 real notes; 7 with this).
        k = max(triggered, key=blocks.__getitem__)
        block = blocks[k]
        # The first sample above half the block's RMS, from two blocks earlier on: where the
        # pluck begins.
        audio = np.concatenate((self._recent[-2], hop)) if len(self._recent) > 1 else hop
        offset = len(audio) - HOP_SIZE + k * _BLOCK
        first = max(offset - _GAP_BLOCKS * _BLOCK, 0)
        threshold = 0.5 * math.sqrt(block / _BLOCK)
        above = np.flatnonzero(np.abs(audio[first : offset + _BLOCK]) >= threshold)
        at = first + (int(above[0]) if above.size else _GAP_BLOCKS * _BLOCK)
        self._attack_db = 10.0 * math.log10(max(blocks) / _BLOCK + 1e-12)
        return (start - (len(audio) - HOP_SIZE) + at) / self._rate

    def _is_novel(self, descriptor: float) -> bool:
        """The spectrum changed ``_NOVELTY_RATIO`` times more than it has been changing (the
        median of the last hops), on the first or second hop of such a change (the first
        may still be the old note letting go as the pick stops it)."""
        history = list(self._novelty)[-_NOVELTY_HISTORY:]
        background = sorted(history)[len(history) // 2] if history else 0.0
        self._background = background
        self._novelty.append(descriptor)
        novel = descriptor >= _NOVELTY_RATIO * background + 1e-9 and len(history) > 1
        self._novel_run = self._novel_run + 1 if novel else 0
        return 0 < self._novel_run <= 2

    def _flicker(self) -> float:
        """The highest whitened flux of the ringing string over the last hops since its
        last heard attack (a flux re-pick is not one: the flicker below goes on through
        it), or infinity before ``_FLICKER_MIN_HOPS`` of them are in (no flux re-pick then:
        within ~92 ms of an attack the other tests hear a re-pick, and dev lost none).

        A note whose partials are exact multiples (an additive synthesiser's, a test
        tone's) repeats its waveform exactly, and a 21 ms frame sliding over it sees a
        different phase each hop: its magnitudes flicker with the beat between the hop
        and the period (every ~60 ms for an A2), and the whitened flux rises 5–20× its
        median at each beat, a re-pick every 60–80 ms (A2–C3 harmonic tones split into
        11–19 notes; now 1, or 2 at A2 and C3, where one flicker comes before three hops
        of ringing). A real ringing string's flux never peaks like that (inharmonicity and
        noise spread it). Against the highest of these peaks the flicker rises at most
        1.4× (197 of them over 60 such tones), a dev re-pick 2.5× at its 5th percentile
        (22× at the median). Cost: 2 of ~600 soft re-picks on 288 more dev seeds, and one
        re-pluck of bench.realaug's 60.
        """
        if self._note is None:
            return 0.0
        ringing = int((self.time_s - self._ringing_from) / self._hop_s)
        if ringing < _FLICKER_MIN_HOPS:
            return math.inf
        fluxes = self._fluxes
        return max(list(fluxes)[-min(ringing, len(fluxes)) :], default=0.0)

    def _flux_rose(self, flux: float, floor: float) -> int:
        """2 when the whitened flux rose ``_FLUX_RATIO`` times over its median of the last
        hops, 1 when ``_FLUX_WEAK_RATIO`` times; on the first hop of such a rise only."""
        history = sorted(self._fluxes)
        background = max(history[len(history) // 2], floor) if history else floor
        weak = len(history) > 2 and flux >= _FLUX_WEAK_RATIO * background + 1e-9
        strong = weak and flux >= _FLUX_RATIO * background + 1e-9
        self._flux_run = self._flux_run + 1 if weak else 0
        self._flux_strong_run = self._flux_strong_run + 1 if strong else 0
        if self._flux_strong_run == 1:
            return 2
        return 1 if self._flux_run == 1 else 0

    def _flux_repick(
        self, start: int, rms_db: float, flux: float, confidence: float
    ) -> float | None:
        """The onset of a re-pick of the ringing string heard three hops ago by the flux,
        once confirmed; else None.

        A re-pick 3–12 dB softer than the note it stops lowers the level and barely
        changes the spectrum's magnitudes (specdiff), so the tests above miss it. Its pick
        still restores the string's upper partials, long decayed: aubio's ``specflux``
        divides each bin by its own recent peak (whitening) and counts only rises, so a
        decaying note gives it next to nothing and the pick a jump. Measured on dev
        (sustain, sustain-beating, let-ring: 15,884 hops of notes ringing) the flux rose at
        most 4.4× its median over the last 8 hops (2.6× at the 99.9th percentile); at the
        120 re-picks of repick-soft and fast-16ths the tests above missed, 13× (median;
        4.3× at the 10th percentile). The median counts as at least a hundredth of the
        ringing note's own attack flux: a steady synthetic tone's flux is numerical noise
        (a sine's: 0.005 of its attack), and over a median of zeros (the silence before
        it) it rises 5× at once. A rise of 5× is taken when, three hops later:

        * the level never fell 15 dB under the hop before the rise: a string stopped by
          the hand also splashes the bins between its partials (9–140× its median), but
          its level collapses 13–30 dB within a hop; the re-picks held within 12.5 dB;
        * the level is within 20 dB of the ringing note's peak: the re-picks were within
          16 dB (median 8); a real D3 through a phone (the tuning half), 24 dB into its
          decay, raised its flux 5× with its level flat;
        * the last 21 ms read the ringing note's pitch surely (see _reads_pitch_of): a
          slide or a bend raises the flux too, at its start, and after two hops still
          reads the old pitch (taken then, 2 of 98 dev legato notes were shown mid-glide);
          after three it has moved.

        A rise of only 2.5× (sampled notes' soft re-picks reach 2.5–5×, and so does one
        hop in a thousand of a ringing note) is taken when YIN was sure of the pitch on
        the hop before it (≥ 0.95) and its confidence fell under 0.9 in those three hops:
        the pick's transient breaks the period, which a ringing note keeps (beating and
        vibrato too), and the period is then read again. (Without the first condition a
        quiet noisy note of bench.tuning's rendered set, its confidence 0.86–0.90 all
        along, started a note at a 3× rise.)

        Dev split: repick-soft repeats found 76.2 → 91.4 % (5× alone) → 98.1 % (with
        2.5× and the dip), fast-16ths 98.4 → 100 %, timing 96.8 → 98.9 → 100 %; no
        condition's precision, names or first names worse. On 32 seeds each of
        repick-soft and fast-16ths, 1262 → 1279 of 1308 re-picks with the 2.5× rises, no
        note added; seeds 4–23 of 15 other conditions, sustain and sustain-beating among
        them, unchanged; the real notes too.
        """
        pending = self._flux_pending
        found = None
        if pending is not None:
            self._flux_hops += 1
            self._flux_dipped = self._flux_dipped or confidence < _QUIET_DIP
            note = self._note
            if rms_db < pending.level_db - _FLUX_FALL_DB:
                self._flux_pending = None
            elif self._flux_hops >= _FLUX_CONFIRM_HOPS:
                self._flux_pending = None
                if (
                    note is not None
                    and note.reported is not None
                    and (pending.strong or (pending.sure and self._flux_dipped))
                    and rms_db >= note.peak_db - _FLUX_BELOW_PEAK_DB
                    and self._reads_pitch_of(note)
                ):
                    found = pending.onset_s
        floor = _FLUX_FLOOR * self._note.flux if self._note is not None else 0.0
        rose = self._flux_rose(flux, floor)
        # (The flicker before this hop's flux joins the history: only on a rise.)
        if rose and self._flux_pending is None and flux >= _FLUX_OVER_FLICKER * self._flicker():
            sure = self._steady[1] >= _QUIET_SURE  # (the hop before this one)
            self._flux_pending = _FluxRise(
                self._novelty_onset(start), self._levels[-2][1], rose > 1, sure
            )
            self._flux_hops = 0
            self._flux_dipped = False
        elif rose > 1 and self._flux_pending is not None and self._flux_hops <= 1:
            self._flux_pending = replace(self._flux_pending, strong=True)
        self._fluxes.append(flux)
        return found

    def _reads_pitch_of(self, note: _Note) -> bool:
        """YIN over the last 21 ms reads ``note``'s pitch surely, or a harmonic of it (a
        window this short reads low notes an octave or a twelfth up)."""
        if self._under_c2(note.ref):
            return self._reads_low(note)
        freq = float(self._early_pitch(self._early_window())[0])
        if freq <= 0 or self._early_pitch.get_confidence() < _WEAK_EARLY_CONFIDENCE:
            return False
        return _same_or_harmonic(69.0 + 12.0 * math.log2(freq / self._a4) - note.ref)

    def _reads_low(self, note: _Note) -> bool:
        """_reads_pitch_of for a note under C2 (see _under_c2), on this hop's reading of the
        main window (43 ms, down to 47 Hz): the 21 ms one reaches down to 94 Hz, and on an
        A1 read its 5th partial with a confidence of 0.6, never sure, so no soft re-pick of
        a low string was confirmed (dev drop-A seeds 0–11: 1 of 2 re-picks missed, both
        on sampled A1s)."""
        midi, confidence = self._read
        if not confidence >= _WEAK_EARLY_CONFIDENCE:
            return False
        return _same_or_harmonic(midi - note.ref)

    def _dip_and_rise(self, rms_db: float, descriptor: float) -> bool:
        """The level rose ``_REPLUCK_RISE_DB`` within three hops out of a dip at least
        ``_REPLUCK_DIP_DB`` deep, and the spectrum changed more than at the dip. An
        overdriven low string re-picked dips ~5 dB and takes three hops to rise 4.5–6 dB
        back (two hops and 5 dB missed them: dev seeds 12–23 and 30–56, distortion +5
        notes, noise-10dB +4, let-ring 2 extra gone, one drop-D re-pick named a third
        off)."""
        note = self._note
        if note is not None and self._under_c2(note.ref):
            return self._low_dip_and_rise(descriptor)
        recent = self._levels
        if len(recent) >= _DIP_HOPS:
            # Most hops of a note do not rise that much over either hop the dip may be in
            # (the last ``_REPLUCK_RISE_HOPS`` before this one, written out: most hops ask).
            dip = min(recent[-2][1], recent[-3][1], recent[-4][1])
            if rms_db - dip < _REPLUCK_RISE_DB:
                return False
        levels = [db for _, db in self._levels][-_DIP_HOPS:]
        return self._dipped_and_rose(levels, rms_db, descriptor)

    def _low_dip_and_rise(self, descriptor: float) -> bool:
        """_dip_and_rise over a note under C2 (see _under_c2), each hop's level taken with
        the hop before's (see _paired_db): a hop (10.7 ms) holds 0.6 of A1's period and
        0.66 of B1's, and its level swings with the part of the period it holds, 4–8 dB
        hop to hop on a steady sampled A1, which read as dips and rises: re-picks every
        0.05–0.3 s (dev drop-A seeds 0–11, 12 extra notes)."""
        levels = _paired_db([db for _, db in self._levels])[-_DIP_HOPS:]
        return self._dipped_and_rose(levels, levels[-1], descriptor)

    def _dipped_and_rose(self, levels: list[float], rms_db: float, descriptor: float) -> bool:
        """The test of _dip_and_rise on the last hops' ``levels`` (dB, this hop's last)."""
        changes = list(self._novelty)[-_DIP_HOPS:]
        if len(levels) < _DIP_HOPS:
            return False
        k = _dip_index(levels)
        dip, changed = levels[k], changes[k]
        depth = max(levels[:k]) - dip
        return (
            rms_db - dip >= _REPLUCK_RISE_DB
            and depth >= _REPLUCK_DIP_DB
            and (descriptor >= _REPLUCK_NOVELTY * changed or depth >= _DEEP_DIP_DB)
        )

    def _shallow_repick(self, note: _Note, rms_db: float) -> bool:
        """A re-pick of the sounding note that dips the level ``_SHALLOW_DIP_DB`` and
        raises it ``_SHALLOW_RISE_DB`` within three hops (too little for _dip_and_rise),
        when the waveform shows it: this hop's 10 ms repeat the audio whole periods
        before it no better than ``_RESET_DB`` (the pick set the string vibrating anew,
        see _goes_on), while 30–40 ms before, the note repeated its own period within
        ``_WENT_ON_DB`` (strings ringing together repeat no one period, and their beats
        dip and rise as much: 118 such rises on 30 dev let-ring seeds read as reset; one
        went on before), and the last 21 ms read the sounding pitch (see
        _reads_pitch_of: a new pitch is the other tests' to hear; taken here, it moved
        onsets of dev fast-16ths notes by a block or two).

        Distortion and fuzz clip the level flat: an overdriven string re-picked dips
        ~2–4 dB and rises as much, and a fuzz's not at all. Measured over 31 dev
        distortion seeds and three fuzz fast-16ths clips (``bench.pedals``): every such
        rise near a pick read as reset (after > −3 dB), none away from one, and a
        tremolo's swells went on (39 of 43 under −3 dB); with the check before, such
        rises took 14 notes of fuzz fast-16ths and ~36 of distortion, where other tests
        mostly heard them too (see docs/tracker.md)."""
        levels = [db for _, db in self._levels][-_DIP_HOPS:]
        if len(levels) < _DIP_HOPS:
            return False
        k = _dip_index(levels)
        dip = levels[k]
        if rms_db - dip < _SHALLOW_RISE_DB or max(levels[:k]) - dip < _SHALLOW_DIP_DB:
            return False
        audio = self._goes_on_audio()
        n = len(audio)
        tau = self._tau(note.ref)
        hop = n - HOP_SIZE // _DECIMATION  # this hop's first sample
        before = hop - _GOES_ON_MARGIN
        reset = _repeat_near(audio, n - _GOES_ON_WINDOW, n, before, tau)
        if not reset > _RESET_DB:  # (NaN: not asked)
            return False
        end = hop - _WENT_ON_BEFORE
        went_on = _repeat_near(audio, end - _GOES_ON_WINDOW, end, end - _GOES_ON_WINDOW, tau)
        return went_on < _WENT_ON_DB and self._reads_pitch_of(note)

    def _clicked(self, hop: np.ndarray, start: int) -> tuple[float, float] | None:
        """A pick's click in this hop, (time, the hop's loudest block): a 2.7 ms block of the
        second difference (the audio's top octaves, where a ringing note has little and a
        pick's transient a lot) ``_CLICK_RISE_DB`` over the loudest of the six blocks
        before the two that precede it. A re-pick 3–12 dB softer than the string it stops
        moves the level and the spectrum's magnitudes too little for the tests above; its
        click can still stand out. A decay, beating, vibrato or a reverb's tail has no such
        edge (on dev at most 4 dB; on the real notes, a mic's clicks under a ringing
        string, 8 dB)."""
        previous = self._recent[-2] if len(self._recent) > 1 else hop
        # In buffers kept across hops, the same float32 values as
        # ``x[2:] - 2.0 * x[1:-1] + x[:-2]`` (this runs on every hop; x + x is 2x exactly).
        head, after, middle, before = self._click_views
        np.copyto(head, previous[-2:])
        np.copyto(after, hop)
        edges = np.add(middle, middle, self._edges)
        np.subtract(after, edges, edges)
        np.add(edges, before, edges)
        np.square(edges, self._edge_squares)
        # (``np.add.reduce`` is what ``.sum`` calls, without its Python wrapper.)
        blocks = np.add.reduce(self._edge_blocks, 1).tolist()
        history = self._clicks
        self._last_click = loudest = max(blocks)
        # Every block's reference includes the 4th-6th blocks of the history: most hops
        # are cleared by them alone.
        if not (loudest >= self._click_rise * max(history[3], history[4], history[5])
                and loudest > 0.0):  # fmt: skip
            history.extend(blocks)
            return None
        sequence = [*history, *blocks]
        history.extend(blocks)
        span = len(sequence) - _BLOCKS
        for k, block in enumerate(blocks):
            i = span + k
            if block >= self._click_rise * max(sequence[i - 8 : i - 2]) and block > 0.0:
                # The first sample above half the block's RMS, from two blocks earlier
                # (within this hop): where the click begins.
                first = max(k - _GAP_BLOCKS, 0) * _BLOCK
                threshold = 0.5 * math.sqrt(block / _BLOCK)
                above = np.flatnonzero(np.abs(edges[first : (k + 1) * _BLOCK]) >= threshold)
                at = first + (int(above[0]) if above.size else k * _BLOCK - first)
                return (start + at) / self._rate, self._last_click
        return None

    def _repicked(self, note: _Note) -> bool:
        """hfc's onset is a re-pick when, over the last five hops (its peak picker decides
        ~4 hops late), the spectrum changed ``_REPICK_NOVELTY`` times its median over the
        hops before them, and the level rose ``_REPICK_RISE_DB`` to within
        ``_REPICK_BELOW_PEAK_DB`` of the note's peak (a sustained real note 20 dB into its
        decay wobbles that much; a re-pick brings the level back up)."""
        history = list(self._novelty)
        before = sorted(history[:-_REPICK_HOPS])
        if not before or max(history[-_REPICK_HOPS:]) < _REPICK_NOVELTY * before[len(before) // 2]:
            return False
        levels = [db for _, db in self._levels][-6:]
        low = min(levels[:3])
        high = max(levels[3:])
        return high >= low + _REPICK_RISE_DB and high >= note.peak_db - _REPICK_BELOW_PEAK_DB

    def _quiet_repick(
        self,
        note: _Note,
        start: int,
        rms_db: float,
        descriptor: float,
        midi: float,
        confidence: float,
        now: float,
    ) -> bool:
        """A re-pick of the sounding pitch that the level does not show (the pick damps the
        string and plucks it no louder): the spectrum changes ``_QUIET_NOVELTY`` times its
        median while the pitch held steady and sure, then YIN's confidence dips (the pick's
        transient breaks the period) and recovers on the same pitch, at a level not falling
        away (a note let go does not recover), while the change is still young enough to be
        named by the report deadline."""
        pending = self._repick
        if pending is None:
            previous_midi, previous_conf = self._steady
            if (
                note.reported is not None
                and descriptor >= _QUIET_NOVELTY * self._background + 1e-9
                and previous_conf >= _QUIET_SURE
                and abs(previous_midi - note.ref) < _QUIET_SAME
            ):
                onset_s = self._novelty_onset(start)
                if onset_s - self._last_attack_s >= _SAME_ATTACK_S:
                    self._repick = (onset_s, rms_db)
                    self._repick_hops = 0
                    self._repick_dipped = confidence < _QUIET_DIP
            return False
        self._repick_hops += 1
        if confidence < _QUIET_DIP:
            self._repick_dipped = True
        elif (
            self._repick_dipped
            and confidence >= _QUIET_SURE
            and abs(midi - note.ref) < _QUIET_SAME
            and rms_db >= pending[1] - _QUIET_FALL_DB
            and now - pending[0] <= _REPORT_DEADLINE_S  # (still time to name it)
        ):
            return True
        if self._repick_hops >= _QUIET_HOPS:
            self._repick = None
        return False

    def _tail_of_previous(self, midi: float, now: float) -> bool:
        """``midi`` is the last note's pitch (or an octave of it), within 2.5 s of its end:
        the string still ringing after its level sank into the room (which ended the note),
        not a note that crept in. A phone's room can sit 3 dB under a sustained note's tail
        while YIN still reads the string surely; without an attack the tail started a
        short note of the same pitch (the ``rung into`` allowance let it stand out). So
        does a reading that is the last note still (see _harmonic_jump): a high note's tail
        in mains hum reads as a period common to both, 5–16 times the note's (a ninth of
        D5 over 60 Hz), and started a note at C2 ~0.1 s before the next pluck (dev seeds
        4–15 of *hum*: extra notes 5 → 1 with this, 10 before _harmonic_jump's
        sub-harmonics; no other figure of 11 conditions, the dev split or the real notes
        moved)."""
        previous = self._previous
        return (
            previous is not None
            and now - previous[1] <= _RINGING_S
            and (
                _pitch_class_distance(midi, previous[0]) < _TAIL_SEMITONES
                or _harmonic_jump(midi - previous[0])
            )
        )

    def _crept_in(self, midi: float, now: float) -> float | None:
        """Where a note read surely (``midi``) with no note sounding and no attack heard
        began: where the level rose, or a hop ago; None when it is the last note's tail
        (see _tail_of_previous) and was not picked again (see _picked_again), or under
        C2 (see _without_attack)."""
        if self._without_attack(midi):
            return None
        if self._tail_of_previous(midi, now):
            return self._picked_again(now)
        return self._rise_s if now - self._rise_s < _GIVE_UP_S else now - self._hop_s

    def _picked_again(self, now: float) -> float | None:
        """The start of the first hop whose whitened flux (see _whitened_flux) rose
        ``_FLUX_RATIO`` times the median of the last 8 hops, when the level rose
        ``_TAIL_REPICK_RISE_DB`` there (the loudest of the last 4 hops over the quietest of
        the 4 before them): a pick, not a tail; else None.

        A string ringing on, once its note has ended, only decays (or beats a few dB), and
        its whitened flux stays flat; a pick restores its decayed upper partials. Under
        strings left ringing, a re-pick of the note that a dropped (unpitched) sound cut
        short, with no attack heard, was refused as that note's tail though its level rose
        7.7 dB and its flux 8.6× (dev let-ring seed 49, F#3 at 3.557 s).
        """
        levels = [db for _, db in self._levels][-_TAIL_REPICK_HOPS:]
        half = _TAIL_REPICK_HOPS // 2
        if len(levels) < _TAIL_REPICK_HOPS or max(levels[half:]) - min(levels[:half]) < (
            _TAIL_REPICK_RISE_DB
        ):
            return None
        fluxes = list(self._fluxes)
        if not fluxes:
            return None
        floor = _FLUX_RATIO * sorted(fluxes)[len(fluxes) // 2] + 1e-9
        for k, flux in enumerate(fluxes):
            if flux >= floor:
                return now - (len(fluxes) - k) * self._hop_s
        return None

    def _rising(self) -> bool:
        """The level of this hop or the one before rose over the quietest of the three
        hops before them (``_levels`` already holds this hop): an attack adds energy; a
        note letting go, a fade or a sample's loop does not."""
        levels = self._levels
        if len(levels) < 3:
            return True
        now, last = levels[-1][1], levels[-2][1]
        if now < last - _NOVELTY_RISE_DB:
            return False  # falling now: the change is the sound stopping
        before = min(db for _, db in list(levels)[-5:-2])
        return max(now, last) >= before + _NOVELTY_RISE_DB

    def _novelty_onset(self, start: int) -> float:
        """Where an attack began in this hop or the one before: the 2.7 ms block of the
        differenced audio (a pick's click stands out of a low note there) whose energy rose
        most over the block before it; else the start of the louder of the two hops."""
        recent = self._recent
        audio = np.concatenate((recent[-2], recent[-1])) if len(recent) > 1 else recent[-1]
        first = start + HOP_SIZE - len(audio)
        # ``np.diff(audio, prepend=audio[0])`` without its broadcast and concatenation.
        edges = np.empty_like(audio)
        np.subtract(audio[:1], audio[:1], edges[:1])
        np.subtract(audio[1:], audio[:-1], edges[1:])
        blocks = np.square(edges, edges).reshape(-1, _BLOCK).sum(axis=1).tolist()
        best, at = self._block_rise, -1
        for k in range(1, len(blocks)):
            rise = blocks[k] / (blocks[k - 1] + 1e-12)
            if rise > best:
                best, at = rise, k
        if at >= 0:
            return (first + at * _BLOCK) / self._rate
        levels = self._levels
        if (
            len(recent) > 1
            and len(levels) > 2
            and levels[-2][1] - levels[-3][1] > levels[-1][1] - levels[-2][1]
        ):
            return first / self._rate
        return start / self._rate

    # -- where a note heard late began --------------------------------------------------

    def _attack_heard_late(
        self,
        onset_s: float,
        level_db: float,
        now: float,
        events: list[NoteEvent],
        note: _Note | None,
    ) -> None:
        """``_attack`` for an attack heard late (spectral novelty, a dip and a rise, hfc),
        the break in the sounding ``note``'s period (see _began) looked for on the next hop
        (or at the new note's report, if that comes first), not on this one, which
        finishes ``note``: the same onset, ~100–250 µs moved off the costliest hops. The
        audio it searches is kept as it is now."""
        query = None
        lookback = self._lookback
        if note is not None and note.ref == note.ref and len(lookback) >= _BREAK_HOPS // 2:
            query = _BreakQuery(note, onset_s, lookback, self._samples)
        self._attack(onset_s, level_db, now, events)
        new = self._note
        if query is not None and new is not None and new is not note and new.began_s != new.began_s:
            self._break_query = (new, query)  # (a touch dated the note: no break asked for)

    def _answer_break(self) -> None:
        """Where the note heard late began (see _attack_heard_late), now."""
        new, query = self._break_query  # type: ignore[misc]
        self._break_query = None
        found = self._period_break(
            query.note, query.heard_s, query.new_midi, query.lookback, query.samples
        )
        if found is not None:
            new.began_s = found

    def _began(self, note: _Note | None, heard_s: float, new_midi: float = math.nan) -> float:
        """When a note whose attack was heard at ``heard_s`` began: where the sounding
        ``note``'s period broke (see _period_break), else ``heard_s``."""
        if note is None:
            return heard_s
        found = self._period_break(note, heard_s, new_midi)
        return heard_s if found is None else found

    def _period_break(
        self,
        note: _Note,
        heard_s: float,
        new_midi: float,
        lookback: tuple[np.ndarray, ...] | None = None,
        samples: int | None = None,
    ) -> float | None:
        """Where the sounding ``note`` stopped repeating its period: where a re-attack heard
        at ``heard_s``, or a new note without one (``new_midi``, its onset guessed at
        ``heard_s``), took over from it. None when its period never clearly broke.

        Distortion clips the level flat, so a re-pick or a new note barely moves it: the
        spectral-novelty, dip-and-rise and ``hfc`` paths heard them one to four hops late
        and timed them in the hop they heard (dev distortion onset p90 30 ms). A legato
        note is placed 45 ms before its pitch was first read, YIN's lag, which is a guess
        (dev legato p90 6.7 ms). The old note, though, repeats its period until the new
        one takes over: there the audio stops matching itself a period earlier.

        The break is the 1.3 ms block, from 50 ms before ``heard_s`` (and 50 ms after the
        note's own onset) on, where that misfit (``_misfit``: the best of five periods
        within ±40 cents of the note's) rises most over the next period (at most four
        blocks): at least 8 dB over its mean across the 21 ms before, where the note must
        have fitted its period (a mean under −11 dB; at −10 a note fading into an amp's
        hum passed on dev, at −12 some distorted notes did not). It is not taken

        * after ``heard_s`` for an attack (its period breaks as the attack grows; the
          attack was heard where it began);
        * when what the audio after it does not repeat lies 10 dB under the note's level
          (a note fading into hum or noise, nothing new);
        * when the sound fell 9 dB (one period's energy) from there to ``heard_s``: a
          note-off or a mute before the next pluck (staccato runs end each note 10–15 ms
          before the next), whose rise was heard where it is.

        A new note without an attack that came by a glide (a slide, a bend) is placed half
        way through it (see _glide_half). Only the onset reported moves (``_Note.began_s``);
        the note is named and reported from where it was heard. Dev onset p90: distortion
        30.2 → 10.7 ms, legato 6.7 → 2.7, all conditions 3.8 → 2.4; onset F, names and
        first names unchanged everywhere. ~150–350 µs at such an attack. (``lookback`` and
        ``samples``: the half-rate audio kept and the stream's length when it was heard,
        when looked for later; else now's.)
        """
        ref = note.ref
        lookback = self._lookback if lookback is None else lookback
        if ref != ref or len(lookback) < _BREAK_HOPS // 2:
            return None
        rate = self._half_rate
        audio = np.concatenate(lookback)
        n = len(audio)
        # stream sample (half rate) after the audio
        end = (self._samples if samples is None else samples) // _DECIMATION
        b = _BREAK_BLOCK
        tau = rate / (self._a4 * 2.0 ** ((ref - 69.0) / 12.0))
        longest = tau * 2.0 ** (max(_BREAK_CENTS) / 1200.0)
        if new_midi == new_midi:
            longest = max(longest, rate / (self._a4 * 2.0 ** ((new_midi - 69.0) / 12.0)))
        after = max(1, min(4, int(tau) // b))  # blocks: at most a period of the note
        if new_midi != new_midi:  # an attack: its break comes before it was heard
            cut = min(n, n - end + round(heard_s * rate) + (after + 1) * b)
            audio, end, n = audio[:cut], end - n + cut, cut
        earliest = max(note.onset_s + _SAME_ATTACK_S, heard_s - _BREAK_SPAN_S) * rate
        reach = end - round(earliest) + _BREAK_BEFORE * b  # the 21 ms before it too
        blocks = int(min(n - longest - 2, reach) // b)
        if blocks < _BREAK_BEFORE + after:
            return None
        power = np.empty(n + 1)  # the running sum of squares, from 0
        power[0] = 0.0
        np.cumsum(np.square(audio, dtype=np.float64), out=power[1:])
        periods = tau * _BREAK_RATIOS
        misfit = np.minimum.reduce(self._misfit(audio, power, blocks, periods), axis=0)
        start = end - blocks * b  # stream sample (half rate) of the first block
        sums = np.concatenate(([0.0], np.cumsum(misfit)))
        ks = np.arange(_BREAK_BEFORE, blocks - after + 1)
        before = (sums[ks] - sums[ks - _BREAK_BEFORE]) / _BREAK_BEFORE
        rise = (sums[ks + after] - sums[ks]) / after - before
        rise[(before > _BREAK_FIT_DB) | (start + ks * b < earliest)] = -math.inf
        best = int(rise.argmax())
        if rise[best] < _BREAK_RISE_DB:
            return None
        at = int(ks[best])
        heard = round(heard_s * rate) - start  # in the blocks' samples
        if new_midi != new_midi and at * b >= heard:
            return None
        first = n - (blocks - at) * b  # the break, in ``audio``
        # (The level first: it is the cheaper test, and refuses most breaks on fast runs.)
        width = max(b, round(tau))
        last = min(max(first + heard - at * b, first + b), n)
        level = power[first : last + 1] - power[first - width : last + 1 - width]
        if level[1:].min() < level[0] * 10.0 ** (-_STOPPED_DB / 10.0):
            return None
        if self._added_db(audio, first, after * b, tau) < -_ADDED_DB:
            return None
        if new_midi == new_midi:
            half = self._glide_half(audio, power, blocks, at, ref, new_midi)
            if half is not None:
                return (start + half) / rate
        return (start + at * b) / rate

    def _misfit(
        self, audio: np.ndarray, power: np.ndarray, blocks: int, periods: np.ndarray
    ) -> np.ndarray:
        """Per period (in samples) and per 32-sample block of the last ``blocks``: how badly
        the audio repeats that period, in dB: the energy of ``x[t] - x[t - period]`` over
        that of both (−∞ periodic, 0 unrelated). ``power`` is the running sum of the
        audio's squares (from 0)."""
        n = len(audio)
        b = _BREAK_BLOCK
        m = blocks * b
        lags = periods.astype(np.intp)
        frac = (periods - lags).astype(np.float32)
        # The audio one period earlier, interpolated between samples: per period, two
        # slices (the same float32 products and sum as gathering all periods at once;
        # each weight a 0-d array, which numpy takes faster than a scalar).
        keep = 1.0 - frac
        lagged = np.empty((len(periods), m), dtype=np.result_type(audio, frac))
        other = np.empty(m, dtype=lagged.dtype)
        for j, lag in enumerate(lags.tolist()):
            first = n - m - lag
            np.multiply(audio[first : first + m], keep[j, ...], lagged[j])
            np.multiply(audio[first - 1 : first - 1 + m], frac[j, ...], other)
            lagged[j] += other
        return _misfit_db(lagged, audio, power, lags, blocks)

    def _added_db(self, audio: np.ndarray, first: int, span: int, tau: float) -> float:
        """What the ``span`` samples from ``first`` on do not repeat of the period ``tau``
        (the best within ±40 cents), over the level of the audio just before: dB."""
        before = audio[first - _BREAK_BEFORE * _BREAK_BLOCK : first]
        level = float(np.dot(before, before)) / len(before) + 1e-12
        x = audio[first : first + span]
        least = math.inf
        for c in _BREAK_CENTS:
            period = tau * 2.0 ** (c / 1200.0)
            lag = int(period)
            frac = period - lag
            lagged = audio[first - lag : first - lag + span] * (1.0 - frac)
            lagged += audio[first - lag - 1 : first - lag - 1 + span] * frac
            residual = x - lagged
            least = min(least, float(np.dot(residual, residual)) / span)
        return 10.0 * math.log10(least / level + 1e-12)

    def _glide_half(
        self, audio: np.ndarray, power: np.ndarray, blocks: int, at: int, old: float, new: float
    ) -> float | None:
        """Samples after the first block at which a glide from ``old`` to ``new`` that
        began at block ``at`` was half way: where the period the audio repeats best (on a
        0.2-semitone grid between the two) passes the middle one, when every block from
        the break on repeats one of them (≤ −6 dB). None when some block repeats none: a
        hammer-on, a pull-off or a pick, which begin at the break.

        A slide or a bend takes 40–120 ms; the label (and the ear) puts the new note half
        way to its pitch. YIN reads the new pitch only once it has settled, and the break
        of the old period comes where the glide began.
        """
        steps = max(2, math.ceil(abs(new - old) / _GLIDE_STEP))
        pitches = [old + (new - old) * j / steps for j in range(steps + 1)]
        periods = self._half_rate / (self._a4 * 2.0 ** ((np.array(pitches) - 69.0) / 12.0))
        # Most breaks are a hammer-on, a pull-off or a pick: no period fits the block
        # after the break, and the scan ends there. The first blocks' misfits are computed
        # first (each block's misfit is the same however many are computed), the rest only
        # when those leave it open (see _misfit_from).
        first = min(_GLIDE_FIRST_BLOCKS, blocks - at)
        fits = self._misfit_from(audio, power, blocks, at, first, periods)
        decided, half = _glide_scan(fits, at, at + first, steps, pitches, self._a4, self._half_rate)
        if not decided and first < blocks - at:
            fits = self._misfit(audio, power, blocks - at, periods)
            decided, half = _glide_scan(fits, at, blocks, steps, pitches, self._a4, self._half_rate)
        return half

    def _misfit_from(
        self,
        audio: np.ndarray,
        power: np.ndarray,
        blocks: int,
        at: int,
        count: int,
        periods: np.ndarray,
    ) -> np.ndarray:
        """``_misfit(audio, power, blocks - at, periods)``'s first ``count`` columns (blocks
        ``at`` to ``at + count`` of the last ``blocks``): the same float32 operations on
        each block's samples, every period's lagged audio gathered at once (a few blocks
        of many periods: ``_misfit``'s two slices per period would cost more)."""
        b = _BREAK_BLOCK
        cut = len(audio) - (blocks - at - count) * b
        lags = periods.astype(np.intp)
        frac = (periods - lags).astype(np.float32)[:, None]
        where = np.arange(cut - count * b, cut)[None, :] - lags[:, None]
        lagged = audio[where] * (1.0 - frac) + audio[where - 1] * frac
        return _misfit_db(lagged, audio[:cut], power[: cut + 1], lags, count)

    # -- notes --------------------------------------------------------------------------

    def _attack(
        self,
        attack_s: float,
        level_db: float,
        now: float,
        events: list[NoteEvent],
        began_s: float = math.nan,
    ) -> None:
        """A note heard at ``attack_s`` (reported as beginning at ``began_s`` when given:
        the note is still analysed from where it was heard, as if not re-timed)."""
        self._last_attack_s = attack_s
        self._ringing_from = attack_s + _ATTACK_NOVELTY_S  # (see _flicker)
        self._repick = None
        note = self._note
        if note is not None:
            louder = level_db - note.peak_db >= _BLIP_DB
            restart = note.reported is None and (
                level_db - note.peak_db >= _RESTART_DB
                or note.peak_db - note.trough_db >= _RESTART_DIP_DB
            )
            if attack_s - note.onset_s < _SAME_ATTACK_S and not (louder or restart):
                return  # two triggers for one attack: keep the earlier time
            if (
                note.reported is not None
                and attack_s - note.onset_s < _BLIP_S
                and louder
                and not self._restruck(note)
            ):
                self._note = None  # a faint blip right before a real pluck
            else:
                self._finish(attack_s, events)
        over = note.ref if note is not None and note.reported is not None else math.nan
        touch_s = self._touch_before(note)
        if touch_s == touch_s:
            # (An unnamed note has no period to break: ``began_s`` is at most the attack.)
            dated = self._touched(touch_s, attack_s)
            began_s = dated if dated == dated else began_s
        self._note = _Note(
            self._next_index, attack_s, level_db, began_s=began_s, trough_db=level_db, over=over
        )
        self._note.touch_s = touch_s
        self._note.from_room = note is None or (note.reported is None and note.from_room)
        self._note.before = self._audio_before(attack_s)
        self._attack_click = 0.0
        self._note.body_from = attack_s + _BODY_SKIP_S
        self._next_index += 1
        self._quiet_frames = 0

    def _touch_before(self, pending: _Note | None) -> float:
        """Where a pick's touch began, when the attack now heard restarts ``pending``,
        still unnamed, and ``pending`` is that touch (or a later part of its pluck): a
        sound that began with no note sounding (or restarted unnamed sounds that did) and
        fell ``_TOUCH_FALL_DB`` from its peak, a click gone again. NaN otherwise.

        A pick resting on or scraping the string makes a click with little of the
        string's partials, 50–90 ms before the pluck; on the real notes' tuning half, hand
        labels put the note's onset there on 6 clips, 5 of whose touches fell 11–24 dB
        before the pluck (a sound holding or rising into the pluck, which fell at most
        8 dB, is labelled at the pluck on 4 others; one click that fell 19 dB is too). At
        12 dB one of the five was missed at 44.1 kHz (11.5 dB there: a click's hop level
        moves with the hop boundaries). The tracker names the note from the pluck; only
        the onset reported moves (see _touched).
        """
        if pending is None or pending.reported is not None:
            return math.nan
        if pending.touch_s == pending.touch_s:
            return pending.touch_s
        if pending.from_room and pending.peak_db - pending.trough_db >= _TOUCH_FALL_DB:
            return pending.onset_s
        return math.nan

    def _touched(self, touch_s: float, attack_s: float) -> float:
        """``touch_s`` when the sound from there to the pluck heard at ``attack_s`` never
        sank back to within ``_TOUCH_ROOM_DB`` of the room (one sound: a pick's touch, then
        its pluck) and the pluck came within ``_TOUCH_S``; else NaN. Only audio already
        heard is read: the note's report is not delayed."""
        if not 0.0 < attack_s - touch_s <= _TOUCH_S or len(self._history_db) < _NOISE_MIN_HOPS:
            return math.nan  # (the room not measured yet: a stream that opened mid-sound)
        audio = np.concatenate(self._lookback)
        rate = self._half_rate
        before = self._samples // _DECIMATION - len(audio)  # stream sample of audio[0]
        b = _BLOCK // _DECIMATION
        first = round(touch_s * rate) - before
        last = round(attack_s * rate) - before
        if first < 0 or last > len(audio) or last - first < b:
            return math.nan
        count = (last - first) // b
        blocks = np.square(audio[last - count * b : last]).reshape(count, b).mean(axis=1)
        floor = 10.0 ** ((self._noise_db + _TOUCH_ROOM_DB) / 10.0)
        return touch_s if float(blocks.min()) >= floor else math.nan

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
        elif len(midis) >= 3 and max(midis[-3:]) - min(midis[-3:]) < _WEAK_AGREEMENT:
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

    def _hear_room(self, rms_db: float, now: float) -> None:
        """A hop with no note sounding, nor one starting, nor a note's tail: the room.

        Nor a sound dropped unpitched, while it stays within ``_ROOM_UNDER_UNPITCHED_DB``
        of its peak (for up to ``_ROOM_AFTER_UNPITCHED_S``): an attack was heard, and under
        strings left ringing YIN may read no pitch for half a second; heard as the room,
        that level had every later note judged inside it (dev let-ring, an unseen seed:
        the room rose to −24 dBFS under notes at −20, and 12 notes in a row were lost).
        """
        previous = self._previous
        if previous is not None and now - previous[1] <= _ROOM_AFTER_S:
            return
        unpitched = self._unpitched
        if (
            unpitched is not None
            and now - unpitched[1] <= _ROOM_AFTER_UNPITCHED_S
            and rms_db >= unpitched[0] - _ROOM_UNDER_UNPITCHED_DB
        ):
            return
        self._history_db.append((now, rms_db))
        if self.hops % 4 == 0:
            self._update_room()

    def _update_room(self) -> None:
        if self._history_db:
            history = sorted(db for _, db in self._history_db)
            self._noise_db = history[len(history) * 4 // 5]
        else:
            self._noise_db = -120.0

    def _unhear_room(self, since_s: float) -> None:
        """The hops heard as the room from ``since_s`` on were a note's, found since.

        A stream that opens on a note (a recording cut at the pluck) gives its first hops
        to the room before the note is found: the room was then the note's own level, the
        note ended 3 dB over it at once, and every later note was judged inside it (a run
        of 16ths trimmed at its first pluck kept 1 note of 53).
        """
        history = self._history_db
        if history and history[-1][0] >= since_s:
            kept = [(t, db) for t, db in history if t < since_s]
            history.clear()
            history.extend(kept)
            self._update_room()

    def _stands_out(self, note: _Note, unsure: bool = False) -> bool:
        """``note`` rose ``_SNR_DB`` over the room's level, or a note twice as clear of it
        rang into it (a re-pluck may barely rise over the ringing note).

        The room is the 80th percentile of the hops heard with no note sounding; until six
        are in, 3 dB over the quietest hop yet (a room's loud hops sit that far over its
        quiet ones): a stream that opens on room noise starts no note from it. A note
        that opens the stream, before six hops of room, is taken at ``_OPENING_MIN_DB``
        and over if it is still sounding (a recording cut at the pluck).

        Over a room guessed from fewer than six hops, any note must stand
        ``_BURST_SNR_DB`` over it: an amp's room swings ~10 dB from hop to hop, and a note's
        peak is a 2.7 ms block's, which stands further over a bursty room than the note
        does, and a hum has a steady pitch. An amp's room whose 180 Hz hum a body's
        resonance lifted opened a stream with one hum note after another (each keeps the
        room from being heard, so it stayed guessed): two of them stood 7.5-8 dB over the
        quietest hop + 3 dB, and three more rang into one of them, while the room, once
        measured, was within 2 dB of all five.

        An ``unsure`` note (named at the deadline from its best reading, no steady pitch)
        must also still be sounding: not when it has fallen ``_DECAYED_DB`` from its peak
        (a click), nor, standing less than ``_BURST_SNR_DB`` over the room, when it has
        lost half of that (a burst of it), nor when its hop is back within 3 dB of the
        room, where a sounding note ends (a pick's touch: its 2.7 ms click stood 18 dB
        over the room, its hops were back in it by the deadline, and it came 14.9 dB under
        the pluck, just short of what drops a blip).
        """
        enough = len(self._history_db) >= _NOISE_MIN_HOPS
        # Nor is there when no hop has been the room's yet and a note came before this one:
        # the stream opened on a note and has not rested since (notes follow each other
        # within _ROOM_AFTER_S), so the quietest hop yet is some note's decay.
        unheard = not self._history_db and self._previous is not None
        if (
            not enough
            and (note.onset_s <= _OPENING_S or unheard)
            and note.peak_db >= _OPENING_MIN_DB
        ):
            # The stream opened on this note (a recording cut at the pluck): there is no
            # room yet to judge it by, and a pitch from the first hop on, at a guitar's
            # level, is played, if it is still sounding (a click has fallen away by now).
            # A room or an amp's hum heard from the start sits under that level.
            return note.peak_db - self._levels[-1][1] < _DECAYED_DB
        room = self._noise_db if enough else self._quietest_db + _QUIETEST_TO_ROOM_DB
        previous = self._previous
        # (Not one that faded out first: what still sounds after it is no note ringing
        # into this one, but the strings it set ringing and the room, which this must
        # stand out over: a sympathetic string outlasting a nylon note, read surely, was
        # let through.)
        rung_into = (
            previous is not None and previous[1] >= note.onset_s - 0.1 and not self._released
        )
        # ... by a note that stood out itself (not a phantom that got through).
        if rung_into and self._previous_peak_db >= room + 2.0 * _SNR_DB:
            return True
        above = note.peak_db - room
        if unsure:
            # No steady pitch by the deadline: a note played is still sounding then.
            fallen = note.peak_db - self._levels[-1][1]
            if fallen >= _DECAYED_DB:
                return False  # too little of the room heard to judge; a click, gone again
            if above < _BURST_SNR_DB and fallen >= 0.5 * above:
                return False  # a burst of the room's noise, half gone again
            if enough and self._levels[-1][1] < room + _ROOM_END_DB:
                return False  # back in the room already: a sounding note would end here
        # A room guessed from a few hops: a burst of it may pass for a note, steady pitch
        # or not (an amp's hum is one).
        return above >= (_SNR_DB if enough else _BURST_SNR_DB)

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
                if round(note.ref) != before:  # else the screen keeps the report's name
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
        if self._without_attack(_median(recent), note.ref):
            return  # (see _without_attack)
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

    def _legato_break(self, note: _Note, onset_s: float, new_midi: float) -> _BreakQuery | None:
        """Where the legato note ``new_midi`` (its onset guessed at ``onset_s``) broke the
        sounding ``note``'s period (see _began), looked for on the next hop, not on this
        one, which also finishes ``note`` and mostly reports the new note (the costliest
        hops of all: on dev legato, the search was ~40 % of the top 1 %'s time). The first
        report shows the onset guessed; the final one, which alone is scored, the break's.
        The audio searched is kept as it is now, so the break found is the one this hop
        would have found. None when no break can be looked for."""
        lookback = self._lookback
        if note.ref != note.ref or len(lookback) < _BREAK_HOPS // 2:
            return None
        return _BreakQuery(note, onset_s, lookback, self._samples, new_midi)

    def _swinging(self, note: _Note, pitch: float, since_s: float) -> bool:
        """A vibrato's crest, not a step off the note: the readings of the last quarter
        second before ``since_s`` turned back at least twice, each swing
        ``_VIBRATO_SWING`` semitones or more, and ``pitch`` lies less than
        ``_VIBRATO_STEP`` from the middle of their extremes.

        A hammer-on, a pull-off, a slide or a bend leaves a pitch that held or moved one
        way, and lands a semitone or more from where the note sat; a vibrato ±0.6 semitone wide (a
        blues player's, a whammy bar's) crossed the 0.6 a legato note needs at each crest,
        and split a held note into one note every 70-100 ms (an A3 at 5 Hz: 20 notes in
        2 s). The note's own pitch is no centre to judge by: it was read near a crest. A
        quarter second holds a crest and a trough of a vibrato down to 2 Hz. Only this
        note's readings: over the notes of a fast run, a melody turns back too. Nor when
        the pitch held within 0.06 semitone for 5 hops (a vibrato's crest holds for at
        most 4, at 4 Hz and ±0.4): a note that arrived by a slide, held, and slid on.
        """
        readings = [m for t, m in self._swings if note.onset_s + _SETTLE_S <= t < since_s]
        if not readings:
            return False
        turns = 0
        low = high = readings[0]
        rising: bool | None = None
        for m in readings[1:]:
            if rising is not True and m - low >= _VIBRATO_SWING:
                turns += rising is False
                rising, high = True, m
            elif rising is not False and high - m >= _VIBRATO_SWING:
                turns += rising is True
                rising, low = False, m
            low, high = min(low, m), max(high, m)
        if turns < 1:
            return False
        held = _VIBRATO_HELD_HOPS
        if any(
            max(readings[i : i + held]) - min(readings[i : i + held]) <= _VIBRATO_HELD_SPREAD
            for i in range(len(readings) - held + 1)
        ):
            return False  # the pitch held a while: a note, left by a step or a slide
        centre = 0.5 * (min(readings) + max(readings))
        return abs(pitch - centre) < _VIBRATO_STEP

    def _drifting(self, note: _Note, midi: float, now: float) -> bool:
        """``midi`` lies within ``_DRIFT_STEP`` of the last of ``_DRIFT_AFTER_HOPS`` or more
        readings in a row (gaps of up to ``_DRIFT_GAP_HOPS`` unvoiced hops allowed) of one
        of ``note``'s harmonics (see _harmonic_jump) or of their drift: YIN still reading
        that partial, drifting away from the harmonic's exact interval (a stiff string's
        partials are sharp, and a room's comb moves a partial's peak), not a new note. A
        legato note is a step away from what sounded; a slide starts from the note itself.

        The tuning half of the real notes through a body resonance on D3's 3rd partial:
        YIN read it for a second, drifting from 69.1 to 70.2, a 20-semitone jump from
        D3's 50.1 that started a legato note, and one more back at D3. Only after a partial
        read this long: in a fast run, a reading near an octave of the note for a hop or
        two, then drifting, is the next note's (a dev fast-16ths note was lost without).
        """
        return (
            note.partial_run >= _DRIFT_AFTER_HOPS
            and now - note.partial_s <= (_DRIFT_GAP_HOPS + 1.5) * self._hop_s
            and abs(midi - note.partial) <= _DRIFT_STEP
        )

    def _pitch_run(self, now: float) -> list[tuple[float, float, float]] | None:
        """The last voiced frames, consecutive up to ``now``, when they hold one steady
        pitch: three confident ones (mean ≥ 0.8, each ≥ 0.75) within 0.35 semitone, or two
        sure ones (≥ 0.9) within 0.2. Else None (a harmonic or a neighbour string showing
        through a decaying note reads less sure, or wanders).

        Two sure frames are enough to split a note: a new pitch is first read ~45 ms after
        it began (YIN's window must be half full of it), so waiting for a third frame puts
        the report at ~66 ms, past the live screen's 60. Not for a pitch played within
        2.5 s: that is as often a string still ringing under a faster-fading note
        (let-ring), which YIN reads as surely, and it waits for the third frame; nor while
        the level falls 6 dB within three hops (a string being stopped: on dev its last
        two frames read a steady pitch 30 cents off a semitone, 55 dB under its peak).
        """
        voiced = list(self._voiced)
        for frames in (_LEGATO_FRAMES, _LEGATO_SURE_FRAMES):
            run = voiced[-frames:]
            if len(run) < frames or run[0][0] < now - (frames - 0.5) * self._hop_s:
                continue  # too few, or a gap: the frames are not consecutive
            midis = [m for _, m, _ in run]
            confidences = [c for _, _, c in run]
            spread = max(midis) - min(midis)
            if frames == _LEGATO_FRAMES:
                steady = (
                    min(confidences) >= _MIN_CONFIDENCE
                    and sum(confidences) >= _LEGATO_CONFIDENCE * frames
                    and spread < _STEADY_SEMITONES
                )
            else:
                steady = (
                    min(confidences) >= _LEGATO_SURE
                    and spread < _LEGATO_SURE_SPREAD
                    and not self._played_lately(_median(midis), now)
                    and not self._falling()
                )
            if steady:
                return run
        return None

    def _falling(self) -> bool:
        """The level fell ``_LEGATO_FALL_DB`` under the loudest of the three hops before this
        one: a string being stopped (its last frames can read a steady, wrong pitch)."""
        levels = [db for _, db in self._levels][-4:]
        return len(levels) == 4 and levels[-1] < max(levels[:-1]) - _LEGATO_FALL_DB

    def _played_lately(self, midi: float, now: float) -> bool:
        """``midi`` is one of the last notes played, within 2.5 s: a string that may still be
        ringing under the note that is fading (let-ring), not a new note."""
        return any(
            abs(midi - m) < _RINGING_TOLERANCE and t >= now - _RINGING_S for m, t in self._played
        )

    def _first_read(self, run_s: float, midi: float, old: float = math.nan) -> float:
        """When a new note's pitch ``midi``, read steadily from ``run_s`` on, was first read:
        weaker frames of it before the run, across gaps of up to ``_READ_GAP_HOPS``
        unvoiced hops, with no other pitch between. Under distortion a new low note reads
        weakly and with gaps for ~60 ms before its run (dev distortion: found 100+ ms
        after it began, placed 45 ms before its run, counted a miss and an extra).

        A frame within half a semitone of ``midi`` is the new note's; one up to
        ``_READ_TOLERANCE`` off is too, unless it lies within a semitone of the ``old``
        note's pitch (the old note still sounding, or the new one bending towards it). A
        string struck hard reads sharp for its first frames (tension), most in distortion:
        an F#2 after an A2 read 42.7 before settling at 42.2, and the walk back stopped
        there (dev distortion, 27 unseen seeds: 479 -> 483 notes found of 492)."""
        first_s = run_s
        for t, m, _ in reversed(self._voiced):
            if t >= run_s:
                continue
            if t < first_s - (_READ_GAP_HOPS + 1.5) * self._hop_s:
                break
            off = abs(m - midi)
            if off >= 0.5 and (off >= _READ_TOLERANCE or abs(m - old) < 1.0):
                break
            first_s = t
        return first_s

    def _changed(self, note: _Note, onset_s: float, midi: float) -> bool:
        """Whether a legato note's pitch ``midi`` came with a change at ``onset_s``: the
        energy at its own partials (those ``_CHANGE_APART_HZ`` from every partial of the
        sounding note) rose ``_CHANGE_DB`` against the energy at the sounding note's
        partials, from the 85 ms before the onset to the last 85 ms.

        A hammer-on, a pull-off or a slide stops the old pitch as it starts the new one; a
        new note over a ringing one brings its partials up from almost nothing: either
        way the balance between the two moves by a step (on dev legato, let-ring and
        distortion, 8.7 dB at the least, mostly 15–50). A string that sounded all along
        (a sympathetic string the body set ringing, or one let ring) and is read now
        because the note over it fades faster only drifts: two free decays move the
        balance at a steady 20–40 dB a second, 2–7 dB over these windows. Such a string
        sits 20–35 dB under the note's peak, so YIN can read it only once the note has
        faded: the test is asked only then (``_CHANGE_UNDER_PEAK_DB``; nearer the peak,
        semitone steps of a fast low run, whose partials these windows barely part, moved
        the balance only 5.6–8 dB). A refusal is kept (``note.unchanged``): the same
        pitch, read from the same onset, is not looked at again.
        """
        if self._levels[-1][1] > note.peak_db - _CHANGE_UNDER_PEAK_DB:
            return True  # (the note still loud: no string under it can be what YIN reads)
        if note.unchanged == (round(midi), onset_s):
            return False
        audio = np.concatenate(self._change_audio)
        rate = self._half_rate
        end = round(onset_s * rate) - (self._samples // _DECIMATION - len(audio))
        if end < _CHANGE_WINDOW:
            return True  # (not in hand: a stream just begun)
        frames = np.stack((audio[end - _CHANGE_WINDOW : end], audio[-_CHANGE_WINDOW:]))
        power = np.square(np.abs(np.fft.rfft(frames * self._change_window, _CHANGE_SIZE)))
        bin_hz = rate / _CHANGE_SIZE
        reach = max(1, round(_CHANGE_APART_HZ / 2.0 / bin_hz))
        old_hz = self._a4 * 2.0 ** ((note.ref - 69.0) / 12.0)
        new_hz = self._a4 * 2.0 ** ((midi - 69.0) / 12.0)
        olds = [k * old_hz for k in range(1, _CHANGE_PARTIALS + 1) if k * old_hz < _CHANGE_MAX_HZ]
        news = [
            k * new_hz
            for k in range(1, _CHANGE_PARTIALS + 1)
            if k * new_hz < _CHANGE_MAX_HZ
            and min(abs(k * new_hz - f) for f in olds) > _CHANGE_APART_HZ
        ]
        if not news or not olds:
            return True

        def at(freqs: list[float]) -> np.ndarray:
            """Each frame's power at ``freqs`` (the loudest bin within half the spacing)."""
            total = np.full(2, 1e-20)
            for f in freqs:
                b = round(f / bin_hz)
                total += power[:, max(b - reach, 0) : b + reach + 1].max(axis=1)
            return total

        own, old = at(news), at(olds)
        if 10.0 * math.log10((own[1] * old[0]) / (own[0] * old[1])) >= _CHANGE_DB:
            return True
        note.unchanged = (round(midi), onset_s)
        return False

    def _legato_onset(self, first_s: float) -> float:
        """Where a note that came without an attack began, its new pitch first read at
        ``first_s``: at a dip in level shortly before (the old note letting go as the new
        one sounds), else a YIN window earlier, when the new note filled half the window."""
        window = [(t, db) for t, db in self._levels if first_s - _LEGATO_LOOKBACK_S <= t <= first_s]
        if len(window) >= 3:
            k = min(range(len(window)), key=lambda i: window[i][1])
            before = max(db for _, db in window[: k + 1])
            after = max(db for _, db in window[k:])
            if 0 < k < len(window) - 1 and min(before, after) - window[k][1] >= _DIP_DB:
                return window[k][0]
        return first_s - _LEGATO_LAG_S

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
        if self._under_c2(final) and note.spectrum is not None:
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

    def _restruck(self, note: _Note) -> bool:
        """``note`` re-picked the named note its attack cut short, at that note's pitch,
        and its level never fell 15 dB under its peak (or the flux confirmed it: see
        _flux_repick), so it is no pick's touch before a louder pluck (see _drop_blips),
        however loud the pick after it: a touch stops the string (its level collapses),
        a re-pick sounds it again. A re-pick in a run of 16ths is often 12 dB under the
        run's first pick, and the next run's first pick then peaks 15 dB over it. On dev
        repick-soft and fast-16ths (32 seeds each) 1237 → 1257 of 1308 re-picks kept
        (9 of them by the flux's own confirmation), no note added; no real note changed."""
        return note.restruck or (
            abs(note.ref - note.over) < _QUIET_SAME
            and note.peak_db - note.trough_db < _FLUX_FALL_DB
        )

    def _added_name(self, note: _Note, final: float) -> float:
        """``final``, or the first report's name when the note's body, less what rang before
        its onset, sums best there (see _new_over_ringing), and ``final`` is not a pitch of
        its own in that remainder.

        Let-ring: ~150 ms in, YIN's frames and the body's checks read the strings still
        ringing as much as the new note (a ringing note, or a period they share with it,
        often an octave under it), while the attack named the new note. ``final`` is taken
        for such a reading only when it is not a pitch of its own in what the note added
        (see _explained_by), and a twelfth or more under it only when a note played lately
        explains it or ``final`` has no partials of its own over its ``k``-th in what was
        added (see _owns_partials): a low string heard through a phone has weak 1st and 2nd
        partials, and its 3rd sums best (two dev phone-low notes went from right to wrong
        without this), but its 4th, 5th, 7th and 8th are there; a period the new note
        shares with the strings ringing has only the new note's partials (E4 read as A2
        over a ringing G#2). On 32 dev let-ring seeds 25 finals put right and none made
        wrong by this; the partials of its own, 13 more on 93 other seeds (95.2 -> 96.2 %).
        """
        spectrum = note.spectrum
        shown = note.shown
        if spectrum is None or round(shown) == round(final):
            return final
        added = self._added(spectrum, self._rang_of(note))
        if added is None:
            return final
        pick = self._added_pitch(added, final)
        if round(pick) != round(shown):
            return final
        k = _harmonic_number(pick, final)  # ``final``: a sub-harmonic of the pick?
        if k is not None and (
            not self._explained_by(added, final, k, None)
            or (
                k >= 3
                and not self._rings_under(final, note.onset_s)
                and self._owns_partials(added, final, k)
            )
        ):
            return final
        return pick

    def _owns_partials(self, added: np.ndarray, midi: float, k: int) -> bool:
        """``midi`` has partials of its own in what a note ``added``: its partials
        ``k`` + 1 to 3 ``k`` that are not multiples of ``k`` hold at least 0.2 of the peak
        energy at those that are (its ``k``-th harmonic's own partials).

        A sub-harmonic YIN read from a new note and the strings ringing under it has
        nothing but the new note's partials in what that note added (their share 0–0.02
        on the 13 dev let-ring notes this decides); a low string heard through a phone,
        named by its 3rd partial, has its 4th, 5th, 7th and 8th there (2.9 and 7.1 on the
        two dev phone-low notes it decides).
        """
        return self._own_share(added, midi, k) >= _OWN_PARTIALS_SHARE

    def _own_share(self, added: np.ndarray, midi: float, k: int) -> float:
        """The peak energy at ``midi``'s partials ``k`` + 1 to 3 ``k`` that are not
        multiples of ``k``, over that at those that are (see _owns_partials)."""
        partials = tuple(range(k + 1, 3 * k + 1))
        energies = self._peak_energies(added, midi, partials)
        own = sum(e for j, e in zip(partials, energies, strict=True) if j % k)
        shared = sum(e for j, e in zip(partials, energies, strict=True) if not j % k)
        return own / shared if shared > 0.0 else math.inf

    def _not_ringing(self, note: _Note, final: float) -> float:
        """``final``, unless it is a note played just before that may still ring (let-ring:
        the new note decays faster than a lower one it sounds over, and YIN, the octave
        checks and the body's period end up on the older note, or an octave, a twelfth or
        two octaves under it) while the note's first report showed a pitch at least 1.5
        semitones higher: the attack, where the new note dominates, names it."""
        shown = note.shown
        if not shown - final >= _RINGING_JUMP:
            return final
        return shown if self._rings_under(final, note.onset_s) else final

    def _rings_under(self, midi: float, onset_s: float) -> bool:
        """``midi`` is a note played within 2.5 s before ``onset_s`` that may still ring, or
        an octave, a twelfth or two octaves under one."""
        since = onset_s - _RINGING_S
        return any(
            abs(midi + k - m) < _RINGING_TOLERANCE and t >= since
            for m, t in self._played
            for k in _SUB_HARMONICS
        )

    def _early_name(self, note: _Note, midi: float, now: float) -> float:
        """The pitch the first report shows: ``midi``, or the note it is a sub-harmonic of.

        At the report YIN has ~45 ms of the note, often with the previous one still in its
        window, and reads a period common to the two notes (G4 over a ringing E4 repeats as
        C2 does) or to the note's partials (E4 read as A2, a twelfth low; D#4 as D#3). The
        final report corrects these from the note's body; this reads the same ~45 ms again,
        for the screen only (``note.ref``, and so the final report, is left alone):

        * a reading with almost nothing at its partials 1 and 2 (< 0.2 of the loudest
          peak) is a phantom: the note is its highest harmonic ``k`` (2–8) whose period
          ``tau / k`` fits the audio nearly as well (NSDF within 0.2, and ≥ 0.5), other than
          the note still ringing or its octaves; when none fits and there is nothing at its
          partials 1–4 either (< 0.1 of the loudest peak: a played note, however weak its
          fundamental, has its 3rd or 4th), the harmonic with the most energy at its own
          fundamental (≥ 0.2 of the loudest peak), as the body's check does (G4 over a
          ringing E4, read as C2: their partials 6 and 5 are the loudest peaks, and the
          period of G4 or E4 fits no better than the other sub-harmonics);
        * else a reading whose half period fits as well (NSDF within 0.06, and ≥ 0.5), with
          little at its partials 1 and 3 (< 0.1 of 2 and 4), is an octave low.

        Measured on the 588 rendered and real notes of ``make bench``: 22 of 71 wrong first
        names put right, none made wrong. A weak period (NSDF < 0.5) is left as read: noise
        then fits many lags about as well.
        """
        attack = self._attack_audio(note, now)
        if attack is None or self._under_c2(midi):
            return midi
        audio, spectrum = attack
        loudest = float(spectrum.max()) ** 2
        p1, p2, p3, p4 = self._peak_energies(spectrum, midi, (1, 2, 3, 4))
        phantom = max(p1, p2) < _EARLY_PHANTOM_SHARE * loudest
        low = midi + 12.0 <= self._max_voiced and p1 + p3 < _EARLY_ODD_SHARE * (p2 + p4)
        if not (phantom or low):
            return midi  # (the partials ask for no check: the period's fit is not needed)
        tau = self._rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))
        fit = _nsdf_peak(audio, tau)
        if fit is None or fit < _EARLY_MIN_FIT:
            return midi
        if phantom:
            previous = self._previous
            ringing = previous[0] if previous is not None and previous[1] >= note.onset_s else None
            for k in range(_PHANTOM_HARMONICS, 1, -1):
                candidate = midi + 12.0 * math.log2(k)
                if candidate > self._max_voiced:
                    continue
                if ringing is not None and _pitch_class_distance(candidate, ringing) < 0.5:
                    continue  # the ringing note, or an octave of it
                fits = _nsdf_peak(audio, tau / k)
                if (
                    fits is not None
                    and fits >= max(fit - _EARLY_PHANTOM_MARGIN, _EARLY_MIN_FIT)
                    and self._explained_by(spectrum, midi, k, ringing)
                ):
                    return candidate
            if max(p1, p2, p3, p4) < _EARLY_EMPTY_SHARE * loudest:
                loudest_at = self._loudest_harmonic(spectrum, midi, ringing, _EARLY_PEAK_SHARE)
                if loudest_at is not None:
                    return loudest_at
        if low:
            shorter = _nsdf_peak(audio, tau / 2.0)
            if shorter is not None and shorter >= max(fit - _EARLY_OCTAVE_MARGIN, _EARLY_MIN_FIT):
                return midi + 12.0
        return midi

    def _explained_by(
        self, spectrum: np.ndarray, midi: float, k: int, ringing: float | None
    ) -> bool:
        """The reading ``midi`` is only the sub-harmonic common to the partials of its
        harmonic ``k``: nothing (under 0.05 of the loudest peak) at its partials below
        ``k``, bar those at the ringing note's octaves.

        A phone's microphone loses a low string's fundamental and its 2nd partial, and at
        the attack a real E2's 3rd partial can be 11 dB over all the rest; its period still
        fits a third of it nearly as well, but E2's partial 2 (−11 dB) is there, which B3
        would not put below itself. Only below ``k``: over it, other notes ringing put
        partials where the reading has them (E4 under a ringing G4, read as C2, had 0.065
        of the loudest peak at C2's 7th). For ``k`` = 2 this never refuses (the phantom
        check is entered with partial 1 under 0.2). Measured on the dev split: every
        phantom ``k`` ≥ 3 taken had made a right name wrong (12 of 12, each ≥ 0.051 below
        ``k``; the harmonic sum put them right later in the report).
        """
        floor = _EARLY_OWN_SHARE * float(spectrum.max()) ** 2
        below = tuple(range(1, k))
        for j, energy in zip(below, self._peak_energies(spectrum, midi, below), strict=True):
            partial = midi + 12.0 * math.log2(j)
            if ringing is not None and _pitch_class_distance(partial, ringing) < 0.5:
                continue  # the note still ringing, or an octave of it
            if energy >= floor:
                return False
        return True

    def _loudest_harmonic(
        self, spectrum: np.ndarray, midi: float, ringing: float | None, share: float
    ) -> float | None:
        """The harmonic ``k`` (2–8) of ``midi`` with the most energy at its fundamental, at
        least ``share`` of the loudest peak, other than ``ringing`` (or its octaves)."""
        best, best_energy = None, share * float(spectrum.max()) ** 2
        for k in range(2, _PHANTOM_HARMONICS + 1):
            candidate = midi + 12.0 * math.log2(k)
            if candidate > self._max_voiced:
                break
            if ringing is not None and _pitch_class_distance(candidate, ringing) < 0.5:
                continue  # the ringing note, or an octave of it
            energy = self._peak_energies(spectrum, candidate, (1,))[0]
            if energy > best_energy:
                best, best_energy = candidate, energy
        return best

    def _settled_name(self, note: _Note, midi: float) -> float:
        """The first report's name once the attack's sharp start is allowed for.

        A plucked string starts sharp (its tension is highest at the pluck) and settles
        within ~0.1 s: at the report an A3 can still read 50–80 cents up, between A3 and
        A#3, and be named A#3. When the name's pitch sits 20–50 cents below its semitone,
        the attack's readings (either window, folded onto its octave) are not rising, and
        one of them, within 0.8 semitone below, reads the semitone under it, the screen
        gets that semitone, at the lowest such reading: the pitch the string is settling
        to. A note that really is 20–50 cents flat reads steadily at its pitch, and a
        rising attack is not a settling one (a slide, or the frames of a lower note that
        rang before). For the screen only, like ``_early_name``: ``note.ref`` and the final
        report are left alone. Measured on ``make bench``: 5 of 17 wrong first names on
        the rendered set put right, none made wrong on either set.
        """
        nearest = round(midi)
        if not _SHARP_FROM <= midi - nearest <= _SHARP_TO:
            return midi
        settle = note.onset_s + _SETTLE_S
        frames = [m for t, m in zip(note.times, note.midis, strict=True) if t >= settle]
        early = [m for m, _ in note.early if m == m]
        series = early if len(early) >= 2 else frames
        if len(series) >= 2 and series[-1] > series[0]:
            return midi
        folded = [m - 12.0 * round((m - midi) / 12.0) for m in early + frames]
        lower = [m for m in folded if round(m) == nearest - 1 and midi - m < _SHARP_REACH]
        return min(lower) if lower else midi

    def _attack_audio(self, note: _Note, now: float) -> _Attack | None:
        """The note's audio from 8 ms after its onset (the pick's click first; onsets are
        timed to it) to now, at most 85 ms, and its magnitude spectrum at half rate (Hann,
        8192 points); None when shorter than ``_CHECK_MIN_WINDOW``. Computed once per
        report for ``_early_name`` and ``_harmonic_name``."""
        key = (note.index, now)
        if self._attack_cache is not None and self._attack_cache[0] == key:
            return self._attack_cache[1]
        available = int((now - note.onset_s - _EARLY_SKIP_S) * self._rate)
        # (a whole number of blocks: few window lengths to keep)
        available = min(available, _RECENT_HOPS * HOP_SIZE) // _BLOCK * _BLOCK
        found = None
        if available >= _CHECK_MIN_WINDOW:
            audio = self._recent_audio()[-available:]
            half = np.dot(audio.reshape(-1, _DECIMATION), self._pair_mean)
            window = self._windows.get(len(half))
            if window is None:
                window = self._windows[len(half)] = np.hanning(len(half)).astype(np.float32)
            spectrum = np.abs(np.fft.rfft((half - _mean32(half)) * window, _SPECTRUM_SIZE))
            found = (audio, spectrum)
        self._attack_cache = (key, found)
        return found

    def _recent_audio(self) -> np.ndarray:
        """The last ``_RECENT_HOPS`` hops in one array (read-only: shared), joined once a hop
        however many checks read it (a report's octave check and attack, an attack's
        audio before it)."""
        joined = self._recent_joined
        if joined is None or joined[0] != self.hops:
            joined = self._recent_joined = (self.hops, np.concatenate(self._recent))
        return joined[1]

    def _audio_before(self, onset_s: float) -> np.ndarray | None:
        """The audio heard up to 2 ms before ``onset_s`` (at most 85 ms), or None when
        there is too little of it to compare with (see _new_over_ringing)."""
        recent = self._recent_audio()
        end = len(recent) - (self._samples - round(onset_s * self._rate)) - _BEFORE_GUARD
        if end < _CHECK_MIN_WINDOW:
            return None
        return recent[:end].copy()

    def _rang(self, before: np.ndarray | None, length: int) -> np.ndarray | None:
        """The spectrum of what rang before a note (its last ``length`` half-rate samples
        at most, Hann), scaled to a Hann window of ``length``: a steady partial then peaks as
        high in both (a Hann window's sum grows with its length). None with too little.
        (A whole number of blocks: few window lengths to keep.)"""
        n = 0 if before is None else min(len(before), _DECIMATION * length) // _BLOCK * _BLOCK
        if before is None or n < _CHECK_MIN_WINDOW:
            return None
        half = np.dot(before[-n:].reshape(-1, _DECIMATION), self._pair_mean)
        window = self._windows.get(len(half))
        if window is None:
            window = self._windows[len(half)] = np.hanning(len(half)).astype(np.float32)
        rang = np.abs(np.fft.rfft((half - _mean32(half)) * window, _SPECTRUM_SIZE))
        rang *= length / len(half)
        return rang

    def _rang_of(self, note: _Note) -> np.ndarray | None:
        """What rang before ``note``, at the length of its body's spectrum (see _rang):
        taken once (on the hop after that spectrum when the note lasts that long, see
        _read_over_ringing) and kept for the checks on its last hop (see _added_name)."""
        if note.rang_taken:
            return note.rang
        note.rang = self._rang(note.before, note.spectrum_len)
        note.rang_taken = True
        return note.rang

    def _new_over_ringing(
        self, note: _Note, audio: np.ndarray, spectrum: np.ndarray, midi: float, plain: float
    ) -> float | None:
        """The pitch the attack (``audio``, ``spectrum``) added to what rang before it, when
        that is not ``plain`` (the harmonic sum's name over the whole attack; YIN read
        ``midi``); None when nothing rang, or nothing new stands out.

        Let-ring: strings still sound under the new note, and YIN and the harmonic sum over
        the attack's whole spectrum read one of them, a sub-harmonic they share, or an
        octave of the new note (on 32 dev let-ring seeds, first names were right 84 % of the
        time). What the attack added (see _added) names the new note by its harmonic sum
        (an octave up when that left its odd harmonics empty: see _octave_over), unless
        * it is a harmonic of the pitch heard with that pitch's own lower partials in what
          was added, and that pitch was played lately: the string heard, struck again (a
          re-pick of a ringing A2 summed best at its 3rd partial, E4); a pitch no string
          rang at is a period the new note shares with those ringing, and the attack's own
          click puts a little at its partials (on 93 other dev let-ring seeds, 7 first names
          right that this guard made wrong; re-picks and fast runs unchanged);
        * its partials 1–4 hold under 0.2 of the attack's loudest peak, 0.3 for a pitch
          under the one heard (a pitch a pick's click happens to sum to holds far less; a
          new note over a louder lower string still ringing held 0.16–0.3 on 6 of those
          93 seeds; a pitch under the one heard has no such string to share the attack
          with, and at 0.2 an overdriven note was named an octave low at 0.22);
        * they did not rise 6 dB over the onset, and fewer than two of them each rose 6 dB
          to at least 0.05 of that peak (a ringing partial that merely swelled is not new;
          but a new note's even partials may be a ringing note's own: A4 over A3).
        On those seeds first names went from 84.1 to 95.4 %; the second way to rise took
        them from 94.2. Without the rise test, 95 %, but dev re-picks and fast runs lost
        0.4–0.9 point. The rise is not asked of a pitch that is the ``k``-th harmonic of the
        pitch heard when what was added has next to nothing at that pitch's partials below
        ``k`` (see _explained_by) nor at those over it that are not multiples of ``k``
        (under 0.01 of the energy at those that are, see _own_share), and holds 0.3 of its
        loudest peak at its own partials 1–4 (see _holds_added): a new note an octave, a
        twelfth or two octaves over a string still ringing puts every partial on one of
        that string's, which rang about as loud before it (A4 over D3 rose 1.8 dB there,
        B4 over B3 5.5 dB), while a re-pick of the string restores some of its other upper
        partials (0.03–0.04 on the re-picks of dev timing, repeated and repick-soft seeds
        16–27 that the first two tests let through; the new notes 0–0.002) or adds little
        at the harmonic. On dev let-ring seeds 0–60, finals wrong 26 -> 20.
        """
        rang = self._rang(note.before, len(audio) // _DECIMATION)
        added = self._added(spectrum, rang)
        if rang is None or added is None:
            return None
        new = self._added_pitch(added, midi)
        if round(new) == round(plain):
            return None
        on_heard = False  # ``new`` is a harmonic of the pitch heard, and all that was added
        for heard in (plain, midi):
            k = _harmonic_number(new, heard)
            if k is None:
                continue
            if self._explained_by(added, heard, k, None):
                on_heard = on_heard or self._own_share(added, heard, k) < _SHARED_ONLY
            elif self._played_lately(heard, note.onset_s):
                return None  # the pitch heard, struck again: its own partials rose
        partials = (1, 2, 3, 4)
        now = self._peak_energies(spectrum, new, partials)
        loudest = float(spectrum.max()) ** 2
        if sum(now) < (_NEW_MIN_SHARE if new > plain else _NEW_UNDER_MIN_SHARE) * loudest:
            return None
        if on_heard and self._holds_added(added, new):
            return new  # its partials are a ringing string's: they cannot rise 6 dB over them
        return new if self._rose_new(spectrum, rang, new) else None

    def _rose_new(self, spectrum: np.ndarray, rang: np.ndarray, new: float) -> bool:
        """``new``'s partials 1–4 rose 6 dB over what rang before (``rang``), or two of them
        each did, from under to over 0.05 of the attack's loudest peak (see
        _new_over_ringing)."""
        partials = (1, 2, 3, 4)
        now = self._peak_energies(spectrum, new, partials)
        was = self._peak_energies(rang, new, partials)
        floor = _FRESH_SHARE * float(spectrum.max()) ** 2
        fresh = sum(n >= floor and n >= _NEW_RISE * w for n, w in zip(now, was, strict=True))
        return sum(now) >= _NEW_RISE * sum(was) or fresh >= _FRESH_PARTIALS

    def _added_unread(self, note: _Note, now: float) -> float | None:
        """At the report deadline, for a note YIN has read nothing of (in range), begun
        over notes still sounding: the pitch its attack added to what rang before (see
        _new_over_ringing), when that pitch's partials 1–4 hold 0.2 of the attack's
        loudest peak and rose (see _rose_new); else None.

        Over strings still ringing, YIN's period is the mixture's: a D#4 over F#2, F#3 and
        A#3 read B1 (out of range) for half a second, and the note was dropped unpitched.
        What its attack added is the new note alone.
        """
        if note.from_room:
            return None
        attack = self._attack_audio(note, now)
        if attack is None:
            return None
        audio, spectrum = attack
        rang = self._rang(note.before, len(audio) // _DECIMATION)
        added = self._added(spectrum, rang)
        if rang is None or added is None:
            return None
        peaks = self._peaks(added)
        sums = self._shs_sign @ np.take(peaks, self._shs_index, mode="wrap")
        best = int(np.argmax(sums))
        if not sums[best] > 0.0:
            return None
        new = self._octave_over(peaks, float(self._shs_grid[best]))
        loudest = float(spectrum.max()) ** 2
        if sum(self._peak_energies(spectrum, new, (1, 2, 3, 4))) < _NEW_MIN_SHARE * loudest:
            return None
        return new if self._rose_new(spectrum, rang, new) else None

    def _holds_added(self, added: np.ndarray, midi: float) -> bool:
        """``midi``'s partials 1–4 hold at least ``_NEW_HOLDS_ADDED`` of the energy at the
        loudest peak of what a note ``added``: the attack brought mostly that pitch, not a
        click and a ringing string's partials moved by the pick (a re-pick of the string
        sums to one of its harmonics there too, with 0.04–0.35 of the loudest peak on
        dev repeated and repick-soft seeds 16–27; new notes 1.0–1.9)."""
        energies = self._peak_energies(added, midi, (1, 2, 3, 4))
        return sum(energies) >= _NEW_HOLDS_ADDED * float(added.max()) ** 2

    def _added_pitch(self, added: np.ndarray, midi: float) -> float:
        """The harmonic sum's name over what a note added (YIN read ``midi``), an octave up
        when that has its odd harmonics empty (see _octave_over)."""
        peaks = self._peaks(added)
        return self._octave_over(peaks, self._shs_pick(peaks, midi))

    def _octave_over(self, peaks: np.ndarray, midi: float) -> float:
        """``midi``, or the octave or twelfth over it (again, while that holds) when what the
        note added (its ``peaks``, see _peaks) has next to nothing at ``midi``'s partials
        that are not multiples of 2 (or 3): their mean under 0.3 of the mean at the
        multiples. A new note an octave over a string still ringing puts all its partials
        on the ringing note's even ones, and the harmonic sum, which keeps the pitch YIN
        read when that sums nearly as well, stays on the ringing note (on 32 dev let-ring
        seeds: first names 91.7 -> 94.2 %, finals 93.0 -> 95.2 %); YIN as often reads a
        period the new note shares with strings ringing a twelfth or two octaves under it,
        and what was added has only every 3rd (or 4th) partial of that pitch (on 93 other
        dev let-ring seeds, the twelfth: first names 96.1 -> 96.4 %, names 96.7 -> 97.0 %, none
        made wrong).

        Not for the pitch of the note this one cut short: a string picked again adds
        little at its odd harmonics too (their sum 0.16–0.29 of the even ones' on four
        dev re-picks), which would put it an octave up.
        """
        previous = self._previous
        if previous is not None and abs(previous[0] - midi) < 0.5:
            return midi
        for _ in range(_OVER_STEPS):
            at = self._harmonic_peaks(peaks, midi)  # (read once for both k)
            for k in (2, 3):
                up = midi + 12.0 * math.log2(k)
                if up <= self._max_voiced and _only_multiples(at, k):
                    midi = up
                    break
            else:
                return midi
        return midi

    def _harmonic_peaks(self, peaks: np.ndarray, midi: float) -> np.ndarray:
        """``peaks`` (see _peaks) at ``midi``'s harmonics 1–16 under 4 kHz."""
        f0 = self._a4 * 2.0 ** ((midi - 69.0) / 12.0)
        ks = _HARMONIC_NUMBERS[_HARMONIC_NUMBERS * f0 < _SHS_MAX_HZ]
        return peaks[np.rint(ks * f0 / self._bin_hz).astype(np.intp)]

    @staticmethod
    def _added(spectrum: np.ndarray, rang: np.ndarray | None) -> np.ndarray | None:
        """``spectrum`` less ``rang`` (what rang before the note), floored at zero: a string
        ringing on only decays, so what is left came with the note. None unless what rang
        held at least 10 % of the spectrum's energy (else there is nothing to take away,
        and sums over the two differ by chance) and what is left at least 10 % (a soft
        re-pick of the ringing pitch leaves a click, which sums to anything)."""
        if rang is None:
            return None
        added = np.maximum(spectrum - rang, 0.0)
        total = float(np.dot(spectrum, spectrum))
        left = float(np.dot(added, added))
        if not _ADDED_MIN_SHARE * total <= left <= (1.0 - _RANG_MIN_SHARE) * total:
            return None
        return added

    def _harmonic_name(self, note: _Note, midi: float, now: float) -> float:
        """The first report's name after a harmonic sum over the attack's spectrum.

        At the report YIN has had ~30–50 ms of the note, often mostly the pick's transient,
        a body resonance or what rang before; on real low strings (a phone's microphone
        loses their fundamental) it reads a partial, a sub-harmonic or a resonance. For
        every pitch on a 10-cent grid the compressed spectrum (magnitude ** 0.5, each bin
        the largest of it and its neighbours) is summed at the pitch's harmonics 1–16 up to
        4 kHz, less the sum half-way between them (a sub-octave's odd multiples fall there,
        so it does not win by explaining its octave's partials too). When the best sum
        within half a semitone of ``midi`` is under 0.8 of the best anywhere, the screen
        shows the best pitch instead. For the screen only, like ``_early_name`` (but see
        ``_not_ringing``: a let-ring note's final may take the first report's pitch).
        """
        attack = self._attack_audio(note, now)
        if attack is None or self._under_c2(midi):
            return midi
        audio, spectrum = attack
        plain = self._shs_pick(self._peaks(spectrum), midi)
        new = self._new_over_ringing(note, audio, spectrum, midi, plain)
        return plain if new is None else new

    def _under_c2(self, midi: float) -> bool:
        """``midi`` is under C2, with the lowest note set under it (``TrackerConfig.min_midi``:
        B standard, a 7-string, drop A). There only YIN's main window names a note: the
        attack's checks (see _early_name) and harmonic sum do not rename such a reading,
        the sum names nothing there (its grid starts at C2), and the octave check moves no
        note down under C2.

        At the report the attack is ~40 ms of audio, a Hann window 100 Hz wide at its
        base: a B1's or an A1's partials, 62 and 55 Hz apart, merge, and the sum's
        half-way bins, which keep a sub-octave from winning, sit on their flanks. The sum
        of a pitch 2–3 octaves up then won and the screen showed it (B1 as F#3 or B3, A1
        as E3 or A3), and let-ring took it as the final too (see _not_ringing), the open
        low string having rung just before. YIN's 43 ms window holds 2.4 periods of A1 and
        read them right; the phantom check moved them to a partial (5 of 5 moves on seeds
        0–23 wrong: an electric A1's partials 1–4 were weak at the attack). Dev B-standard
        and drop-A seeds 0–11 (530 notes): first names 83.4 → 99.4 %, names 88.1 → 99.8 %.
        Tracked from A1, dev let-ring loses the sum's and the checks' renaming of YIN's
        common periods of strings ringing together that now fall under C2 (seeds 0–11:
        names 229 → 218 of 232; C2's floor kept them out). The sum's grid and the octave
        check: tracked from A1, dev hum seeds 0–15 lost 4 names to A#1 and A1 (an A#2 "an
        octave low" with the hum in its period; sums over the hum's partials), now none.
        Never with the default lowest note (C2): that path is as it was.
        """
        return self._min_voiced < _UNDER_C2 and midi < _UNDER_C2

    def _low_phantom(self, spectrum: np.ndarray, midi: float) -> float:
        """A final pitch under C2 (see _under_c2), or the harmonic ``k`` (5–16) of it that
        holds the body's loudest peak, when ``midi`` has next to nothing of its own
        between that harmonic's multiples (see _owns_partials): YIN's common period of
        strings ringing together (an A4 over others read as 35.3, a seventh of it: 69 −
        12·log2 7 = 35.3), which C2's floor kept out."""
        f0 = self._a4 * 2.0 ** ((midi - 69.0) / 12.0)
        k = round(float(np.argmax(spectrum)) * self._bin_hz / f0)
        if not 5 <= k <= _OWN_HARMONICS or midi + 12.0 * math.log2(k) > self._max_voiced:
            return midi
        if self._owns_partials(spectrum, midi, k):
            return midi
        return midi + 12.0 * math.log2(k)

    def _without_attack(self, midi: float, sounding: float = math.nan) -> bool:
        """A pitch under C2 (see _under_c2) starts no note without an attack: not one that
        crept in (see _crept_in), nor a legato note (see _follow) from a ``sounding`` pitch
        more than ``_LOW_LEGATO_SEMITONES`` over it.

        What YIN reads there without a pluck is mostly not a string: mains hum (60 Hz is
        MIDI 34.5), alone (it crept in as the stream's opening note) or under a note fading
        into it, where YIN reads it 0–45 cents off (so no band around 60 Hz catches it: one
        of ±15 cents left 2 of these), and periods a fading note shares with the hum.
        Tracked from A1, dev hum seeds 0–15 started 20 such notes, the legato ones from
        notes 8.5–40 semitones over them; none with this. A low string's next note whose
        pluck was not heard is legato from 1–3 semitones off (dev B-standard and drop-A
        seeds 34–60: 3 notes, lost when every legato note under C2 was refused).
        """
        return self._under_c2(midi) and not sounding - midi <= _LOW_LEGATO_SEMITONES

    def _partial_of(self, note: _Note, midi: float, now: float) -> float:
        """The first report's name: ``midi``, or the lowest pitch it is the ``k``-th partial
        of (``k`` 3–8) whose harmonic sum over the attack's spectrum (see _harmonic_name)
        is at least ``_PARTIAL_OF_SHARE`` of ``midi``'s and which has partials of its own
        there: between its multiples of ``k``, at least 0.2 of the energy at those (see
        _owns_partials) and 0.05 of the loudest peak's (a sine's sub-harmonics sum as well
        as it does, with nothing between its multiples). Only for a
        note that began with no note sounding, bar short ones that may be its pick's touch
        (over strings still ringing, their partials are the attack's as much as its own:
        dev let-ring lost 2 first names).

        A body or a microphone that lifts one partial of a low string (or loses its
        fundamental) has YIN, and the sums, read that partial at the attack; the string's
        other partials are there all the same, and a note played alone has no partials
        between its own. Not for octaves: ``_early_name`` decides those.
        """
        attack = self._attack_audio(note, now)
        if attack is None or not (note.from_room or self._only_touches_before(note)):
            return midi
        spectrum = attack[1]
        sums = self._shs_sign @ np.take(self._peaks(spectrum), self._shs_index, mode="wrap")
        grid = self._shs_grid
        near = np.abs(grid - midi) <= 0.25
        if not near.any() or not sums[near].max() > 0.0:
            return midi
        floor = _PARTIAL_OF_SHARE * float(sums[near].max())
        loud = _EARLY_OWN_SHARE * float(spectrum.max()) ** 2
        for k in range(_PHANTOM_HARMONICS, 2, -1):
            sub = midi - 12.0 * math.log2(k)
            around = np.abs(grid - sub) <= 0.25
            if not around.any() or sums[around].max() < floor:
                continue
            own = tuple(j for j in range(k + 1, 3 * k + 1) if j % k)
            if sum(self._peak_energies(spectrum, sub, own)) < loud or not self._owns_partials(
                spectrum, sub, k
            ):
                continue
            return float(grid[around][np.argmax(sums[around])])
        return midi

    def _only_touches_before(self, note: _Note) -> bool:
        """Every note played within 2.5 s before ``note`` is a short one still held as a
        possible pick's touch (see _release_held): nothing that rang for long."""
        held = [event.onset_s for event, _ in self._held]  # (rounded to 0.1 ms)
        since = note.onset_s - _RINGING_S
        return all(
            any(abs(t - h) < 1e-3 for h in held)
            for _, t in self._played
            if since <= t < note.onset_s
        )

    def _peaks(self, spectrum: np.ndarray) -> np.ndarray:
        """The compressed spectrum the harmonic sums read (see _harmonic_name)."""
        root = np.sqrt(spectrum[: self._shs_bins + 1]).astype(np.float32, copy=False)
        peaks = np.empty_like(root)
        peaks[1:-1] = np.maximum(np.maximum(root[:-2], root[1:-1]), root[2:])
        peaks[0] = root[0]
        peaks[-1] = 0.0  # where the harmonics past 4 kHz point
        return peaks

    def _shs_pick(self, peaks: np.ndarray, midi: float) -> float:
        """``midi``, or the pitch with the best harmonic sum over ``peaks`` (see _peaks) when
        the best within half a semitone of ``midi`` is under 0.8 of it (see
        _harmonic_name)."""
        # (Every index is inside ``peaks``: "wrap" takes the same values as the default,
        # twice as fast as its bounds check.)
        sums = self._shs_sign @ np.take(peaks, self._shs_index, mode="wrap")
        best = int(np.argmax(sums))
        if not sums[best] > 0.0:
            return midi
        lo, hi = self._shs_near(midi)
        if hi <= lo or sums[lo:hi].max() >= _SHS_GIVE_WAY * sums[best]:
            return midi
        return float(self._shs_grid[best])

    def _shs_near(self, midi: float) -> tuple[int, int]:
        """The run of the harmonic sums' grid within half a semitone of ``midi``'s semitone
        (``abs(grid - round(midi)) <= 0.5``: the differences that close are exact), found
        by bisection."""
        nearest = round(midi)
        return (
            bisect.bisect_left(self._shs_pitches, nearest - 0.5),
            bisect.bisect_right(self._shs_pitches, nearest + 0.5),
        )

    def _show(self, note: _Note, midi_exact: float, events: list[NoteEvent]) -> None:
        """Correct the note the live screen shows when a later look names another semitone.

        Only the report changes (its time stays the first report's): the note's own
        decisions, and so its final report, are not touched.
        """
        reported = note.reported
        if reported is not None and round(midi_exact) != reported.midi:
            note.reported = self._event(note, midi_exact, None, reported.reported_s)
            events.append(note.reported)

    def _frames_pitch(self, note: _Note) -> float:
        """The note's pitch from its frames so far, past the attack's glide."""
        skip = note.onset_s + _FINAL_SKIP_S
        midis = [m for t, m in zip(note.times, note.midis, strict=True) if t >= skip]
        return self._final_pitch(note, midis or note.midis)

    def _octave_of_body(self, note: _Note, midi: float) -> float:
        """``midi`` after the checks on the body's spectrum (``note.spectrum``, not None):
        a phantom of a ringing note, or a sub-octave with nothing at partials 1 and 3."""
        spectrum = note.spectrum
        if spectrum is None:
            return midi
        previous = self._previous
        ringing = previous if previous is not None and previous[1] >= note.onset_s else None
        midi = self._phantom_check(spectrum, midi, ringing)
        odd = self._odd_share(spectrum, midi)
        if odd < (_LOCKED_ODD_SHARE if note.locked else _ODD_SHARE) and (
            midi + 12.0 <= self._max_voiced
        ):
            midi += 12.0  # nothing at partials 1 and 3: YIN read a sub-octave
        return midi

    def _final_pitch(self, note: _Note, midis: list[float]) -> float:
        """The note's pitch from its frames, in the octave decided (or voted) for it."""
        ref, locked = note.ref, note.locked
        same, up, down = _classes(ref, midis)
        if len(midis) >= 4 and 3 * (len(same) + len(up) + len(down)) < len(midis):
            # The frames never agreed with the reported pitch (an attack read wrong): start
            # again from the semitone they read most.
            counts: dict[int, int] = {}
            for m in midis:
                counts[round(m)] = counts.get(round(m), 0) + 1
            mode = max(counts, key=counts.__getitem__)
            ref = _median([m for m in midis if abs(m - mode) < 0.5])
            locked = False
            same, up, down = _classes(ref, midis)
        if not locked:
            # Nothing proved the octave: the frames' majority picks it.
            if len(up) >= 4 and len(up) > 2 * len(same):
                return _median(up) + 12.0
            if len(down) >= 4 and len(down) > 2 * len(same):
                return _median(down) - 12.0
        if same:
            return _median(same)
        folded = up + down
        return _median(folded) if folded else ref

    def _spectrum(self, samples: int) -> np.ndarray:
        """Magnitude spectrum of the body's first ``samples`` (at most 171 ms), half rate."""
        n = min(samples, _SPECTRUM_SAMPLES) // _DECIMATION * _DECIMATION
        body = np.dot(self._body[:n].reshape(-1, _DECIMATION), self._pair_mean)
        half = len(body)
        window = self._body_window if half == len(self._body_window) else _hanning(half)
        return np.abs(np.fft.rfft((body - _mean32(body)) * window, _SPECTRUM_SIZE))

    def _period_pitch(self, body: np.ndarray, midi: float) -> float:
        """``midi`` made exact from the period of the note's body.

        The period is the lag within ±20 cents of ``midi``'s that minimises the difference
        function ``sum((x[t] - x[t + lag]) ** 2)`` over the whole body — YIN's core on one
        long window, interpolated by a parabola — which is what tuners, YIN and pYIN read
        (on a stiff string it weighs the sharp upper partials in, as the ear does). The
        window then reaches past the attack's sharp start. ``midi`` is kept when the body
        is too short for it or the minimum is not inside the span.
        """
        period = self._rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))
        reach = max(3, math.ceil(period * (2.0 ** (_PERIOD_SPAN_CENTS / 1200.0) - 1.0)))
        lo, hi = round(period) - reach, round(period) + reach
        width = min(len(body) - hi, int(_PERIOD_WINDOW_S * self._rate))
        if lo < 2 or width < 2 * hi:
            return midi
        head = body[:width]
        cross = np.correlate(body[lo : hi + width], head, mode="valid").tolist()
        # The energy of each lagged window, slid one sample at a time from the first.
        tail = body[lo : lo + width]
        energy = float(np.dot(tail, tail))
        edges = body[lo : hi + 1].tolist()
        ends = body[lo + width : hi + width].tolist()
        diff = []
        for k, c in enumerate(cross):
            diff.append(energy - 2.0 * c)
            if k < len(ends):
                energy += ends[k] * ends[k] - edges[k] * edges[k]
        k = min(range(1, len(diff) - 1), key=diff.__getitem__)
        a, b, c = diff[k - 1 : k + 2]
        if not a > b < c:
            return midi
        best = lo + k + 0.5 * (a - c) / (a - 2.0 * b + c)
        return 69.0 + 12.0 * math.log2(self._rate / best / self._a4)

    def _pitch_over_ringing(self, note: _Note, period: float, midi: float) -> float | None:
        """The note's exact pitch when another string still rings in its body (see
        _rings_in_body): ``period``, unless it reads more than 2 cents flatter or 5 cents
        sharper than the note's own partials (see _own_partials_pitch), which then give it;
        None when nothing rings, no partial of its own shows, or the note ended before its
        body's spectrum was read on a hop of its own (see _read_over_ringing).

        Let-ring: the body's period is that of the sum of the strings sounding, and the
        others bend it, mostly sharp, by 5–25 cents, which the plain rule takes for a
        stiff string's (on 93 dev let-ring seeds, |cents| p90 5.7, the period alone 8.8).
        Up to 16 partials, each weighed by the square root of its peak, read a stiff
        string as its period does (the upper ones are sharp and many); the tolerance is then
        small. On those seeds p90 5.7 -> 2.7; on 12 dev seeds of timing, legato, low and
        drop-D, distortion, palm mutes, fast runs, phone-low, repeats, reverb and clean
        notes none worse (timing 3.5 -> 3.1).
        """
        read = note.over_ringing
        if read is None:
            return None
        if abs(read[0] - midi) >= _REREAD_SEMITONES:  # named otherwise since: read again
            read = self._read_over_ringing(note, midi)
        own = read[1]
        if own is None:
            return None
        bend = (period - own) * 100.0
        return period if -_PERIOD_FLAT_CENTS <= bend <= _RINGING_SHARP_CENTS else own

    def _read_over_ringing(self, note: _Note, midi: float) -> tuple[float, float | None]:
        """(``midi``, the pitch of its own partials when another string still rings in
        the body, else None): read on the hop after the body's spectrum, a light one, at
        the pitch then held (see process). A note's last hop already sums and checks its
        body; this there took the per-hop p99 up ~30 µs on dev let-ring and fast runs,
        whose short notes end before their body's spectrum has a hop of its own, and go
        without (those runs gain little from it: fast-16ths p90 4.1 -> 4.0)."""
        spectrum = note.spectrum
        if spectrum is None or not self._rings_in_body(note, spectrum, midi):
            return midi, None
        return midi, self._own_partials_pitch(spectrum, self._rang_of(note), midi)

    def _rings_in_body(self, note: _Note, spectrum: np.ndarray, midi: float) -> bool:
        """A note played within 2.5 s before ``note`` still rings in its body
        (``spectrum``): one of its partials 1–3 that is no harmonic of ``midi`` (1–16)
        holds at least 3 % of the loudest peak's energy."""
        floor = _RINGING_BODY_SHARE * float(spectrum.max()) ** 2
        since = note.onset_s - _RINGING_S
        for m, t in self._played:
            if t < since:
                continue
            for j in (1, 2, 3):
                partial = m + _PARTIAL_SEMITONES[j]
                ratio = 2.0 ** ((partial - midi) / 12.0)
                h = round(ratio)
                if 1 <= h <= _OWN_HARMONICS and abs(12.0 * math.log2(ratio / h)) < 0.5:
                    continue  # the note's own partial too
                if self._peak_energies(spectrum, partial, (1,))[0] >= floor:
                    return True
        return False

    def _own_partials_pitch(
        self, spectrum: np.ndarray, rang: np.ndarray | None, midi: float
    ) -> float | None:
        """``midi`` made exact from the peaks of its partials 1–16 in ``spectrum``, each
        weighed by the square root of its magnitude, leaving out those where what rang
        before the onset (``rang``) was over half as loud (a partial shared with a
        string still ringing) and those under 3 % of the loudest partial's (noise). Each
        is looked for within ±50 cents of where ``midi`` puts it and interpolated (a
        parabola on the log magnitude); None when none is left."""
        f0 = self._a4 * 2.0 ** ((midi - 69.0) / 12.0)
        span = 2.0 ** (_PARTIAL_SEARCH_CENTS / 1200.0)
        fk = f0 * np.arange(1, _OWN_HARMONICS + 1)
        los = (fk / span / self._bin_hz).astype(np.intp)
        his = (fk * span / self._bin_hz).astype(np.intp) + 1
        inside = (los >= 1) & (his < len(spectrum) - 1)
        if not inside.any():
            return None
        los, his, fk = los[inside], his[inside], fk[inside]
        # Every partial's window at once: its bins, padded to the widest with its last.
        index = np.minimum(
            los[:, None] + np.arange(int((his - los).max()))[None, :], his[:, None] - 1
        )
        at = los + np.argmax(spectrum[index], axis=1)
        a, b, c = spectrum[at - 1], spectrum[at], spectrum[at + 1]
        keep = (a <= b) & (c <= b)  # else rising out of the window: the partial is not in it
        if rang is not None:
            keep &= rang[at] <= _SHARED_SHARE * b  # else shared with a string still ringing
        if not keep.any():
            return None
        keep &= b >= _OWN_FLOOR * b[keep].max()
        la, lb, lc = (np.log(v[keep] + 1e-20) for v in (a, b, c))
        curvature = la - 2.0 * lb + lc
        offset = np.where(curvature < 0, 0.5 * (la - lc) / np.minimum(curvature, -1e-12), 0.0)
        cents = 1200.0 * np.log2((at[keep] + offset) * self._bin_hz / fk[keep])
        weights = np.sqrt(b[keep])
        return midi + float(np.dot(weights, cents) / weights.sum()) / 100.0

    def _partials_pitch(self, spectrum: np.ndarray, midi: float) -> float | None:
        """``midi`` made exact from the peaks of its partials 1–4 (energy-weighted cents).

        Each partial is looked for within ±50 cents of where ``midi`` puts it; its peak is
        interpolated (parabola on the log magnitude). None when no partial shows a peak.
        """
        f0 = self._a4 * 2.0 ** ((midi - 69.0) / 12.0)
        bin_hz = self._bin_hz
        span = 2.0 ** (_PARTIAL_SEARCH_CENTS / 1200.0)
        weighted = 0.0
        total = 0.0
        for k in range(1, _PARTIALS + 1):
            fk = k * f0
            lo = int(fk / span / bin_hz)
            hi = int(fk * span / bin_hz) + 1
            if lo < 1 or hi >= len(spectrum) - 1:
                break
            window = spectrum[lo - 1 : hi + 1].tolist()
            peak = max(range(1, len(window) - 1), key=window.__getitem__)
            if window[peak - 1] > window[peak] or window[peak + 1] > window[peak]:
                continue  # rising out of the window: the partial is not in it
            a, b, c = (math.log(v + 1e-20) for v in window[peak - 1 : peak + 2])
            curvature = a - 2.0 * b + c
            offset = 0.5 * (a - c) / curvature if curvature < 0 else 0.0
            energy = window[peak] ** 2
            weighted += energy * 1200.0 * math.log2((lo - 1 + peak + offset) * bin_hz / fk)
            total += energy
        return midi + weighted / total / 100.0 if total > 0 else None

    def _phantom_check(
        self, spectrum: np.ndarray, midi: float, ringing: tuple[float, float] | None
    ) -> float:
        """The note played when YIN read a period common to it and a note still ringing.

        G4 over a ringing E4 repeats every 15.3 ms, as C2 would: YIN reads C2, a pitch with
        nothing at its partials 1 and 2 (every note played has energy at one of them). Then
        the note is the harmonic of that reading with the most energy at its own
        fundamental, other than the ringing note (or its octaves).
        """
        energies = self._peak_energies(spectrum, midi, (1, 2))
        loudest = float(spectrum.max()) ** 2
        if max(energies) >= _PHANTOM_SHARE * loudest:
            return midi
        best, best_energy = midi, _PHANTOM_SHARE * loudest
        for k in range(2, _PHANTOM_HARMONICS + 1):
            candidate = midi + 12.0 * math.log2(k)
            if candidate > self._max_voiced:
                break
            if ringing is not None and _pitch_class_distance(candidate, ringing[0]) < 0.5:
                continue  # the ringing note, or an octave of it
            energy = self._peak_energies(spectrum, candidate, (1,))[0]
            if energy > best_energy:
                best, best_energy = candidate, energy
        return best

    def _peak_energies(
        self, spectrum: np.ndarray, midi: float, partials: tuple[int, ...]
    ) -> list[float]:
        """Peak energy within ±25 cents of each of ``midi``'s ``partials`` (0 past the end)."""
        f0 = self._a4 * 2.0 ** ((midi - 69.0) / 12.0)
        span = 2.0 ** (_ODD_SEARCH_CENTS / 1200.0)
        energies = []
        for k in partials:
            lo = int(k * f0 / span / self._bin_hz)
            hi = int(k * f0 * span / self._bin_hz) + 2
            # (a few bins: Python's max of them is numpy's, without a reduction's set-up)
            energies.append(max(spectrum[lo:hi].tolist()) ** 2 if hi < len(spectrum) else 0.0)
        return energies

    def _odd_share(self, spectrum: np.ndarray, midi: float) -> float:
        """Peak energy at partials 1 and 3 of ``midi`` over that at partials 2 and 4.

        A note has its fundamental or its third partial, however weak one of them is
        (−31 dB on the hardest real low E we have); a reading an octave too low finds only
        the real note's partials at its even ones. Other notes still ringing rarely put a
        partial within ±25 cents of both odd ones.
        """
        p1, p2, p3, p4 = self._peak_energies(spectrum, midi, (1, 2, 3, 4))
        return (p1 + p3) / (p2 + p4) if p2 + p4 > 0 else math.inf

    def _octave_check(self, midi: float, available: int) -> tuple[float, bool]:
        """The note's pitch after a normalised autocorrelation of its audio, and whether
        that proved the octave.

        YIN read period ``tau``. If ``2 tau`` fits the note's audio clearly better, YIN
        read the 2nd harmonic: the note is an octave lower. If ``tau / 2`` fits as well as
        ``tau``, YIN read a sub-octave: the note is an octave higher. The octave is proved
        when the period chosen fits well and clearly better than half of it, and twice it
        was compared too. (Three times the period is not tried: on real guitars a string
        ringing in sympathy a twelfth below fits it better than the note played.)
        """
        available = min(available, _RECENT_HOPS * HOP_SIZE)
        if available < _CHECK_MIN_WINDOW:
            return midi, False
        audio = self._recent_audio()[-available:]
        tau = self._rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))
        fit = _nsdf_peak(audio, tau)
        if fit is None:
            return midi, False
        # Nothing below to compare with; nor under C2 (see _under_c2: only YIN's own
        # reading names a note there).
        below_checked = midi - 12.0 < max(self._min_voiced, _UNDER_C2)
        if not below_checked:
            longer = _nsdf_peak(audio, 2.0 * tau)
            if longer is not None:
                if longer >= _DOWN_MIN_FIT and longer - fit >= _DOWN_MARGIN:
                    return midi - 12.0, True
                below_checked = True
        if midi + 12.0 > self._max_voiced:
            return midi, False
        shorter = _nsdf_peak(audio, tau / 2.0)
        if shorter is None:
            return midi, False
        if shorter >= fit - _UP_MARGIN:
            return midi + 12.0, False
        proved = below_checked and fit >= _DOWN_MIN_FIT and fit - shorter >= _DOWN_MARGIN
        return midi, proved

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


def _glide_scan(
    fits: np.ndarray,
    at: int,
    end: int,
    steps: int,
    pitches: list[float],
    a4: float,
    rate: float,
) -> tuple[bool, float | None]:
    """_glide_half's scan of blocks ``at + 1`` to ``end`` (``fits``' column 0 is block
    ``at``): (decided, where the period that fits best passes the middle one, in samples
    after the first block); None when a block fits none or the period jumped past the
    middle, and undecided (None) when these blocks end first."""
    b = _BREAK_BLOCK
    nearest = fits.argmin(axis=0).tolist()
    crossed: list[float] = []  # where the nearest period reached the middle, and passed it
    for k in range(at + 1, end):
        j = nearest[k - at]
        if fits[j, k - at] > _GLIDE_FIT_DB:
            return True, None
        if 2 * j >= steps + len(crossed):
            if not crossed and 2 * j > steps + 2:
                return True, None  # the period jumped past the middle: no glide
            # The block compares the audio with that a period earlier: it reads the
            # pitch half a period back.
            tau = rate / (a4 * 2.0 ** ((pitches[j] - 69.0) / 12.0))
            crossed.append(k * b + 0.5 * b - 0.5 * tau)
            if len(crossed) == 2 or 2 * j > steps:
                return True, sum(crossed) / len(crossed)
    return False, None


def _dip_index(levels: list[float]) -> int:
    """Where the dip lies in ``levels`` (dB, this hop's last): the quietest of the
    ``_REPLUCK_RISE_HOPS`` hops before this one (see _dipped_and_rose, _shallow_repick)."""
    first = len(levels) - 1 - _REPLUCK_RISE_HOPS
    return min(range(first, len(levels) - 1), key=levels.__getitem__)


def _same_or_harmonic(offset: float) -> bool:
    """A reading ``offset`` semitones from a note's is that note's, or one of its harmonics
    (see _reads_pitch_of, _reads_low)."""
    return any(abs(offset - k) < _QUIET_SAME for k in (0.0, *_HARMONIC_JUMPS))


def _repeat_near(audio: np.ndarray, start: int, end: int, before: int, tau: float) -> float:
    """_repeat_db of ``audio[start:end]`` at the period found near ``tau`` in the audio
    ending at ``before`` (see _period_before); NaN when none is found there."""
    period = _period_before(audio, before, tau)
    return math.nan if period is None else _repeat_db(audio, start, end, before, period)


def _fits(audio: np.ndarray, start: int, end: int, first: int, count: int) -> np.ndarray:
    """The normalised correlation of ``audio[start:end]`` with the same span ``first``,
    ``first + 1``, ... (``count`` lags) samples earlier (float64 sums; ``np.correlate``
    slides it along the audio before in one call)."""
    width = end - start
    x = audio[start - first - count + 1 : end - first].astype(np.float64)
    a = audio[start:end].astype(np.float64)
    dots = np.correlate(x, a, "valid")[::-1]  # (lag ``first`` first)
    squares = np.concatenate(([0.0], np.cumsum(x * x)))
    energies = (squares[width:] - squares[:-width])[::-1]
    return dots / np.sqrt(float(a @ a) * energies + 1e-30)


def _interpolated_peak(values: np.ndarray) -> tuple[float, float]:
    """The largest of ``values`` and where it lies (index), refined by the parabola
    through it and its neighbours."""
    i = int(values.argmax())
    if 0 < i < len(values) - 1:
        y0, y1, y2 = float(values[i - 1]), float(values[i]), float(values[i + 1])
        curve = y0 - 2.0 * y1 + y2
        if curve < 0.0:
            d = 0.5 * (y0 - y2) / curve
            return y1 - 0.25 * (y0 - y2) * d, i + d
    return float(values[i]), float(i)


def _repeat_db(audio: np.ndarray, start: int, end: int, before: int, period: float) -> float:
    """How far ``audio[start:end]`` is from repeating the audio whole periods earlier, the
    fewest that end the span compared with by ``before``: ``1 − c²`` in dB, ``c`` the best
    normalised correlation (any gain) over the lags within ``_GOES_ON_SPREAD`` samples
    of that many periods (``period``: see _period_before), interpolated. NaN when the
    audio does not reach back far enough."""
    first = round(math.ceil((end - before) / period) * period) - _GOES_ON_SPREAD
    if start - first - 2 * _GOES_ON_SPREAD < 0:
        return math.nan
    fits = _fits(audio, start, end, first, 2 * _GOES_ON_SPREAD + 1)
    best = min(max(_interpolated_peak(fits)[0], 0.0), 1.0)
    return 10.0 * math.log10(max(1.0 - best * best, 1e-6))


def _sine_like(audio: np.ndarray, start: int, end: int, period: float) -> bool:
    """``audio[start:end]`` is nearly its own negative half a period earlier (normalised
    correlation under ``_SINE_LIKE``): a waveform held mostly in its fundamental (and odd
    partials), whose shape a re-pick cannot change, only its phase, and a sampled
    re-pick lands within ±15° of the old phase about one time in six (dev fast-16ths
    seed 23, F#5 re-picks of one sample 109 ms apart: −0.77 to −0.79 here, their
    waveforms going on within −13 to −15 dB; a timing clip's E5, −0.80 and −11 dB; of
    the 163 tremolo phantoms under −12 dB, 2 were under −0.8)."""
    lag = round(period / 2.0)
    return float(_fits(audio, start, end, lag, 1)[0]) < _SINE_LIKE


def _period_before(audio: np.ndarray, end: int, tau: float) -> float | None:
    """The period (samples, fractional) near ``tau`` (within ``_GOES_ON_CENTS``) that the
    audio before ``end`` repeats best, over two periods (at least 10 ms) of it; None when
    the audio does not reach back that far."""
    width = max(round(2.0 * tau), _GOES_ON_WINDOW)
    low = int(tau * 2.0 ** (-_GOES_ON_CENTS / 1200.0)) - 1
    high = math.ceil(tau * 2.0 ** (_GOES_ON_CENTS / 1200.0)) + 1
    if end - width - high < 0:
        return None
    fits = _fits(audio, end - width, end, low, high - low + 1)
    return low + _interpolated_peak(fits)[1]


def _misfit_db(
    lagged: np.ndarray, audio: np.ndarray, power: np.ndarray, lags: np.ndarray, blocks: int
) -> np.ndarray:
    """_misfit's dB per period and block from ``lagged`` (the last ``blocks`` blocks of
    ``audio`` one period earlier, per period; overwritten): the residual's energy over
    that of the block and of the block a period earlier (``power``: running sum of
    squares)."""
    n = len(audio)
    b = _BREAK_BLOCK
    m = blocks * b
    lagged -= audio[n - m :]
    residual = np.add.reduce(np.square(lagged, out=lagged).reshape(len(lags), blocks, b), axis=2)
    ends = np.arange(n - m + b, n + 1, b)
    own = power[n - m + b :: b] - power[n - m : n + 1 - b : b]  # (``ends`` and ``ends - b``)
    shifted = ends[None, :] - lags[:, None]
    earlier = power[shifted] - power[shifted - b]
    return 10.0 * np.log10(residual / (own + earlier + 1e-12) + 1e-6)


def _shape_distance(shape: np.ndarray, reference: np.ndarray) -> float:
    """How far the shape of the magnitude spectrum ``shape`` is from ``reference``'s: half
    the L1 distance of the two, each over its sum (0 for the same shape, 1 for nothing in
    common), or 1 when the energy over 2 kHz moved ``_SWELL_TILT_DB`` or more against
    that under 1 kHz. A tremolo scales every bin alike; a pick's transient and the
    partials it restores, or a sampled note's attack, move the balance even when the low
    partials that hold most of the magnitudes keep their shape (dev fast-16ths seed 13,
    sampled A2 re-picks: half-L1 0.05–0.1 a hop or two after the rise, the balance a
    median 3.4 dB darker there; a tremolo's swells mostly within ±1.5 dB)."""
    total, total_ref = float(np.add.reduce(shape)), float(np.add.reduce(reference))
    if total <= 0.0 or total_ref <= 0.0:
        return 1.0
    low = float(np.dot(shape[:_SWELL_LOW_BINS], shape[:_SWELL_LOW_BINS]))
    high = float(np.dot(shape[_SWELL_HIGH_BIN:], shape[_SWELL_HIGH_BIN:]))
    low_ref = float(np.dot(reference[:_SWELL_LOW_BINS], reference[:_SWELL_LOW_BINS]))
    high_ref = float(np.dot(reference[_SWELL_HIGH_BIN:], reference[_SWELL_HIGH_BIN:]))
    if min(low, high, low_ref, high_ref) <= 0.0:
        return 1.0
    if abs(10.0 * math.log10(high * low_ref / (high_ref * low))) >= _SWELL_TILT_DB:
        return 1.0
    return 0.5 * float(np.add.reduce(np.abs(shape / total - reference / total_ref)))


def _harmonic_jump(semitones: float) -> bool:
    """A reading ``semitones`` from the sounding note is the note still, not a new one: an
    octave, a twelfth or two octaves either way (a harmonic taking over, or YIN's octave
    error), its 5th to 8th harmonic or twice the period of its 5th or 7th, or a period 5
    to 16 times the note's.

    A body or a room that lifts one upper partial of a low string far over the rest (a
    resonance near it, a reverberant room's comb) has YIN read that partial late in the
    note, for a second or more; a legato note was started on it (the tuning half of the
    real notes through a 420 Hz resonance or a reverberant room: E2 split at twice the
    period of its 5th partial, 15.9 semitones up, B3 at its 6th). No hammer, pull-off or
    slide spans an octave and a third.

    The last is a sub-harmonic common to the note and something under it: as a high note
    decays into mains hum, YIN finds a period that fits both (D5 over 60 Hz hum read as
    35.8, a ninth of D5, three frames in a row), and a legato note was started on it, ~0.1 s
    before the next pluck. No guitar note is played legato three octaves under a ringing
    one. Measured on dev seeds 4–15 (beyond the split): hum extra notes 10 → 5 (→ 1 with
    the same test on a note's tail, see _tail_of_previous), let-ring 7 → 5, no other
    figure of 11 conditions moved; on the dev split, let-ring onset F 0.963 → 0.975 (extra
    0.05 → 0.03) and nothing else moved.
    """
    if any(abs(semitones - k) < _HARMONIC_TOLERANCE for k in (*_HARMONIC_JUMPS, *_HIGH_HARMONICS)):
        return True
    ratio = 2.0 ** (-semitones / 12.0)
    k = round(ratio)
    return 5 <= k <= _SUB_HARMONIC_MAX and abs(12.0 * math.log2(ratio / k)) < _HARMONIC_TOLERANCE


def _paired_db(levels: list[float]) -> list[float]:
    """Each hop's level (dB) as that of it and the hop before together (the first alone):
    21 ms, a whole period of A1 (18 ms), where one hop holds 0.6 of it (see
    _low_dip_and_rise)."""
    powers = [10.0 ** (db / 10.0) for db in levels]
    paired = [0.5 * (a + b) for a, b in pairwise(powers)]
    return levels[:1] + [10.0 * math.log10(p + 1e-12) for p in paired]


def _steady_guess(guesses: list[float]) -> bool:
    """The last two unsure readings agree: a weak but steady period, not a click's noise."""
    return len(guesses) >= 2 and abs(guesses[-1] - guesses[-2]) < 0.5


def _early_agree(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Two short-window readings that agree (False when either is NaN)."""
    spread = abs(a[0] - b[0])
    if min(a[1], b[1]) >= _EARLY_CONFIDENCE:
        return spread < 0.3
    return spread < 0.1


def _classes(ref: float, midis: list[float]) -> tuple[list[float], list[float], list[float]]:
    """Frames reading ``ref``, an octave above it and an octave below (folded onto ``ref``)."""
    same = [m for m in midis if abs(m - ref) < 0.5]
    up = [m - 12.0 for m in midis if abs(m - ref - 12.0) < 0.5]
    down = [m + 12.0 for m in midis if abs(m - ref + 12.0) < 0.5]
    return same, up, down


def _harmonic_number(high: float, low: float) -> int | None:
    """``k`` (2–8) when ``high`` is ``low``'s ``k``-th harmonic (within half a semitone)."""
    for k in range(2, _PHANTOM_HARMONICS + 1):
        if abs(high - low - 12.0 * math.log2(k)) < 0.5:
            return k
    return None


def _only_multiples(at: np.ndarray, k: int) -> bool:
    """``at`` (a pitch's peaks at its harmonics 1, 2, ..., see _harmonic_peaks) holds next
    to nothing at the harmonics that are not multiples of ``k``: their mean under 0.3 of
    the mean at those that are (see _octave_over)."""
    if len(at) < k:
        return False  # no multiple of ``k`` under 4 kHz
    multiples = _MULTIPLES[k][: len(at)]
    return float(_mean32(at[~multiples])) < _OCTAVE_ODD * float(_mean32(at[multiples]))


def _pitch_class_distance(a: float, b: float) -> float:
    """Semitones between two pitches, octaves ignored (0–6): an octave of a note, or the
    note itself, is 0."""
    return abs((a - b + 6.0) % 12.0 - 6.0)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def _mean32(x: np.ndarray) -> np.float32:
    """``x.mean()`` of a float32 vector, the same value (numpy sums it in float32, divides
    in float64 and rounds back), without ``np.mean``'s few microseconds of set-up."""
    return np.float32(float(np.add.reduce(x)) / x.size)


def _hanning(length: int) -> np.ndarray:
    """``np.hanning(length)``, the same values from half as many cosines: the window is
    symmetric, and so is ``np.cos`` (``tests/test_tracker_speed.py`` checks them equal).
    A short note's body spectrum takes one of a new length at each note's end."""
    if length < 3:
        return np.hanning(length)
    half = (length + 1) // 2
    n = np.arange(1 - length, 1 - length + 2 * half, 2, dtype=np.float64)
    np.multiply(np.pi, n, out=n)
    np.divide(n, length - 1, out=n)
    np.cos(n, out=n)
    np.multiply(0.5, n, out=n)
    np.add(0.5, n, out=n)
    window = np.empty(length)
    window[:half] = n
    window[half:] = n[: length - half][::-1]
    return window


def _nsdf_peak(audio: np.ndarray, lag: float) -> float | None:
    """Peak of the normalised square-difference function near ``lag`` (1 = periodic).

    Compares the last ``W`` samples with the ``W`` samples ``t`` earlier, for the nine
    integer lags ``t`` around ``lag``, and interpolates the best (parabola). The energy
    that normalises it is taken at ``lag`` for all nine: four samples either way change it
    by a fraction of a percent. ``None`` when the audio is too short for a
    ``_CHECK_MIN_WINDOW`` comparison at that lag.
    """
    n = len(audio)
    center = round(lag)
    width = min(_CHECK_WINDOW, n - center - _LAG_SPAN)
    if width < _CHECK_MIN_WINDOW or center <= _LAG_SPAN:
        return None
    tail = audio[n - width :]
    head = audio[n - width - center : n - center]
    norm = float(np.dot(tail, tail)) + float(np.dot(head, head))
    if norm <= 0.0:
        return None
    first = n - width - center - _LAG_SPAN  # the head at the longest lag starts here
    cross = np.correlate(audio[first : first + width + 2 * _LAG_SPAN], tail, mode="valid")
    values = cross.tolist()
    k = max(range(len(values)), key=values.__getitem__)
    best = values[k]
    if 0 < k < len(values) - 1:
        y0, y2 = values[k - 1], values[k + 1]
        curvature = y0 - 2.0 * best + y2
        if curvature < 0:
            best -= 0.125 * (y0 - y2) ** 2 / curvature
    return 2.0 * best / norm


def butterworth_highpass(cutoff_hz: float, rate: float) -> tuple[float, float, float, float, float]:
    """2nd-order Butterworth high-pass biquad ``(b0, b1, b2, a1, a2)``, bilinear-transformed.

    The same coefficients as ``scipy.signal.butter(2, cutoff, "highpass", fs=rate)``
    (RBJ cookbook, Q = 1/√2), written out because importing scipy.signal costs ~2.5 s of
    start-up on every ``fretcoach`` command.
    """
    w0 = 2.0 * math.pi * cutoff_hz / rate
    alpha = math.sin(w0) / math.sqrt(2.0)  # sin(w0) / (2 Q) with Q = 1/√2
    cos_w0 = math.cos(w0)
    a0 = 1.0 + alpha
    b0 = (1.0 + cos_w0) / 2.0 / a0
    return (b0, -2.0 * b0, b0, -2.0 * cos_w0 / a0, (1.0 - alpha) / a0)
