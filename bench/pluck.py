"""Plucked guitar strings (extended Karplus–Strong) whose sounding pitch is known exactly.

The benchmark needs guitar-like audio with a ground truth no sampler gives: the pitch of
every note to a fraction of a cent, and true legato (hammer-ons, pull-offs, slides and
bends on a string that keeps ringing). One string is a Jaffe–Smith loop::

    y[n] = x[n] + g · A(z) · L(z) · y[n − N]

with ``x`` the excitation (a noise burst, low-passed for brightness and comb-filtered
for the pick position), ``L`` a linear-phase three-tap loss filter, ``A`` a first-order
allpass for the fractional part of the period and ``g`` the gain that sets the decay.
The allpass coefficient is solved from the *exact* phase delay at f0 (not Thiran's
low-frequency approximation), so the loop's phase delay at f0 is exactly ``sr / f0``
and the fundamental sounds at the requested pitch; the loss filter delays every
frequency by one sample, so only the allpass makes upper partials slightly inharmonic:
partials 2–5 stay within 0.2 cent of harmonic up to E5; at E6 partial 2 is within 0.2 and
partial 5 within 1.4 cents. The period a tracker reads off the waveform is within 0.05
cent of the truth from E2 to E6.

    >>> from bench.pluck import StringEvent, Voice, render_line
    >>> audio = render_line(
    ...     [StringEvent(0.0, 60.0, "pluck"), StringEvent(0.5, 62.0, "hammer"),
    ...      StringEvent(1.0, 62.0, "mute")], 1.2, Voice())
    >>> audio.dtype, audio.shape
    (dtype('float32'), (57600,))

Limits: one string is monophonic (mix several lines for chords); no stiffness or
inharmonicity by design; a glide's delay changes every 32 samples, not every sample,
which is inaudible at guitar glide speeds but is not a perfectly smooth sweep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
from scipy.signal import lfilter

__all__ = [
    "BODIES",
    "EVENT_KINDS",
    "Body",
    "StringEvent",
    "Voice",
    "midi_to_hz",
    "render_line",
    "render_note",
    "t60_at",
]

EventKind = Literal["pluck", "hammer", "pull", "slide", "bend", "mute"]
BodyName = Literal["acoustic", "electric", "classical"]

EVENT_KINDS: tuple[str, ...] = ("pluck", "hammer", "pull", "slide", "bend", "mute")

A4_HZ = 440.0
MIDI_MIN = 21.0  # A0 .. C8: the piano's range is more than any guitar needs
MIDI_MAX = 108.0

# The Voice's two decay times are quoted at these frequencies: the open low E and the
# high E at the 12th fret.
T60_LOW_HZ = 82.0
T60_HIGH_HZ = 660.0

# The allpass carries the period's fractional part d in [_D_MIN, _D_MIN + 1). Its
# dispersion (upper partials off harmonic) grows with |d − 1| and is worse above 1 than
# below, so the window sits low: at E6 it keeps partials 2–5 within ±1.4 cents.
_D_MIN = 0.2
# Loop gain ceiling: the loss filter's gain is 1 at DC, so g must stay below 1 there.
_G_MAX = 0.9999
# Loss filter taps (b0, 1 − 2·b0, b0): b0 = 0.25 is the darkest (a zero at Nyquist).
_B0_DARK = 0.25
_B0_BRIGHT = 0.02
# A constant-pitch stretch runs as one lfilter call when the loop is shorter than this
# (its cost grows with N per sample) and in numpy blocks of N samples above it (a fixed
# ~12 µs a block): the two cost the same near N = 120 at 48 kHz.
_LFILTER_MAX_N = 128
# Block length while the delay or the damping moves (glides, mutes): the loop's delay is
# re-set every block, so this is the glide's time resolution (0.7 ms at 48 kHz).
_RAMP_BLOCK = 32

# Peak of a velocity-1 pluck's burst; with the body it peaks near 0.4 at velocity 0.8.
_PLUCK_PEAK = 0.45
_HAMMER_GAIN = 10.0 ** (-12.0 / 20.0)  # the fretting finger: a soft, dark knock
_PULL_GAIN = 10.0 ** (-15.0 / 20.0)  # the finger leaving the string: a tiny pluck
# A re-pluck damps what is ringing: the pick stops the string for a moment before it
# releases it (amplitude factor over one period). Real players land between 0.2 and 0.6.
_REPLUCK_KEEP = 0.35
# Pick noise: a 3 ms click straight into the body, not the loop (it is the pick on the
# string and the top, not a string mode).
_PICK_NOISE_S = 0.003
_PICK_NOISE_TAU_S = 0.0006
_PICK_NOISE_REL = 0.25
# Excitation low-pass: brightness 0 → 600 Hz, 1 → 20 kHz, scaled by velocity.
_EXC_FC_DARK_HZ = 600.0
_EXC_FC_BRIGHT_HZ = 20_000.0
_HAMMER_FC_SCALE = 0.5
_PALM_FC_SCALE = 0.3
# Note-off: the fretting hand lifts and the string dies within ~20 ms.
_MUTE_RAMP_S = 0.005
_MUTE_T60_S = 0.02
# Palm mute: the heel of the hand on the bridge.
_PALM_T60_LOW_S = 0.3
_PALM_T60_HIGH_S = 0.15
# Default glide times when a slide or bend gives glide_s = 0.
_SLIDE_DEFAULT_S = 0.05
_BEND_DEFAULT_S = 0.12
_NOTE_TAIL_S = 0.1


@dataclass(frozen=True, slots=True)
class Body:
    """A body preset: parallel resonances, a shelf, an optional pickup peak, sustain."""

    resonances: tuple[tuple[float, float, float], ...]  # (Hz, Q, gain) band-passes
    shelf_hz: float
    shelf_db: float
    pickup: tuple[float, float] | None  # resonant low-pass (Hz, Q), electric only
    sustain_scale: float  # multiplies both T60s
    excitation_scale: float  # multiplies the excitation's low-pass cut-off
    gain: float  # make-up, so a velocity-0.8 pluck peaks near 0.4 whatever the body


#: Body presets. Acoustic: air (Helmholtz) ~100 Hz, top plate ~200 Hz, ~400 Hz, a touch of
#: presence. Classical: lower, narrower resonances, darker, 25 % more sustain (nylon and a
#: lighter top). Electric: no body; a magnetic pickup's inductance and cable capacitance
#: make a resonant low-pass, here at 4 kHz.
BODIES: dict[str, Body] = {
    "acoustic": Body(
        resonances=((100.0, 8.0, 0.6), (200.0, 6.0, 0.4), (400.0, 4.0, 0.25)),
        shelf_hz=3000.0,
        shelf_db=2.0,
        pickup=None,
        sustain_scale=1.0,
        excitation_scale=1.0,
        gain=1.0,
    ),
    "classical": Body(
        resonances=((95.0, 10.0, 0.7), (190.0, 8.0, 0.45), (380.0, 5.0, 0.2)),
        shelf_hz=2500.0,
        shelf_db=-5.0,
        pickup=None,
        sustain_scale=1.25,
        excitation_scale=0.6,
        gain=1.3,
    ),
    "electric": Body(
        resonances=(),
        shelf_hz=3000.0,
        shelf_db=0.0,
        pickup=(4000.0, 1.5),
        sustain_scale=1.0,
        excitation_scale=1.0,
        gain=1.2,
    ),
}


@dataclass(frozen=True, slots=True)
class Voice:
    """A guitar and a player: everything about the timbre that stays fixed for a line.

    ``t60_low_s`` and ``t60_high_s`` are the fundamental's decay to −60 dB at 82 and 660 Hz;
    other pitches follow a power law through the two (straight in log T60 against log f),
    so notes above 660 Hz keep shortening without ever reaching zero. ``brightness`` sets
    both the pick's excitation spectrum and the loss filter (how much faster the upper
    partials die). ``beat_cents`` splits the string into two polarisations detuned by
    ±beat_cents/2 at equal level: the amplitude beats, the mean pitch stays the truth.
    The ``body`` preset may scale both T60s (``classical`` sustains 25 % longer).
    """

    pick_position: float = 0.18  # fraction of string length from the bridge, 0.05–0.5
    t60_low_s: float = 4.0
    t60_high_s: float = 1.5
    brightness: float = 0.6  # 0–1
    body: BodyName = "acoustic"
    beat_cents: float = 0.0
    palm_mute: bool = False  # heavy damping (T60 0.15–0.3 s) and a darker excitation

    def __post_init__(self) -> None:
        if not 0.05 <= self.pick_position <= 0.5:
            raise ValueError(f"pick_position must be in 0.05–0.5, not {self.pick_position}")
        for name in ("t60_low_s", "t60_high_s"):
            value = getattr(self, name)
            if not 0.01 <= value <= 60.0:
                raise ValueError(f"{name} must be in 0.01–60 s, not {value}")
        if not 0.0 <= self.brightness <= 1.0:
            raise ValueError(f"brightness must be in 0–1, not {self.brightness}")
        if self.body not in BODIES:
            raise ValueError(f"body must be one of {', '.join(BODIES)}, not {self.body!r}")
        if not 0.0 <= self.beat_cents <= 20.0:
            raise ValueError(f"beat_cents must be in 0–20, not {self.beat_cents}")


@dataclass(frozen=True, slots=True)
class StringEvent:
    """One thing that happens to the string: a pick, a fretting-hand move or a note-off.

    ``pluck`` adds a new burst to whatever is ringing (after the pick briefly damps it);
    ``hammer`` and ``pull`` move the pitch at once and keep the string's energy, adding a
    dark knock (hammer) or a small pluck (pull) 12 or 15 dB under what rings — or, on a
    silent or muted string, 12 or 15 dB under a pluck of the same velocity (tapping);
    ``slide`` (linear in pitch) and ``bend`` (raised cosine) glide there over ``glide_s``
    with no new energy — 0 means the kind's default (50 ms, 120 ms), and a slide on a muted
    string stays silent; ``mute`` damps the string within ~20 ms and ignores ``midi``.
    """

    time_s: float
    midi: float  # target pitch, fractional allowed (61.3 = C#4 +30 cents)
    kind: EventKind
    velocity: float = 0.8  # 0–1 (pluck amplitude; ignored for "mute")
    glide_s: float = 0.0  # for "slide"/"bend": how long the pitch takes to reach midi

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}, not {self.kind!r}")
        if not (math.isfinite(self.time_s) and self.time_s >= 0.0):
            raise ValueError(f"time_s must be >= 0, not {self.time_s}")
        if not MIDI_MIN <= self.midi <= MIDI_MAX:
            raise ValueError(f"midi must be in {MIDI_MIN:g}–{MIDI_MAX:g}, not {self.midi}")
        if not 0.0 <= self.velocity <= 1.0:
            raise ValueError(f"velocity must be in 0–1, not {self.velocity}")
        if not 0.0 <= self.glide_s <= 2.0:
            raise ValueError(f"glide_s must be in 0–2 s, not {self.glide_s}")


def midi_to_hz(midi: float) -> float:
    """Equal-tempered frequency of a (fractional) MIDI note, A4 = 440 Hz."""
    return A4_HZ * 2.0 ** ((midi - 69.0) / 12.0)


def t60_at(f0: float, t60_low_s: float, t60_high_s: float) -> float:
    """The fundamental's T60 at ``f0``: a power law through (82 Hz, low) and (660 Hz, high).

    A power law rather than a straight line in log f, so extrapolating past 660 Hz (the
    top of the neck reaches 1.3 kHz) or below 82 Hz stays positive.
    """
    u = math.log(f0 / T60_LOW_HZ) / math.log(T60_HIGH_HZ / T60_LOW_HZ)
    return t60_low_s * (t60_high_s / t60_low_s) ** u


# -- the loop ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loop:
    """One setting of the loop: delay ``n``, allpass ``a``, loss taps ``b0, b1, b0``, gain."""

    n: int
    a: float
    b0: float
    b1: float
    g: float


def _loop(f0: float, t60_s: float, b0: float, sr: int) -> _Loop:
    """The loop that sounds ``f0`` exactly and decays by 60 dB at f0 in ``t60_s``.

    The period P = sr/f0 is split into the integer delay N, one sample of the symmetric
    loss filter (its phase delay is exactly 1 at every frequency) and the allpass's d.
    a = sin((1−d)ω/2) / sin((1+d)ω/2) gives the first-order allpass a phase delay of
    exactly d at ω (the phase of (a + e^{−jω}) / (1 + a e^{−jω}) is −ωd).
    """
    period = sr / f0
    n = math.floor(period - 1.0 - _D_MIN)
    if n < 1:
        raise ValueError(f"{f0:.1f} Hz is too high for sr={sr}: raise sr or lower the note")
    d = period - 1.0 - n
    w = 2.0 * math.pi * f0 / sr
    a = math.sin((1.0 - d) * w / 2.0) / math.sin((1.0 + d) * w / 2.0)
    per_period = 10.0 ** (-3.0 / (f0 * t60_s))  # −60 dB over t60_s·f0 periods
    c = 1.0 - math.cos(w)
    # A high note with a dark filter would need g > 1 (unstable at DC): lighten it.
    b0 = max(0.0, min(b0, (1.0 - per_period / _G_MAX) / (2.0 * c)))
    g = per_period / (1.0 - 2.0 * b0 * c)
    return _Loop(n, a, b0, 1.0 - 2.0 * b0, g)


class _String:
    """The loop's running state over one whole line: its output and the allpass's memory.

    The output ``y`` is kept whole (with ``history`` zeros before it), so the delay line is
    just a slice of the past and a change of N needs no copying. ``w_prev``/``u_prev`` are
    the allpass's last input and output, which both ways of running the loop carry over.
    """

    def __init__(self, n_samples: int, history: int) -> None:
        self._y = np.zeros(history + n_samples)
        self._off = history
        self._w_prev = 0.0
        self._u_prev = 0.0

    @property
    def output(self) -> np.ndarray:
        return self._y[self._off :]

    def run(self, start: int, stop: int, x: np.ndarray, p: _Loop, block: int = 0) -> None:
        """Run samples [start, stop) with one loop setting, continuing from the state."""
        if stop <= start:
            return
        if block or p.n >= _LFILTER_MAX_N or stop - start <= p.n:
            self._run_blocks(start, stop, x, p, min(block or p.n, p.n))
        else:
            self._run_lfilter(start, stop, x, p)

    def _run_blocks(self, start: int, stop: int, x: np.ndarray, p: _Loop, block: int) -> None:
        # A block no longer than N reads only samples from before it: no feedback inside
        # the block, so it is three vectorised reads and one allpass call.
        y, n, off = self._y, p.n, self._off
        num, den = np.array([p.a, 1.0]), np.array([1.0, p.a])
        w_prev, u_prev = self._w_prev, self._u_prev
        s, end = start + off, stop + off
        while s < end:
            e = min(s + block, end)
            w = (
                p.b0 * (y[s - n : e - n] + y[s - n - 2 : e - n - 2])
                + p.b1 * y[s - n - 1 : e - n - 1]
            )
            u, _ = lfilter(num, den, w, zi=[w_prev - p.a * u_prev])
            y[s:e] = x[s - off : e - off] + p.g * u
            w_prev, u_prev = float(w[-1]), float(u[-1])
            s = e
        self._w_prev, self._u_prev = w_prev, u_prev

    def _run_lfilter(self, start: int, stop: int, x: np.ndarray, p: _Loop) -> None:
        # The whole loop as one IIR filter: (1 + a z⁻¹)·Y = (1 + a z⁻¹)·X + g·z⁻ᴺ(a + z⁻¹)L(z)·Y.
        # Its initial state is built from the actual past, so a change of setting (a new
        # pitch, a damping) continues the block form's state exactly.
        y, n, a, g, b0, b1 = self._y, p.n, p.a, p.g, p.b0, p.b1
        s = start + self._off
        taps = g * np.array([a * b0, a * b1 + b0, a * b0 + b1, b0])  # at lags n .. n+3
        den = np.zeros(n + 4)
        den[0] = 1.0
        den[1] = a
        den[n : n + 4] -= taps
        zi = np.zeros(n + 3)
        for j, k in enumerate(range(n, n + 4)):
            zi[1:k] += taps[j] * y[s + 1 - k : s]
        w0 = b0 * (y[s - n] + y[s - n - 2]) + b1 * y[s - n - 1]
        zi[0] = g * (a * w0 + self._w_prev - a * self._u_prev)
        out, _ = lfilter([1.0, a], den, x[start:stop], zi=zi)
        y[s : s + len(out)] = out
        m = s + len(out) - 1
        self._u_prev = float((out[-1] - x[stop - 1]) / g)
        self._w_prev = float(b0 * (y[m - n] + y[m - n - 2]) + b1 * y[m - n - 1])


# -- what the player does: events → control spans --------------------------------------------

#: The string's controls at one instant: (midi, mute amount 0–1, extra gain factor).
_Controls = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class _Span:
    """Samples [start, stop) where the controls are constant, or follow ``at`` if moving."""

    start: int
    stop: int
    at: Callable[[float], _Controls]
    moving: bool


@dataclass(frozen=True, slots=True)
class _Glide:
    """A move from ``lo`` at ``start`` to ``hi`` at ``stop`` (sample times), then ``hi``."""

    lo: float
    hi: float
    start: int
    stop: int
    shape: Literal["linear", "cosine"] = "linear"

    def at(self, n: float) -> float:
        if n >= self.stop or self.stop <= self.start:
            return self.hi
        if n <= self.start:
            return self.lo
        u = (n - self.start) / (self.stop - self.start)
        if self.shape == "cosine":
            u = 0.5 - 0.5 * math.cos(math.pi * u)
        return self.lo + (self.hi - self.lo) * u


@dataclass(frozen=True, slots=True)
class _Burst:
    """An excitation to add at ``start``: its pitch, peak level and low-pass cut-off.

    A pluck's ``level`` is absolute. A hammer's or pull's (``knock`` set) is the level it
    brings a silent string up to; on a ringing string it is ``knock`` times what rings.
    """

    start: int
    midi: float
    level: float
    cutoff_hz: float
    pick_noise: bool
    knock: float | None = None


def _schedule(
    events: Sequence[StringEvent], n_samples: int, voice: Voice, sr: int
) -> tuple[list[_Span], list[_Burst]]:
    """Turn the events into spans of constant or moving controls, and the bursts to add."""
    body = BODIES[voice.body]
    fc_pluck = (
        _EXC_FC_DARK_HZ
        * (_EXC_FC_BRIGHT_HZ / _EXC_FC_DARK_HZ) ** voice.brightness
        * body.excitation_scale
        * (_PALM_FC_SCALE if voice.palm_mute else 1.0)
    )
    ordered = sorted(
        (e for e in events if round(e.time_s * sr) < n_samples), key=lambda e: e.time_s
    )
    spans: list[_Span] = []
    bursts: list[_Burst] = []
    pitch: _Glide | None = None
    mute = _Glide(0.0, 0.0, 0, 0)
    keep_until = 0  # end of a re-pluck's damping
    for i, ev in enumerate(ordered):
        start = round(ev.time_s * sr)
        stop = round(ordered[i + 1].time_s * sr) if i + 1 < len(ordered) else n_samples
        now = pitch.at(start) if pitch is not None else ev.midi
        if ev.kind == "pluck":
            pitch = _Glide(ev.midi, ev.midi, start, start)
            mute = _Glide(0.0, 0.0, start, start)
            keep_until = start + round(sr / midi_to_hz(ev.midi))
            level = _PLUCK_PEAK * ev.velocity
            fc = fc_pluck * (0.5 + 0.5 * ev.velocity)  # a harder pick is brighter
            bursts.append(_Burst(start, ev.midi, level, fc, True))
        elif ev.kind in ("hammer", "pull"):
            pitch = _Glide(ev.midi, ev.midi, start, start)
            mute = _Glide(0.0, 0.0, start, start)
            if ev.kind == "hammer":
                knock, fc = _HAMMER_GAIN, fc_pluck * _HAMMER_FC_SCALE
            else:
                knock, fc = _PULL_GAIN, fc_pluck
            level = knock * _PLUCK_PEAK * ev.velocity
            bursts.append(_Burst(start, ev.midi, level, fc, False, knock))
        elif ev.kind in ("slide", "bend"):
            default = _SLIDE_DEFAULT_S if ev.kind == "slide" else _BEND_DEFAULT_S
            glide = round((ev.glide_s or default) * sr)
            shape: Literal["linear", "cosine"] = "linear" if ev.kind == "slide" else "cosine"
            pitch = _Glide(now, ev.midi, start, start + glide, shape)
        else:  # mute
            mute = _Glide(mute.at(start), 1.0, start, start + round(_MUTE_RAMP_S * sr))
        spans.extend(_spans_between(start, stop, pitch, mute, keep_until))
    return spans, bursts


def _spans_between(
    start: int, stop: int, pitch: _Glide | None, mute: _Glide, keep_until: int
) -> list[_Span]:
    """Cut [start, stop) where a glide, a mute ramp or a re-pluck's damping ends."""
    if pitch is None or stop <= start:
        return []
    cuts = sorted(
        {start, stop} | {c for c in (pitch.stop, mute.stop, keep_until) if start < c < stop}
    )

    def at(n: float) -> _Controls:
        return pitch.at(n), mute.at(n), _REPLUCK_KEEP if n < keep_until else 1.0

    spans = []
    for lo, hi in pairwise(cuts):
        moving = (pitch.start <= lo < pitch.stop and pitch.lo != pitch.hi) or (
            mute.start <= lo < mute.stop and mute.lo != mute.hi
        )
        spans.append(_Span(lo, hi, at, moving))
    return spans


