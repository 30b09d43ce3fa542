"""Synthetic test signals whose right answers are known exactly.

Like aubio's own tests, the listening engine is checked first against signals built from
their answer: a sine at 82.41 Hz must read as E2, clicks must yield onsets at the samples
they were placed on, silence must yield nothing. Everything here is pure numpy, seeded and
returns float32 mono at ``sr`` (48 kHz by default, the device's capture rate).

Levels: ``amp_dbfs`` is the *peak* level for tones and clicks (a sine at −6 dBFS peaks at
0.501), but the *RMS* level for noise, because a noise floor is quoted that way and
Gaussian noise has no meaningful peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

SR = 48_000

NoteKind = Literal["sine", "harmonic", "ks"]
#: ``(onset_s, freq_hz, dur_s, kind)`` — one note for :func:`sequence`.
SeqNote = tuple[float, float, float, NoteKind]

# Default partial amplitudes of :func:`harmonic_tone`: a dull, guitar-ish spectrum with the
# fundamental strongest, so both f0 and "loudest partial" trackers agree on the answer.
DEFAULT_HARMONICS = (1.0, 0.6, 0.4, 0.25, 0.15)


def dbfs_to_amp(db: float) -> float:
    """Linear amplitude of a level in dBFS (0 dBFS = 1.0)."""
    return float(10.0 ** (db / 20.0))


def cents_to_ratio(c: float) -> float:
    """Frequency ratio of an interval in cents (1200 cents = one octave)."""
    return float(2.0 ** (c / 1200.0))


def _n_samples(seconds: float, sr: int) -> int:
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, not {seconds}")
    return round(seconds * sr)


def _normalise_peak(x: np.ndarray, amp_dbfs: float) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return x.astype(np.float32)
    return (x * (dbfs_to_amp(amp_dbfs) / peak)).astype(np.float32)


def silence(seconds: float, *, sr: int = SR) -> np.ndarray:
    """Digital silence: the engine must report no note and no onset in it."""
    return np.zeros(_n_samples(seconds, sr), dtype=np.float32)


def sine(
    freq_hz: float,
    seconds: float,
    *,
    sr: int = SR,
    amp_dbfs: float = -6.0,
    phase: float = 0.0,
) -> np.ndarray:
    """A pure sine of peak level ``amp_dbfs`` (no fades, so it starts and stops abruptly)."""
    t = np.arange(_n_samples(seconds, sr)) / sr
    # Computed in float64 so the phase of long signals stays exact before the cast.
    return (dbfs_to_amp(amp_dbfs) * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def harmonic_tone(
    freq_hz: float,
    seconds: float,
    *,
    sr: int = SR,
    amp_dbfs: float = -6.0,
    harmonics: Sequence[float] = DEFAULT_HARMONICS,
    decay_s: float | None = None,
) -> np.ndarray:
    """A strictly harmonic tone, peak-normalised to ``amp_dbfs``.

    ``harmonics[k]`` is the amplitude of partial ``k + 1``; partials above Nyquist are
    dropped rather than aliased. ``decay_s`` is an exponential time constant (amplitude
    falls to 1/e after ``decay_s``) that makes the tone fade like a plucked note.
    """
    n = _n_samples(seconds, sr)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for k, a in enumerate(harmonics, start=1):
        if a and k * freq_hz < sr / 2:
            x += a * np.sin(2 * np.pi * k * freq_hz * t)
    if decay_s is not None:
        if decay_s <= 0:
            raise ValueError(f"decay_s must be > 0, not {decay_s}")
        x *= np.exp(-t / decay_s)
    return _normalise_peak(x, amp_dbfs)


def _linear_interp_phase_delay(a: float, w: float) -> float:
    """Phase delay, in samples at angular frequency ``w``, of the FIR ``[1 - a, a]``."""
    return float(-np.angle((1.0 - a) + a * np.exp(-1j * w)) / w)


def _ks_tuning(freq_hz: float, sr: int) -> tuple[int, float]:
    """Integer loop delay and interpolation weight that put the loop exactly on ``freq_hz``.

    The loop is ``L`` samples of plain delay, a symmetric 3-tap damping filter (linear
    phase, exactly 1 sample of delay at every frequency) and a linear-interpolation FIR
    ``[1 - a, a]`` for the fractional part. The textbook choice ``a = frac`` is only right
    near DC: at a high note's f0 the interpolator's phase delay differs from ``a`` by tens of
    cents. So ``a`` is solved by bisection for the interpolator's *exact* phase delay at
    f0; the delay is monotonic in ``a`` and is exactly 0 at ``a = 0`` and 1 at ``a = 1``.
    """
    period = sr / freq_hz
    loop = int(np.floor(period)) - 1  # minus the damping filter's one sample
    if loop < 2:
        raise ValueError(f"freq_hz={freq_hz} is too high for Karplus-Strong at sr={sr}")
    target = period - 1.0 - loop  # in [0, 1)
    w = 2 * np.pi * freq_hz / sr
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if _linear_interp_phase_delay(mid, w) < target:
            lo = mid
        else:
            hi = mid
    return loop, 0.5 * (lo + hi)


def karplus_strong(
    freq_hz: float,
    seconds: float,
    *,
    sr: int = SR,
    amp_dbfs: float = -6.0,
    seed: int = 0,
    brightness: float = 0.5,
    t60_s: float = 4.0,
) -> np.ndarray:
    """A plucked string (Karplus–Strong), tuned to better than 1 cent.

    Tuning: see :func:`_ks_tuning` — the loop's total phase delay at f0 is made exactly one
    period by solving for the fractional-delay weight, not by the low-frequency shortcut.

    Speed: every tap of the loop filter reaches back at least ``L`` samples (one loop delay),
    so a whole block of ``L`` output samples depends only on samples already computed.
    The recursion therefore runs one numpy step per period, not one Python step per sample
    (a 2 s note at 82 Hz is ~165 steps).

    ``brightness`` in [0, 1] sets both the pick (a low-passed or raw noise burst) and the
    damping filter ``[(1-b)/4, (1+b)/2, (1-b)/4]``: 0 is dull and dies fast in the highs,
    1 keeps every partial. ``t60_s`` is the time the fundamental takes to fall by 60 dB.
    """
    if not 0.0 <= brightness <= 1.0:
        raise ValueError(f"brightness must be in [0, 1], not {brightness}")
    n = _n_samples(seconds, sr)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    loop, a = _ks_tuning(freq_hz, sr)
    damp = np.array([(1 - brightness) / 4, (1 + brightness) / 2, (1 - brightness) / 4])
    taps = np.convolve(damp, [1.0 - a, a])  # lags loop + 0 .. loop + 3
    # Scale the loop so the fundamental loses exactly 60 dB in t60_s, unless the damping alone
    # already loses more (high, dull notes): the gain is capped below 1 because the filters
    # pass DC at unity, and a DC loop gain >= 1 would never die away.
    w0 = 2 * np.pi * freq_hz / sr
    loss_at_f0 = abs(np.polyval(taps[::-1], np.exp(-1j * w0)))
    target = 10.0 ** (-3.0 * (sr / freq_hz) / (t60_s * sr))
    taps *= min(target / loss_at_f0, 0.9999)

    rng = np.random.default_rng(seed)
    burst = rng.uniform(-1.0, 1.0, loop)
    # A duller pick has less high-frequency energy from the start, not only a faster decay.
    smooth = 1.0 - brightness
    for _ in range(2):
        burst = burst - smooth * 0.5 * (burst - np.roll(burst, 1))
    burst -= burst.mean()  # no DC: it would ring forever at the loop's DC gain

    pad = len(taps) - 1
    y = np.zeros(pad + max(n, loop))
    y[pad : pad + loop] = burst
    start = pad + loop
    end_all = pad + n
    while start < end_all:
        stop = min(start + loop, end_all)
        m = stop - start
        acc = np.zeros(m)
        for k, h in enumerate(taps):
            s = start - loop - k
            acc += h * y[s : s + m]
        y[start:stop] = acc
        start = stop
    return _normalise_peak(y[pad : pad + n], amp_dbfs)


def clicks(
    times_s: Iterable[float],
    seconds: float,
    *,
    sr: int = SR,
    amp_dbfs: float = -6.0,
    seed: int = 0,
) -> np.ndarray:
    """Short broadband clicks whose first sample is exactly at ``round(t * sr)``.

    Each click is a 2 ms noise burst with a 0.4 ms exponential decay, starting at full
    positive amplitude, so an onset detector has an unambiguous sample to hit. Clicks
    that would start past the end of the buffer are dropped; overlapping ones add.
    """
    n = _n_samples(seconds, sr)
    out = np.zeros(n)
    length = max(1, round(0.002 * sr))
    env = np.exp(-np.arange(length) / (0.0004 * sr))
    rng = np.random.default_rng(seed)
    amp = dbfs_to_amp(amp_dbfs)
    for t in times_s:
        i = round(t * sr)
        if not 0 <= i < n:
            continue
        burst = rng.uniform(-1.0, 1.0, length) * env
        burst[0] = 1.0
        burst *= amp / np.max(np.abs(burst))
        m = min(length, n - i)
        out[i : i + m] += burst[:m]
    return out.astype(np.float32)


def white_noise(
    seconds: float, *, sr: int = SR, amp_dbfs: float = -50.0, seed: int = 0
) -> np.ndarray:
    """Gaussian white noise at an *RMS* level of ``amp_dbfs`` (exactly, for this seed)."""
    x = np.random.default_rng(seed).standard_normal(_n_samples(seconds, sr))
    if x.size:
        x *= dbfs_to_amp(amp_dbfs) / np.sqrt(np.mean(x**2))
    return x.astype(np.float32)


def hum(
    seconds: float,
    *,
    sr: int = SR,
    mains_hz: float = 50.0,
    amp_dbfs: float = -40.0,
) -> np.ndarray:
    """Mains hum: the fundamental plus odd-heavy harmonics, peak level ``amp_dbfs``.

    Real pickup hum and ground loops are rich in 2nd and 3rd harmonics (100/150 Hz in
    Europe), which sit right on guitar fundamentals (G2 = 98 Hz, D3 = 147 Hz) — the case a
    pitch tracker must not lock onto.
    """
    t = np.arange(_n_samples(seconds, sr)) / sr
    x = np.zeros_like(t)
    for k, a in ((1, 1.0), (2, 0.5), (3, 0.35), (5, 0.15), (7, 0.08)):
        x += a * np.sin(2 * np.pi * k * mains_hz * t + 0.3 * k)
    return _normalise_peak(x, amp_dbfs)


def _fade(x: np.ndarray, sr: int, *, in_s: float, out_s: float) -> np.ndarray:
    x = x.copy()
    n_in = min(len(x), round(in_s * sr))
    n_out = min(len(x), round(out_s * sr))
    if n_in:
        x[:n_in] *= np.linspace(0.0, 1.0, n_in, endpoint=False)
    if n_out:
        x[len(x) - n_out :] *= np.linspace(1.0, 0.0, n_out)
    return x


def sequence(
    notes: Iterable[SeqNote],
    *,
    sr: int = SR,
    seconds: float | None = None,
    amp_dbfs: float = -6.0,
    seed: int = 0,
) -> np.ndarray:
    """Place ``(onset_s, freq_hz, dur_s, kind)`` notes into one buffer.

    Each note is made at ``amp_dbfs`` peak with a 1 ms fade-in (a sine starting at full
    amplitude is already a click) and a 5 ms fade-out, so the only onsets in the buffer
    are the notes' own. Overlapping notes add. The buffer is ``seconds`` long, or ends
    0.25 s after the last note.
    """
    notes = list(notes)
    end = max((on + dur for on, _, dur, _ in notes), default=0.0) + 0.25
    out = np.zeros(_n_samples(seconds if seconds is not None else end, sr), dtype=np.float32)
    for i, (onset_s, freq_hz, dur_s, kind) in enumerate(notes):
        if kind == "sine":
            x = sine(freq_hz, dur_s, sr=sr, amp_dbfs=amp_dbfs)
        elif kind == "harmonic":
            x = harmonic_tone(freq_hz, dur_s, sr=sr, amp_dbfs=amp_dbfs, decay_s=dur_s)
        elif kind == "ks":
            x = karplus_strong(freq_hz, dur_s, sr=sr, amp_dbfs=amp_dbfs, seed=seed + i)
        else:
            raise ValueError(f"note kind must be one of sine, harmonic, ks, not {kind!r}")
        x = _fade(x, sr, in_s=0.001, out_s=0.005)
        start = round(onset_s * sr)
        if start >= len(out):
            continue
        m = min(len(x), len(out) - start)
        out[start : start + m] += x[:m]
    return out
