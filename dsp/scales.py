"""Scales: 12 roots × 15 scale types, parsed from what guitarists and the Hub write.

The Hub stores a scale as ``scale_chosen`` (``"A Minor (Pentatonic)"``) plus
``scale_type`` (``"pentatonic"``); :meth:`Scale.hub_name` and :func:`parse_scale`
round-trip that form, and also accept the way people type: ``"A minor pentatonic"``,
``"Am pentatonic"``, ``"E blues"``, ``"D dorian"``, ``"F# harmonic minor"``, ``"Bb major"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dsp.errors import UnknownNoteError, UnknownScaleError
from dsp.notes import FLAT_NAMES, SHARP_NAMES, parse_pitch_class


@dataclass(frozen=True, slots=True)
class ScaleType:
    """One kind of scale: its intervals and how people and the Hub name it."""

    key: str
    intervals: tuple[int, ...]
    display: str  # "minor pentatonic" — how we print it
    hub_base: str  # "Minor" in "A Minor (Pentatonic)"
    hub_variant: str | None  # "Pentatonic"; None for one-word names such as "Blues"
    short: str  # "{root}m pent": the practice screen's header, see Scale.short_name
    aliases: tuple[str, ...] = ()

    @property
    def hub_type(self) -> str:
        """The Hub's ``scale_type`` column value."""
        return (self.hub_variant or self.hub_base).lower()


# The short form is written as a guitarist would on a chart: "m" joins the root for the
# minor family ("Am pent"), everything else is a word after it ("G maj", "D dor").
_TYPES: tuple[ScaleType, ...] = (
    ScaleType(
        "major",
        (0, 2, 4, 5, 7, 9, 11),
        "major",
        "Major",
        "Natural",
        "{root} maj",
        ("maj", "major natural"),
    ),
    ScaleType(
        "natural_minor",
        (0, 2, 3, 5, 7, 8, 10),
        "natural minor",
        "Minor",
        "Natural",
        "{root}m",
        ("minor", "min", "m", "minor natural"),
    ),
    ScaleType(
        "harmonic_minor",
        (0, 2, 3, 5, 7, 8, 11),
        "harmonic minor",
        "Minor",
        "Harmonic",
        "{root}m harm",
    ),
    ScaleType(
        "melodic_minor",
        (0, 2, 3, 5, 7, 9, 11),
        "melodic minor",
        "Minor",
        "Melodic",
        "{root}m mel",
        ("jazz minor",),
    ),
    ScaleType(
        "major_pentatonic",
        (0, 2, 4, 7, 9),
        "major pentatonic",
        "Major",
        "Pentatonic",
        "{root} maj pent",
        ("maj pentatonic", "major penta", "maj penta"),
    ),
    ScaleType(
        "minor_pentatonic",
        (0, 3, 5, 7, 10),
        "minor pentatonic",
        "Minor",
        "Pentatonic",
        "{root}m pent",
        ("min pentatonic", "m pentatonic", "minor penta", "m penta"),
    ),
    ScaleType(
        "blues",
        (0, 3, 5, 6, 7, 10),
        "blues",
        "Blues",
        None,
        "{root} blues",
        ("minor blues", "m blues"),
    ),
    ScaleType("ionian", (0, 2, 4, 5, 7, 9, 11), "ionian", "Ionian", None, "{root} ion"),
    ScaleType("dorian", (0, 2, 3, 5, 7, 9, 10), "dorian", "Dorian", None, "{root} dor"),
    ScaleType("phrygian", (0, 1, 3, 5, 7, 8, 10), "phrygian", "Phrygian", None, "{root} phryg"),
    ScaleType("lydian", (0, 2, 4, 6, 7, 9, 11), "lydian", "Lydian", None, "{root} lyd"),
    ScaleType(
        "mixolydian", (0, 2, 4, 5, 7, 9, 10), "mixolydian", "Mixolydian", None, "{root} mixo"
    ),
    ScaleType("aeolian", (0, 2, 3, 5, 7, 8, 10), "aeolian", "Aeolian", None, "{root} aeol"),
    ScaleType("locrian", (0, 1, 3, 5, 6, 8, 10), "locrian", "Locrian", None, "{root} loc"),
    ScaleType("chromatic", tuple(range(12)), "chromatic", "Chromatic", None, "{root} chrom"),
)

SCALE_TYPES: dict[str, ScaleType] = {t.key: t for t in _TYPES}

# Semitones from the scale's root down to the major key whose signature spells it.
_PARENT_OFFSET = {
    "dorian": 2,
    "phrygian": 4,
    "lydian": 5,
    "mixolydian": 7,
    "aeolian": 9,
    "natural_minor": 9,
    "harmonic_minor": 9,
    "melodic_minor": 9,
    "minor_pentatonic": 9,
    "blues": 9,
    "locrian": 11,
}
_FLAT_MAJOR_KEYS = frozenset({5, 10, 3, 8, 1})  # F Bb Eb Ab Db

_SPLIT = re.compile(r"[\s_\-()/,]+")


def _words(text: str) -> tuple[str, ...]:
    return tuple(sorted(w for w in _SPLIT.split(text.lower()) if w))


