"""Pure functions over audio arrays: periods, fits, windows, the high-pass filter."""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise

import numpy as np

from dsp.tracking.constants import (
    _BLOCK_HANN_KEPT,
    _BREAK_BLOCK,
    _CHECK_MIN_WINDOW,
    _CHECK_WINDOW,
    _GLIDE_FIT_DB,
    _GOES_ON_CENTS,
    _GOES_ON_SPREAD,
    _GOES_ON_WINDOW,
    _HANN_KEPT,
    _LAG_SPAN,
    _REPLUCK_RISE_HOPS,
    _SINE_LIKE,
    _SWELL_HIGH_BIN,
    _SWELL_LOW_BINS,
    _SWELL_TILT_DB,
)


def _glide_scan(
    fits: np.ndarray,
    at: int,
    end: int,
    steps: int,
    pitches: list[float],
    a4: float,
    rate: float,
) -> tuple[bool, float | None]:
    """_glide_half's scan of blocks ``at + 1`` to ``end`` (``fits``' column 0 is block
    ``at``): (decided, where the period that fits best passes the middle one, in samples
    after the first block); None when a block fits none or the period jumped past the
    middle, and undecided (None) when these blocks end first."""
    b = _BREAK_BLOCK
    nearest = fits.argmin(axis=0).tolist()
    crossed: list[float] = []  # where the nearest period reached the middle, and passed it
    for k in range(at + 1, end):
        j = nearest[k - at]
        if fits[j, k - at] > _GLIDE_FIT_DB:
            return True, None
        if 2 * j >= steps + len(crossed):
            if not crossed and 2 * j > steps + 2:
                return True, None  # the period jumped past the middle: no glide
            # The block compares the audio with that a period earlier: it reads the
            # pitch half a period back.
            tau = rate / (a4 * 2.0 ** ((pitches[j] - 69.0) / 12.0))
            crossed.append(k * b + 0.5 * b - 0.5 * tau)
            if len(crossed) == 2 or 2 * j > steps:
                return True, sum(crossed) / len(crossed)
    return False, None


def _dip_index(levels: list[float]) -> int:
    """Where the dip lies in ``levels`` (dB, this hop's last): the quietest of the
    ``_REPLUCK_RISE_HOPS`` hops before this one (see _dipped_and_rose, _shallow_repick)."""
    first = len(levels) - 1 - _REPLUCK_RISE_HOPS
    return min(range(first, len(levels) - 1), key=levels.__getitem__)


def _repeat_near(audio: np.ndarray, start: int, end: int, before: int, tau: float) -> float:
    """_repeat_db of ``audio[start:end]`` at the period found near ``tau`` in the audio
    ending at ``before`` (see _period_before); NaN when none is found there."""
    period = _period_before(audio, before, tau)
    return math.nan if period is None else _repeat_db(audio, start, end, before, period)


def _fits(audio: np.ndarray, start: int, end: int, first: int, count: int) -> np.ndarray:
    """The normalised correlation of ``audio[start:end]`` with the same span ``first``,
    ``first + 1``, ... (``count`` lags) samples earlier (float64 sums; ``np.correlate``
    slides it along the audio before in one call)."""
    width = end - start
    x = audio[start - first - count + 1 : end - first].astype(np.float64)
    a = audio[start:end].astype(np.float64)
    dots = np.correlate(x, a, "valid")[::-1]  # (lag ``first`` first)
    squares = np.concatenate(([0.0], np.cumsum(x * x)))
    energies = (squares[width:] - squares[:-width])[::-1]
    return dots / np.sqrt(float(a @ a) * energies + 1e-30)


def _interpolated_peak(values: np.ndarray) -> tuple[float, float]:
    """The largest of ``values`` and where it lies (index), refined by the parabola
    through it and its neighbours."""
    i = int(values.argmax())
    if 0 < i < len(values) - 1:
        y0, y1, y2 = float(values[i - 1]), float(values[i]), float(values[i + 1])
        curve = y0 - 2.0 * y1 + y2
        if curve < 0.0:
            d = 0.5 * (y0 - y2) / curve
            return y1 - 0.25 * (y0 - y2) * d, i + d
    return float(values[i]), float(i)


