"""A candidate attack that only scales or adds to a vibration that goes on is none."""

from __future__ import annotations

from itertools import islice

import numpy as np

from dsp.tracking.audio import (
    _period_before,
    _shape_distance,
    _sine_like,
    _swelled_repeat_db,
)
from dsp.tracking.constants import (
    _BREAK_HOPS,
    _DECIMATION,
    _GOES_ON_AFTER,
    _GOES_ON_DB,
    _GOES_ON_HOPS,
    _GOES_ON_MARGIN,
    _GOES_ON_WINDOW,
    _SWELL_BACK_HOPS,
    _SWELL_EDGE_HOPS,
    _SWELL_EDGE_RISE_DB,
    _SWELL_EDGE_SHAPE,
    _SWELL_HOPS,
    _SWELL_JUDGED_HOPS,
    _SWELL_NOW_SHAPE,
    _SWELL_RISE_DB,
    _SWELL_SHAPE,
)
from dsp.tracking.state import _Deferred


class _Continuity:
    """Does the string's vibration go on? A tremolo's swell (by the spectrum's shape) and
    the waveform test (see _goes_on) veto attacks that only scale or add to it."""

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
        (no named note, too little audio kept, a waveform nearly a sine).

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
        ending ``_GOES_ON_MARGIN`` before the onset, within ``_GOES_ON_DB``, scaled by a
        gain that may change across the span (see _swelled_repeat_db): both the last
        ``_GOES_ON_WINDOW`` samples (the latest, where a swell has grown most) and as many
        from the onset on (a sampled re-pick restarts the same shape, and once its attack
        has passed it can lie close to the old note's phase: dev fast-16ths seed 45, D3
        re-picks 109 ms apart, −14 to −16 dB there 48 ms on, −9 dB over the attack). Not
        when the audio kept does not reach back far enough, or the waveform is nearly a
        sine (see _sine_like). The latest span is asked first: a re-pick mostly fails
        there, and the rest (~20 µs) is not computed.

        An onset fewer than ``_GOES_ON_AFTER`` samples before the hop's end is judged on
        the latest span alone, which then holds the audio just before it too (a re-pick's
        new waveform, louder than what it stops, still dominates it). Not asked there, such
        a candidate was taken unjudged: a swell the test had vetoed on one hop rose on into
        the next, and the dip-and-rise test took it there (``bench.stress --variants
        pedals``, B-standard and drop-A through a sine tremolo: 10 of the 39 phantoms of
        that path)."""
        audio = self._goes_on_audio()
        n = len(audio)
        onset = round(onset_s * self._half_rate) - (self._samples // _DECIMATION - n)
        before = onset - _GOES_ON_MARGIN  # the audio compared with ends here
        period = _period_before(audio, before, self._half_rate_period(midi))
        start = max(n - _GOES_ON_WINDOW, before)
        if period is None or not _swelled_repeat_db(audio, start, n, before, period) < _GOES_ON_DB:
            return False
        if _sine_like(audio, start, n, period):
            return False
        if n - onset < _GOES_ON_AFTER:
            return True
        end = min(onset + _GOES_ON_WINDOW, n)
        return _swelled_repeat_db(audio, onset, end, before, period) < _GOES_ON_DB

    def _goes_on_audio(self) -> np.ndarray:
        """The last ``_GOES_ON_HOPS`` hops of half-rate audio, oldest first, as one array."""
        return np.concatenate(self._last_hops(_GOES_ON_HOPS))

    def _half_rate_period(self, midi: float) -> float:
        """The period of ``midi`` in half-rate samples."""
        return self._half_rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))

    def _period_samples(self) -> float | None:
        """The period of the pitch sounding (samples), for the input repair; else None."""
        note = self._note
        midi = note.ref if note is not None and note.reported is not None else self._steady[0]
        if midi != midi:
            return None
        return self._rate / (self._a4 * 2.0 ** ((midi - 69.0) / 12.0))
