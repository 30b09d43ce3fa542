"""Read any recording a guitarist is likely to have: WAV (8/16/24/32-bit PCM or float),
FLAC, Ogg Vorbis, MP3 or AIFF, mono or multi-channel, at any common sample rate.

libsndfile (through ``soundfile``) reads every flavour, including float and
WAVE_FORMAT_EXTENSIBLE files that stdlib ``wave`` refuses, and reads them a block at a
time: memory stays flat whatever the file's length or sample format, so a two-hour
24-bit recording analyses on a Pi. The engine runs at 44.1 or 48 kHz; a file at any
other rate (a phone's 16 kHz, a DAW's 96 kHz) is resampled to 48 kHz as it streams, by
libsoxr (``soxr``), block by block, so memory stays flat there too.
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
import soxr

from dsp.errors import AudioFileError
from dsp.tracker import SUPPORTED_RATES

log = logging.getLogger(__name__)

_RESAMPLE_HINT = "resample it first, e.g. `sox in.wav -r 48000 out.wav`"
# Below 8 kHz (a 4 kHz band) a pick's attack and the upper partials the names are checked
# against are gone; above 384 kHz is no recording anyone makes of a guitar.
MIN_RATE, MAX_RATE = 8000, 384000
RESAMPLED_RATE = 48000  # what a file at another rate is converted to
FORMATS = "WAV, FLAC, Ogg Vorbis, MP3 or AIFF"


@dataclass(frozen=True, slots=True)
class WavInfo:
    path: Path
    sample_rate: int  # the rate :meth:`WavReader.chunks` yields (the engine's)
    channels: int
    frames: int  # in the file, at ``file_rate``
    sample_format: str
    channel: int  # the channel we analyse (0-based)
    file_rate: int  # the file's own rate; differs from ``sample_rate`` when resampled

    @property
    def seconds(self) -> float:
        return self.frames / self.file_rate

    @property
    def resampled(self) -> bool:
        return self.file_rate != self.sample_rate


class WavReader:
    """One recording, validated on open. Iterate :meth:`chunks` for float32 mono audio at
    44.1 or 48 kHz (the file's own rate, or 48 kHz resampled)."""

    def __init__(self, path: Path | str, *, channel: int | None = None) -> None:
        self.path = Path(path)
        rate, channels, frames, sample_format = _probe(self.path)
        if not MIN_RATE <= rate <= MAX_RATE:
            raise AudioFileError(
                f"{self.path}: sampled at {rate} Hz; fretcoach reads {MIN_RATE}–{MAX_RATE} Hz "
                f"and works at {' or '.join(map(str, SUPPORTED_RATES))} Hz — {_RESAMPLE_HINT}"
            )
        if frames == 0 or channels == 0:
            raise AudioFileError(f"{self.path}: the file holds no audio (0 samples)")
        self._frames = frames
        chosen = self._choose_channel(channel, channels, rate)
        engine_rate = rate if rate in SUPPORTED_RATES else RESAMPLED_RATE
        self.info = WavInfo(
            self.path, engine_rate, channels, frames, sample_format, chosen, file_rate=rate
        )

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
        """Float32 mono audio of the chosen channel at ``info.sample_rate``, about
        ``frames`` at a time (resampled blocks vary a little in length)."""
        if not self.info.resampled:
            for block in self._blocks(frames):
                yield np.ascontiguousarray(block[:, self.info.channel])
            return
        stream = soxr.ResampleStream(
            self.info.file_rate, self.info.sample_rate, 1, dtype="float32", quality="HQ"
        )
        read = max(1, round(frames * self.info.file_rate / self.info.sample_rate))
        for block in self._blocks(read):
            out = stream.resample_chunk(np.ascontiguousarray(block[:, self.info.channel]))
            if len(out):
                yield np.clip(out, -1.0, 1.0)  # the filter's ringing may overshoot a clipped take
        tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield np.clip(tail, -1.0, 1.0)

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
    """The whole chosen channel as float32 in [−1, 1], and its rate (44.1 or 48 kHz)."""
    reader = WavReader(path, channel=channel)
    return np.concatenate(list(reader.chunks())), reader.info.sample_rate


# libsndfile's log says "data : 427200 (should be 192000)" when the header promises more
# audio than the file holds.
_CUT_SHORT = re.compile(r"^data\s*:.*\(should be", re.MULTILINE)
# Bytes after a data chunk that says it is empty, beyond which they are audio, not a small
# metadata chunk (10 ms of 16-bit mono at 48 kHz is 960 bytes).
UNFINISHED_MIN_BYTES = 1024


def _unfinished(path: Path) -> int | None:
    """The file's size when its header's data chunk says 0 bytes yet more than
    :data:`UNFINISHED_MIN_BYTES` follow it, else None: a recorder that writes the length
    only when it stops has not stopped yet, or was killed mid-take."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    at = head.find(b"data", 12)
    if at < 0 or head[at + 4 : at + 8] != bytes(4):
        return None
    size = os.stat(path).st_size
    return size if size - (at + 8) > UNFINISHED_MIN_BYTES else None


def _probe(path: Path) -> tuple[int, int, int, str]:
    """Sample rate, channels, frames and sample format, after checking it is audio that
    libsndfile reads."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if str(path) == "-":  # the Unix habit for standard input; a pipe has no length
            raise AudioFileError(
                "reading a recording from standard input ('-') is not supported: save it "
                f"to a file and name that ({FORMATS})"
            ) from None
        raise AudioFileError(f"{path}: no such file — check the path") from None
    except OSError as err:
        raise AudioFileError(f"{path}: cannot be read ({err.strerror})") from err
    if stat.S_ISDIR(mode):
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if not stat.S_ISREG(mode):
        # Opening a FIFO would wait for a writer forever; a device could be endless.
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket or other special file"
        )
        raise AudioFileError(
            f"{path}: is {kind}, not an audio file — give a recorded file ({FORMATS})"
        )
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError as err:
        raise AudioFileError(f"{path}: cannot be read ({err.strerror})") from err
    if len(header) == 0:
        raise AudioFileError(f"{path}: the file is empty")
    is_wav = header[:4] in (b"RIFF", b"RIFX", b"RF64") and header[8:12] == b"WAVE"
    try:
        with soundfile.SoundFile(path) as handle:
            found = (handle.samplerate, handle.channels, handle.frames, handle.subtype)
            cut_short = bool(_CUT_SHORT.search(handle.extra_info))
            unfinished = _unfinished(path) if is_wav and handle.frames == 0 else None
    except (soundfile.SoundFileError, OSError, RuntimeError) as err:
        if not is_wav:
            raise AudioFileError(
                f"{path}: not an audio file fretcoach can read ({FORMATS}) — convert it, "
                "e.g. `ffmpeg -i input -ar 48000 output.wav`"
            ) from err
        detail = getattr(err, "error_string", None) or str(err)
        raise AudioFileError(
            f"{path}: damaged or unsupported WAV ({detail.rstrip('.')}) — re-export it as "
            "16-bit, 24-bit or float PCM"
        ) from err
    if unfinished is not None:
        raise AudioFileError(
            f"{path}: the WAV header says it holds no audio, but the file is {unfinished} bytes "
            "long: the recorder never finished the file (still recording, or stopped "
            "mid-take) — let it finish, or rewrite the header with "
            "`sox --ignore-length in.wav out.wav`"
        )
    if cut_short:
        # A recorder that died mid-take leaves a header promising more than the file
        # holds. The audio that is there is still the player's: analyse it, say so.
        log.warning(
            "%s: the file is cut short (recording interrupted?); analysing what is there", path
        )
    return found
