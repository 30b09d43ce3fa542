"""The metronome: when each click sounds, what it sounds like, and how the tracker stays
deaf to it.

Everything here is arithmetic on sample positions, so the click that goes out, the beat
the screen flashes and the grid the timing score judges against are one schedule:

* :class:`ClickSchedule` — click ``k`` starts at ``start + k * interval`` samples on the
  interface's clock; ``k`` counts subdivisions, the first ``count_in`` beats are the
  count-in bar, beat 1 of every bar is accented.
* :func:`render_clicks` — the synthesised clicks (no sample files) in any block of output.
* :func:`duck_gains` — how far speech is turned down around each click, so a spoken tip
  ducks under the click instead of sounding over it.
* :class:`ClickFilter` — a notch at the click's one frequency, run on the input before the
  tracker. A click is a short tone burst at :data:`CLICK_HZ` (above every guitar
  fundamental up to E6, 1319 Hz), so whatever bleeds back through a microphone or an amp
  — at any latency, any level the player sets, with the room's echo — lies in one narrow
  band that the notch removes, while the guitar's own partials outside it are untouched.
  ``docs/metronome.md`` shows why a notch, not a gate on the schedule.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from functools import lru_cache

import aubio
import numpy as np

from dsp.errors import InvalidSettingError

CLICK_HZ = 2400.0  # the one frequency every click is made of
# Shape: a raised-cosine attack (a hard edge would splash energy outside the notch's band)
# and an exponential decay, cut off once it is 50 dB down.
_ATTACK_S = 0.004
_DECAY_S = {  # time constant of each kind's decay
    "accent": 0.012,
    "beat": 0.009,
    "sub": 0.005,
}
_LEVEL = {"accent": 1.0, "beat": 0.6, "sub": 0.3}  # × the volume
_CUT_DB = 50.0
# Speech under a click: turned down this far, from a little before the click until its
# tail is gone, with short ramps so the ducking itself makes no clicks.
DUCK_GAIN = 0.1  # −20 dB
_DUCK_LEAD_S = 0.01
_DUCK_RAMP_S = 0.005
# The notch: two biquads in series at CLICK_HZ, each this Q (bandwidth CLICK_HZ / Q).
_NOTCH_Q = 3.0
_NOTCH_STAGES = 2

SUBDIVISIONS = {"quarters": 1, "eighths": 2, "triplets": 3, "16ths": 4}


@dataclass(frozen=True, slots=True)
class MetronomeSettings:
    """``metronome.*``: how the click sounds and counts (the tempo is the session's)."""

    enabled: bool = True
    volume: float = 0.5  # 0–1 of full scale at the interface's output
    beats_per_bar: int = 4
    subdivision: int = 1  # clicks a beat: 1 quarters, 2 eighths, 3 triplets, 4 16ths
    count_in: bool = True  # a bar of clicks before scoring starts (heard clicks only)
    latency_s: float = 0.0  # added to the round trip the interface reports


class Click(enum.Enum):
    ACCENT = "accent"  # beat 1 of a bar
    BEAT = "beat"
    SUB = "sub"  # a subdivision between beats


@dataclass(frozen=True, slots=True)
class ClickSchedule:
    """Where every click of one session falls, in samples on the interface's clock.

    ``start`` is the first click of the count-in (or of the first bar, without one);
    scoring starts at :attr:`downbeat`, ``count_in`` beats later.
    """

    sample_rate: int
    bpm: float
    start: int
    beats_per_bar: int = 4
    subdivision: int = 1  # clicks per beat: 1 quarters, 2 eighths, 3 triplets, 4 16ths
    count_in: int = 0  # beats before the first scored beat (a bar, or none)

    def __post_init__(self) -> None:
        if not 20 <= self.bpm <= 400:
            raise InvalidSettingError(f"metronome bpm must be between 20 and 400, not {self.bpm}")
        if not 1 <= self.beats_per_bar <= 12:
            raise InvalidSettingError(
                f"beats per bar must be between 1 and 12, not {self.beats_per_bar}"
            )
        if self.subdivision not in SUBDIVISIONS.values():
            raise InvalidSettingError(
                f"subdivision must be 1, 2, 3 or 4 clicks a beat, not {self.subdivision}"
            )

    @property
    def beat_samples(self) -> float:
        return 60.0 * self.sample_rate / self.bpm

    @property
    def interval(self) -> float:
        """Samples between two clicks."""
        return self.beat_samples / self.subdivision

    @property
    def downbeat(self) -> int:
        """The first scored beat: where the count-in ends."""
        return self.start + round(self.count_in * self.beat_samples)

    def position(self, k: int) -> int:
        return self.start + round(k * self.interval)

    def kind(self, k: int) -> Click:
        if k % self.subdivision:
            return Click.SUB
        beat = k // self.subdivision - self.count_in
        return Click.ACCENT if beat % self.beats_per_bar == 0 else Click.BEAT

    def clicks_between(self, first: int, end: int, *, reach: int = 0) -> list[tuple[int, Click]]:
        """The clicks that sound in samples ``[first, end)``: those starting there, and
        those up to ``reach`` samples earlier whose tail still does."""
        lo = max(0, math.ceil((first - reach - self.start) / self.interval))
        hi = math.ceil((end - self.start) / self.interval)
        return [(self.position(k), self.kind(k)) for k in range(lo, hi)]

    def beat_at(self, sample: int) -> tuple[int, int, float] | None:
        """(beat number from the downbeat, negative in the count-in; beat of the bar from 1;
        seconds since that beat), or None before the first click."""
        if sample < self.start:
            return None
        beats = (sample - self.downbeat) / self.beat_samples
        number = math.floor(beats + 1e-9)
        of_bar = number % self.beats_per_bar + 1
        since = (beats - number) * self.beat_samples / self.sample_rate
        return number, of_bar, since


@lru_cache(maxsize=16)
def click_wave(kind: Click, sample_rate: int) -> np.ndarray:
    """One click at full volume: a tone burst at :data:`CLICK_HZ`, read-only."""
    decay = _DECAY_S[kind.value]
    length = _ATTACK_S + decay * _CUT_DB / 20.0 * math.log(10.0)
    t = np.arange(round(length * sample_rate)) / sample_rate
    envelope = np.exp(-np.maximum(t - _ATTACK_S, 0.0) / decay)
    attack = t < _ATTACK_S
    envelope[attack] = 0.5 - 0.5 * np.cos(np.pi * t[attack] / _ATTACK_S)
    wave = (_LEVEL[kind.value] * envelope * np.sin(2 * np.pi * CLICK_HZ * t)).astype(np.float32)
    wave.flags.writeable = False
    return wave


def click_reach(sample_rate: int) -> int:
    """The longest click, in samples: how far back a click may still sound."""
    return max(len(click_wave(kind, sample_rate)) for kind in Click)


def render_clicks(schedule: ClickSchedule, first: int, n: int, volume: float) -> np.ndarray:
    """Samples ``[first, first + n)`` of the click track at ``volume`` (0–1)."""
    out = np.zeros(n, dtype=np.float32)
    if volume <= 0.0:
        return out
    rate = schedule.sample_rate
    for at, kind in schedule.clicks_between(first, first + n, reach=click_reach(rate)):
        wave = click_wave(kind, rate)
        lo, hi = max(at, first), min(at + len(wave), first + n)
        if lo < hi:
            out[lo - first : hi - first] += wave[lo - at : hi - at]
    out *= volume
    return out


def duck_gains(schedule: ClickSchedule, first: int, n: int) -> np.ndarray:
    """Speech's gain for samples ``[first, first + n)``: 1, down to :data:`DUCK_GAIN` from
    just before each click until its tail has gone, with short ramps either side."""
    rate = schedule.sample_rate
    lead, ramp = round(_DUCK_LEAD_S * rate), max(1, round(_DUCK_RAMP_S * rate))
    gains = np.ones(n, dtype=np.float32)
    index = np.arange(first, first + n)
    reach = click_reach(rate) + ramp
    for at, kind in schedule.clicks_between(first - reach, first + n + lead + ramp):
        down_from, up_from = at - lead, at + len(click_wave(kind, rate))
        # 0 before the duck, 1 inside it, ramping at both edges.
        depth = np.clip(
            np.minimum((index - (down_from - ramp)) / ramp, (up_from + ramp - index) / ramp),
            0.0,
            1.0,
        )
        gains = np.minimum(gains, 1.0 - (1.0 - DUCK_GAIN) * depth).astype(np.float32)
    return gains


def notch_coefficients(sample_rate: int, hz: float = CLICK_HZ, q: float = _NOTCH_Q) -> tuple:
    """An RBJ-cookbook notch biquad, normalised: (b0, b1, b2, a1, a2)."""
    w0 = 2 * math.pi * hz / sample_rate
    alpha = math.sin(w0) / (2 * q)
    a0 = 1 + alpha
    cos = math.cos(w0)
    return (1 / a0, -2 * cos / a0, 1 / a0, -2 * cos / a0, (1 - alpha) / a0)


class ClickFilter:
    """The notch that keeps the click out of the tracker, hop by hop (aubio's biquad, in C:
    ~10 µs a hop). Its state runs on across hops, so it must see every hop in order."""

    def __init__(self, sample_rate: int) -> None:
        self._stages = []
        for _ in range(_NOTCH_STAGES):
            stage = aubio.digital_filter(3)
            stage.set_biquad(*notch_coefficients(sample_rate))
            self._stages.append(stage)

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        """The hop filtered, as a new array: aubio hands back its own output buffer, which
        the next call overwrites."""
        out = np.ascontiguousarray(hop, dtype=np.float32)
        for stage in self._stages:
            out = stage(out)
        return np.array(out, dtype=np.float32)
