"""The tracker's faster paths compute exactly what the plain numpy they replace computed.

Each is a rewrite for speed only (issue 9: ≥ 100× real time): the notes must not move, so
every value is checked bit for bit against the expression it replaced.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp import HOP_SIZE, NoteTracker, TrackerConfig, hops_of
from dsp.tracking.audio import (
    _block_hanning,
    _hanning,
    _kept_hanning,
    _mean32,
    _misfit_db,
    _ramp,
    _swelled_repeat_db,
)
from dsp.tracking.constants import (
    _BLOCK,
    _BLOCKS,
    _BREAK_BLOCK,
    _CHECK_MIN_WINDOW,
    _CLICK_RISE_DB,
    _GAP_BLOCKS,
    _GLIDE_FIT_DB,
)
from tests import signals


def test_hanning_is_numpys_window_for_every_body_length() -> None:
    """A short note's body spectrum (2048–8192 samples, halved) takes a window of any
    length; half as many cosines give the same bits as ``np.hanning``."""
    for length in range(1, 4200):
        assert np.array_equal(_hanning(length), np.hanning(length)), length


def test_kept_hanning_is_the_window_shared_read_only() -> None:
    """The body windows kept by length are ``np.hanning``'s bits, the same object for the
    next note of that length, and read-only (every note shares it)."""
    for length in (1536, 2048, 1280, 1536, 2047, 1536):
        window = _kept_hanning(length)
        assert np.array_equal(window, np.hanning(length))
        assert window is _kept_hanning(length)
        assert not window.flags.writeable


def test_attack_windows_are_float32_hanning_shared_by_every_tracker() -> None:
    """The attack's and what-rang-before's windows (whole blocks, halved) are
    ``np.hanning(n).astype(np.float32)``'s bits, read-only, one object for every tracker
    (each clip of the benchmark is a new tracker)."""
    for length in range(_CHECK_MIN_WINDOW // 2, 2049, 16):
        window = _block_hanning(length)
        assert window.tobytes() == np.hanning(length).astype(np.float32).tobytes()
        assert window is _block_hanning(length)
        assert not window.flags.writeable


def _swelled_repeat_db_as_written(
    audio: np.ndarray, start: int, end: int, before: int, period: float
) -> float:
    """``_swelled_repeat_db`` with its ramp made on every call, as first written."""
    from dsp.tracking.audio import _interpolated_peak
    from dsp.tracking.constants import _GOES_ON_SPREAD

    first = round(math.ceil((end - before) / period) * period) - _GOES_ON_SPREAD
    count = 2 * _GOES_ON_SPREAD + 1
    if start - first - count + 1 < 0:
        return math.nan
    width = end - start
    a = audio[start:end].astype(np.float64)
    u = np.linspace(-1.0, 1.0, width)
    x = audio[start - first - count + 1 : end - first].astype(np.float64)
    squares = x * x
    ax = np.correlate(x, a, "valid")[::-1]
    aux = np.correlate(x, a * u, "valid")[::-1]
    xx = np.correlate(squares, np.ones(width), "valid")[::-1]
    xux = np.correlate(squares, u, "valid")[::-1]
    uxux = np.correlate(squares, u * u, "valid")[::-1]
    det = xx * uxux - xux * xux + 1e-30
    explained = (ax * ax * uxux - 2.0 * ax * aux * xux + aux * aux * xx) / det
    fits = explained / (float(a @ a) + 1e-30)
    best = min(max(_interpolated_peak(fits)[0], 0.0), 1.0)
    return 10.0 * math.log10(max(1.0 - best, 1e-6))


def test_swelled_repeat_with_a_kept_ramp_is_as_written() -> None:
    """The ramp kept by width (see _ramp) gives the tremolo test's bits, swell or re-pick,
    and is never written to."""
    rng = np.random.default_rng(5)
    t = np.arange(6144) / 24000.0
    for trial in range(60):
        f0 = rng.uniform(70.0, 900.0)
        gain = 1.0 + rng.uniform(0.0, 0.8) * np.sin(2 * np.pi * rng.uniform(3, 9) * t)
        audio = gain * np.sin(2 * np.pi * f0 * t) + 0.01 * rng.standard_normal(len(t))
        audio = audio.astype(np.float32)
        if trial % 3 == 0:
            audio[4000:] = rng.standard_normal(len(t) - 4000).astype(np.float32)  # a re-pick
        period = 24000.0 / f0
        end = int(rng.integers(4300, 6144))
        start = end - int(rng.choice([240, 240, 200, 144]))
        before = start - int(rng.integers(10, 60))
        new = _swelled_repeat_db(audio, start, end, before, period)
        old = _swelled_repeat_db_as_written(audio, start, end, before, period)
        assert new == old or (math.isnan(new) and math.isnan(old))
    assert not any(array.flags.writeable for array in _ramp(240))


def test_mean32_is_numpys_mean() -> None:
    rng = np.random.default_rng(9)
    for _ in range(2000):
        n = int(rng.integers(1, 4200))
        x = rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 0) + rng.uniform(-1e-3, 1e-3)
        x = x.astype(np.float32)
        assert _mean32(x).tobytes() == x.mean().tobytes()


def _misfit_gathered(
    audio: np.ndarray, power: np.ndarray, blocks: int, periods: np.ndarray
) -> np.ndarray:
    """``_misfit`` as first written: every period's lagged audio gathered at once."""
    n = len(audio)
    b = _BREAK_BLOCK
    m = blocks * b
    lags = periods.astype(np.intp)
    frac = (periods - lags)[:, None].astype(np.float32)
    at = np.arange(n - m, n)[None, :] - lags[:, None]
    lagged = audio[at] * (1.0 - frac) + audio[at - 1] * frac
    return _misfit_db(lagged, audio, power, lags, blocks)


