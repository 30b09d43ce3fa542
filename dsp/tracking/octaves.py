"""A note's final pitch and octave, from its body."""

from __future__ import annotations

import math

import numpy as np

from dsp.tracking.audio import _kept_hanning, _mean32, _nsdf_peak
from dsp.tracking.constants import (
    _CHECK_MIN_WINDOW,
    _DECIMATION,
    _DOWN_MARGIN,
    _DOWN_MIN_FIT,
    _FINAL_SKIP_S,
    _HARMONIC_TOLERANCE,
    _LOCKED_ODD_SHARE,
    _ODD_SEARCH_CENTS,
    _ODD_SHARE,
    _OVER_SHOWN_MAX,
    _OWN_UNDER_SHARE,
    _PARTIAL_SEARCH_CENTS,
    _PARTIALS,
    _PERIOD_SPAN_CENTS,
    _PERIOD_WINDOW_S,
    _PHANTOM_HARMONICS,
    _PHANTOM_SHARE,
    _RANG_MIN_SHARE,
    _RECENT_HOPS,
    _SPECTRUM_SAMPLES,
    _SPECTRUM_SIZE,
    _UNDER_C2,
    _UP_MARGIN,
    HOP_SIZE,
)
from dsp.tracking.pitches import _classes, _harmonic_number, _median, _pitch_class_distance
from dsp.tracking.state import _Note


class _FinalPitch:
    """The final pitch from the note's body (its period, its partials) and the octave
    checks on the NSDF and on the spectrum."""

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
        return self._under_harmonic(note, spectrum, midi)

    def _under_harmonic(self, note: _Note, spectrum: np.ndarray, midi: float) -> float:
        """``midi`` brought back to the name the attack showed when it is that name's 3rd to
        5th harmonic (see _over_shown) and the body still holds the name's own partials
        (see _OWN_UNDER_SHARE): a resonance of the body or the mic lifted one partial over
        the rest, and YIN's frames, the octave check and the body's period followed it.

        When that name is a note still ringing (see _rings_under) and what rang before the
        onset holds a tenth of the body's energy, its partials must be in what this note
        added (see _added): the attack may have read the string ringing on
        (dev let-ring: an E4 over a ringing A2 first shown as A2, its 3rd partial's
        pitch), while a re-pick of the same string adds its partials anew. Brought back
        by k, a reading the resonance pulled past half a semitone would round elsewhere:
        then the name's own reading."""
        k = self._over_shown(note, midi)
        if k is None:
            return midi
        shown = note.shown
        held: np.ndarray | None = spectrum
        rang = self._rang_of(note) if self._rings_under(shown, note.onset_s) else None
        if rang is not None and float(rang @ rang) >= _RANG_MIN_SHARE * float(spectrum @ spectrum):
            held = self._added(spectrum, rang)  # (None: the note added next to nothing)
        if held is None or self._own_share(held, shown, k, first=1) < _OWN_UNDER_SHARE:
            return midi
        low = midi - 12.0 * math.log2(k)
        return low if round(low) == round(shown) else shown

    def _over_shown(self, note: _Note, midi: float) -> int | None:
        """``k`` (3–5, see _OVER_SHOWN_MAX) when ``midi`` is the ``k``-th harmonic of the
        name the note's first report showed, within ``_HARMONIC_TOLERANCE`` (the resonance
        that lifts the partial pulls the frames' reading of it: 43 cents flat on a real
        D3's 3rd)."""
        shown = note.shown
        k = _harmonic_number(midi, shown, _HARMONIC_TOLERANCE) if shown == shown else None
        return k if k is not None and 3 <= k <= _OVER_SHOWN_MAX else None

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
        window = self._body_window if half == len(self._body_window) else _kept_hanning(half)
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
        # Nothing below to compare with; nor under C2 (see _low_tuned: only YIN's own
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
