"""One session's metronome, run by the DSP thread: it starts the clicks, holds the tracker
back through the count-in, keeps the click out of what the tracker hears, and tells the
scorer where the beat is.

The clock is the capture's sample count (:attr:`device.audio.Capture.position`): output
sample ``n`` is written with input sample ``n``, so a click rendered at ``n`` is played
along with by a note that arrives at input sample ``n + round trip``. With no interface
output (a file, the demo, an interface without outputs) the metronome is only seen: it
has no count-in (a file does not wait) and its phase is left for the scorer to learn from
the notes, because the recording was never played to these clicks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from device.output import OutputMix
from dsp import HOP_SIZE
from dsp.metronome import ClickFilter, ClickSchedule, MetronomeSettings

log = logging.getLogger(__name__)

_PREROLL_S = 0.15  # the tracker starts listening this long before the first scored beat ...
_PREROLL_BEATS = 0.5  # ... or half a beat, whichever is less: an early first note counts
_START_AHEAD = 2 * HOP_SIZE  # the first click this far past what the output has been given
LED_ON_S = 0.08  # how long the beat LED lights (longer on beat 1)


@dataclass(frozen=True, slots=True)
class BeatNow:
    """Where the beat is, for the screen: ``number`` counts from the first scored beat
    (negative in the count-in), ``of_bar`` from 1, ``since_s`` since it sounded."""

    number: int
    of_bar: int
    since_s: float


class Led(Protocol):
    def on(self) -> None: ...

    def off(self) -> None: ...


class BeatLed:
    """Lights an LED (a gpiozero ``LED``) on each beat from its own thread, so the DSP
    thread only sets an event."""

    def __init__(self, led: Led) -> None:
        self.led = led
        self.flashes = 0  # beats flashed (the accents among them in ``accents``)
        self.accents = 0
        self._beat = threading.Event()
        self._accent = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="beat-led", daemon=True)
        self._thread.start()

    def flash(self, *, accent: bool) -> None:
        self.flashes += 1
        self.accents += accent
        self._accent = accent
        self._beat.set()

    def close(self) -> None:
        self._stop.set()
        self._beat.set()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while True:
            self._beat.wait()
            self._beat.clear()
            if self._stop.is_set():
                self.led.off()
                return
            self.led.on()
            self._stop.wait(LED_ON_S * (2 if self._accent else 1))
            self.led.off()


class SessionMetronome:
    """The clicks of one session. Built by the main thread, then used by the DSP thread only."""

    def __init__(
        self,
        bpm: float,
        settings: MetronomeSettings,
        sample_rate: int,
        *,
        mix: OutputMix | None,
        round_trip_s: float,
        position: Callable[[], int],
        led: BeatLed | None = None,
        phase_s: float | None = None,
    ) -> None:
        self.bpm = bpm
        self.settings = settings
        self.sample_rate = sample_rate
        self.mix = mix
        self.round_trip = round(round_trip_s * sample_rate)
        self.position = position
        self.led = led
        # Unheard clicks with a known phase: a recording made to a click whose first beat
        # is this far into it (the bundled demo's is 0.3 s), when the session starts at
        # the recording's first sample.
        self.phase = None if mix is not None or phase_s is None else round(phase_s * sample_rate)
        self._recorded = self.phase is not None  # until a pause skips part of the recording
        self._starts = 0
        self.schedule: ClickSchedule | None = None
        self._feed_from = 0
        self._origin_due = False
        self._filter = ClickFilter(sample_rate) if mix is not None else None
        self.beat: BeatNow | None = None  # where the beat is at the last hop admitted

    @property
    def heard(self) -> bool:
        return self.mix is not None

    @property
    def phase_known(self) -> bool:
        """The notes were played to these clicks (heard, or a recording made to them): the
        offset to them means something."""
        return self.heard or self._recorded

    def admit(
        self, index: int, hop: np.ndarray, stream_s: float
    ) -> tuple[np.ndarray | None, float | None]:
        """Hop ``index`` as the tracker should hear it (None in the count-in), and, on the
        first hop it hears after the clicks (re)started, the grid's new origin on the
        notes' clock (``stream_s`` is that clock at this hop). Also moves :attr:`beat` on,
        and lights the LED when a beat begins."""
        if self.schedule is None:
            self._start(index)
        schedule = self.schedule
        assert schedule is not None
        if self._filter is not None:
            hop = self._filter(hop)
        found = schedule.beat_at(index)
        beat = None if found is None else BeatNow(*found)
        if (
            self.led is not None
            and beat is not None
            and (self.beat is None or beat.number != self.beat.number)
        ):
            self.led.flash(accent=beat.of_bar == 1)
        self.beat = beat
        if index + HOP_SIZE <= self._feed_from:
            return None, None
        origin = None
        if self._origin_due:
            self._origin_due = False
            if self.phase_known:
                origin = stream_s + (schedule.downbeat + self.round_trip - index) / self.sample_rate
        return hop, origin

    def stop(self) -> None:
        """Paused or ended: the clicks stop; the next hop admitted starts them again."""
        if self.mix is not None:
            self.mix.stop_clicks()
        self.schedule = None
        self.beat = None

    def _start(self, index: int) -> None:
        settings = self.settings
        heard = self.heard
        self._starts += 1
        if heard:
            start = max(index, self.position() + _START_AHEAD)
        else:
            # The recording's click is known from its first sample: a session that starts
            # later in it (a button pressed while it plays), or resumes after hops were
            # skipped while paused, has lost that phase.
            if self._starts > 1 or index != 0:
                self._recorded = False
            start = index + (self.phase if self._recorded and self.phase else 0)
        schedule = ClickSchedule(
            self.sample_rate,
            self.bpm,
            start,
            beats_per_bar=settings.beats_per_bar,
            subdivision=settings.subdivision,
            count_in=settings.beats_per_bar if heard and settings.count_in else 0,
        )
        self.schedule = schedule
        if self.mix is not None:
            self.mix.start_clicks(schedule)
        preroll = min(_PREROLL_S, _PREROLL_BEATS * 60.0 / self.bpm)
        self._feed_from = (
            schedule.downbeat + self.round_trip - round(preroll * self.sample_rate)
            if schedule.count_in
            else index
        )
        self._origin_due = True