def test_misfit_by_slices_is_the_gathered_misfit() -> None:
    rng = np.random.default_rng(3)
    tracker = NoteTracker(TrackerConfig())
    t = np.arange(3072) / 24000.0
    for _ in range(50):
        f0 = float(rng.uniform(80.0, 1200.0))
        audio = (np.sin(2 * np.pi * f0 * t) + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
        power = np.concatenate(([0.0], np.cumsum(np.square(audio, dtype=np.float64))))
        tau = 24000.0 / f0
        periods = tau * 2.0 ** (np.array([-40.0, -20.0, 0.0, 20.0, 40.0]) / 1200.0)
        blocks = int((len(audio) - periods.max() - 2) // _BREAK_BLOCK) - int(rng.integers(0, 20))
        got = tracker._misfit(audio, power, blocks, periods)
        assert np.array_equal(got, _misfit_gathered(audio, power, blocks, periods))


def _clicks_on_every_hop(hops: list[np.ndarray], rate: int) -> list[tuple[float, float] | None]:
    """The click test as it ran on every hop before it was asked for lazily: each hop's
    second difference, its blocks' energies, and the test over the last eight blocks."""
    history = [0.0] * 8
    rise = 10.0 ** (_CLICK_RISE_DB / 10.0)
    found: list[tuple[float, float] | None] = []
    for k, hop in enumerate(hops):
        x = np.concatenate(((hops[k - 1] if k else hop)[-2:], hop))
        edges = x[2:] - 2.0 * x[1:-1] + x[:-2]
        blocks = np.square(edges).reshape(_BLOCKS, _BLOCK).sum(axis=1).tolist()
        sequence = [*history, *blocks]
        history = sequence[-8:]
        click = None
        for j, block in enumerate(blocks):
            i = 8 + j
            if block >= rise * max(sequence[i - 8 : i - 2]) and block > 0.0:
                first = max(j - _GAP_BLOCKS, 0) * _BLOCK
                threshold = 0.5 * math.sqrt(block / _BLOCK)
                above = np.flatnonzero(np.abs(edges[first : (j + 1) * _BLOCK]) >= threshold)
                at = first + (int(above[0]) if above.size else j * _BLOCK - first)
                click = ((k * HOP_SIZE + at) / rate, max(blocks))
                break
        found.append(click)
    return found


def _plucks_and_a_soft_repick() -> np.ndarray:
    """A G3 plucked, re-picked 6 dB softer, then an E4: clicks for the click test to find."""
    return np.concatenate(
        [
            signals.silence(0.1),
            signals.karplus_strong(196.0, 0.6),
            0.5 * signals.karplus_strong(196.0, 0.4),
            signals.karplus_strong(330.0, 0.4),
        ]
    )


def test_clicks_asked_for_lazily_are_those_of_every_hop() -> None:
    """``_clicked`` computes a hop's second difference only when a decision asks for its
    click: the same clicks, times and block energies as the test run on every hop, whichever
    hops asked (here: every hop, after the tracker's own decisions asked for some)."""
    audio = _plucks_and_a_soft_repick()
    tracker = NoteTracker(TrackerConfig())
    hops: list[np.ndarray] = []
    got: list[tuple[float, float] | None] = []
    for hop, _ in hops_of(audio):
        tracker.process(hop)
        hops.append(tracker._recent[-1])
        got.append(tracker._clicked(tracker.hops))
    expected = _clicks_on_every_hop(hops, tracker.config.sample_rate)
    assert sum(c is not None for c in expected) >= 3  # (the signal has clicks to find)
    assert got == expected


@pytest.mark.parametrize("stride", [3, 4])
def test_clicks_asked_for_sparsely_and_hops_back_are_those_of_every_hop(stride: int) -> None:
    """The same when asked for only every ``stride`` hops and for the three hops before as
    well: hops the cache never held are computed from the audio kept, not from a stale
    buffer (the test above asks every hop, so it always finds them cached)."""
    audio = _plucks_and_a_soft_repick()
    tracker = NoteTracker(TrackerConfig())
    hops: list[np.ndarray] = []
    got: dict[int, tuple[float, float] | None] = {}
    for hop, _ in hops_of(audio):
        tracker.process(hop)
        hops.append(tracker._recent[-1])
        if tracker.hops % stride == 0:
            for number in range(max(tracker.hops - 3, 1), tracker.hops + 1):
                got[number] = tracker._clicked(number)
    expected = _clicks_on_every_hop(hops, tracker.config.sample_rate)
    assert len(got) > len(hops) // 2
    assert got == {number: expected[number - 1] for number in got}


def test_harmonic_sum_indices_stay_inside_the_peaks() -> None:
    """``_shs_pick`` gathers with ``mode="wrap"`` (no bounds check): the same values only
    while every index lies inside the compressed spectrum, at any rate, range or tuning."""
    rng = np.random.default_rng(5)
    for rate in (44100, 48000):
        for lo, hi, a4 in ((0, 127, 430.0), (36, 91, 440.0), (0, 127, 450.0)):
            tracker = NoteTracker(
                TrackerConfig(sample_rate=rate, min_midi=lo, max_midi=hi, a4_hz=a4)
            )
            spectrum = np.abs(np.fft.rfft(rng.standard_normal(2048).astype(np.float32), 8192))
            peaks = tracker._peaks(spectrum)
            index = tracker._shs_index
            assert index.min() >= 0 and index.max() < len(peaks)
            assert np.array_equal(np.take(peaks, index, mode="wrap"), np.take(peaks, index))


def test_harmonic_sum_near_run_is_the_masked_grid() -> None:
    """``_shs_pick`` finds the grid's pitches within half a semitone of a reading by
    bisection: the same pitches as ``abs(grid - round(midi)) <= 0.5``, at any range and
    rate, readings on and between the grid's pitches included."""
    rng = np.random.default_rng(8)
    for rate in (44100, 48000):
        for lo, hi in ((0, 127), (36, 91), (40, 41)):
            tracker = NoteTracker(TrackerConfig(sample_rate=rate, min_midi=lo, max_midi=hi))
            grid = tracker._shs_grid
            readings = np.concatenate((rng.uniform(lo - 1.0, hi + 1.0, 500), grid, grid + 0.05))
            for midi in readings.tolist():
                first, last = tracker._shs_near(midi)
                masked = np.flatnonzero(np.abs(grid - round(midi)) <= 0.5)
                assert np.array_equal(np.arange(first, last), masked), (rate, lo, midi)


def _glide_audio(rng: np.random.Generator, old_hz: float, new_hz: float, glide: int) -> np.ndarray:
    """128 ms at 24 kHz: a tone at ``old_hz``, then (from 40 % in) a glide to ``new_hz``
    over ``glide`` samples (0: a jump, a hammer-on's shape), a little noise over it."""
    n = 3072
    start = int(0.4 * n)
    freq = np.full(n, old_hz)
    ramp = np.linspace(old_hz, new_hz, max(glide, 1))
    freq[start : start + len(ramp)] = ramp
    freq[start + len(ramp) :] = new_hz
    phase = 2.0 * np.pi * np.cumsum(freq) / 24000.0
    tone = np.sin(phase) + 0.4 * np.sin(2.0 * phase) + 0.01 * rng.standard_normal(n)
    return tone.astype(np.float32)


def _glide_half_eager(
    tracker: NoteTracker, audio: np.ndarray, power: np.ndarray, blocks: int, at: int,
    old: float, new: float,
) -> float | None:  # fmt: skip
    """``_glide_half`` as first written: every block's misfit computed before the scan."""
    b = _BREAK_BLOCK
    steps = max(2, int(np.ceil(abs(new - old) / 0.2)))
    pitches = [old + (new - old) * j / steps for j in range(steps + 1)]
    periods = 24000.0 / (440.0 * 2.0 ** ((np.array(pitches) - 69.0) / 12.0))
    fits = tracker._misfit(audio, power, blocks - at, periods)
    nearest = fits.argmin(axis=0).tolist()
    crossed: list[float] = []
    for k in range(at + 1, blocks):
        j = nearest[k - at]
        if fits[j, k - at] > _GLIDE_FIT_DB:
            return None
        if 2 * j >= steps + len(crossed):
            if not crossed and 2 * j > steps + 2:
                return None
            tau = 24000.0 / (440.0 * 2.0 ** ((pitches[j] - 69.0) / 12.0))
            crossed.append(k * b + 0.5 * b - 0.5 * tau)
            if len(crossed) == 2 or 2 * j > steps:
                return sum(crossed) / len(crossed)
    return None


def test_misfit_of_the_first_blocks_is_the_misfits_first_columns() -> None:
    """``_glide_half`` looks at the first blocks after a break before computing the rest:
    their misfits, gathered, are the same bits as those ``_misfit`` computes for all."""
    rng = np.random.default_rng(11)
    tracker = NoteTracker(TrackerConfig())
    for _ in range(200):
        audio = _glide_audio(rng, rng.uniform(80, 900), rng.uniform(80, 900), 0)
        power = np.concatenate(([0.0], np.cumsum(np.square(audio, dtype=np.float64))))
        periods = 24000.0 / rng.uniform(80.0, 1000.0, int(rng.integers(3, 30)))
        blocks = int((len(audio) - periods.max() - 2) // _BREAK_BLOCK) - int(rng.integers(0, 10))
        at = int(rng.integers(0, blocks - 1))
        count = int(rng.integers(1, blocks - at + 1))
        whole = tracker._misfit(audio, power, blocks - at, periods)
        first = tracker._misfit_from(audio, power, blocks, at, count, periods)
        assert np.array_equal(first, whole[:, :count])


def test_glide_half_is_the_eager_scan() -> None:
    """The same answer as scanning every block's misfit: slides and bends (half way found)
    and jumps (None, mostly at the first block), up and down, at many breaks."""
    rng = np.random.default_rng(12)
    tracker = NoteTracker(TrackerConfig())
    found = 0
    for _ in range(300):
        old_hz = float(rng.uniform(90.0, 700.0))
        new_hz = old_hz * 2.0 ** (float(rng.uniform(-7.0, 7.0)) / 12.0)
        audio = _glide_audio(rng, old_hz, new_hz, int(rng.choice([0, 0, 400, 900, 1800])))
        power = np.concatenate(([0.0], np.cumsum(np.square(audio, dtype=np.float64))))
        old = 69.0 + 12.0 * np.log2(old_hz / 440.0)
        new = 69.0 + 12.0 * np.log2(new_hz / 440.0)
        longest = 24000.0 / min(old_hz, new_hz) * 2.0 ** (40 / 1200)
        blocks = int((len(audio) - longest - 2) // _BREAK_BLOCK)
        at = int(rng.integers(blocks // 2, blocks - 1))
        got = tracker._glide_half(audio, power, blocks, at, old, new)
        assert got == _glide_half_eager(tracker, audio, power, blocks, at, old, new)
        found += got is not None
    assert 20 < found < 280  # both answers were exercised


def test_a_break_looked_for_a_hop_later_is_the_one_on_the_attacks_hop() -> None:
    """A note heard late (here by its spectrum, through distortion) has the break in the
    old note's period looked for on the next hop, from the audio kept on the attack's
    hop: where the search on the attack's hop itself finds it, for every such note."""
    from tests.test_tracker_onsets import _driven

    audio = _driven([45, 50, 52, 47, 55], [0.3, 0.6, 0.9, 1.2, 1.5], 2.2, gain=10.0)
    tracker = NoteTracker(TrackerConfig())
    asked = found = 0
    for hop, _ in hops_of(audio):
        query = tracker._break_query
        if query is not None:
            new, where = query
            eager = tracker._period_break(where.note, where.heard_s, math.nan)  # as then
        tracker.process(hop)
        if query is not None:
            assert tracker._break_query is None  # looked for on this hop
            assert new.began_s == eager or (eager is None and math.isnan(new.began_s))
            asked += 1
            found += eager is not None
        elif tracker._break_query is not None:
            # The attack's hop: the audio the search reads is the tracker's still.
            kept = tracker._break_query[1].lookback
            assert len(kept) == len(tracker._lookback)
            assert all(a is b for a, b in zip(kept, tracker._lookback, strict=True))
    assert asked >= 3 and found >= 3


def test_a_legato_break_is_looked_for_a_hop_later_and_is_the_same() -> None:
    """A legato note (hammer-on, pull-off, slide) has the break in the old note's period
    looked for on the hop after the one that finishes the old note and starts it, from the
    audio kept then: the break found is the one that hop's own search finds, and the final
    report's onset is it (the first report may show the onset guessed)."""
    from bench import pluck
    from tests.test_tracker_onsets import line

    events = [
        pluck.StringEvent(0.3, 52, "pluck", 0.8),
        pluck.StringEvent(0.7, 54, "hammer", 0.6),
        pluck.StringEvent(1.1, 52, "pull", 0.6),
        pluck.StringEvent(1.5, 55, "slide", 0.6, 0.06),
    ]
    tracker = NoteTracker(TrackerConfig())
    asked = 0
    breaks: dict[int, float] = {}
    finals: dict[int, float] = {}
    for hop, _ in hops_of(line(events, 2.2)):
        query = tracker._break_query
        if query is not None:
            new, where = query
            eager = tracker._period_break(where.note, where.heard_s, where.new_midi)  # as then
        before = tracker._note
        for event in tracker.process(hop):
            if event.is_final:
                finals[event.index] = event.onset_s
        if query is not None:
            assert tracker._break_query is None  # looked for on this hop
            assert new.began_s == eager or (eager is None and math.isnan(new.began_s))
            if eager is not None:
                breaks[new.index] = round(eager, 4)
            asked += 1
        elif tracker._note is not before and tracker._break_query is not None:
            new, where = tracker._break_query
            assert where.new_midi == where.new_midi  # a legato note's: asked for later
            assert math.isnan(new.began_s)
            kept = where.lookback
            assert all(a is b for a, b in zip(kept, tracker._lookback, strict=True))
    for event in tracker.flush():
        finals[event.index] = event.onset_s
    assert asked >= 2 and len(breaks) >= 2  # the hammer-on's and the slide's
    for index, began in breaks.items():
        assert finals[index] == began


def test_hfc_descriptors_are_the_float32_transform() -> None:
    """``_HfcOnsets._descriptors`` hands numpy's FFT the frames in double precision (its
    float32 transform casts them through a small buffer, frame by frame: slower over 20-64
    frames): the same bits as the float32 expression it replaced."""
    from dsp.tracking.constants import _HFC_HOP, _HFC_PENDING, _HFC_WINDOW
    from dsp.tracking.hfc import _HfcOnsets

    rng = np.random.default_rng(21)
    hfc = _HfcOnsets(48000)
    for _ in range(20):
        hfc._audio[:] = (rng.standard_normal(hfc._audio.size) * 10.0 ** rng.uniform(-4, 0)).astype(
            np.float32
        )
        first = int(rng.integers(0, 8))
        count = int(rng.integers(1, _HFC_PENDING - first + 1))
        frames = np.lib.stride_tricks.sliding_window_view(hfc._audio, _HFC_WINDOW)[::_HFC_HOP]
        frames = frames[first : first + count]
        magnitudes = np.abs(np.fft.rfft(frames * hfc._window, axis=1))
        np.log1p(magnitudes, out=magnitudes)
        assert np.array_equal(hfc._descriptors(first, count), magnitudes @ hfc._weights)


def _hfc_reads(
    pending: int, first: int, half: np.ndarray, asks: set[int]
) -> list[tuple[int, bool, int]]:
    """aubio's hfc onsets over ``half`` (half-rate audio) with ``pending`` hops kept before
    their descriptors are computed anyway (the stream's first ``first``; 0: ``pending``):
    (hop, onset, last onset or -1) at each hop asked."""
    import dsp.tracking.hfc as hfc_module
    from dsp.tracking.constants import _HFC_HOP

    kept = hfc_module._HFC_PENDING, hfc_module._HFC_FIRST_PENDING
    hfc_module._HFC_PENDING, hfc_module._HFC_FIRST_PENDING = pending, first
    try:
        hfc = hfc_module._HfcOnsets(48000)
        reads = []
        for k in range(len(half) // _HFC_HOP):
            hfc.push(half[k * _HFC_HOP : (k + 1) * _HFC_HOP])
            if k in asks:
                onset = hfc.onset()
                # (``last`` is read only after an onset: a resume skips the time of one
                # that came before its quiet run, which no later onset's test can need)
                reads.append((k, onset, hfc.last() if onset else -1))
        return reads
    finally:
        hfc_module._HFC_PENDING, hfc_module._HFC_FIRST_PENDING = kept


def test_hfc_onsets_are_the_same_with_more_hops_kept() -> None:
    """Kept 128 hops before they are analysed anyway, not 64 (half as many forced
    advances), and the stream's first 8 (not all of the first 64 at once), aubio's hfc
    gives the same onsets, at the same times, at every hop the tracker asks: plucks
    0.1-1.5 s apart over noise, every other one asked about on the hops after it, and a
    few hops now and then (a fast run asks every ~90 hops, a sustained note hardly ever),
    with runs of up to 400 hops unasked."""
    rng = np.random.default_rng(17)
    rate = 24000
    half = (1e-4 * rng.standard_normal(rate * 40)).astype(np.float32)
    at = 0.3
    plucks = []
    while at < 39.0:
        plucks.append(int(at * rate) // 256)
        n = np.arange(int(1.2 * rate))
        f0 = rng.uniform(80.0, 900.0)
        tone = sum(np.sin(2 * np.pi * k * f0 * n / rate) / k for k in range(1, 6) if k * f0 < 9000)
        start = int(at * rate)
        span = min(len(n), len(half) - start)
        half[start : start + span] += (rng.uniform(0.05, 0.5) * tone * np.exp(-n / (0.4 * rate)))[
            :span
        ].astype(np.float32)
        at += rng.uniform(0.1, 1.5)
    hops = len(half) // 256
    asks: set[int] = set()
    k = 0
    while k < hops:
        k += int(rng.choice([1, 3, 20, 90, 150, 400]))
        asks.add(k)
    for pluck in plucks[::2]:  # (the tracker asks on the hops after a re-pick)
        asks.update(range(pluck + 3, pluck + 7))
    reference = _hfc_reads(64, 0, half, asks)
    assert sum(onset for _, onset, _ in reference) >= 10
    assert _hfc_reads(128, 8, half, asks) == reference
    assert _hfc_reads(128, 8, half, asks | {1, 2}) == _hfc_reads(64, 0, half, asks | {1, 2})


def _early_name_reading_the_fit_first(
    tracker: NoteTracker, note: object, midi: float, now: float
) -> float:
    """``_early_name`` as first written: the period's fit read before the partials."""
    import math

    from dsp.tracking import constants as t
    from dsp.tracking.audio import _nsdf_peak
    from dsp.tracking.pitches import _pitch_class_distance

    attack = tracker._attack_audio(note, now)
    if attack is None:
        return midi
    audio, spectrum = attack
    tau = tracker._rate / (tracker._a4 * 2.0 ** ((midi - 69.0) / 12.0))
    fit = _nsdf_peak(audio, tau)
    if fit is None or fit < t._EARLY_MIN_FIT:
        return midi
    loudest = float(spectrum.max()) ** 2
    p1, p2, p3, p4 = tracker._peak_energies(spectrum, midi, (1, 2, 3, 4))
    if max(p1, p2) < t._EARLY_PHANTOM_SHARE * loudest:
        previous = tracker._previous
        ringing = previous[0] if previous is not None and previous[1] >= note.onset_s else None
        for k in range(t._PHANTOM_HARMONICS, 1, -1):
            candidate = midi + 12.0 * math.log2(k)
            if candidate > tracker._max_voiced:
                continue
            if ringing is not None and _pitch_class_distance(candidate, ringing) < 0.5:
                continue
            fits = _nsdf_peak(audio, tau / k)
            if (
                fits is not None
                and fits >= max(fit - t._EARLY_PHANTOM_MARGIN, t._EARLY_MIN_FIT)
                and tracker._explained_by(spectrum, midi, k, ringing)
            ):
                return candidate
        if max(p1, p2, p3, p4) < t._EARLY_EMPTY_SHARE * loudest:
            loudest_at = tracker._loudest_harmonic(spectrum, midi, ringing, t._EARLY_PEAK_SHARE)
            if loudest_at is not None:
                return loudest_at
    if midi + 12.0 <= tracker._max_voiced and p1 + p3 < t._EARLY_ODD_SHARE * (p2 + p4):
        shorter = _nsdf_peak(audio, tau / 2.0)
        if shorter is not None and shorter >= max(fit - t._EARLY_OCTAVE_MARGIN, t._EARLY_MIN_FIT):
            return midi + 12.0
    return midi


def test_early_name_reads_the_fit_only_when_the_partials_ask() -> None:
    """``_early_name`` reads the period's fit (an NSDF, ~10 µs) only when the partials call
    for the phantom or the octave check, the only uses of it: at every report of a fast
    run, a re-picked run, a let-ring run and a run with phantoms of ringing notes, the
    same name as reading it first (and some names were changed by the checks)."""
    from bench import evalset

    asked = changed = 0
    for condition in ("fast-16ths", "repeated", "let-ring", "low-E2-G3"):
        audio = evalset.make_clip("dev", condition, 0).audio
        tracker = NoteTracker(TrackerConfig())
        original = tracker._early_name

        def both(
            note: object, midi: float, now: float, original=original, tracker=tracker
        ) -> float:
            nonlocal asked, changed
            got = original(note, midi, now)
            assert got == _early_name_reading_the_fit_first(tracker, note, midi, now)
            asked += 1
            changed += got != midi
            return got

        tracker._early_name = both  # type: ignore[method-assign]
        for hop, _ in hops_of(audio):
            tracker.process(hop)
        tracker.flush()
    assert asked > 100 and changed > 0


def test_recent_audio_is_the_last_hops_joined() -> None:
    """The last 85 ms, joined once a hop for every check that reads it, are this hop's."""
    audio = np.concatenate([signals.silence(0.05), signals.karplus_strong(196.0, 0.5)])
    tracker = NoteTracker(TrackerConfig())
    for hop, _ in hops_of(audio):
        tracker.process(hop)
        first = tracker._recent_audio()
        assert np.array_equal(first, np.concatenate(tracker._recent))
        assert tracker._recent_audio() is first


def test_the_attack_s_harmonic_sums_are_computed_once_per_spectrum() -> None:
    """The report's name and its partial check share the attack's harmonic sums: the sums
    ``_shs_pick`` computed for itself, the same array for the same spectrum, new ones for
    another."""
    rng = np.random.default_rng(11)
    tracker = NoteTracker(TrackerConfig())
    for _ in range(5):
        spectrum = np.abs(np.fft.rfft(rng.standard_normal(2048).astype(np.float32), 8192))
        sums = tracker._attack_sums(spectrum)
        assert tracker._attack_sums(spectrum) is sums
        own = tracker._shs_sign @ np.take(tracker._peaks(spectrum), tracker._shs_index)
        assert np.array_equal(sums, own)
        assert np.array_equal(tracker._attack_sums(spectrum.copy()), own)


def test_what_rang_is_transformed_once_per_note_and_length() -> None:
    """At the report deadline what rang before a note is read twice (the pitch added, then
    the name over it): the second time is the first's spectrum, as computed."""
    rng = np.random.default_rng(12)
    tracker = NoteTracker(TrackerConfig())
    before = rng.standard_normal(4000).astype(np.float32)
    first = tracker._rang(before, 1024)
    assert first is not None
    assert tracker._rang(before, 1024) is first
    again = tracker._rang(before.copy(), 1024)
    assert again is not first and np.array_equal(again, first)
    other = tracker._rang(before, 896)
    assert other is not None and other is not first
    assert np.array_equal(tracker._rang(before.copy(), 896), other)
