"""The room: its level, learnt between notes, and the notes that do not stand out of it."""

from __future__ import annotations

from dsp.tracking.constants import (
    _BURST_SNR_DB,
    _DECAYED_DB,
    _NOISE_MIN_HOPS,
    _OPENING_MIN_DB,
    _OPENING_S,
    _QUIETEST_TO_ROOM_DB,
    _RANG_DB,
    _RANG_HOPS,
    _ROOM_AFTER_S,
    _ROOM_AFTER_UNPITCHED_S,
    _ROOM_END_DB,
    _ROOM_UNDER_UNPITCHED_DB,
    _SNR_DB,
)
from dsp.tracking.state import _Note


class _Room:
    """The room's level (a noise bed, hum, a mic'd room) and whether a note stands out
    of it."""

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

    def _fell_away(self, note: _Note) -> bool:
        """``note`` has fallen ``_DECAYED_DB`` from its peak already: a click, gone again,
        not a string ringing. Weak readings that agree (each under ``_MIN_CONFIDENCE``,
        see _try_report) are then no pitch to report it by (a low-pass or a body rings a
        pick's click at one frequency for a few hops); it waits for the deadline, where a
        sound this far gone is dropped (see _stands_out). A pick's touch 77 ms before a
        real E4 of the tuning half, through a 2 kHz low-pass (``bench.realaug``), fell
        29 dB in 40 ms while YIN read 82.2-82.4 at confidence 0.54-0.63, and was reported
        as a note of its own. Not sure readings: a tremolo's trough takes a note played
        20 dB down within its first 57 ms (``bench.stress --variants pedals``: asked of
        every reading, 5 notes lost under a square tremolo, 2 under a sine one). Nor a sound
        that rang first, held within ``_RANG_DB`` of its peak for ``_RANG_HOPS`` hops: a
        low string plucked and muted 20-25 ms later fell as far, and was lost (session
        13's review: ``bench.pluck``'s staccato G2s, 6 of 6 found → 3)."""
        if note.peak_db - self._levels[-1][1] < _DECAYED_DB:
            return False
        held = sum(
            1 for t, db in self._levels if t > note.onset_s and db >= note.peak_db - _RANG_DB
        )
        return held < _RANG_HOPS

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

        Nor a note standing less than ``_BURST_SNR_DB`` over the room, pitch or not, whose
        hop at the report is already under the room's level: 57 ms after its pluck a note
        played is over the room it stood out of, while a burst of a bursty room is gone
        again (a mic'd amp's room, the tuning half's Music Man shifted 2 semitones up in
        ``bench.realaug``: a hum burst read surely at 38.7, 6.5 dB over the room and 3.4 dB
        under it at the report). Not within 3 dB of it as for a note with no pitch: a
        compressor over a noise bed 20 dB under the notes holds played notes 1-3 dB over
        the room there (``bench.stress --variants pedals``: 2 notes lost).
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
        elif enough and above < _BURST_SNR_DB and self._levels[-1][1] < room:
            return False  # a burst of the room, already under its level (a note is over it)
        # A room guessed from a few hops: a burst of it may pass for a note, steady pitch
        # or not (an amp's hum is one).
        return above >= (_SNR_DB if enough else _BURST_SNR_DB)