# -- sound ------------------------------------------------------------------------------------


def _burst(
    b: _Burst, level: float, pick_position: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """One period of noise, low-passed, with the pick position's comb, peaking at ``level``.

    A burst one period long fills the loop as Karplus–Strong's random initial delay line
    does. The comb 1 − z^(−βP) notches the harmonics a pick at fraction β cannot excite.
    """
    period = round(sr / midi_to_hz(b.midi))
    noise = rng.uniform(-1.0, 1.0, period)
    pole = math.exp(-2.0 * math.pi * min(b.cutoff_hz, 0.45 * sr) / sr)
    noise = lfilter([1.0 - pole], [1.0, -pole], noise)
    lag = max(1, round(pick_position * period))
    combed = np.concatenate([noise, np.zeros(lag)])
    combed[lag:] -= noise
    return combed * (level / float(np.max(np.abs(combed))))


def _pick_noise(level: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The pick scraping off the string: a 3 ms, high-passed, fast-decaying click."""
    n = max(2, round(_PICK_NOISE_S * sr))
    click = np.diff(
        rng.standard_normal(n + 1) * np.exp(-np.arange(n + 1) / (_PICK_NOISE_TAU_S * sr))
    )
    return click * (level * _PICK_NOISE_REL / float(np.max(np.abs(click))))


def _loop_for(controls: _Controls, voice: Voice, cents: float, sr: int) -> _Loop:
    """The loop for one instant's controls, one polarisation (detuned by ``cents``)."""
    midi, muted, keep = controls
    f0 = midi_to_hz(midi + cents / 100.0)
    sustain = BODIES[voice.body].sustain_scale
    if voice.palm_mute:
        t60 = t60_at(f0, _PALM_T60_LOW_S, _PALM_T60_HIGH_S)
        b0 = _B0_DARK
    else:
        t60 = sustain * t60_at(f0, voice.t60_low_s, voice.t60_high_s)
        b0 = _B0_DARK + (_B0_BRIGHT - _B0_DARK) * voice.brightness
    if muted > 0.0:
        # Geometric between the note's T60 and the mute's: the ramp sounds even in dB.
        t60 = t60 ** (1.0 - muted) * _MUTE_T60_S**muted
        b0 += (_B0_DARK - b0) * muted
    loop = _loop(f0, t60, b0, sr)
    if keep != 1.0:
        loop = _Loop(loop.n, loop.a, loop.b0, loop.b1, loop.g * keep)
    return loop


def _ringing(strings: list[_String], start: int, midi: float, sr: int) -> float:
    """Peak of the string (polarisations mixed) over the period before ``start``."""
    lo = max(0, start - round(sr / midi_to_hz(midi)))
    if lo >= start:
        return 0.0
    mixed = sum(string.output[lo:start] for string in strings) / len(strings)
    return float(np.max(np.abs(mixed)))


def _render_strings(
    spans: list[_Span],
    bursts: list[_Burst],
    voice: Voice,
    cents: tuple[float, ...],
    n_samples: int,
    sr: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Run the polarisations (one per entry of ``cents``) side by side: string + pick noise.

    Side by side, because a hammer's or pull's burst is sized from what the string is
    doing just before it, so every polarisation must have reached that instant first.
    """
    history = math.ceil(sr / midi_to_hz(MIDI_MIN - 1.0)) + 8
    strings = [_String(n_samples, history) for _ in cents]
    x = np.zeros(n_samples)
    click = np.zeros(n_samples)
    pending = list(reversed(bursts))
    for span in spans:
        while pending and pending[-1].start <= span.start:
            b = pending.pop()
            level = b.level
            if b.knock is not None:
                # Top a quiet string up to the knock's own level, or knock 12/15 dB under
                # what rings: a hammer-on never makes a ringing string jump in level.
                ring = _ringing(strings, b.start, b.midi, sr)
                level = max(b.level - ring, b.knock * ring)
            burst = _burst(b, level, voice.pick_position, sr, rng)[: n_samples - b.start]
            x[b.start : b.start + len(burst)] += burst
            if b.pick_noise:
                noise = _pick_noise(level, sr, rng)[: n_samples - b.start]
                click[b.start : b.start + len(noise)] += noise
        for string, c in zip(strings, cents, strict=True):
            if not span.moving:
                loop = _loop_for(span.at(span.start), voice, c, sr)
                string.run(span.start, span.stop, x, loop)
                continue
            ends = (
                _loop_for(span.at(span.start), voice, c, sr),
                _loop_for(span.at(span.stop), voice, c, sr),
            )
            block = min(_RAMP_BLOCK, *(p.n for p in ends))
            for s in range(span.start, span.stop, block):
                e = min(s + block, span.stop)
                string.run(s, e, x, _loop_for(span.at(0.5 * (s + e)), voice, c, sr), block)
    return sum(string.output for string in strings) / len(strings) + click


def _biquad_bandpass(f0: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ band-pass with 0 dB peak gain."""
    w = 2.0 * math.pi * f0 / sr
    alpha = math.sin(w) / (2.0 * q)
    b = np.array([alpha, 0.0, -alpha])
    a = np.array([1.0 + alpha, -2.0 * math.cos(w), 1.0 - alpha])
    return b / a[0], a / a[0]


def _biquad_lowpass(f0: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ low-pass; Q above 0.707 gives the pickup's resonant peak."""
    w = 2.0 * math.pi * f0 / sr
    alpha = math.sin(w) / (2.0 * q)
    cw = math.cos(w)
    b = np.array([(1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0])
    a = np.array([1.0 + alpha, -2.0 * cw, 1.0 - alpha])
    return b / a[0], a / a[0]


def _biquad_high_shelf(f0: float, gain_db: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ high shelf with slope 1 (the gentlest without a bump)."""
    big_a = 10.0 ** (gain_db / 40.0)
    w = 2.0 * math.pi * f0 / sr
    cw, alpha = math.cos(w), math.sin(w) / 2.0 * math.sqrt(2.0)
    k = 2.0 * math.sqrt(big_a) * alpha
    b = np.array(
        [
            big_a * ((big_a + 1.0) + (big_a - 1.0) * cw + k),
            -2.0 * big_a * ((big_a - 1.0) + (big_a + 1.0) * cw),
            big_a * ((big_a + 1.0) + (big_a - 1.0) * cw - k),
        ]
    )
    a = np.array(
        [
            (big_a + 1.0) - (big_a - 1.0) * cw + k,
            2.0 * ((big_a - 1.0) - (big_a + 1.0) * cw),
            (big_a + 1.0) - (big_a - 1.0) * cw - k,
        ]
    )
    return b / a[0], a / a[0]


def _apply_body(s: np.ndarray, body: Body, sr: int) -> np.ndarray:
    """The body (or pickup) as a fixed filter after the string: it colours, never retunes.

    A linear filter after the loop cannot move the string's partials; its own modes ring
    for tens of milliseconds after each attack and are gone long before a pitch is read.
    """
    out = s.copy()
    for f0, q, gain in body.resonances:
        if f0 < 0.45 * sr:
            out += gain * lfilter(*_biquad_bandpass(f0, q, sr), s)
    if body.pickup is not None and body.pickup[0] < 0.45 * sr:
        out = lfilter(*_biquad_lowpass(*body.pickup, sr), out)
    if body.shelf_db and body.shelf_hz < 0.45 * sr:
        out = lfilter(*_biquad_high_shelf(body.shelf_hz, body.shelf_db, sr), out)
    return body.gain * out


def render_line(
    events: Sequence[StringEvent],
    duration_s: float,
    voice: Voice,
    *,
    sr: int = 48_000,
    seed: int = 0,
) -> np.ndarray:
    """Play ``events`` on one string for ``duration_s`` seconds: float32 mono at ``sr``.

    The string's state carries across every event (legato is real, not a cross-fade);
    events at or after ``duration_s`` are ignored and the last note rings to the end
    unless muted. The same events, voice and seed always give the same samples.
    A velocity-0.8 pluck peaks near 0.4. Nothing is clipped or limited: re-plucks damp
    what rings, so even a busy line at velocities up to 1 stays under about 0.7.
    """
    if not (math.isfinite(duration_s) and duration_s > 0.0):
        raise ValueError(f"duration_s must be > 0, not {duration_s}")
    if sr < 8000:
        raise ValueError(f"sr must be >= 8000, not {sr}")
    n_samples = round(duration_s * sr)
    rng = np.random.default_rng(seed)
    spans, bursts = _schedule(events, n_samples, voice, sr)
    half = voice.beat_cents / 2.0
    cents = (half, -half) if half > 0.0 else (0.0,)
    string = _render_strings(spans, bursts, voice, cents, n_samples, sr, rng)
    return _apply_body(string, BODIES[voice.body], sr).astype(np.float32)


def render_note(
    midi: float,
    duration_s: float,
    voice: Voice,
    *,
    velocity: float = 0.8,
    sr: int = 48_000,
    seed: int = 0,
) -> np.ndarray:
    """One plucked note held ``duration_s`` then muted, with 0.1 s of tail after the mute."""
    events = [
        StringEvent(0.0, midi, "pluck", velocity),
        StringEvent(duration_s, midi, "mute"),
    ]
    return render_line(events, duration_s + _NOTE_TAIL_S, voice, sr=sr, seed=seed)
