"""Scale parsing: what people type and what the Hub stores, both directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsp import SCALE_TYPES, Scale, UnknownScaleError, parse_scale
from dsp.scales import all_scales


@pytest.mark.parametrize(
    ("text", "name", "hub", "notes"),
    [
        ("A minor pentatonic", "A minor pentatonic", "A Minor (Pentatonic)", "A C D E G"),
        ("A Minor (Pentatonic)", "A minor pentatonic", "A Minor (Pentatonic)", "A C D E G"),
        ("am pentatonic", "A minor pentatonic", "A Minor (Pentatonic)", "A C D E G"),
        ("E blues", "E blues", "E Blues", "E G A A# B D"),
        ("D dorian", "D dorian", "D Dorian", "D E F G A B C"),
        ("F# harmonic minor", "F# harmonic minor", "F# Minor (Harmonic)", "F# G# A B C# D F"),
        ("Bb major", "Bb major", "Bb Major (Natural)", "Bb C D Eb F G A"),
        ("C Major (Natural)", "C major", "C Major (Natural)", "C D E F G A B"),
        ("A minor", "A natural minor", "A Minor (Natural)", "A B C D E F G"),
        ("a natural minor", "A natural minor", "A Minor (Natural)", "A B C D E F G"),
        ("Am", "A natural minor", "A Minor (Natural)", "A B C D E F G"),
        ("G major pentatonic", "G major pentatonic", "G Major (Pentatonic)", "G A B D E"),
        ("C melodic minor", "C melodic minor", "C Minor (Melodic)", "C D Eb F G A B"),
        ("e phrygian", "E phrygian", "E Phrygian", "E F G A B C D"),
        ("B locrian", "B locrian", "B Locrian", "B C D E F G A"),
        ("F lydian", "F lydian", "F Lydian", "F G A B C D E"),
        ("g MIXOLYDIAN", "G mixolydian", "G Mixolydian", "G A B C D E F"),
        ("C chromatic", "C chromatic", "C Chromatic", "C C# D D# E F F# G G# A A# B"),
        ("D ionian", "D ionian", "D Ionian", "D E F# G A B C#"),
        ("E aeolian", "E aeolian", "E Aeolian", "E F# G A B C D"),
    ],
)
def test_parses_what_people_and_the_hub_write(text: str, name: str, hub: str, notes: str) -> None:
    scale = parse_scale(text)
    assert scale.name == name
    assert scale.hub_name == hub
    assert " ".join(scale.note_names()) == notes
    assert parse_scale(scale.hub_name) == scale


def test_hub_columns() -> None:
    scale = parse_scale("A minor pentatonic")
    assert scale.hub_type == "pentatonic"
    assert scale.size == 5
    assert parse_scale("E blues").hub_type == "blues"
    assert parse_scale("E blues").size == 6
    assert parse_scale("C chromatic").size == 12


def test_membership_and_degrees() -> None:
    scale = parse_scale("A minor pentatonic")
    assert scale.contains(57) and scale.contains(45) and scale.contains(60)  # A3, A2, C4
    assert not scale.contains(59)  # B3
    assert scale.degree_of(64) == 3  # E is the 4th note of A C D E G
    assert scale.degree_of(59) is None


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("A minor pentatonic", "Am pent"),
        ("G major", "G maj"),
        ("D dorian", "D dor"),
        ("E blues", "E blues"),
        ("A minor", "Am"),
        ("F# harmonic minor", "F#m harm"),
        ("C melodic minor", "Cm mel"),
        ("Bb major pentatonic", "Bb maj pent"),
        ("E phrygian", "E phryg"),
        ("F lydian", "F lyd"),
        ("G mixolydian", "G mixo"),
        ("E aeolian", "E aeol"),
        ("B locrian", "B loc"),
        ("D ionian", "D ion"),
        ("C chromatic", "C chrom"),
    ],
)
def test_short_names_read_as_a_guitarist_writes_them(text: str, short: str) -> None:
    assert parse_scale(text).short_name == short


def test_every_scale_has_its_own_short_name_of_at_most_11_characters() -> None:
    scales = all_scales()
    shorts = {s.short_name for s in scales}
    assert len(shorts) == len(scales)  # no two scales abbreviate alike
    assert max(len(s) for s in shorts) == 11  # "C# maj pent": the header's budget
    for scale in scales:
        assert scale.short_name.startswith(scale.spelled_root)
        assert parse_scale(scale.short_name) == scale  # what the screen shows reads back


@pytest.mark.parametrize(
    "bad", ["", "   ", "H minor", "A minr", "pentatonic", "A minor pentatonic blues", "X"]
)
def test_unknown_scale_lists_the_valid_forms(bad: str) -> None:
    with pytest.raises(UnknownScaleError) as info:
        parse_scale(bad)
    message = str(info.value)
    assert "minor pentatonic" in message and "harmonic minor" in message
    assert "A Minor (Pentatonic)" in message


def test_every_type_is_reachable_from_every_root() -> None:
    scales = all_scales()
    assert len(scales) == 12 * len(SCALE_TYPES) == 180
    assert len({(s.root_pc, s.type.key) for s in scales}) == 180


@given(st.sampled_from(all_scales()), st.sampled_from(["name", "hub_name"]), st.booleans())
def test_round_trip_any_case(scale: Scale, form: str, upper: bool) -> None:
    text = getattr(scale, form)
    text = text.upper() if upper else text.lower()
    parsed = parse_scale(text)
    assert parsed.root_pc == scale.root_pc
    assert parsed.pitch_classes == scale.pitch_classes
    assert parsed.hub_type == scale.hub_type
