"""Note math with known answers and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsp import InvalidSettingError, Tuning, UnknownNoteError, hz_to_midi, midi_to_hz, note_name
from dsp.notes import cents_between, parse_note, parse_pitch_class


@pytest.mark.parametrize(
    ("name", "midi", "hz"),
    [
        ("E2", 40, 82.41),
        ("A2", 45, 110.0),
        ("D3", 50, 146.83),
        ("G3", 55, 196.0),
        ("B3", 59, 246.94),
        ("E4", 64, 329.63),
        ("A4", 69, 440.0),
        ("C2", 36, 65.41),
        ("D2", 38, 73.42),
    ],
)
def test_open_strings_and_drop_tunings(name: str, midi: int, hz: float) -> None:
    assert note_name(midi) == name
    assert parse_note(name) == midi
    assert midi_to_hz(midi) == pytest.approx(hz, abs=0.01)
    assert hz_to_midi(hz) == pytest.approx(midi, abs=0.001)


def test_flats_and_sharps_spellings() -> None:
    assert note_name(70) == "A#4"
    assert note_name(70, flats=True) == "Bb4"
    assert parse_note("Bb3") == parse_note("A#3") == 58
    assert parse_note("C-1") == 0
    assert parse_pitch_class("f♯") == 6
    assert parse_pitch_class("Cb") == 11


def test_nearest_note_and_cents_are_signed() -> None:
    tuning = Tuning()
    # D3 bent 60 cents up is D#3 at −40: the nearest semitone wins.
    bent = midi_to_hz(50.6)
    assert tuning.nearest(bent) == (51, pytest.approx(-40.0, abs=1e-6))
    assert tuning.nearest(midi_to_hz(64.1))[1] == pytest.approx(10.0, abs=1e-6)
    assert cents_between(880.0, 440.0) == pytest.approx(1200.0)


def test_reference_pitch_moves_every_note() -> None:
    assert Tuning(432.0).hz_to_midi(432.0) == pytest.approx(69.0)
    assert Tuning(415.0).midi_to_hz(69) == pytest.approx(415.0)
    with pytest.raises(InvalidSettingError, match="between 415 and 466"):
        Tuning(400.0)


@pytest.mark.parametrize("bad", ["H2", "E", "", "Es2", "E#x"])
def test_bad_note_names_are_clear_errors(bad: str) -> None:
    with pytest.raises(UnknownNoteError, match=r"e\.g\."):
        parse_note(bad)


def test_non_positive_frequency_is_rejected() -> None:
    with pytest.raises(InvalidSettingError, match="positive"):
        hz_to_midi(0.0)


@given(st.integers(min_value=0, max_value=127))
def test_name_round_trips(midi: int) -> None:
    assert parse_note(note_name(midi)) == midi
    assert parse_note(note_name(midi, flats=True)) == midi


@given(
    st.floats(min_value=20.0, max_value=5000.0),
    st.floats(min_value=415.0, max_value=466.0),
)
def test_hz_midi_round_trip_and_cents_range(freq: float, a4: float) -> None:
    tuning = Tuning(a4)
    assert tuning.midi_to_hz(tuning.hz_to_midi(freq)) == pytest.approx(freq, rel=1e-9)
    midi, cents = tuning.nearest(freq)
    assert -50.0 <= cents <= 50.0
    assert math.isclose(tuning.midi_to_hz(midi + cents / 100.0), freq, rel_tol=1e-9)
