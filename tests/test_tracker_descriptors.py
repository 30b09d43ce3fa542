"""The tracker's onset descriptors from one shared spectrum are the ones aubio computes.

``specdiff`` and ``specflux`` once ran as two ``aubio.onset`` objects, each with its own
phase vocoder; the tracker now takes both from one ``aubio.pvoc`` per hop (issue 9: the
analyze path ≥ 100× real time). specdiff is aubio's own descriptor on that spectrum, so
it is the same to the bit; specflux's whitening and compression run in numpy, whose log
may differ from C's ``logf`` in the last bit.
"""

from __future__ import annotations

import aubio
import numpy as np
import pytest

from dsp import NoteTracker, TrackerConfig, hops_of
from dsp.tracker import HOP_SIZE
from dsp.tracking.constants import _DECIMATION, _HFC_HOP, _ONSET_WINDOW
from dsp.tracking.hfc import _HfcOnsets
from tests import signals


def _plucks(rate: int) -> np.ndarray:
    """Re-picked and changing notes over a little noise: descriptors of every size."""
    notes = [signals.karplus_strong(f, 0.35, sr=rate) for f in (82.4, 82.4, 196.0, 329.6, 659.3)]
    audio = np.concatenate([signals.silence(0.1, sr=rate), *notes, signals.silence(0.2, sr=rate)])
    rng = np.random.default_rng(1)
    return (audio + 1e-4 * rng.standard_normal(audio.size)).astype(np.float32)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_shared_spectrum_gives_aubios_specdiff_and_specflux(rate: int) -> None:
    half_rate = rate // _DECIMATION
    hop = HOP_SIZE // _DECIMATION
    specdiff = aubio.onset("specdiff", _ONSET_WINDOW, hop, half_rate)
    specflux = aubio.onset("specflux", _ONSET_WINDOW, hop, half_rate)
    tracker = NoteTracker(TrackerConfig(sample_rate=rate))
    pair = np.full(_DECIMATION, 1.0 / _DECIMATION, dtype=np.float32)
    fluxes = []
    for k, (samples, _) in enumerate(hops_of(_plucks(rate))):
        tracker.process(samples)
        half = np.dot(samples.astype(np.float32).reshape(-1, _DECIMATION), pair)
        specdiff(half)
        specflux(half)
        assert tracker._novelty[-1] == specdiff.get_descriptor(), k
        fluxes.append((tracker._fluxes[-1], specflux.get_descriptor()))
    ours, theirs = np.array(fluxes).T
    assert theirs.max() > 100.0 * np.median(theirs)  # the plucks were heard
    # The same float32 steps but the log: within a few units in the last place.
    assert np.allclose(ours, theirs, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_hfc_onsets_computed_when_asked_are_aubios(rate: int) -> None:
    """``_HfcOnsets`` keeps the audio and runs aubio's hfc peak picker only when asked
    (and every 64 hops): asked on some hops, and on every hop aubio found an onset, it
    gives aubio's answer and aubio's onset time, never later than ``latest`` said."""
    half_rate = rate // _DECIMATION
    hop = HOP_SIZE // _DECIMATION
    theirs = aubio.onset("hfc", 2 * _ONSET_WINDOW, hop, half_rate)
    theirs.set_silence(-90.0)
    ours = _HfcOnsets(half_rate)
    pair = np.full(_DECIMATION, 1.0 / _DECIMATION, dtype=np.float32)
    rng = np.random.default_rng(7)
    audio = np.concatenate([_plucks(rate), signals.silence(0.05, sr=rate), _plucks(rate)])
    asked = onsets = 0
    for k, (samples, _) in enumerate(hops_of(audio)):
        half = np.dot(samples.astype(np.float32).reshape(-1, _DECIMATION), pair)
        found = bool(theirs(half)[0] > 0)
        ours.push(half)
        if found or rng.random() < 0.3:
            asked += 1
            onsets += found
            latest = ours.latest()
            assert ours.onset() == found, k
            if found:  # (before its first onset aubio's unsigned time wraps round)
                assert ours.last() == theirs.get_last(), k
                assert ours.last() <= latest, k  # what the tracker tests before asking
    assert onsets >= 8 and asked > 3 * onsets


class _CountedHfc(_HfcOnsets):
    """``_HfcOnsets`` counting how its lazy looks went (see _resume)."""

    def __init__(self, rate: int) -> None:
        super().__init__(rate)
        self.resumed = self.refused = 0

    def _resume(self, late: np.ndarray, k: int) -> bool:
        done = super()._resume(late, k)
        self.resumed += done
        self.refused += not done
        return done


@pytest.mark.parametrize("rate", [44100, 48000])
def test_hfc_asked_rarely_is_hfc_asked_every_hop(rate: int) -> None:
    """Asked after many hops, ``_HfcOnsets`` runs the peak picker over the last few only
    when that is exact (see _resume): asked rarely, it answers as when asked on every hop
    (its onsets and their times), through plucks, and through a rattle of clicks whose
    peaks come too often to skip any hop (then it runs over all of them)."""
    half_rate = rate // _DECIMATION
    pair = np.full(_DECIMATION, 1.0 / _DECIMATION, dtype=np.float32)
    rng = np.random.default_rng(11)
    times = np.arange(1, 40) * 5 * _HFC_HOP / half_rate  # a click every 5 hops
    rattle = signals.clicks(times, 2.0, sr=rate, amp_dbfs=-20.0) + signals.white_noise(
        2.0, sr=rate, amp_dbfs=-50.0
    )
    audio = np.concatenate([_plucks(rate), rattle, _plucks(rate), rattle])
    every, rarely = _HfcOnsets(half_rate), _CountedHfc(half_rate)
    compared = onsets = 0
    for k, (samples, _) in enumerate(hops_of(audio)):
        half = np.dot(samples.astype(np.float32).reshape(-1, _DECIMATION), pair)
        every.push(half)
        rarely.push(half)
        found = every.onset()
        if (found and rng.random() < 0.3) or k % 25 == 0:  # (a look at the last 25 hops)
            compared += 1
            onsets += found
            assert rarely.onset() == found, k
            if found:
                assert rarely.last() == every.last(), k
    assert onsets >= 10 and compared - onsets >= 10
    assert rarely.resumed >= 10 and rarely.refused >= 1
