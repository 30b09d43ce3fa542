"""The interface's output: the metronome's clicks and the coach's speech, mixed hop by hop.

The capture thread writes one hop of output for every hop it reads (the interface runs
both directions on one clock), so output sample ``n`` leaves the interface a fixed
latency after input sample ``n`` arrives: the click schedule is in the same samples the
tracker counts. :class:`OutputMix` is what it writes. Speech is handed in whole by the
speaker's thread (:class:`MixPlayer`) and ducks under every click (see
:func:`dsp.metronome.duck_gains`), so a tip never sounds over the beat.

Nothing here waits: :meth:`OutputMix.render` takes a lock for a few pointer swaps and
sums at most three arrays.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import soundfile

from coach.voices.base import utcnow
from coach.voices.wav import Audio
from device.playback import ChildProcesses, Playback, Player
from dsp.metronome import ClickSchedule, duck_gains, render_clicks

log = logging.getLogger(__name__)

_SPEECH_GAIN = 0.8  # speech sits a little under full scale, clicks add on top
_POLL_S = 0.02  # how often a playing clip checks that it is still wanted


@dataclass(slots=True)
class _Clip:
    samples: np.ndarray
    played: int = 0
    done: threading.Event | None = None


class OutputMix:
    """Clicks (from a :class:`ClickSchedule`) plus at most one speech clip, at ``volume``."""

    def __init__(self, sample_rate: int, *, volume: float = 0.5) -> None:
        self.sample_rate = sample_rate
        self.volume = volume
        self.active = False  # True while the interface is open with its output
        self._schedule: ClickSchedule | None = None
        self._clip: _Clip | None = None
        self._lock = threading.Lock()

    @property
    def schedule(self) -> ClickSchedule | None:
        return self._schedule

    def start_clicks(self, schedule: ClickSchedule) -> None:
        self._schedule = schedule

    def stop_clicks(self) -> None:
        self._schedule = None

    def render(self, first: int, n: int) -> np.ndarray:
        """Output samples ``[first, first + n)`` on the capture's clock (mono float32,
        clipped to ±1); speech plays on from where the last call left it."""
        schedule = self._schedule
        out = (
            render_clicks(schedule, first, n, self.volume)
            if schedule is not None
            else np.zeros(n, dtype=np.float32)
        )
        with self._lock:
            clip = self._clip
            if clip is not None:
                part = clip.samples[clip.played : clip.played + n]
                clip.played += len(part)
                if clip.played >= len(clip.samples):
                    self._clip = None
                    if clip.done is not None:
                        clip.done.set()
        if clip is not None and len(part):
            speech = part * _SPEECH_GAIN
            if schedule is not None:
                speech = speech * duck_gains(schedule, first, len(part))
            out[: len(part)] += speech
        np.clip(out, -1.0, 1.0, out=out)
        return out

    def play(self, samples: np.ndarray) -> threading.Event:
        """Start ``samples`` (mono, at this mix's rate) now, replacing any clip playing;
        the event is set when the last sample has been rendered."""
        done = threading.Event()
        with self._lock:
            previous, self._clip = self._clip, _Clip(np.asarray(samples, np.float32), 0, done)
        if previous is not None and previous.done is not None:
            previous.done.set()
        return done

    def stop_speech(self) -> None:
        with self._lock:
            clip, self._clip = self._clip, None
        if clip is not None and clip.done is not None:
            clip.done.set()


def speech_samples(audio: Audio, sample_rate: int) -> np.ndarray:
    """A voice's WAV as mono float32 at ``sample_rate`` (linear interpolation: speech)."""
    data, rate = soundfile.read(io.BytesIO(audio.wav), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate == sample_rate or not len(mono):
        return mono.astype(np.float32)
    count = round(len(mono) * sample_rate / rate)
    where = np.arange(count) * (rate / sample_rate)
    return np.interp(where, np.arange(len(mono)), mono).astype(np.float32)


class MixPlayer:
    """The speaker's player when the interface's output is ours: the WAV goes into the
    :class:`OutputMix` instead of to ``aplay`` (which could not open the busy device).
    Cancelled the same way as a player process: through ``children``'s generation. While
    the interface is not open both ways, ``fallback`` (``aplay``) plays it as before."""

    def __init__(self, mix: OutputMix, children: ChildProcesses, fallback: Player) -> None:
        self.mix = mix
        self.children = children
        self.fallback = fallback

    @property
    def program(self) -> str:
        return "mixer" if self.mix.active else self.fallback.program

    def device(self) -> str:
        if not self.mix.active:
            return self.fallback.device()
        return "interface output (mixed with the metronome)"

    def play(self, audio: Audio, generation: int) -> Playback:
        if not self.mix.active:
            return self.fallback.play(audio, generation)
        started = utcnow()
        command = ["mixer"]
        try:
            samples = speech_samples(audio, self.mix.sample_rate)
        except (RuntimeError, ValueError) as err:  # soundfile's LibsndfileError is a RuntimeError
            return Playback(self.device(), command, started, utcnow(), "failed", None, str(err))
        done = self.mix.play(samples)
        deadline = time.monotonic() + len(samples) / self.mix.sample_rate + 10.0
        while not done.wait(_POLL_S):
            if not self.children.wanted(generation):
                self.mix.stop_speech()
                return Playback(self.device(), command, started, utcnow(), "interrupted", None)
            if time.monotonic() > deadline:  # the output stopped taking hops
                self.mix.stop_speech()
                error = "the interface stopped playing"
                return Playback(self.device(), command, started, utcnow(), "failed", None, error)
        return Playback(self.device(), command, started, utcnow(), "ok", 0)
