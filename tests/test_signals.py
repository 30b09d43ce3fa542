"""The synthetic signals must be right before anything is measured against them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import signals
from tests.signals import SR


def fft_peak_hz(x: np.ndarray, f_expected: float, *, sr: int = SR) -> float:
    """Frequency of the strongest peak within ±3 % of ``f_expected`` (interpolated)."""
    seg = x.astype(np.float64) * np.hanning(len(x))
    nfft = 1 << int(np.ceil(np.log2(len(seg) * 16)))
    mag = np.abs(np.fft.rfft(seg, nfft))
    bin_hz = sr / nfft
    lo, hi = int(f_expected * 0.97 / bin_hz), int(f_expected * 1.03 / bin_hz) + 1
    i = lo + int(np.argmax(mag[lo:hi]))
    a, b, c = np.log(mag[i - 1 : i + 2])
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * bin_hz


def cents_between(f: float, ref: float) -> float:
    return float(1200 * np.log2(f / ref))


def test_conversions() -> None:
    assert signals.dbfs_to_amp(0.0) == 1.0
    assert signals.dbfs_to_amp(-6.0) == pytest.approx(0.501, abs=1e-3)
    assert signals.cents_to_ratio(1200) == pytest.approx(2.0)
    assert signals.cents_to_ratio(-100) == pytest.approx(2 ** (-1 / 12))


def test_sine_level_length_and_pitch() -> None:
    x = signals.sine(82.41, 2.0, amp_dbfs=-12.0)
    assert x.dtype == np.float32
    assert len(x) == 2 * SR
    assert np.max(np.abs(x)) == pytest.approx(signals.dbfs_to_amp(-12.0), rel=1e-3)
    rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-12.0 - 3.01, abs=0.02)
    assert cents_between(fft_peak_hz(x, 82.41), 82.41) == pytest.approx(0.0, abs=0.1)


def test_silence_is_digital_zero() -> None:
    x = signals.silence(0.5)
    assert len(x) == SR // 2
    assert not np.any(x)


@pytest.mark.parametrize("freq", [73.42, 110.0, 329.63, 987.77])
def test_karplus_strong_is_in_tune(freq: float) -> None:
    x = signals.karplus_strong(freq, 2.0, seed=3)
    assert np.max(np.abs(x)) == pytest.approx(signals.dbfs_to_amp(-6.0), rel=1e-3)
    steady = x[int(0.2 * SR) : int(1.8 * SR)]
    assert abs(cents_between(fft_peak_hz(steady, freq), freq)) < 1.0


@settings(max_examples=15, deadline=None)
@given(
    freq=st.floats(min_value=70.0, max_value=1400.0),
    brightness=st.floats(min_value=0.0, max_value=1.0),
)
def test_karplus_strong_tuning_holds_across_the_neck(freq: float, brightness: float) -> None:
    x = signals.karplus_strong(freq, 1.0, brightness=brightness)
    steady = x[int(0.05 * SR) : int(0.8 * SR)]
    assert abs(cents_between(fft_peak_hz(steady, freq), freq)) < 1.0


def test_karplus_strong_is_seeded_and_decays() -> None:
    a = signals.karplus_strong(196.0, 1.5, seed=7)
    b = signals.karplus_strong(196.0, 1.5, seed=7)
    c = signals.karplus_strong(196.0, 1.5, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)

    def rms(seg: np.ndarray) -> float:
        return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))

    assert rms(a[-SR // 10 :]) < 0.5 * rms(a[: SR // 10])


def test_harmonic_tone_partials_and_decay() -> None:
    x = signals.harmonic_tone(220.0, 1.0, harmonics=(1.0, 0.5), decay_s=0.3)
    assert np.max(np.abs(x)) == pytest.approx(signals.dbfs_to_amp(-6.0), rel=1e-3)
    spectrum = np.abs(np.fft.rfft(x[: SR // 2] * np.hanning(SR // 2)))
    freqs = np.fft.rfftfreq(SR // 2, 1 / SR)
    assert freqs[np.argmax(spectrum)] == pytest.approx(220.0, abs=2.0)
    assert spectrum[np.argmin(np.abs(freqs - 660.0))] < 1e-3 * spectrum.max()  # no 3rd partial
    assert np.max(np.abs(x[-SR // 10 :])) < 0.1 * np.max(np.abs(x[: SR // 10]))


def test_clicks_start_on_their_samples() -> None:
    times = [0.1, 0.5, 1.2345]
    x = signals.clicks(times, 1.5, amp_dbfs=-10.0)
    starts = [round(t * SR) for t in times]
    for i in starts:
        assert not np.any(x[i - 100 : i]), "nothing just before a click"
        assert x[i] == pytest.approx(signals.dbfs_to_amp(-10.0), rel=1e-5)
        assert np.any(x[i + 1 : i + 96]), "a click lasts about 2 ms"
        assert not np.any(x[i + 97 : i + 200])
    assert np.count_nonzero(np.abs(x) > 0.5 * np.max(np.abs(x))) >= len(times)


def test_clicks_outside_the_buffer_are_dropped() -> None:
    x = signals.clicks([-0.1, 0.2, 5.0], 1.0)
    nonzero = np.flatnonzero(x)
    assert nonzero[0] == round(0.2 * SR)
    assert nonzero[-1] < round(0.2 * SR) + 96


def test_white_noise_rms_level_and_seed() -> None:
    x = signals.white_noise(1.0, amp_dbfs=-50.0, seed=1)
    rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-50.0, abs=0.01)
    np.testing.assert_array_equal(x, signals.white_noise(1.0, amp_dbfs=-50.0, seed=1))


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_is_mains_and_harmonics(mains: float) -> None:
    x = signals.hum(1.0, mains_hz=mains, amp_dbfs=-40.0)
    assert np.max(np.abs(x)) == pytest.approx(signals.dbfs_to_amp(-40.0), rel=1e-3)
    spectrum = np.abs(np.fft.rfft(x))  # 1 s: bins are exactly 1 Hz
    strongest = set(np.argsort(spectrum)[-3:].tolist())
    assert strongest == {round(mains), round(2 * mains), round(3 * mains)}


def test_sequence_places_notes() -> None:
    notes = [
        (0.25, 110.0, 0.5, "sine"),
        (1.0, 220.0, 0.4, "harmonic"),
        (1.6, 329.63, 0.6, "ks"),
    ]
    x = signals.sequence(notes)
    assert len(x) == round((1.6 + 0.6 + 0.25) * SR)
    for onset, _, dur, _ in notes:
        i, j = round(onset * SR), round((onset + dur) * SR)
        assert not np.any(x[i - 200 : i]), "silence before each note"
        assert np.max(np.abs(x[i : i + SR // 50])) > 0.1
        assert np.max(np.abs(x[j - 10 : j])) < 0.05, "notes fade out, no end click"
    ks = x[round(1.7 * SR) : round(2.15 * SR)]
    assert abs(cents_between(fft_peak_hz(ks, 329.63), 329.63)) < 1.0


def test_sequence_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="sine, harmonic, ks"):
        signals.sequence([(0.0, 440.0, 0.1, "square")])  # type: ignore[list-item]