def _repeat_db(audio: np.ndarray, start: int, end: int, before: int, period: float) -> float:
    """How far ``audio[start:end]`` is from repeating the audio whole periods earlier, the
    fewest that end the span compared with by ``before``: ``1 − c²`` in dB, ``c`` the best
    normalised correlation (any gain) over the lags within ``_GOES_ON_SPREAD`` samples
    of that many periods (``period``: see _period_before), interpolated. NaN when the
    audio does not reach back far enough."""
    first = round(math.ceil((end - before) / period) * period) - _GOES_ON_SPREAD
    if start - first - 2 * _GOES_ON_SPREAD < 0:
        return math.nan
    fits = _fits(audio, start, end, first, 2 * _GOES_ON_SPREAD + 1)
    best = min(max(_interpolated_peak(fits)[0], 0.0), 1.0)
    return 10.0 * math.log10(max(1.0 - best * best, 1e-6))


def _sine_like(audio: np.ndarray, start: int, end: int, period: float) -> bool:
    """``audio[start:end]`` is nearly its own negative half a period earlier (normalised
    correlation under ``_SINE_LIKE``): a waveform held mostly in its fundamental (and odd
    partials), whose shape a re-pick cannot change, only its phase, and a sampled
    re-pick lands within ±15° of the old phase about one time in six (dev fast-16ths
    seed 23, F#5 re-picks of one sample 109 ms apart: −0.77 to −0.79 here, their
    waveforms going on within −13 to −15 dB; a timing clip's E5, −0.80 and −11 dB; of
    the 163 tremolo phantoms under −12 dB, 2 were under −0.8)."""
    lag = round(period / 2.0)
    return float(_fits(audio, start, end, lag, 1)[0]) < _SINE_LIKE


def _period_before(audio: np.ndarray, end: int, tau: float) -> float | None:
    """The period (samples, fractional) near ``tau`` (within ``_GOES_ON_CENTS``) that the
    audio before ``end`` repeats best, over two periods (at least 10 ms) of it; None when
    the audio does not reach back that far."""
    width = max(round(2.0 * tau), _GOES_ON_WINDOW)
    low = int(tau * 2.0 ** (-_GOES_ON_CENTS / 1200.0)) - 1
    high = math.ceil(tau * 2.0 ** (_GOES_ON_CENTS / 1200.0)) + 1
    if end - width - high < 0:
        return None
    fits = _fits(audio, end - width, end, low, high - low + 1)
    return low + _interpolated_peak(fits)[1]


def _misfit_db(
    lagged: np.ndarray, audio: np.ndarray, power: np.ndarray, lags: np.ndarray, blocks: int
) -> np.ndarray:
    """_misfit's dB per period and block from ``lagged`` (the last ``blocks`` blocks of
    ``audio`` one period earlier, per period; overwritten): the residual's energy over
    that of the block and of the block a period earlier (``power``: running sum of
    squares)."""
    n = len(audio)
    b = _BREAK_BLOCK
    m = blocks * b
    lagged -= audio[n - m :]
    residual = np.add.reduce(np.square(lagged, out=lagged).reshape(len(lags), blocks, b), axis=2)
    ends = np.arange(n - m + b, n + 1, b)
    own = power[n - m + b :: b] - power[n - m : n + 1 - b : b]  # (``ends`` and ``ends - b``)
    shifted = ends[None, :] - lags[:, None]
    earlier = power[shifted] - power[shifted - b]
    return 10.0 * np.log10(residual / (own + earlier + 1e-12) + 1e-6)


