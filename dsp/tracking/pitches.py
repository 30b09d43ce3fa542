"""Pure functions over pitches in fractional MIDI: harmonics, octaves, agreement."""

from __future__ import annotations

import math

import numpy as np

from dsp.tracking.audio import _mean32
from dsp.tracking.constants import (
    _EARLY_CONFIDENCE,
    _HARMONIC_JUMPS,
    _HARMONIC_TOLERANCE,
    _HIGH_HARMONICS,
    _MULTIPLES,
    _OCTAVE_ODD,
    _PHANTOM_HARMONICS,
    _QUIET_SAME,
    _SUB_HARMONIC_MAX,
)


def _same_or_harmonic(offset: float) -> bool:
    """A reading ``offset`` semitones from a note's is that note's, or one of its harmonics
    (see _reads_pitch_of, _reads_low)."""
    return any(abs(offset - k) < _QUIET_SAME for k in (0.0, *_HARMONIC_JUMPS))


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


def _harmonic_number(high: float, low: float, tolerance: float = 0.5) -> int | None:
    """``k`` (2–8) when ``high`` is ``low``'s ``k``-th harmonic (within ``tolerance``
    semitones: half of one unless a caller knows its readings are pulled further)."""
    for k in range(2, _PHANTOM_HARMONICS + 1):
        if abs(high - low - 12.0 * math.log2(k)) < tolerance:
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
