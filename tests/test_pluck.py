"""The plucked-string synthesiser: it sounds exactly what it is asked to, and plays like a string.

The benchmark takes the requested pitch as its ground truth, so the pitch is measured here
with an estimator of this file's own — not the tracker the benchmark grades — that reads
the period off the waveform as a tuner does: YIN's difference function finds the period
roughly, then its minimum near a lag of ~0.1 s (many periods) pins it to a few
thousandths of a sample per period.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from bench.pluck import StringEvent, Voice, midi_to_hz, render_line, render_note, t60_at

SR = 48_000


def _period(
    x: np.ndarray, t0: float, t1: float, *, fmin: float = 60.0, fmax: float = 1500.0
) -> float:
    """The period (in samples) of ``x`` between ``t0`` and ``t1`` seconds."""
    seg = x[round(t0 * SR) : round(t1 * SR)].astype(np.float64)
    max_lag, min_lag = int(SR / fmin) + 1, int(SR / fmax)
    width = len(seg) - max_lag
    head = seg[:width]
    size = 1 << (len(seg) + width).bit_length()
    spectrum = np.fft.rfft(seg, size) * np.conj(np.fft.rfft(head, size))
    corr = np.fft.irfft(spectrum, size)[: max_lag + 1]
    energy = np.concatenate([[0.0], np.cumsum(seg * seg)])
    lags = np.arange(max_lag + 1)
    d = head @ head + energy[lags + width] - energy[lags] - 2.0 * corr
    cmnd = np.ones_like(d)
    cmnd[1:] = d[1:] * lags[1:] / np.maximum(np.cumsum(d[1:]), 1e-30)
    below = [t for t in range(min_lag, max_lag) if cmnd[t] < 0.15 and cmnd[t] <= cmnd[t + 1]]
    tau = below[0] if below else min_lag + int(np.argmin(cmnd[min_lag:max_lag]))
    period = tau + _vertex(*d[tau - 1 : tau + 2])
    # Refine at ever longer lags (×3 each time, so the previous estimate's error times
    # the multiple stays well inside the ±3-sample search).
    multiple = 1
    while multiple * period < 4000:
        multiple = min(3 * multiple, math.ceil(4800 / period))
        centre = round(multiple * period)
        n = len(seg) - centre - 4
        near = range(centre - 3, centre + 4)
        vals = [float(np.sum((seg[:n] - seg[lag : lag + n]) ** 2)) for lag in near]
        k = 1 + int(np.argmin(vals[1:-1]))
        period = (near[k] + _vertex(*vals[k - 1 : k + 2])) / multiple
    return period


def _vertex(y0: float, y1: float, y2: float) -> float:
    """Offset of a parabola's vertex through three equally spaced points from the middle."""
    den = y0 - 2.0 * y1 + y2
    return 0.5 * (y0 - y2) / den if den else 0.0


def _cents_off(x: np.ndarray, midi: float, t0: float, t1: float) -> float:
    return 1200.0 * math.log2(SR / _period(x, t0, t1) / midi_to_hz(midi))


def _rms_db(x: np.ndarray, t0: float, t1: float) -> float:
    seg = x[round(t0 * SR) : round(t1 * SR)].astype(np.float64)
    return 10.0 * math.log10(float(np.mean(seg * seg)) + 1e-30)


# E2 to E6, the guitar's range, at fractional detunes, across the three bodies.
PITCHES = [
    (40.0, "acoustic"),
    (40.37, "electric"),
    (42.88, "classical"),
    (45.5, "acoustic"),
    (47.81, "electric"),
    (52.13, "classical"),
    (55.96, "acoustic"),
    (59.5, "electric"),
    (64.25, "classical"),
    (67.7, "acoustic"),
    (71.6, "electric"),
    (76.42, "classical"),
    (79.05, "acoustic"),
    (81.9, "electric"),
    (84.3, "classical"),
    (86.77, "acoustic"),
    (88.0, "electric"),
]


@pytest.mark.parametrize(("midi", "body"), PITCHES)
def test_a_plucked_note_sounds_exactly_the_requested_pitch(midi: float, body: str) -> None:
    x = render_note(midi, 0.9, Voice(body=body), sr=SR)
    assert abs(_cents_off(x, midi, 0.2, 0.8)) <= 1.0


@pytest.mark.parametrize("midi", [45.3, 64.0, 81.5])
def test_beating_polarisations_keep_the_mean_pitch(midi: float) -> None:
    # Each polarisation is a cent off; only the mean may be read.
    x = render_note(midi, 0.9, Voice(beat_cents=2.0), sr=SR)
    assert abs(_cents_off(x, midi, 0.2, 0.8)) <= 0.25


@pytest.mark.parametrize("midi", [40.0, 57.0, 76.0])
def test_a_pluck_decays_with_the_requested_t60(midi: float) -> None:
    voice = Voice(t60_low_s=4.0, t60_high_s=1.5)
    t60 = t60_at(midi_to_hz(midi), voice.t60_low_s, voice.t60_high_s)
    t_end = 0.3 + 0.6 * t60  # 36 dB of decay: far above the tail, past the attack
    x = render_line([StringEvent(0.0, midi, "pluck")], t_end + 0.1, voice, sr=SR)
    starts = np.arange(0.3, t_end, 0.05)
    slope = np.polyfit(starts, [_rms_db(x, t, t + 0.05) for t in starts], 1)[0]
    assert -60.0 / slope == pytest.approx(t60, rel=0.3)


