"""Read any WAV a guitarist is likely to have: 8/16/24/32-bit PCM or float, mono or multi-channel.

libsndfile (through ``soundfile``) reads every flavour, including float and
WAVE_FORMAT_EXTENSIBLE files that stdlib ``wave`` refuses, and reads them a block at a
time: memory stays flat whatever the file's length or sample format, so a two-hour
24-bit recording analyses on a Pi.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from dsp.errors import AudioFileError
from dsp.tracker import SUPPORTED_RATES

log = logging.getLogger(__name__)

_RESAMPLE_HINT = "resample it first, e.g. `sox in.wav -r 48000 out.wav`"


@dataclass(frozen=True, slots=True)
class WavInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    sample_format: str
    channel: int  # the channel we analyse (0-based)

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


class WavReader:
    """One WAV file, validated on open. Iterate :meth:`chunks` for float32 mono audio."""

    def __init__(self, path: Path | str, *, channel: int | None = None) -> None:
        self.path = Path(path)
        rate, channels, frames, sample_format = _probe(self.path)
        if rate not in SUPPORTED_RATES:
            raise AudioFileError(
                f"{self.path}: sampled at {rate} Hz; fretcoach needs "
                f"{' or '.join(map(str, SUPPORTED_RATES))} Hz — {_RESAMPLE_HINT}"
            )
        if frames == 0 or channels == 0:
            raise AudioFileError(f"{self.path}: the file holds no audio (0 samples)")
        self._frames = frames
        chosen = self._choose_channel(channel, channels, rate)
        self.info = WavInfo(self.path, rate, channels, frames, sample_format, chosen)

    def _choose_channel(self, channel: int | None, channels: int, rate: int) -> int:
        if channel is not None:
            if not 1 <= channel <= channels:
                raise AudioFileError(
                    f"{self.path}: has {channels} channel{'s' if channels > 1 else ''}, "
                    f"so --channel must be between 1 and {channels}, not {channel}"
                )
            return channel - 1
        if channels == 1:
            return 0
        # An interface recording often has the guitar on one input and a silent or
        # bleeding mic on the other: take the loudest channel (over the first minute)
        # rather than a mix that halves the guitar or cancels it.
        energy = np.zeros(channels)
        for block in self._blocks(48000, limit=48000 * 60):
            energy += np.sum(np.square(block, dtype=np.float64), axis=0)
        return int(np.argmax(energy))

    def chunks(self, frames: int = 48000) -> Iterator[np.ndarray]:
        """Float32 mono audio of the chosen channel, ``frames`` at a time."""
        for block in self._blocks(frames):
            yield np.ascontiguousarray(block[:, self.info.channel])

    def _blocks(self, frames: int, *, limit: int | None = None) -> Iterator[np.ndarray]:
        """All channels as float32 in [−1, 1], ``frames`` at a time, never the whole file."""
        left = self._frames if limit is None else min(limit, self._frames)
        try:
            with soundfile.SoundFile(self.path) as handle:
                while left > 0:
                    block = handle.read(min(frames, left), dtype="float32", always_2d=True)
                    if not len(block):
                        return
                    left -= len(block)
                    # Float files can hold NaN, infinities and values beyond full scale.
                    yield np.clip(np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)
        except (soundfile.SoundFileError, OSError) as err:
            raise AudioFileError(f"{self.path}: cannot be read any more ({err})") from err


def read_wav(path: Path | str, *, channel: int | None = None) -> tuple[np.ndarray, int]:
    """The whole chosen channel as float32 in [−1, 1], and the sample rate."""
    reader = WavReader(path, channel=channel)
    return np.concatenate(list(reader.chunks())), reader.info.sample_rate


# libsndfile's log says "data : 427200 (should be 192000)" when the header promises more
# audio than the file holds.
_CUT_SHORT = re.compile(r"^data\s*:.*\(should be", re.MULTILINE)


def _probe(path: Path) -> tuple[int, int, int, str]:
    """Sample rate, channels, frames and sample format, after checking it is a WAV."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file — check the path") from None
    except OSError as err:
        raise AudioFileError(f"{path}: cannot be read ({err.strerror})") from err
    if stat.S_ISDIR(mode):
        raise AudioFileError(f"{path}: is a directory, not a WAV file")
    if not stat.S_ISREG(mode):
        # Opening a FIFO would wait for a writer forever; a device could be endless.
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket or other special file"
        )
        raise AudioFileError(f"{path}: is {kind}, not a WAV file — give a recorded .wav file")
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError as err:
        raise AudioFileError(f"{path}: cannot be read ({err.strerror})") from err
    if len(header) == 0:
        raise AudioFileError(f"{path}: the file is empty")
    if header[:4] not in (b"RIFF", b"RIFX", b"RF64") or header[8:12] != b"WAVE":
        raise AudioFileError(
            f"{path}: not a WAV file (no RIFF/WAVE header) — convert it, "
            "e.g. `ffmpeg -i input -ar 48000 output.wav`"
        )
    try:
        with soundfile.SoundFile(path) as handle:
            found = (handle.samplerate, handle.channels, handle.frames, handle.subtype)
            cut_short = bool(_CUT_SHORT.search(handle.extra_info))
    except (soundfile.SoundFileError, OSError) as err:
        detail = getattr(err, "error_string", None) or str(err)
        raise AudioFileError(
            f"{path}: damaged or unsupported WAV ({detail.rstrip('.')}) — re-export it as "
            "16-bit, 24-bit or float PCM"
        ) from err
    if cut_short:
        # A recorder that died mid-take leaves a header promising more than the file
        # holds. The audio that is there is still the player's: analyse it, say so.
        log.warning(
            "%s: the file is cut short (recording interrupted?); analysing what is there", path
        )
    return found
