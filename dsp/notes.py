"""Note math: Hz ↔ MIDI ↔ name, cents, with a configurable concert pitch.

E2 = MIDI 40 = 82.41 Hz at A4 = 440 Hz. Octave numbers follow scientific pitch
notation (C4 is middle C), which is what guitar tuners and the Hub show.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dsp.errors import InvalidSettingError, UnknownNoteError

A4_MIDI = 69
A4_MIN_HZ = 415.0
A4_MAX_HZ = 466.0

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1, "##": 2, "bb": -2}
_NOTE_RE = re.compile(r"^\s*([A-Ga-g])(##|bb|#|b|♯|♭)?\s*(-?\d+)?\s*$")


@dataclass(frozen=True, slots=True)
class Tuning:
    """Concert pitch. Baroque (415), orchestral (442–443) and old-style (466) are all in range."""

    a4_hz: float = 440.0

    def __post_init__(self) -> None:
        if not A4_MIN_HZ <= self.a4_hz <= A4_MAX_HZ:
            raise InvalidSettingError(
                f"reference A4 must be between {A4_MIN_HZ:g} and {A4_MAX_HZ:g} Hz, "
                f"not {self.a4_hz:g}"
            )

    def hz_to_midi(self, freq_hz: float) -> float:
        """Fractional MIDI number; 69.0 is A4. Raises for non-positive frequencies."""
        if not freq_hz > 0:
            raise InvalidSettingError(f"frequency must be positive, not {freq_hz!r}")
        return A4_MIDI + 12.0 * math.log2(freq_hz / self.a4_hz)

    def midi_to_hz(self, midi: float) -> float:
        return self.a4_hz * 2.0 ** ((midi - A4_MIDI) / 12.0)

    def nearest(self, freq_hz: float) -> tuple[int, float]:
        """The nearest equal-tempered note and the deviation from it in cents (−50, +50]."""
        exact = self.hz_to_midi(freq_hz)
        midi = round(exact)
        return midi, (exact - midi) * 100.0


DEFAULT_TUNING = Tuning()


def hz_to_midi(freq_hz: float, *, a4_hz: float = 440.0) -> float:
    return Tuning(a4_hz).hz_to_midi(freq_hz)


def midi_to_hz(midi: float, *, a4_hz: float = 440.0) -> float:
    return Tuning(a4_hz).midi_to_hz(midi)


def cents_between(freq_hz: float, reference_hz: float) -> float:
    """How many cents ``freq_hz`` is above ``reference_hz`` (negative when below)."""
    if not (freq_hz > 0 and reference_hz > 0):
        raise InvalidSettingError("frequencies must be positive to compare them in cents")
    return 1200.0 * math.log2(freq_hz / reference_hz)


def pitch_class_name(pitch_class: int, *, flats: bool = False) -> str:
    return (FLAT_NAMES if flats else SHARP_NAMES)[pitch_class % 12]


def note_name(midi: int, *, flats: bool = False) -> str:
    """``note_name(40) == "E2"``; ``note_name(70, flats=True) == "Bb4"``."""
    return f"{pitch_class_name(midi, flats=flats)}{midi // 12 - 1}"


def parse_pitch_class(text: str) -> int:
    """``"F#"``, ``"Gb"``, ``"f♯"`` → 6. No octave allowed (use :func:`parse_note`)."""
    match = _NOTE_RE.match(text)
    if not match or match.group(3) is not None:
        raise UnknownNoteError(
            f"unknown note name {text!r}: use a letter A–G with an optional # or b, e.g. F# or Bb"
        )
    letter, accidental, _ = match.groups()
    return (_LETTER_PC[letter.upper()] + _ACCIDENTAL[accidental or ""]) % 12


def parse_note(text: str) -> int:
    """``"E2"`` → 40, ``"Bb3"`` → 58, ``"C-1"`` → 0. The octave is required."""
    match = _NOTE_RE.match(text)
    if not match or match.group(3) is None:
        raise UnknownNoteError(
            f"unknown note {text!r}: use a letter, an optional # or b and an octave, e.g. E2, F#4"
        )
    letter, accidental, octave = match.groups()
    return (int(octave) + 1) * 12 + _LETTER_PC[letter.upper()] + _ACCIDENTAL[accidental or ""]