@pytest.mark.parametrize(
    ("first", "second", "kind"),
    [(60.0, 62.3, "hammer"), (64.0, 62.0, "pull"), (45.0, 47.0, "hammer")],
)
def test_hammer_and_pull_change_pitch_without_a_level_jump(
    first: float, second: float, kind: str
) -> None:
    at = 0.3
    events = [StringEvent(0.0, first, "pluck"), StringEvent(at, second, kind)]
    x = render_line(events, at + 1.0, Voice(), sr=SR)
    assert abs(_cents_off(x, first, 0.05, at - 0.01)) <= 2.0
    assert abs(_cents_off(x, second, at + 0.2, at + 0.8)) <= 2.0
    assert abs(_rms_db(x, at, at + 0.03) - _rms_db(x, at - 0.03, at)) <= 3.0


def test_a_hammer_on_a_muted_string_still_sounds() -> None:
    events = [
        StringEvent(0.0, 55.0, "pluck"),
        StringEvent(0.3, 55.0, "mute"),
        StringEvent(0.5, 57.0, "hammer"),
    ]
    x = render_line(events, 1.2, Voice(), sr=SR)
    assert _rms_db(x, 0.5, 0.55) - _rms_db(x, 0.0, 0.05) > -25.0
    assert abs(_cents_off(x, 57.0, 0.6, 1.1)) <= 1.0


@pytest.mark.parametrize(
    ("kind", "start", "target", "glide_s"),
    [("slide", 57.0, 60.4, 0.05), ("slide", 52.0, 64.0, 0.08), ("bend", 62.0, 64.0, 0.1)],
)
def test_slides_and_bends_land_on_their_target(
    kind: str, start: float, target: float, glide_s: float
) -> None:
    events = [StringEvent(0.0, start, "pluck"), StringEvent(0.4, target, kind, glide_s=glide_s)]
    x = render_line(events, 1.4, Voice(), sr=SR)
    assert abs(_cents_off(x, target, 0.7, 1.3)) <= 1.0
    # No new excitation: the glide does not make the string louder.
    assert _rms_db(x, 0.4 + glide_s, 0.45 + glide_s) <= _rms_db(x, 0.35, 0.4) + 1.0


@pytest.mark.parametrize("midi", [40.0, 60.0, 84.0])
def test_replucking_the_same_pitch_raises_the_energy_each_time(midi: float) -> None:
    times = (0.0, 0.5, 1.0, 1.5)
    x = render_line([StringEvent(t, midi, "pluck", 0.7) for t in times], 2.0, Voice(), sr=SR)
    for t in times[1:]:
        assert _rms_db(x, t, t + 0.03) - _rms_db(x, t - 0.03, t) >= 6.0


@pytest.mark.parametrize("midi", [40.0, 60.0, 84.0])
def test_palm_muted_notes_die_within_0_4_s(midi: float) -> None:
    x = render_note(midi, 1.0, Voice(palm_mute=True), sr=SR)
    assert _rms_db(x, 0.4, 0.45) - _rms_db(x, 0.0, 0.05) <= -40.0


@pytest.mark.parametrize("midi", [40.0, 60.0, 84.0])
def test_a_mute_damps_the_string_within_20_ms(midi: float) -> None:
    x = render_note(midi, 0.5, Voice(), sr=SR)
    assert _rms_db(x, 0.52, 0.54) - _rms_db(x, 0.46, 0.5) <= -30.0


@pytest.mark.parametrize("body", ["acoustic", "electric", "classical"])
def test_a_velocity_0_8_pluck_peaks_near_minus_8_dbfs(body: str) -> None:
    peaks = [
        float(np.max(np.abs(render_note(m, 0.5, Voice(body=body), sr=SR)))) for m in (40, 64, 88)
    ]
    assert all(0.2 <= p <= 0.6 for p in peaks), peaks


def _busy_line() -> list[StringEvent]:
    rng = np.random.default_rng(7)
    kinds = ("pluck", "hammer", "pull", "slide", "bend", "pluck", "mute")
    events, t = [], 0.02
    while t < 5.8:
        kind = kinds[int(rng.integers(len(kinds)))]
        glide = 0.04 if kind == "slide" else 0.08 if kind == "bend" else 0.0
        events.append(
            StringEvent(t, float(rng.uniform(40, 88)), kind, float(rng.uniform(0.5, 1.0)), glide)
        )
        t += float(rng.uniform(0.05, 0.3))
    return events


def test_a_line_is_deterministic_finite_float32_and_unclipped() -> None:
    events = _busy_line()
    voice = Voice(beat_cents=1.0)
    a = render_line(events, 6.0, voice, sr=SR, seed=3)
    b = render_line(events, 6.0, voice, sr=SR, seed=3)
    c = render_line(events, 6.0, voice, sr=SR, seed=4)
    assert a.dtype == np.float32 and a.shape == (6 * SR,)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.isfinite(a))
    assert 0.1 < float(np.max(np.abs(a))) < 1.0


def test_silence_before_the_first_event_and_events_past_the_end_are_ignored() -> None:
    x = render_line(
        [StringEvent(0.5, 60.0, "pluck"), StringEvent(2.0, 62.0, "pluck")], 1.0, Voice()
    )
    assert not np.any(x[: round(0.5 * SR)])
    assert float(np.max(np.abs(x[round(0.5 * SR) :]))) > 0.1


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Voice(pick_position=0.7), "pick_position"),
        (lambda: Voice(brightness=1.5), "brightness"),
        (lambda: Voice(body="banjo"), "body"),  # type: ignore[arg-type]
        (lambda: StringEvent(0.0, 60.0, "strum"), "kind"),  # type: ignore[arg-type]
        (lambda: StringEvent(0.0, 130.0, "pluck"), "midi"),
        (lambda: StringEvent(0.0, 60.0, "pluck", velocity=2.0), "velocity"),
        (lambda: render_line([], 0.0, Voice()), "duration_s"),
    ],
)
def test_bad_settings_name_the_setting(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()
