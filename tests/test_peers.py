"""The benchmark's peers against a signal whose answer is known: three plucked tones.

Each peer must find the three onsets and name the notes right, and hear nothing in
silence; a peer that fails here would make the benchmark's comparison meaningless.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from bench.peers import PEERS, Peer, PeerNote, PeerUnavailableError, librosa_pyin

SR = 48_000
LEAD_S = 0.3  # silence before the first pluck
GAP_S = 0.5  # from one pluck to the next
# A2, G3 and E4 (330 Hz is +2 cents from E4's 329.63 Hz).
TONES = ((110.0, 45), (196.0, 55), (330.0, 64))
ONSETS_S = tuple(LEAD_S + i * GAP_S for i in range(len(TONES)))
ONSET_TOLERANCE_S = 0.030
CENTS_TOLERANCE = 10.0

HAS_LIBROSA = importlib.util.find_spec("librosa") is not None
PEER_PARAMS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            name.startswith("librosa") and not HAS_LIBROSA, reason="librosa not installed"
        ),
    )
    for name in PEERS
]


def plucks(freqs: list[float], *, sr: int = SR) -> np.ndarray:
    """Plucked-string-like tones, one every :data:`GAP_S` after :data:`LEAD_S` of silence.

    Five harmonic partials, the higher ones decaying faster (as on a string), with a 1 ms
    attack and a 10 ms release just before the next pluck, peaking near −6 dBFS.
    """
    n_note = int(GAP_S * sr)
    t = np.arange(n_note) / sr
    envelope = np.minimum(t / 0.001, 1.0) * np.minimum((GAP_S - t) / 0.010, 1.0)
    notes = []
    for freq in freqs:
        tone = sum(
            np.sin(2 * np.pi * k * freq * t) * np.exp(-t * (3.0 + 2.0 * k)) / k for k in range(1, 6)
        )
        notes.append(0.5 * envelope * tone / np.max(np.abs(tone)))
    audio = np.concatenate([np.zeros(int(LEAD_S * sr)), *notes, np.zeros(int(0.3 * sr))])
    return audio.astype(np.float32)


@pytest.fixture(scope="module")
def three_plucks() -> np.ndarray:
    return plucks([freq for freq, _ in TONES])


@pytest.mark.parametrize("name", PEER_PARAMS)
def test_peer_finds_and_names_three_plucks(name: str, three_plucks: np.ndarray) -> None:
    peer: Peer = PEERS[name]
    notes = peer(three_plucks, SR)

    assert all(isinstance(note, PeerNote) for note in notes)
    assert len(notes) == len(TONES), notes
    for note, onset_s, (_, midi) in zip(notes, ONSETS_S, TONES, strict=True):
        assert abs(note.onset_s - onset_s) <= ONSET_TOLERANCE_S, (note, onset_s)
        assert note.midi == midi, note
        assert abs(note.cents) < CENTS_TOLERANCE, note


@pytest.mark.parametrize("name", PEER_PARAMS)
def test_peer_hears_nothing_in_silence(name: str) -> None:
    assert PEERS[name](np.zeros(2 * SR, dtype=np.float32), SR) == []


def test_peers_take_mono_only() -> None:
    with pytest.raises(ValueError, match="mono"):
        PEERS["aubio hfc+yinfast"](np.zeros((SR, 2), dtype=np.float32), SR)


def test_librosa_peer_says_how_to_install_librosa(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import librosa` raise ImportError, as if absent.
    monkeypatch.setitem(sys.modules, "librosa", None)
    with pytest.raises(PeerUnavailableError, match="make setup-dev"):
        librosa_pyin(np.zeros(SR, dtype=np.float32), SR)
