"""aubio's hfc onset detector, computed lazily over the hops it needs."""

from __future__ import annotations

import math

import numpy as np

from dsp.tracking.constants import (
    _HFC_DELAY_HOPS,
    _HFC_FIRST_PENDING,
    _HFC_HOP,
    _HFC_MIN_GAP_S,
    _HFC_PENDING,
    _HFC_SILENCE,
    _HFC_TAIL,
    _HFC_WINDOW,
    _PEAK_BIQUAD,
    _PEAK_POST,
    _PEAK_SPAN,
    _PEAK_THRESHOLD,
)


class _HfcOnsets:
    """``aubio.onset("hfc", 1024, 256, rate)``'s onsets (silence −90 dB), computed only
    when asked.

    The tracker asks on few hops (a sounding note's re-pick, see _repicked), but aubio's
    peak picker must see every hop's descriptor, and its phase vocoder cost ~17 µs a hop,
    the most of any of the tracker's aubio calls. Here each hop's audio is only kept; when
    asked (or every ``_HFC_PENDING`` hops), the descriptors of the hops since are computed
    in one batched FFT and aubio's peak picker is run over them, as aubio does, step by
    step (``src/onset/onset.c`` and ``peakpicker.c`` of aubio 0.4.9), or over the last
    ``_HFC_TAIL`` of them only, when those tell what all of them would (see _resume: on
    the dev split they always did; a fast run asks every ~90 hops):

    * descriptor: a Hann window of 1024 half-rate samples, magnitudes ``log(1 + |X|)``,
      summed weighted by bin number plus one (``hfc``);
    * its last 7 low-passed forward and backward (the biquad as aubio 0.4.9 ships it,
      ``b = (0.16, 0.32, 0.16)`` and one feedback term 0.235, from rest each pass); the
      6th less their median less 0.058 of their mean is the thresholded value;
    * a peak of that one hop back, over zero, is an onset at its parabola's vertex, unless
      the hop is silent or within 50 ms of the last onset; the first hops of the stream
      (up to the 4.3-hop delay) are an onset when not silent;
    * onset times lag 4.3 hops, which ``last`` takes off.

    The descriptors are aubio's to ~1e-5 (numpy's FFT and log, not aubio's), the peak
    picker runs in double precision: on 46 dev clips every onset and onset time was
    aubio's (see tests/test_tracker_descriptors.py).
    """

    def __init__(self, rate: int) -> None:
        n = np.arange(_HFC_WINDOW, dtype=np.float32)
        self._window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / _HFC_WINDOW)).astype(np.float32)
        self._weights = np.arange(1, _HFC_WINDOW // 2 + 2, dtype=np.float32)
        self._kept = _HFC_WINDOW - _HFC_HOP  # the samples before the oldest pending hop
        self._audio = np.zeros(self._kept + _HFC_HOP * _HFC_PENDING, dtype=np.float32)
        self._pending = 0
        self._history = np.zeros(_PEAK_SPAN - 1)  # the descriptors before the pending hops
        # Each pending hop's span of descriptors, and what the peak picker makes of one:
        # the low-pass forward and backward is a linear map of the seven, and so is their
        # mean (an 8th column).
        self._spans = np.arange(_HFC_PENDING)[:, None] + np.arange(_PEAK_SPAN)
        smoothing = _filtfilt_matrix()
        self._smoothing = np.column_stack((smoothing.T, smoothing.sum(axis=0) / _PEAK_SPAN))
        self._peek = [0.0, 0.0, 0.0]  # thresholded values of the last three hops
        self._delay = int(_HFC_DELAY_HOPS * _HFC_HOP)
        self._min_gap = math.floor(np.float32(_HFC_MIN_GAP_S) * np.float32(rate) + 0.5)
        self._frames = 0  # samples analysed before the pending hops
        self._last = 0  # the last onset, in samples, the delay not yet taken off
        self._onset = False  # whether the last hop analysed had an onset

    def push(self, half: np.ndarray) -> None:
        """Keep one hop of half-rate audio; analyse the pending hops when the buffer is full,
        or once the stream's first ``_HFC_FIRST_PENDING`` are in (until the delay has passed
        every pending hop's descriptor is needed: see _advance)."""
        at = self._kept + _HFC_HOP * self._pending
        self._audio[at : at + _HFC_HOP] = half
        self._pending += 1
        if self._pending == _HFC_PENDING or (
            self._pending == _HFC_FIRST_PENDING and self._frames == 0
        ):
            self._advance()

    def onset(self) -> bool:
        """Whether the last hop pushed brought an onset (aubio's ``onset(x)[0] > 0``)."""
        if self._pending:
            self._advance()
        return self._onset

    def last(self) -> int:
        """The last onset, in half-rate samples from the stream's start (``get_last``)."""
        return self._last - self._delay

    def latest(self) -> int:
        """The latest ``last`` an onset on the last hop pushed could give: its peak lies a
        hop back, at most half a hop either way, and the delay comes off; at the stream's
        start an onset is the hop itself."""
        frames = self._frames + (self._pending - 1) * _HFC_HOP  # before the last hop
        if frames <= self._delay:
            return frames
        return frames + _HFC_HOP + _HFC_HOP // 2 - self._delay

    def _advance(self) -> None:
        """The pending hops' peak-picker values, then aubio's onset test hop by hop; when
        many are pending, only the last few hops' (see _resume), if that is exact."""
        k = self._pending
        tail = _HFC_TAIL + _PEAK_SPAN - 1  # the descriptors the last _HFC_TAIL values need
        late = None
        if k > tail and self._frames > self._delay:
            late = self._descriptors(k - tail, tail)
            if self._resume(late, k):
                self._finish_advance(late, k)
                return
        early = self._descriptors(0, k if late is None else k - tail)
        descriptors = early if late is None else np.concatenate((early, late))
        history = np.concatenate((self._history, descriptors))
        for j, value in enumerate(self._thresholded(history, k).tolist()):
            self._step(value, j)
        self._finish_advance(history, k)

    def _descriptors(self, first: int, count: int) -> np.ndarray:
        """The hfc descriptors of ``count`` pending hops from the ``first``-th, in one
        batched FFT."""
        audio = self._audio
        size = audio.itemsize
        frames = np.ndarray(
            (count, _HFC_WINDOW),
            np.float32,
            audio,
            first * _HFC_HOP * size,
            (_HFC_HOP * size, size),
        )
        # numpy transforms float32 in double precision; given the double-precision frames
        # itself, it computes the same values in less time over 20-64 frames (it no longer
        # casts them through its small buffer frame by frame; 1-45 % less, measured twice
        # on two numpy builds), and they round back the same.
        windowed = np.multiply(frames, self._window).astype(np.float64)
        magnitudes = np.abs(np.fft.rfft(windowed, axis=1).astype(np.complex64))
        np.log1p(magnitudes, out=magnitudes)
        return magnitudes @ self._weights

    def _thresholded(self, descriptors: np.ndarray, count: int) -> np.ndarray:
        """The peak picker's values of the last ``count`` hops of ``descriptors`` (each
        needs the six before it too)."""
        spans = descriptors[self._spans[:count] + (len(descriptors) - count - _PEAK_SPAN + 1)]
        smooth = spans @ self._smoothing
        middle = np.partition(smooth[:, :_PEAK_SPAN], _PEAK_SPAN // 2, axis=1)
        return (
            smooth[:, _PEAK_POST]
            - middle[:, _PEAK_SPAN // 2]
            - _PEAK_THRESHOLD * smooth[:, _PEAK_SPAN]
        )

    def _resume(self, late: np.ndarray, k: int) -> bool:
        """Run the onset test over the last of the ``k`` pending hops only (``late``: the
        descriptors of their last ``_HFC_TAIL`` + 6), when that gives what running it over
        all of them would; False when it cannot tell.

        It can from the end of a run of hops with no peak of the thresholded values over
        zero (no onset, whatever came before) at least ``_min_gap`` long: an onset before
        that run, wherever it lay, is then over ``_min_gap`` before any the test can find
        after it (an onset lies half a hop to a hop and a half back), so the test finds
        the same onsets there as it would have, and only the last onset's time, which
        ``last`` reads after an onset, was skipped. Not at the stream's start, where the
        delay counts too (see _step)."""
        values = self._thresholded(late, _HFC_TAIL).tolist()
        quiet = self._min_gap // _HFC_HOP + 1  # hops: ``_min_gap`` < quiet hops - a hop
        run = 0
        resume = None
        for j in range(2, _HFC_TAIL):
            s0, s1, s2 = values[j - 2 : j + 1]
            run = 0 if s1 > s0 and s1 > s2 and s1 > 0.0 else run + 1
            if run >= quiet:
                resume = j + 1  # the first hop (of the tail) after the run
        if resume is None:
            return False
        self._peek = values[resume - 3 : resume]
        first = k - _HFC_TAIL  # the tail's first hop, among the pending ones
        self._frames += (first + resume) * _HFC_HOP
        self._onset = False
        for j in range(resume, _HFC_TAIL):
            self._step(values[j], first + j)
        return True

    def _finish_advance(self, descriptors: np.ndarray, k: int) -> None:
        """Keep the last six descriptors and the audio the next hops' frames overlap."""
        self._history = descriptors[-(_PEAK_SPAN - 1) :].copy()
        audio = self._audio
        audio[: self._kept] = audio[k * _HFC_HOP : k * _HFC_HOP + self._kept]
        self._pending = 0

    def _step(self, thresholded: float, pending: int) -> None:
        """aubio's onset test on the ``pending``-th pending hop, ``thresholded`` its
        peak picker's value."""
        peek = self._peek
        del peek[0]
        peek.append(thresholded)
        s0, s1, s2 = peek
        onset = False
        frames = self._frames
        if s1 > s0 and s1 > s2 and s1 > 0.0:
            if not self._silent(pending):
                vertex = 1.0 + 0.5 * (s0 - s2) / (s0 - 2.0 * s1 + s2)  # in hops back
                new = frames + math.floor(vertex * _HFC_HOP + 0.5)
                if self._last + self._min_gap < new and not (self._last > 0 and new < self._delay):
                    self._last = max(self._delay, new)
                    onset = True
        elif (
            frames <= self._delay
            and (frames == 0 or self._last + self._min_gap < frames)
            and not self._silent(pending)
        ):
            self._last = frames + self._delay
            onset = True
        self._onset = onset
        self._frames = frames + _HFC_HOP

    def _silent(self, pending: int) -> bool:
        """The ``pending``-th pending hop lies under −90 dB (mean square)."""
        at = self._kept + pending * _HFC_HOP
        hop = self._audio[at : at + _HFC_HOP]
        return float(np.dot(hop, hop)) < _HFC_SILENCE * _HFC_HOP


def _filtfilt_matrix() -> np.ndarray:
    """aubio's peak picker's low-pass over its seven descriptors, forward then backward,
    each pass from rest, as one 7 × 7 matrix: the filter's impulse response, causal, then
    the same reversed in time."""
    b0, b1, b2, a1 = _PEAK_BIQUAD
    response = [b0, b1 - a1 * b0]
    response.append(b2 - a1 * response[1])
    while len(response) < _PEAK_SPAN:
        response.append(-a1 * response[-1])
    k = np.arange(_PEAK_SPAN)
    lag = k[:, None] - k[None, :]
    forward = np.where(lag >= 0, np.array(response)[np.clip(lag, 0, None)], 0.0)
    reverse = forward[::-1, ::-1]
    return reverse @ forward
