"""What a recording chain does to the input, undone before the tracker hears it.

Every level the tracker judges by (the room's, a note's peak and end, an attack's rise) is
a hop's or a 2.7 ms block's energy. Three faults of the chain move those levels without a
string moving, and each started or lost notes (``python -m bench.stress`` on dev clips):

* a **DC offset** (a cheap interface, a phone's mic path) counts as sound: at 0.02
  (-34 dBFS) the room sat over the quiet notes and 94 of 485 notes were lost;
* a **drop-out** (a USB interface's lost packets: a few ms of digital zeros in a sounding
  note) is a dip and a rise, the very shape of a re-pick: 2 ms every half second added
  147 phantom notes to 497;
* a **click** (a crackling cable: one sample far off its neighbours) is a block's energy
  jumping 10–20 dB over a decaying note, the shape of a pluck: one every 0.7 s added 176.

None of these is something a guitar does: a string cannot fall to digital zero and back
within milliseconds while it sounds, nor move one sample by ten times the amplitude of
the samples around it. So each is repaired where it is certain, and a clean input (every
dev clip) passes through bit for bit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import aubio
import numpy as np

from dsp.errors import InvalidSettingError

#: Hops kept from before: the longest period a drop-out is filled from (C2 at 48 kHz:
#: 734 samples) plus the 5 ms matched before the gap.
_HOP = 512  # dsp.tracker.HOP_SIZE (the tracker imports this module)
_CONTEXT_HOPS = 3

# -- DC offset -------------------------------------------------------------------------
# An offset is the mean of the last second's hops when it passes -60 dBFS and twice the
# spread of their means (a low note's swing and a room's rumble average out over a second,
# both ways); from then on a one-pole DC blocker (zero at DC, pole at 4 Hz: 0.1 % off a low
# E's 82 Hz, 2.8° of phase) takes it off, for good.
_DC_HOPS = 94
_DC_MIN = 10.0 ** (-60.0 / 20.0)
_DC_MIN_HOPS = 8
_DC_STEADY = 2.0
_DC_POLE_HZ = 4.0
# ... and more than a swing can leave: over N samples, the mean of a waveform of period P
# and RMS r is at most r·P/N (whole periods sum to nothing, the part left over at most
# r·P). A low note whose period is near the hop's 512 samples (F#2 at 48 kHz: 519) has
# hop means that drift as slowly as an offset; the offset test fired 85 ms into a steady
# F2-G2 at the stream's start, and the blocker's step was picked as a new note. Periods
# up to this long (40 Hz: under A1, and mains hum's 50 Hz).
_DC_SWING_MIN_HZ = 40.0

# -- drop-outs -------------------------------------------------------------------------
_DROP_MIN = 8  # exact zeros in a row: 0.17 ms (a real input's noise never gives 8)
_DROP_MAX_S = 0.02  # a longer run is a gate or a real stop, not a drop-out
_DROP_CONTEXT = 480  # the 10 ms before a run must be sound, not silence: each 2 ms of it
_DROP_BLOCKS = 5
_DROP_LOUD = 10.0 ** (-60.0 / 20.0)  # ... with an RMS over -60 dBFS,
_DROP_PERIODIC = 0.5  # ... and the best lag must repeat it this well (correlation)
_FIT_S = 0.005  # a gap is filled with the lag that best repeats this much before it,
_FIT_MIN_HZ, _FIT_MAX_HZ = 60.0, 1400.0  # ... searched over the guitar's range

# -- clicks ----------------------------------------------------------------------------
_CLICK_RATIO = 8.0  # off its neighbours' mean by this many times the hop's RMS,
_CLICK_ISOLATION = 4.0  # ... and this many times every sample 0.06–2 ms either side
_CLICK_GUARD = 3  # samples either side that may belong to the click itself
_CLICK_CONTEXT = 96


class InputRepair:
    """Undoes a DC offset, drop-outs and clicks, hop by hop, causally.

    ``period`` (samples) is the pitch of the note sounding, when the tracker knows it: a
    drop-out is filled with the audio one period earlier (the best lag near it), which
    continues the string's waveform. ``period_of`` gives it instead, asked only when a
    hop has a drop-out to fill (one hop in thousands: the tracker's pitch arithmetic is
    not worth doing on every hop; passed with each hop, so the repair holds no reference
    back to its tracker).

    ``energy`` is the sum of squares of the hop ``process`` last returned, as
    ``np.dot(hop, hop)`` gives it: the click test computes it, and the tracker needs it
    next (one dot product a hop saved).
    """

    def __init__(self, sample_rate: int) -> None:
        if sample_rate <= 0:
            raise InvalidSettingError(f"sample_rate must be positive, not {sample_rate}")
        self._rate = sample_rate
        self.energy = 0.0  # the last hop's dot(hop, hop), after repair: the tracker reads it
        # The repaired hops before this one (references: hops are never written to).
        self._before: deque[np.ndarray] = deque(maxlen=_CONTEXT_HOPS)
        self._ones = np.ones(_HOP, dtype=np.float32)
        self._drop_max = round(_DROP_MAX_S * sample_rate)
        self._hop_sums: deque[float] = deque(maxlen=_DC_HOPS)
        self._dc_total = 0.0  # the sum of ``_hop_sums``, kept as they come and go
        # dot(hop, hop) of the hops before this one, one behind ``_hop_sums`` (the click
        # test computes a hop's after this runs; the current hop's is taken when asked).
        self._hop_energies: deque[float] = deque(maxlen=_DC_HOPS)
        self._longest_swing = sample_rate / _DC_SWING_MIN_HZ  # samples
        self._dc_blocker: aubio.digital_filter | None = None
        self._dc_start = np.float32(0.0)
        self._trailing = 0  # zeros the last hop ended on
        self.drop_outs = 0  # runs filled
        self.clicks = 0  # clicks taken out

    @property
    def dc_offset_removed(self) -> bool:
        """The input showed a DC offset and it is being taken off."""
        return self._dc_blocker is not None

    def process(
        self,
        hop: np.ndarray,
        period: float | None = None,
        period_of: Callable[[], float | None] | None = None,
    ) -> np.ndarray:
        """``hop`` (float32) repaired; the same array when nothing needed it."""
        if hop.size != _HOP:
            raise InvalidSettingError(f"hops must hold {_HOP} samples, not {hop.size}")
        zeros = _HOP - np.count_nonzero(hop)  # (the cheapest test there is)
        if _DROP_MIN <= zeros < _HOP:  # (all zeros: digital silence, no drop-out to fill)
            if period is None and period_of is not None:
                period = period_of()
            hop = self._fill_drop_outs(hop, period)
        hop = self._remove_dc(hop)
        hop = self._remove_clicks(hop)
        self._before.append(hop)
        # Zeros at the hop's end: a drop-out that may end in the next hop (see above).
        self._trailing = (
            _HOP - 1 - int(np.flatnonzero(hop)[-1]) if hop[-1] == 0.0 and hop.any() else 0
        )
        return hop

    @property
    def _context(self) -> np.ndarray:
        """The repaired input before this hop (zeros before the stream began)."""
        before = list(self._before)
        missing = _CONTEXT_HOPS - len(before)
        if missing:
            before.insert(0, np.zeros(missing * _HOP, dtype=np.float32))
        return np.concatenate(before)

    # -- drop-outs ---------------------------------------------------------------------

    def _fill_drop_outs(self, hop: np.ndarray, period: float | None) -> np.ndarray:
        """``hop`` with each drop-out in it filled: a run of zeros that the sound comes back
        after within the hop (a run still open at the hop's end may be the end of the
        take: filling it and stopping 20 ms later left a kink the flux heard as a pluck),
        after 10 ms of sound that repeats itself. A run begun in the hop before (its zeros
        there were heard as they were) is filled from this hop's first sample."""
        zero = hop == 0.0
        edges = np.flatnonzero(np.diff(np.concatenate(([0], zero.view(np.int8), [0]))))
        out: np.ndarray | None = None
        for start, end in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            if start == 0:
                start = -self._trailing  # (begun in the hop before, left as it was there)
            if not _DROP_MIN <= end - start <= self._drop_max or start == 0 or end == hop.size:
                continue
            before = np.concatenate((self._context, hop[: max(start, 0)]))
            before = before[: before.size + min(start, 0)][-_DROP_CONTEXT:]
            power = np.square(before, dtype=np.float64).reshape(_DROP_BLOCKS, -1).mean(1)
            if float(power.min()) < _DROP_LOUD * _DROP_LOUD:
                continue  # silence before it (a gate, a file), not a sounding note
            candidate = hop.copy() if out is None else out
            if self._fill(candidate, start, end, period):
                out = candidate
                self.drop_outs += 1
        return hop if out is None else out

    def _fill(self, out: np.ndarray, start: int, end: int, period: float | None) -> bool:
        """Samples ``start:end`` of ``out`` from the audio before them, a period at a time:
        the (fractional) lag that best repeats the last 5 ms, within 3 % of ``period``
        when given, else over the guitar's range, so the waveform goes on without a
        step (a whole-sample lag left a kink that aubio's flux heard as a re-pick)."""
        context = self._context
        audio = np.concatenate((context, out)).astype(np.float64)
        offset = context.size
        a, b = offset + start, offset + end
        lag, fit = self._best_lag(audio, a, period)
        if fit < _DROP_PERIODIC:
            return False
        whole = math.floor(lag)
        frac = lag - whole
        step = max(whole, 1)
        for i in range(a, b, step):  # (a gap may be longer than one period)
            j = min(i + step, b)
            audio[i:j] = (1.0 - frac) * audio[i - whole : j - whole] + frac * audio[
                i - whole - 1 : j - whole - 1
            ]
        first = max(start, 0)  # (a gap begun in the hop before is filled from here)
        out[first:end] = audio[offset + first : b]
        return True

    def _best_lag(self, audio: np.ndarray, at: int, period: float | None) -> tuple[float, float]:
        """(lag in samples, its normalised correlation)."""
        window = min(round(_FIT_S * self._rate), at // 2)
        if period:
            lo, hi = math.floor(period * 0.97), math.ceil(period * 1.03)
        else:
            lo, hi = round(self._rate / _FIT_MAX_HZ), round(self._rate / _FIT_MIN_HZ)
        hi = min(hi, at - window - 1)
        lo = max(min(lo, hi - 2), 2)
        target = audio[at - window : at]
        # Row k: the window ``hi - k`` samples earlier.
        span = audio[at - window - hi : at - lo]
        earlier = np.lib.stride_tricks.sliding_window_view(span, window)
        dots = earlier @ target
        norms = np.sqrt(np.einsum("ij,ij->i", earlier, earlier) * float(target @ target)) + 1e-20
        fit = dots / norms
        k = int(np.argmax(fit))
        shift = 0.0
        if 0 < k < fit.size - 1:  # the peak between samples: a parabola through three
            left, mid, right = float(fit[k - 1]), float(fit[k]), float(fit[k + 1])
            curve = left - 2.0 * mid + right
            if curve < 0.0:
                shift = 0.5 * (left - right) / curve
        return hi - (k + shift), float(fit[k])

    # -- DC ----------------------------------------------------------------------------

    def _remove_dc(self, hop: np.ndarray) -> np.ndarray:
        """``hop`` without the input's DC offset, once the input has shown one.

        Subtracting the running mean instead stepped the signal at every hop (a pure E2
        read as F#2 and G2); switched on by the mean alone, the blocker fired on pink
        noise and on a clipped real A2's swing, and moved decisions there. The offset
        measured so far comes off first: the blocker starts from rest, and the whole
        offset would pass it as a step decaying over 40 ms, which the quiet input's gate
        took for a loud note (quiet-40dBFS under 0.02 lost 26 of 46).
        """
        blocker = self._dc_blocker
        if blocker is None:
            sums = self._hop_sums
            if len(sums) == _DC_HOPS:
                self._dc_total -= sums[0]
            hop_sum = hop.dot(self._ones).item()  # (np.dot's value, without its dispatch)
            sums.append(hop_sum)
            self._dc_total += hop_sum
            energies = self._hop_energies
            energies.append(self.energy)  # the last hop's (the click test computes it later)
            if abs(self._dc_total) < _DC_MIN * len(sums) * _HOP:
                return hop
            if len(sums) < _DC_MIN_HOPS:
                return hop
            means = np.array(sums) / hop.size
            mean, spread = _mean_std(means)
            if abs(mean) < _DC_STEADY * spread:
                return hop  # a swing (a low note, a room's rumble), not an offset
            loudest = max(max(energies, default=0.0), hop.dot(hop).item())
            if abs(mean) * len(sums) * _HOP <= math.sqrt(loudest / _HOP) * self._longest_swing:
                return hop  # a swing could leave this mean (see _DC_SWING_MIN_HZ)
            pole = math.exp(-2.0 * math.pi * _DC_POLE_HZ / self._rate)
            blocker = self._dc_blocker = aubio.digital_filter(3)
            blocker.set_biquad(1.0, -1.0, 0.0, -pole, 0.0)
            self._dc_start = np.float32(mean)
        return np.array(blocker(hop - self._dc_start))  # (aubio reuses its output buffer)

    # -- clicks ------------------------------------------------------------------------

    def _remove_clicks(self, hop: np.ndarray) -> np.ndarray:
        """``hop`` with each isolated click replaced by its neighbours' line.

        A click is a sample off the mean of its two neighbours by ``_CLICK_RATIO`` times
        the hop's RMS (white noise reaches 5×, a sine far less; a pluck's first sample
        after silence can, so) and by ``_CLICK_ISOLATION`` times every sample from 3 to
        96 on either side that the stream has heard: a pluck's first samples are followed
        by samples as large, a click by the quiet note it interrupted. Up to 3 samples
        in a row are one click. The last sample of a hop has no neighbour yet: a click
        there passes.
        """
        peak = max(hop.item(hop.argmax()), -hop.item(hop.argmin()))
        self.energy = energy = hop.dot(hop).item()  # (np.dot's value, without its dispatch)
        if peak * peak * hop.size < _CLICK_RATIO * _CLICK_RATIO * energy / 4.0:
            return hop  # nothing sticks out this far (the common case: one comparison)
        rms = math.sqrt(energy / hop.size)
        audio = np.concatenate((self._before[-1][-_CLICK_CONTEXT:], hop) if self._before else
                               (np.zeros(_CLICK_CONTEXT, np.float32), hop))  # fmt: skip
        offset = _CLICK_CONTEXT
        off = np.abs(audio[1:-1] - 0.5 * (audio[:-2] + audio[2:]))
        candidates = np.flatnonzero(off[offset - 1 :] >= _CLICK_RATIO * rms) + offset
        out: np.ndarray | None = None
        done = -1
        for at in candidates.tolist():
            if at <= done:
                continue
            last = at
            while last + 1 < audio.size - 1 and off[last] >= _CLICK_RATIO * rms:
                last += 1  # (off[k] is about sample k + 1)
            first, stop = at, min(last + 1, audio.size - 1)
            if stop - first > _CLICK_GUARD:
                done = stop
                continue
            size = float(np.abs(audio[first:stop]).max())
            left = audio[max(first - _CLICK_CONTEXT, 0) : max(first - _CLICK_GUARD, 0)]
            right = audio[stop + _CLICK_GUARD : stop + _CLICK_CONTEXT]
            around = max(
                float(np.abs(left).max()) if left.size else 0.0,
                float(np.abs(right).max()) if right.size else 0.0,
            )
            done = stop
            if right.size < 8 or size < _CLICK_ISOLATION * around:
                continue
            if out is None:
                out = audio.copy()
            lo, hi = first - 1, stop
            out[first:stop] = np.linspace(out[lo], out[hi], stop - first + 2)[1:-1]
            self.clicks += 1
        if out is None:
            return hop
        out = out[offset:]
        self.energy = out.dot(out).item()
        return out


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    """``(x.mean(), x.std())`` of a float64 vector, the same values from the same ufuncs
    (numpy's sum, its deviations squared and summed, IEEE division and square root),
    without their Python wrappers' set-up: on a noisy input (pink noise, a room's
    rumble) the offset test runs this on most hops."""
    n = x.size
    mean = float(np.add.reduce(x)) / n
    deviations = np.subtract(x, mean)
    np.square(deviations, out=deviations)
    return mean, math.sqrt(float(np.add.reduce(deviations)) / n)