def _shape_distance(shape: np.ndarray, reference: np.ndarray) -> float:
    """How far the shape of the magnitude spectrum ``shape`` is from ``reference``'s: half
    the L1 distance of the two, each over its sum (0 for the same shape, 1 for nothing in
    common), or 1 when the energy over 2 kHz moved ``_SWELL_TILT_DB`` or more against
    that under 1 kHz. A tremolo scales every bin alike; a pick's transient and the
    partials it restores, or a sampled note's attack, move the balance even when the low
    partials that hold most of the magnitudes keep their shape (dev fast-16ths seed 13,
    sampled A2 re-picks: half-L1 0.05–0.1 a hop or two after the rise, the balance a
    median 3.4 dB darker there; a tremolo's swells mostly within ±1.5 dB)."""
    total, total_ref = float(np.add.reduce(shape)), float(np.add.reduce(reference))
    if total <= 0.0 or total_ref <= 0.0:
        return 1.0
    low = float(np.dot(shape[:_SWELL_LOW_BINS], shape[:_SWELL_LOW_BINS]))
    high = float(np.dot(shape[_SWELL_HIGH_BIN:], shape[_SWELL_HIGH_BIN:]))
    low_ref = float(np.dot(reference[:_SWELL_LOW_BINS], reference[:_SWELL_LOW_BINS]))
    high_ref = float(np.dot(reference[_SWELL_HIGH_BIN:], reference[_SWELL_HIGH_BIN:]))
    if min(low, high, low_ref, high_ref) <= 0.0:
        return 1.0
    if abs(10.0 * math.log10(high * low_ref / (high_ref * low))) >= _SWELL_TILT_DB:
        return 1.0
    return 0.5 * float(np.add.reduce(np.abs(shape / total - reference / total_ref)))


def _paired_db(levels: list[float]) -> list[float]:
    """Each hop's level (dB) as that of it and the hop before together (the first alone):
    21 ms, a whole period of A1 (18 ms), where one hop holds 0.6 of it (see
    _low_dip_and_rise)."""
    powers = [10.0 ** (db / 10.0) for db in levels]
    paired = [0.5 * (a + b) for a, b in pairwise(powers)]
    return levels[:1] + [10.0 * math.log10(p + 1e-12) for p in paired]


def _mean32(x: np.ndarray) -> np.float32:
    """``x.mean()`` of a float32 vector, the same value (numpy sums it in float32, divides
    in float64 and rounds back), without ``np.mean``'s few microseconds of set-up."""
    return np.float32(float(np.add.reduce(x)) / x.size)


def _hanning(length: int) -> np.ndarray:
    """``np.hanning(length)``, the same values from half as many cosines: the window is
    symmetric, and so is ``np.cos`` (``tests/test_tracker_speed.py`` checks them equal).
    A short note's body spectrum takes one of a new length at each note's end."""
    if length < 3:
        return np.hanning(length)
    half = (length + 1) // 2
    n = np.arange(1 - length, 1 - length + 2 * half, 2, dtype=np.float64)
    np.multiply(np.pi, n, out=n)
    np.divide(n, length - 1, out=n)
    np.cos(n, out=n)
    np.multiply(0.5, n, out=n)
    np.add(0.5, n, out=n)
    window = np.empty(length)
    window[:half] = n
    window[half:] = n[: length - half][::-1]
    return window


@lru_cache(maxsize=_BLOCK_HANN_KEPT)
def _block_hanning(length: int) -> np.ndarray:
    """``np.hanning(length)`` in float32, the window of an attack's or of what rang
    before's spectrum (a whole number of blocks long: ~100 lengths), kept by length for
    every tracker (read-only: shared). Kept per tracker, each clip of the benchmark made
    its ~10 again (~30 µs each)."""
    window = np.hanning(length).astype(np.float32)
    window.flags.writeable = False
    return window


@lru_cache(maxsize=_HANN_KEPT)
def _kept_hanning(length: int) -> np.ndarray:
    """``_hanning(length)``, kept for the next note of that length (read-only: shared).

    A note's body spectrum is cut at its end, and in a run of even notes most bodies end
    the same number of samples after their start: on dev fast-16ths 141 of 197 windows
    are one of the last 8 lengths asked for (~15 µs of cosines each)."""
    window = _hanning(length)
    window.flags.writeable = False
    return window


def _nsdf_peak(audio: np.ndarray, lag: float) -> float | None:
    """Peak of the normalised square-difference function near ``lag`` (1 = periodic).

    Compares the last ``W`` samples with the ``W`` samples ``t`` earlier, for the nine
    integer lags ``t`` around ``lag``, and interpolates the best (parabola). The energy
    that normalises it is taken at ``lag`` for all nine: four samples either way change it
    by a fraction of a percent. ``None`` when the audio is too short for a
    ``_CHECK_MIN_WINDOW`` comparison at that lag.
    """
    n = len(audio)
    center = round(lag)
    width = min(_CHECK_WINDOW, n - center - _LAG_SPAN)
    if width < _CHECK_MIN_WINDOW or center <= _LAG_SPAN:
        return None
    tail = audio[n - width :]
    head = audio[n - width - center : n - center]
    norm = float(np.dot(tail, tail)) + float(np.dot(head, head))
    if norm <= 0.0:
        return None
    first = n - width - center - _LAG_SPAN  # the head at the longest lag starts here
    cross = np.correlate(audio[first : first + width + 2 * _LAG_SPAN], tail, mode="valid")
    values = cross.tolist()
    k = max(range(len(values)), key=values.__getitem__)
    best = values[k]
    if 0 < k < len(values) - 1:
        y0, y2 = values[k - 1], values[k + 1]
        curvature = y0 - 2.0 * best + y2
        if curvature < 0:
            best -= 0.125 * (y0 - y2) ** 2 / curvature
    return 2.0 * best / norm


