"""Legato: a new note heard by its pitch alone, placed where the pitch moved."""

from __future__ import annotations

import math

import numpy as np

from dsp.tracking.constants import (
    _BREAK_HOPS,
    _CHANGE_APART_HZ,
    _CHANGE_DB,
    _CHANGE_MAX_HZ,
    _CHANGE_PARTIALS,
    _CHANGE_SIZE,
    _CHANGE_UNDER_PEAK_DB,
    _CHANGE_WINDOW,
    _DECIMATION,
    _DIP_DB,
    _DRIFT_AFTER_HOPS,
    _DRIFT_GAP_HOPS,
    _DRIFT_STEP,
    _LEGATO_CONFIDENCE,
    _LEGATO_FALL_DB,
    _LEGATO_FRAMES,
    _LEGATO_LAG_S,
    _LEGATO_LOOKBACK_S,
    _LEGATO_SURE,
    _LEGATO_SURE_FRAMES,
    _LEGATO_SURE_SPREAD,
    _MIN_CONFIDENCE,
    _READ_GAP_HOPS,
    _READ_TOLERANCE,
    _RINGING_S,
    _RINGING_TOLERANCE,
    _SETTLE_S,
    _STEADY_SEMITONES,
    _VIBRATO_HELD_HOPS,
    _VIBRATO_HELD_SPREAD,
    _VIBRATO_STEP,
    _VIBRATO_SWING,
)
from dsp.tracking.pitches import _median
from dsp.tracking.state import _BreakQuery, _Note


class _Legato:
    """Did the pitch move to a new note with no attack heard (hammer-on, pull-off,
    slide), and where; not vibrato, a bend's swing, a harmonic drifting or a decay."""

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
