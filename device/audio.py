"""Audio in: one small interface, three sources, and the capture thread.

* :class:`PyAudioSource` — the USB interface through PortAudio (pyaudio). Chosen by a
  substring of its name (ALSA card numbers move between boots), opened at
  ``audio.sample_rate`` or, when the interface refuses it, at the other rate the tracker
  takes (see :func:`choose_rate`); one input channel picked out of the interleaved frames.
* :class:`WavSource` — a recorded performance, paced in real time (so the daemon sees
  it exactly as it would the interface) or as fast as possible.
* :class:`ToneSource` — a generated melody, for a machine with nothing at all.

:class:`Capture` is the only code on the capture thread: it reads a hop and copies it
into a bounded queue. When the DSP thread falls behind, the queue is full and the hop is
dropped and *counted* — the interface is never made to wait. A stall (no frames for
``stall_timeout_s``, which is how a USB unplug usually shows: PortAudio rarely reports
it) closes the source and reopens it until it comes back.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from device.output import OutputMix
from device.wavread import WavReader
from dsp import HOP_SIZE, SUPPORTED_RATES
from dsp.errors import AudioSourceError, DeviceError

log = logging.getLogger(__name__)


class EndOfStream(Exception):  # noqa: N818 - a normal end, not an error
    """A finite source (a file) has no more audio."""


class AudioSource(Protocol):
    """Blocking hop reader. ``read_hop`` returns HOP_SIZE float32 samples, mono."""

    sample_rate: int
    description: str

    def open(self) -> None: ...

    def read_hop(self) -> np.ndarray: ...

    def close(self) -> None: ...


# -- files and generated audio ---------------------------------------------------------------


class WavSource:
    """A WAV file as if it were the interface. ``realtime=False`` reads as fast as possible."""

    def __init__(
        self,
        path: Path,
        *,
        channel: int | None = None,
        realtime: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self._reader = WavReader(path, channel=channel)
        self.sample_rate = self._reader.info.sample_rate
        self.description = f"file {path.name} ({self._reader.info.seconds:.1f} s)"
        self.realtime = realtime
        self._monotonic = monotonic
        self._sleep = sleep
        self._hops: Iterator[np.ndarray] | None = None
        self._started = 0.0
        self._served = 0

    def open(self) -> None:
        self._hops = _hops_from_chunks(self._reader.chunks())
        self._started = self._monotonic()
        self._served = 0

    def read_hop(self) -> np.ndarray:
        if self._hops is None:
            raise AudioSourceError("the source is not open")
        try:
            hop = next(self._hops)
        except StopIteration:
            raise EndOfStream from None
        self._served += 1
        if self.realtime:
            due = self._started + self._served * HOP_SIZE / self.sample_rate
            wait = due - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        return hop

    def close(self) -> None:
        self._hops = None


def _hops_from_chunks(chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    carry = np.zeros(0, dtype=np.float32)
    for chunk in chunks:
        block = np.concatenate([carry, chunk]) if carry.size else chunk
        full = len(block) - len(block) % HOP_SIZE
        for start in range(0, full, HOP_SIZE):
            yield np.ascontiguousarray(block[start : start + HOP_SIZE], dtype=np.float32)
        carry = block[full:]
    if carry.size:
        padded = np.zeros(HOP_SIZE, dtype=np.float32)
        padded[: carry.size] = carry
        yield padded


class ToneSource:
    """A plucked A minor pentatonic run, synthesised on the fly, forever or for ``seconds``."""

    def __init__(
        self,
        *,
        sample_rate: int = 48000,
        bpm: float = 100.0,
        seconds: float | None = None,
        realtime: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sample_rate = sample_rate
        self.description = f"generated tone melody at {bpm:g} bpm"
        self._beat = round(60.0 / bpm * sample_rate)
        self._limit = None if seconds is None else int(seconds * sample_rate)
        self.realtime = realtime
        self._monotonic = monotonic
        self._sleep = sleep
        self._position = 0
        self._started = 0.0
        self._melody = (57, 60, 62, 64, 67, 69, 67, 64, 62, 60)

    def open(self) -> None:
        self._position = 0
        self._started = self._monotonic()

    def read_hop(self) -> np.ndarray:
        if self._limit is not None and self._position >= self._limit:
            raise EndOfStream
        index = np.arange(self._position, self._position + HOP_SIZE)
        note = (index // self._beat) % len(self._melody)
        since = (index % self._beat) / self.sample_rate
        midi = np.asarray(self._melody)[note]
        freq = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        # Phase from the note's own start, so every note starts cleanly at zero.
        phase = 2 * np.pi * freq * since
        tone = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
        hop = (0.25 * tone * np.exp(-since * 3.0)).astype(np.float32)
        self._position += HOP_SIZE
        if self.realtime:
            wait = self._started + self._position / self.sample_rate - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        return hop

    def close(self) -> None:
        pass


# -- the USB interface -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: float
    rates: tuple[int, ...]


def list_input_devices() -> list[InputDevice]:
    """Every PortAudio input with its channels and which of 44.1/48 kHz it accepts."""
    pa = _portaudio()
    try:
        devices = []
        for index in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(index)
            channels = int(info.get("maxInputChannels", 0))
            if channels <= 0:
                continue
            rates = tuple(r for r in SUPPORTED_RATES if _supports(pa, index, channels, r))
            default_rate = float(info["defaultSampleRate"])
            devices.append(InputDevice(index, str(info["name"]), channels, default_rate, rates))
        return devices
    finally:
        pa.terminate()


def choose_rate(name: str, wanted: int, accepted: Collection[int], *, own_rate: float) -> int:
    """The rate to open interface ``name`` at, given the supported rates it ``accepted``.

    ``wanted`` (``audio.sample_rate``) when the interface takes it; otherwise the other rate
    the tracker works at, because a guitarist is better served by a device that listens at
    48 kHz than by one that will not start over a setting (the caller logs a warning that
    names the fix). Only an interface that takes neither is an error. ``own_rate`` (its
    default rate) is named in that error so the person sees what it does run at.
    """
    if wanted in accepted:
        return wanted
    for rate in SUPPORTED_RATES:
        if rate in accepted:
            return rate
    rates = " nor ".join(map(str, SUPPORTED_RATES))
    raise AudioSourceError(
        f"{name} accepts neither {rates} Hz (its own rate is {own_rate:g} Hz), and the note "
        "tracker needs one of them: choose another interface with audio.device "
        "(`fretcoach devices` lists the rates each accepts)"
    )


def _supports(pa: object, index: int, channels: int, rate: int) -> bool:
    import pyaudio

    try:
        return bool(
            pa.is_format_supported(  # type: ignore[attr-defined]
                rate, input_device=index, input_channels=channels, input_format=pyaudio.paFloat32
            )
        )
    except ValueError:
        return False


def _import_pyaudio():  # type: ignore[no-untyped-def]
    try:
        import pyaudio
    except ImportError as err:
        raise AudioSourceError(
            "pyaudio is not installed: run `make setup` (it needs the portaudio19-dev package)"
        ) from err
    return pyaudio


def _open_stream(pa: object, index: int, channels: int, rate: int, *, output: bool):  # type: ignore[no-untyped-def]
    """A blocking float32 stream on device ``index``: its input, and with ``output`` its
    output too, on the one clock (one hop of output written per hop read)."""
    pyaudio = _import_pyaudio()
    both = {"output": True, "output_device_index": index} if output else {}
    return pa.open(  # type: ignore[attr-defined]
        format=pyaudio.paFloat32,
        channels=channels,
        rate=rate,
        input=True,
        input_device_index=index,
        frames_per_buffer=HOP_SIZE,
        **both,
    )


def _portaudio():  # type: ignore[no-untyped-def]
    """``pyaudio.PyAudio()`` without the screenful of ALSA/JACK probing chatter that
    PortAudio prints straight to file descriptor 2 (it would flood journald on every
    reopen). Only initialisation is silenced; our own errors say what went wrong."""
    pyaudio = _import_pyaudio()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            return pyaudio.PyAudio()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PyAudioSource:
    """The USB interface. Blocking reads; only ever used from the capture thread."""

    def __init__(
        self,
        *,
        device: str = "",
        channel: int = 1,
        sample_rate: int = 48000,
        stall_timeout_s: float = 1.0,
        output: bool = False,
        latency_s: float = 0.0,
    ) -> None:
        if sample_rate not in SUPPORTED_RATES:
            raise AudioSourceError(
                f"audio.sample_rate must be one of {', '.join(map(str, SUPPORTED_RATES))}, "
                f"not {sample_rate}"
            )
        self.device_query = device
        self.stall_timeout_s = stall_timeout_s
        self.channel = channel
        self.wanted_rate = sample_rate
        # Until open() says otherwise; afterwards the rate actually in use, which the
        # daemon hands to the tracker when a session starts.
        self.sample_rate = sample_rate
        self.description = "audio interface (not open)"
        self.overflows = 0
        self._pa = None
        self._stream = None
        self._channels = 1
        # The interface's output (audio.output): the metronome and speech, written hop for
        # hop with the input so both run on the interface's one clock. Made here, so the
        # speaker can hold it before the interface opens; active while it is open both ways.
        self.mix = OutputMix(sample_rate) if output else None
        self._duplex = False
        self.extra_latency_s = latency_s  # metronome.latency_ms: what the driver does not say
        self.round_trip_s = latency_s  # output to input, once open with an output
        self.samples_read = 0

    def open(self) -> None:
        _import_pyaudio()  # the clear error first, before PortAudio is started
        self._pa = pa = _portaudio()
        try:
            index, name, channels = self._choose(pa)
            if self.channel > channels:
                raise AudioSourceError(
                    f"{name} has {channels} input channel(s), so audio.channel must be between "
                    f"1 and {channels}, not {self.channel}"
                )
            # Open as few channels as reach ours (a 128-channel ALSA plug device would
            # otherwise cost 64× the copying); some hardware only opens all of them.
            counts = tuple(dict.fromkeys((self.channel, channels)))
            accepted = {
                count: tuple(r for r in SUPPORTED_RATES if _supports(pa, index, count, r))
                for count in counts
            }
            taking = [c for c in counts if self.wanted_rate in accepted[c]]
            channels = taking[0] if taking else next((c for c in counts if accepted[c]), counts[0])
            own_rate = float(pa.get_device_info_by_index(index)["defaultSampleRate"])
            rate = choose_rate(name, self.wanted_rate, accepted[channels], own_rate=own_rate)
            if rate != self.wanted_rate:
                log.warning(
                    "%s refuses audio.sample_rate = %d (it accepts %s Hz): listening at %d Hz "
                    "instead; set audio.sample_rate = %d to open it as configured",
                    name,
                    self.wanted_rate,
                    ", ".join(map(str, accepted[channels])),
                    rate,
                    rate,
                )
            self._duplex = False
            if self.mix is not None:
                self._stream = self._open_duplex(pa, index, name, channels, rate)
            try:
                if self._stream is None:
                    self._stream = _open_stream(pa, index, channels, rate, output=False)
            except OSError as err:
                raise AudioSourceError(
                    f"{name} would not open at {rate} Hz with {channels} channel(s) ({err}): "
                    "check that nothing else holds it, or choose another interface with "
                    "audio.device"
                ) from err
        except Exception:
            self.close()
            raise
        self._channels = channels
        self.sample_rate = rate
        refused = "" if rate == self.wanted_rate else f" ({self.wanted_rate} Hz refused)"
        output = ", with output" if self._duplex else ""
        self.description = f"{name}, input {self.channel} of {channels}, {rate} Hz{refused}{output}"

    def _open_duplex(self, pa: object, index: int, name: str, channels: int, rate: int):  # type: ignore[no-untyped-def]
        """The interface opened both ways at once, or None (logged) when it has no output
        or refuses: the device then listens as before and the metronome is only seen."""
        outputs = int(pa.get_device_info_by_index(index).get("maxOutputChannels", 0))  # type: ignore[attr-defined]
        if outputs < channels:
            log.warning(
                "%s has %d output channel(s), so no click or speech through it: the "
                "metronome is shown, not heard (set audio.output = false to silence this)",
                name,
                outputs,
            )
            return None
        try:
            stream = _open_stream(pa, index, channels, rate, output=True)
        except (OSError, ValueError) as err:
            log.warning(
                "%s would not open its output with its input (%s): the metronome is shown, "
                "not heard (set audio.output = false to silence this)",
                name,
                err,
            )
            return None
        # Two hops of silence ahead, so the output never runs dry between reads.
        stream.write(bytes(4 * channels * HOP_SIZE * 2), exception_on_underflow=False)
        assert self.mix is not None
        self.mix.sample_rate = rate
        self.mix.active = True
        self.round_trip_s = (
            stream.get_input_latency() + stream.get_output_latency() + self.extra_latency_s
        )
        self._duplex = True
        return stream

    def _choose(self, pa: object) -> tuple[int, str, int]:
        candidates = []
        for index in range(pa.get_device_count()):  # type: ignore[attr-defined]
            info = pa.get_device_info_by_index(index)  # type: ignore[attr-defined]
            if int(info.get("maxInputChannels", 0)) > 0:
                candidates.append((index, str(info["name"]), int(info["maxInputChannels"])))
        if not candidates:
            raise AudioSourceError(
                "no audio input found: plug in your USB audio interface "
                "(or run with --source FILE.wav or --source demo)"
            )
        if not self.device_query:
            try:
                default = pa.get_default_input_device_info()  # type: ignore[attr-defined]
            except OSError:
                return candidates[0]
            return int(default["index"]), str(default["name"]), int(default["maxInputChannels"])
        query = self.device_query.lower()
        for candidate in candidates:
            if query in candidate[1].lower():
                return candidate
        names = "; ".join(c[1] for c in candidates)
        raise AudioSourceError(
            f"no audio input matches audio.device={self.device_query!r}: plug it in, or pick "
            f"one of: {names}"
        )

    def read_hop(self) -> np.ndarray:
        """The next hop. Waits for a full hop to be available rather than blocking in
        PortAudio, so a USB unplug that PortAudio never reports (the read would hang
        forever) becomes a stall this thread sees and turns into a reopen."""
        stream = self._stream
        if stream is None:
            raise AudioSourceError("the interface is not open")
        waited_since = time.monotonic()
        try:
            while True:
                available = stream.get_read_available()
                if available >= HOP_SIZE:
                    break
                if time.monotonic() - waited_since > self.stall_timeout_s:
                    raise AudioSourceError(
                        f"no audio from the interface for {self.stall_timeout_s:g} s (unplugged?)"
                    )
                time.sleep(0.002)
            if available > 4 * HOP_SIZE:
                self.overflows += 1  # the host buffer filled up: frames were lost
            data = stream.read(HOP_SIZE, exception_on_overflow=False)
        except OSError as err:
            raise AudioSourceError(f"the audio interface stopped delivering ({err})") from err
        frames = np.frombuffer(data, dtype=np.float32)
        if self._channels > 1:
            frames = frames.reshape(-1, self._channels)[:, self.channel - 1]
        count = len(frames)
        if self._duplex and self.mix is not None:
            out = self.mix.render(self.samples_read, count)
            if self._channels > 1:
                out = np.repeat(out, self._channels)
            try:
                stream.write(out.tobytes(), exception_on_underflow=False)
            except OSError as err:
                raise AudioSourceError(f"the audio interface stopped playing ({err})") from err
        self.samples_read += count
        return np.ascontiguousarray(frames, dtype=np.float32)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        if self.mix is not None:
            self.mix.active = False
        if stream is not None:
            try:
                stream.stop_stream()
                stream.close()
            except OSError:
                pass
        if pa is not None:
            pa.terminate()


# -- the capture thread ----------------------------------------------------------------------


END = None  # queued after the last hop of a finite source


@dataclass(frozen=True, slots=True)
class CaptureStats:
    hops: int
    dropped: int
    overflows: int
    reopens: int
    connected: bool


class Capture:
    """Reads ``source`` on its own thread into a bounded queue of hops."""

    def __init__(
        self,
        source: AudioSource,
        *,
        queue_hops: int = 64,
        stall_timeout_s: float = 1.0,
        reopen_every_s: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        # Each hop with the index of its first sample since the capture started: the
        # metronome's click schedule is in those samples.
        self.hops: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=queue_hops)
        self.stall_timeout_s = stall_timeout_s
        self.reopen_every_s = reopen_every_s
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._count = 0
        self._dropped = 0
        self._reopens = 0
        self._connected = False
        self.last_frame_at = monotonic()
        self.error: str | None = None
        # A file read as fast as possible can wait for the DSP; an interface cannot.
        self._lossless = getattr(source, "realtime", True) is False

    def start(self) -> None:
        self.source.open()
        self._connected = True
        self.last_frame_at = self._monotonic()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> CaptureStats:
        overflows = int(getattr(self.source, "overflows", 0))
        return CaptureStats(self._count, self._dropped, overflows, self._reopens, self._connected)

    @property
    def position(self) -> int:
        """Samples read so far: where the output written with the next hop begins."""
        return self._count * HOP_SIZE

    @property
    def stalled(self) -> bool:
        """No frames for ``stall_timeout_s``: the watchdog's sign that the interface is gone."""
        return self._monotonic() - self.last_frame_at > self.stall_timeout_s

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                hop = self.source.read_hop()
            except EndOfStream:
                self._put_end()
                return
            except DeviceError as err:
                self._lost(str(err))
                continue
            self.last_frame_at = self._monotonic()
            item = (self._count * HOP_SIZE, hop)
            self._count += 1
            if self._lossless:
                self._put_waiting(item)
                continue
            try:
                self.hops.put_nowait(item)
            except queue.Full:
                self._dropped += 1

    def _lost(self, reason: str) -> None:
        """The interface went away: close it and try to reopen until it is back."""
        if self._connected:
            log.warning("audio input lost: %s — waiting for it to come back", reason)
        self._connected = False
        self.error = reason
        self.source.close()
        while not self._stop.is_set():
            self._stop.wait(self.reopen_every_s)
            try:
                self.source.open()
            except DeviceError as err:
                self.error = str(err)
                continue
            self._reopens += 1
            self._connected = True
            self.error = None
            self.last_frame_at = self._monotonic()
            log.info("audio input back: %s", self.source.description)
            return

    def _put_end(self) -> None:
        self._put_waiting(END)

    def _put_waiting(self, item: tuple[int, np.ndarray] | None) -> None:
        while not self._stop.is_set():
            try:
                self.hops.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=3.0)
        self.source.close()