def butterworth_highpass(cutoff_hz: float, rate: float) -> tuple[float, float, float, float, float]:
    """2nd-order Butterworth high-pass biquad ``(b0, b1, b2, a1, a2)``, bilinear-transformed.

    The same coefficients as ``scipy.signal.butter(2, cutoff, "highpass", fs=rate)``
    (RBJ cookbook, Q = 1/√2), written out because importing scipy.signal costs ~2.5 s of
    start-up on every ``fretcoach`` command.
    """
    w0 = 2.0 * math.pi * cutoff_hz / rate
    alpha = math.sin(w0) / math.sqrt(2.0)  # sin(w0) / (2 Q) with Q = 1/√2
    cos_w0 = math.cos(w0)
    a0 = 1.0 + alpha
    b0 = (1.0 + cos_w0) / 2.0 / a0
    return (b0, -2.0 * b0, b0, -2.0 * cos_w0 / a0, (1.0 - alpha) / a0)


def _swelled_repeat_db(
    audio: np.ndarray, start: int, end: int, before: int, period: float
) -> float:
    """_repeat_db with a gain that may change linearly across the span: ``audio[start:end]``
    against the audio whole periods earlier scaled by ``g + h·u`` (``u`` from −1 to 1 over
    the span), the best least-squares ``g`` and ``h`` per lag; ``1 − R²`` in dB. NaN when
    the audio does not reach back far enough.

    A tremolo pedal multiplies the string's waveform by a gain that moves smoothly: over
    10 ms of a 5–10 Hz swell, and against the audio one or two periods back (up to 40 ms
    for a low string), the ratio of the two gains changes across the span, and a single
    gain leaves that change as residual (a median −8 dB on the tremolos' phantoms of the
    low-tuned conditions). A re-pick's new waveform fits no gain, ramped or not."""
    first = round(math.ceil((end - before) / period) * period) - _GOES_ON_SPREAD
    count = 2 * _GOES_ON_SPREAD + 1
    if start - first - count + 1 < 0:
        return math.nan
    width = end - start
    a = audio[start:end].astype(np.float64)
    ones, u, uu = _ramp(width)
    x = audio[start - first - count + 1 : end - first].astype(np.float64)
    squares = x * x
    # Per lag (lag ``first`` first): a·x, a·(u x), x·x, x·(u x), (u x)·(u x).
    ax = np.correlate(x, a, "valid")[::-1]
    aux = np.correlate(x, a * u, "valid")[::-1]
    xx = np.correlate(squares, ones, "valid")[::-1]
    xux = np.correlate(squares, u, "valid")[::-1]
    uxux = np.correlate(squares, uu, "valid")[::-1]
    det = xx * uxux - xux * xux + 1e-30
    explained = (ax * ax * uxux - 2.0 * ax * aux * xux + aux * aux * xx) / det
    fits = explained / (float(a @ a) + 1e-30)
    best = min(max(_interpolated_peak(fits)[0], 0.0), 1.0)
    return 10.0 * math.log10(max(1.0 - best, 1e-6))


@lru_cache(maxsize=4)
def _ramp(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.ones(width)``, the ramp ``u`` from −1 to 1 over ``width`` samples and ``u * u``
    (see _swelled_repeat_db), kept (read-only: shared): the span compared is
    ``_GOES_ON_WINDOW`` samples at nearly every re-attack, and ``np.linspace`` alone
    costs ~5 µs."""
    u = np.linspace(-1.0, 1.0, width)
    arrays = (np.ones(width), u, u * u)
    for array in arrays:
        array.flags.writeable = False
    return arrays
