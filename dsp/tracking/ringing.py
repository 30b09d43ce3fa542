"""Notes over ringing strings: what an attack added, and whose partials those are."""

from __future__ import annotations

import math

import numpy as np

from dsp.tracking.audio import _block_hanning, _mean32
from dsp.tracking.constants import (
    _ADDED_MIN_SHARE,
    _BEFORE_GUARD,
    _BLOCK,
    _CHECK_MIN_WINDOW,
    _DECIMATION,
    _EARLY_SKIP_S,
    _FRESH_PARTIALS,
    _FRESH_SHARE,
    _HARMONIC_NUMBERS,
    _NEW_HOLDS_ADDED,
    _NEW_MIN_SHARE,
    _NEW_RISE,
    _NEW_UNDER_MIN_SHARE,
    _OVER_STEPS,
    _OWN_FLOOR,
    _OWN_HARMONICS,
    _OWN_PARTIALS_SHARE,
    _PARTIAL_SEARCH_CENTS,
    _PARTIAL_SEMITONES,
    _PERIOD_FLAT_CENTS,
    _RANG_MIN_SHARE,
    _RECENT_HOPS,
    _REREAD_SEMITONES,
    _RINGING_BODY_SHARE,
    _RINGING_JUMP,
    _RINGING_S,
    _RINGING_SHARP_CENTS,
    _RINGING_TOLERANCE,
    _SHARED_ONLY,
    _SHARED_SHARE,
    _SHS_MAX_HZ,
    _SPECTRUM_SIZE,
    _SUB_HARMONICS,
    HOP_SIZE,
)
from dsp.tracking.pitches import _harmonic_number, _only_multiples
from dsp.tracking.state import _Attack, _Note


class _Ringing:
    """A new note over strings still ringing: what its attack added to the spectrum, and
    a pitch read over the ringing ones."""

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

    def _own_share(self, added: np.ndarray, midi: float, k: int, first: int | None = None) -> float:
        """The peak energy at ``midi``'s partials ``first`` to ``first`` + 2 ``k`` − 1 (by
        default ``k`` + 1 to 3 ``k``) that are not multiples of ``k``, over that at those
        that are (see _owns_partials, _under_harmonic)."""
        first = k + 1 if first is None else first
        partials = tuple(range(first, first + 2 * k))
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
            window = _block_hanning(len(half))
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
        kept = self._rang_kept
        if kept is not None and kept[0] is before and kept[1] == length:
            # (the report at the deadline asks twice: see _added_unread; never written to)
            return kept[2]
        half = np.dot(before[-n:].reshape(-1, _DECIMATION), self._pair_mean)
        window = _block_hanning(len(half))
        rang = np.abs(np.fft.rfft((half - _mean32(half)) * window, _SPECTRUM_SIZE))
        rang *= length / len(half)
        self._rang_kept = (before, length, rang)
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
        sums = self._shs_sums(peaks)
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
        return self._octave_over(peaks, self._shs_pick(self._shs_sums(peaks), midi))

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
