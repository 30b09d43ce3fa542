"""The tracker's tuned numbers, with why each has its value.

One place for all of them: most rules read several groups (an attack's level, the
room's, the swell's), and a number tuned on the dev split is easier to audit side by
side with its neighbours. ``docs/tracker.md`` tells the story behind them.
"""

from __future__ import annotations

import math

import numpy as np

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
# hops kept before their descriptors are computed anyway: 1.4 s. Each forced advance (the
# tail's batched FFT and the resume) costs ~200-300 µs; every 64 hops (0.7 s) that was 2-4 %
# of the tracker's time on dev fast-16ths and legato. A resume that failed would batch up to
# 108 FFTs at once (~1.3 ms, 64 kept ~0.5 ms; on dev every resume succeeds) ...
_HFC_PENDING = 128
_HFC_TAIL = 14  # ... those of the last hops first, often all that is needed (see _resume)
# The stream's first hops are analysed after 8, not 128: until the 4.3-hop delay has passed
# every pending hop's descriptor is computed (no resume), 128 of them ~1.5 ms at every
# stream's start (each clip of the benchmark), 64 ~0.7 ms, 8 ~30 µs (then past the delay).
_HFC_FIRST_PENDING = 8
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
# A pluck still building (see _building): within this long of its onset, its level never
# this far under its running peak (a plucked string peaks within ~20 ms and decays; a
# pluck that rose in two steps, the tuning half's Yamaha E2 re-plucked, took 70 ms)
_BUILDING_S = 0.1
_BUILDING_FALL_DB = 1.0
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
# onset (one placed a little late), with the best gain (ramped): a re-pick resets the string's
# vibration (its partials' phases, its shape), while a tremolo's swell, a knock on the
# body, a beat or a sympathetic string only scale or add to a waveform that goes on.
# The residual (1 - R² of the best fit, the gain let change linearly across the span:
# see _swelled_repeat_db; dB) under which it went on. Measured with one gain for the
# span (session 11; the ramp only lowers the residual): a tremolo's phantoms a median
# −10 dB (quartiles −16, −6), true attacks −0.3 (one of 1076 under −12); with the ramp
# the dev split and 1014 unseen-seed clips keep every note.
_GOES_ON_DB = -12.0
_GOES_ON_WINDOW = 240  # half-rate samples compared: 10 ms ...
_GOES_ON_AFTER = 120  # ... the first from the onset if this many (5 ms) follow it, else the latest
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
# ... every 2.7 ms block from the touch on stands this far over the room (a sound gone
# back into it is within a few dB; a scrape under a noisy phone's hiss stood 1–9 dB over)
_TOUCH_ROOM_DB = 5.0

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
_UNDER_C2 = 35.5  # MIDI: under C2, notes only a guitar tuned lower plays (see _low_tuned)
_LOW_LEGATO_SEMITONES = 7.0  # a pull-off to the open low string, from its 7th fret at most
_HIGHPASS_HZ = 50.0
_SETTLE_S = 0.025
_REPORT_DEADLINE_S = 0.057  # after the attack: ≤ 60 ms after the onset heard
_GIVE_UP_S = 0.15  # an unpitched note that has decayed by then is dropped
_DECAYED_DB = 20.0
# A click rings at its peak for one hop and is gone (a pick's touch through a low-pass: 4.6
# dB under its peak on the hop after its onset, 21.7 dB on the next); a string plucked
# and muted 25 ms later held within 1.5-4.8 dB of its peak for three hops first. A sound
# that held within _RANG_DB of its peak for _RANG_HOPS hops after its onset rang.
_RANG_DB = 6.0
_RANG_HOPS = 2
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
# Body windows kept by length (see _kept_hanning): 8 of 4096 doubles, 256 kB; on dev
# fast-16ths 8 kept 141 of 197 windows asked for, 32 kept 154.
_HANN_KEPT = 8
# Attack windows kept by length (see _block_hanning): lengths are whole blocks of 768-4096
# samples, halved: at most 104 (~0.5 MB in all).
_BLOCK_HANN_KEPT = 128
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
# A name the attack showed, whose 3rd-5th harmonic the body's frames read (a body or a
# mic resonance lifting that partial over the rest: a +12 dB peak at 420 Hz made 7 of the
# tuning half's 60 notes A4, D3's 3rd and A2's 4th harmonic), stays the note while the
# body's spectrum holds its own partials, those the harmonic's lack (1, 2, 4, 5 under a
# 3rd), at this share of the energy at those it shares (partials 1 to 2k, peaks summed).
# Named right by the attack: 0.0285-0.56 on bench.realaug's tuning-half notes, 0.0725-1.5
# on dev seeds 0-11 (k 3-5). Misnamed by it (the tuning set's rendered nylon C6 first
# shown as F3, its 6th harmonic, and an A5 as D3, its 5th): 0.0066-0.018. Not past the
# 5th harmonic, where an attack's misread sub-harmonic is likelier than a resonance.
_OWN_UNDER_SHARE = 0.025
_OVER_SHOWN_MAX = 5
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