def _build_lookup() -> dict[tuple[str, ...], ScaleType]:
    lookup: dict[tuple[str, ...], ScaleType] = {}
    for scale_type in _TYPES:
        forms = [scale_type.display, scale_type.key, *scale_type.aliases]
        forms.append(f"{scale_type.hub_base} {scale_type.hub_variant or ''}")
        # The screen's short form reads back: "Am pent", "D dor", "C# maj pent".
        short = scale_type.short.replace("{root}", "")
        forms.append(short)
        if re.match(r"m(\s|$)", short):
            forms.append("minor" + short[1:])  # "Am pent" is read as "A minor pent"
        for form in forms:
            lookup.setdefault(_words(form), scale_type)
    return lookup


_LOOKUP = _build_lookup()

VALID_FORMS_HELP = (
    "write a root (C, F#, Bb, …) followed by one of: "
    + ", ".join(t.display for t in _TYPES)
    + ' — e.g. "A minor pentatonic", "E blues", "F# harmonic minor", '
    'or the Hub\'s form "A Minor (Pentatonic)"'
)

_ROOT_RE = re.compile(r"^\s*([A-Ga-g](?:#|[bB]|♯|♭)?)(m(?![a-z])|\b|(?=[\s_\-(]))(.*)$", re.S)


@dataclass(frozen=True, slots=True)
class Scale:
    """A root and a scale type. ``spelled_root`` keeps "Bb" as the player wrote it."""

    root_pc: int
    type: ScaleType
    spelled_root: str

    @classmethod
    def of(cls, root: str, type_key: str) -> Scale:
        try:
            scale_type = SCALE_TYPES[type_key]
        except KeyError:
            raise UnknownScaleError(
                f"unknown scale type {type_key!r}: use one of {', '.join(SCALE_TYPES)}"
            ) from None
        pc = parse_pitch_class(root)
        return cls(pc, scale_type, _canonical_root(root, pc))

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root_pc + i) % 12 for i in self.type.intervals)

    @property
    def size(self) -> int:
        """Number of distinct notes: the Hub's ``total_inscale_notes``."""
        return len(self.type.intervals)

    @property
    def name(self) -> str:
        """``"A minor pentatonic"``."""
        return f"{self.spelled_root} {self.type.display}"

    @property
    def short_name(self) -> str:
        """``"Am pent"``: at most 11 characters, for the practice screen's header, where
        the clock and tempo leave no room for the full name (the home screen shows it)."""
        return self.type.short.format(root=self.spelled_root)

    @property
    def hub_name(self) -> str:
        """The Hub's ``scale_chosen`` form, ``"A Minor (Pentatonic)"``."""
        variant = f" ({self.type.hub_variant})" if self.type.hub_variant else ""
        return f"{self.spelled_root} {self.type.hub_base}{variant}"

    @property
    def hub_type(self) -> str:
        return self.type.hub_type

    def contains(self, midi: int) -> bool:
        return (midi - self.root_pc) % 12 in self.type.intervals

    def degree_of(self, midi: int) -> int | None:
        """0-based scale degree of a note, or None when it is outside the scale."""
        interval = (midi - self.root_pc) % 12
        try:
            return self.type.intervals.index(interval)
        except ValueError:
            return None

    @property
    def prefers_flats(self) -> bool:
        """Spell with flats? As written when the root has an accidental, else by key signature."""
        if "b" in self.spelled_root[1:]:
            return True
        if "#" in self.spelled_root[1:]:
            return False
        parent_major = (self.root_pc - _PARENT_OFFSET.get(self.type.key, 0)) % 12
        return parent_major in _FLAT_MAJOR_KEYS

    def note_names(self) -> tuple[str, ...]:
        names = FLAT_NAMES if self.prefers_flats else SHARP_NAMES
        return tuple(names[(self.root_pc + i) % 12] for i in self.type.intervals)

    def __str__(self) -> str:
        return self.name


def _canonical_root(text: str, pc: int) -> str:
    text = text.strip().replace("♯", "#").replace("♭", "b")
    return text[0].upper() + text[1:] if text else SHARP_NAMES[pc]


def parse_scale(text: str) -> Scale:
    """Parse a scale name; raises :class:`UnknownScaleError` listing the valid forms."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownScaleError(f"empty scale name: {VALID_FORMS_HELP}")
    match = _ROOT_RE.match(text)
    if not match:
        raise UnknownScaleError(f"unknown scale {text!r}: {VALID_FORMS_HELP}")
    root_text, minor_suffix, rest = match.groups()
    root_text = root_text[0] + root_text[1:].lower()  # "AB MAJOR" is A-flat, shouted
    try:
        pc = parse_pitch_class(root_text)
    except UnknownNoteError as err:
        raise UnknownScaleError(f"unknown scale {text!r}: {VALID_FORMS_HELP}") from err
    words = _words(f"{'m' if minor_suffix else ''} {rest}")
    if minor_suffix and len(words) > 1:
        # "Am pentatonic": the "m" reads as "minor", which then names the variant.
        words = _words(f"minor {rest}")
    scale_type = _LOOKUP.get(words)
    if scale_type is None:
        raise UnknownScaleError(f"unknown scale {text!r}: {VALID_FORMS_HELP}")
    return Scale(pc, scale_type, _canonical_root(root_text, pc))


def all_scales() -> list[Scale]:
    """Every root × type, roots spelled with sharps except the usual flat keys."""
    roots = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return [Scale.of(root, key) for key in SCALE_TYPES for root in roots]
