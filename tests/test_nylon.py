"""Single notes of a nylon-string guitar and its kin (``bench.nylon``): one pluck, one note.

A classical guitar's note rings for seconds: its two polarisations beat ever more deeply as
it fades, and the open strings it sets ringing through the bridge outlast it. Neither is a
new note. The takes are rendered after a synthetic room here (the benchmark puts them after
the real notes' rooms), so these tests need no recordings.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import evalset, nylon
from tests.test_tracker import finals

ROOM = (1e-3 * np.random.default_rng(1).standard_normal(round(nylon.LEAD_S * nylon.SR))).astype(
    np.float32
)


def _take(way: str, midi: int, seed: int) -> nylon.Take:
    return nylon.render(way, midi, seed, rooms=[ROOM])


def test_a_take_is_deterministic_and_starts_at_its_label() -> None:
    take = _take("nylon", 45, 0)
    again = _take("nylon", 45, 0)
    assert np.array_equal(take.audio, again.audio)
    assert take.audio.dtype == np.float32
    assert take.onset_s == pytest.approx(nylon.LEAD_S)
    lead = round(take.onset_s * nylon.SR)
    gain = take.audio[:lead] / ROOM  # the room, at its level, up to the pluck
    assert np.allclose(gain, gain[0], rtol=1e-5) and 0.5 <= gain[0] <= 2.0
    after = take.audio[lead : lead + nylon.SR // 10]
    assert np.sqrt(np.mean(np.square(after))) > 10 * np.sqrt(np.mean(np.square(ROOM)))
    assert not np.array_equal(take.audio, _take("nylon", 45, 1).audio)


def _envelope_db(x: np.ndarray, hz: float, seconds: float = 0.05) -> np.ndarray:
    """The level at ``hz`` (a 3 Hz-wide band) in windows of ``seconds``."""
    n = round(seconds * nylon.SR)
    frames = x[: len(x) // n * n].reshape(-1, n).astype(np.float64)
    t = np.arange(n) / nylon.SR
    probe = np.exp(-2j * np.pi * hz * t) * np.hanning(n)
    return 20.0 * np.log10(np.abs(frames @ probe) + 1e-12)


def test_the_polarisations_beat() -> None:
    """The fundamental's level swings several dB at 0.5–3 Hz as it decays."""
    take = _take("beating", 45, 0)
    body = take.audio[round(take.onset_s * nylon.SR) :]
    level = _envelope_db(body, 110.0)
    wobble = level - np.convolve(level, np.ones(21) / 21, mode="same")
    assert np.ptp(wobble[10:-10]) > 6.0


def test_a_sympathetic_string_rises_after_the_pluck() -> None:
    """Another open string's fundamental grows for a while after the pluck, far under the
    note's own."""
    take = _take("sympathetic", 64, 0)
    body = take.audio[round(take.onset_s * nylon.SR) :]
    hz = [440.0 * 2 ** ((m - 69) / 12) for m in nylon.OPEN_STRINGS]
    own = _envelope_db(body, hz[-1], 0.1)
    rising = [
        (level[5:9].max() - level[0], own[:2].max() - level.max())
        for level in (_envelope_db(body, f, 0.1) for f in hz[:-1])
    ]
    grown, under = max(rising)
    assert grown > 6.0 and under > 15.0


@pytest.mark.parametrize(
    ("way", "midi", "seed"),
    [
        # Beating deepening as the note fades: the dip-and-rise test took a beat for a
        # re-pick (a second E2 ... G3 1.4–1.9 s after the pluck, 19–32 dB under its peak).
        ("nylon", 55, 1),
        ("sympathetic", 64, 0),
        # A sympathetic open string outlasting a higher note: read as a legato note.
        ("weak-fundamental", 55, 1),
        ("weak-fundamental", 59, 0),
        # A quiet note near the gate, where aubio's specdiff sees a few bins: a beat moving
        # one of them read as a re-attack.
        ("quiet", 50, 1),
        ("quiet", 50, 2),
    ],
)
def test_one_pluck_rings_out_as_one_note(way: str, midi: int, seed: int) -> None:
    take = _take(way, midi, seed)
    notes = finals(take.audio)
    assert [(round(n.onset_s, 2), n.midi) for n in notes] == [(round(take.onset_s, 2), midi)]


@pytest.mark.skipif(
    not (evalset.REAL_NOTES / "labels.csv").is_file(), reason="the real notes' rooms are absent"
)
@pytest.mark.parametrize(("way", "midi", "seed"), [("boom", 64, 0), ("weak-fundamental", 59, 0)])
def test_what_rings_on_after_a_note_faded_into_the_room_is_no_note(
    way: str, midi: int, seed: int
) -> None:
    """After the real rooms: the note sank into the room while an open string it set
    ringing still sounded over the gate, read surely (G2, A2). That string had been let
    through as a note the faded one "rang into"."""
    take = nylon.render(way, midi, seed)
    notes = finals(take.audio)
    assert [(round(n.onset_s, 2), n.midi) for n in notes] == [(round(take.onset_s, 2), midi)]
