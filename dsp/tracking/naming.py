"""The first name shown: read from the attack's first 20–60 ms."""

from __future__ import annotations

import bisect
import math

import numpy as np

from dsp.tracking.audio import _nsdf_peak
from dsp.tracking.constants import (
    _EARLY_EMPTY_SHARE,
    _EARLY_MIN_FIT,
    _EARLY_MIN_MIDI,
    _EARLY_OCTAVE_MARGIN,
    _EARLY_ODD_SHARE,
    _EARLY_OWN_SHARE,
    _EARLY_PEAK_SHARE,
    _EARLY_PHANTOM_MARGIN,
    _EARLY_PHANTOM_SHARE,
    _LOW_LEGATO_SEMITONES,
    _OWN_HARMONICS,
    _PARTIAL_OF_SHARE,
    _PHANTOM_HARMONICS,
    _RINGING_S,
    _SETTLE_S,
    _SHARP_FROM,
    _SHARP_REACH,
    _SHARP_TO,
    _SHS_GIVE_WAY,
    _UNDER_C2,
    _WEAK_EARLY_CONFIDENCE,
)
from dsp.tracking.pitches import _pitch_class_distance
from dsp.tracking.state import _Note


class _Naming:
    """The name shown first, within 60 ms: early readings, the attack's harmonic sum,
    a plucked string's sharp start, and the notes under C2 only a low-tuned guitar plays."""

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
        if attack is None or self._low_tuned(midi):
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
        if attack is None or self._low_tuned(midi):
            return midi
        audio, spectrum = attack
        plain = self._shs_pick(self._attack_sums(spectrum), midi)
        new = self._new_over_ringing(note, audio, spectrum, midi, plain)
        return plain if new is None else new

    def _low_tuned(self, midi: float) -> bool:
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
        """A final pitch under C2 (see _low_tuned), or the harmonic ``k`` (5–16) of it that
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

    def _needs_attack(self, midi: float, sounding: float = math.nan) -> bool:
        """A pitch under C2 (see _low_tuned) starts no note without an attack: not one that
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
        return self._low_tuned(midi) and not sounding - midi <= _LOW_LEGATO_SEMITONES

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
        sums = self._attack_sums(spectrum)
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

    def _shs_sums(self, peaks: np.ndarray) -> np.ndarray:
        """The harmonic sum over ``peaks`` (see _peaks) of every pitch on the grid (see
        _harmonic_name)."""
        # (Every index is inside ``peaks``: "wrap" takes the same values as the default,
        # twice as fast as its bounds check.)
        return self._shs_sign @ np.take(peaks, self._shs_index, mode="wrap")

    def _attack_sums(self, spectrum: np.ndarray) -> np.ndarray:
        """The harmonic sums over the attack's ``spectrum`` (see _attack_audio), computed
        once per report: the name and the partial checks (see _partial_of) both read
        them (~20 µs each time)."""
        kept = self._attack_shs
        if kept is None or kept[0] is not spectrum:
            kept = self._attack_shs = (spectrum, self._shs_sums(self._peaks(spectrum)))
        return kept[1]

    def _shs_pick(self, sums: np.ndarray, midi: float) -> float:
        """``midi``, or the pitch with the best harmonic sum (``sums``, see _shs_sums) when
        the best within half a semitone of ``midi`` is under 0.8 of it (see
        _harmonic_name)."""
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
