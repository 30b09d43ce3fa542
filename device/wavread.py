"""Read any WAV a guitarist is likely to have: 8/16/24/32-bit PCM or float, mono or multi-channel.

stdlib ``wave`` refuses float and WAVE_FORMAT_EXTENSIBLE files (what most DAWs and
interfaces write), so scipy reads them. Files are memory-mapped where scipy allows it and
converted to float32 one chunk at a time, so an hour-long recording does not need an
hour of float32 in RAM on a Pi.
"""

from __future__ import annotations

import logging
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import wavfile

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
        self._data, rate = _load(self.path)
        if rate not in SUPPORTED_RATES:
            raise AudioFileError(
                f"{self.path}: sampled at {rate} Hz; fretcoach needs "
                f"{' or '.join(map(str, SUPPORTED_RATES))} Hz — {_RESAMPLE_HINT}"
            )
        frames = self._data.shape[0]
        channels = 1 if self._data.ndim == 1 else self._data.shape[1]
        if frames == 0 or channels == 0:
            raise AudioFileError(f"{self.path}: the file holds no audio (0 samples)")
        chosen = self._choose_channel(channel, channels)
        self.info = WavInfo(self.path, rate, channels, frames, str(self._data.dtype), chosen)

    def _choose_channel(self, channel: int | None, channels: int) -> int:
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
        # bleeding mic on the other: take the loudest channel rather than a mix that
        # halves the guitar or cancels it.
        probe = self._data[: min(self._data.shape[0], 48000 * 60)]
        energy = [float(np.mean(np.square(_to_float(probe[:, c])))) for c in range(channels)]
        return int(np.argmax(energy))

    def chunks(self, frames: int = 48000) -> Iterator[np.ndarray]:
        """Float32 mono audio of the chosen channel, ``frames`` at a time."""
        column = self._data if self._data.ndim == 1 else self._data[:, self.info.channel]
        for start in range(0, column.shape[0], frames):
            yield _to_float(column[start : start + frames])


def read_wav(path: Path | str, *, channel: int | None = None) -> tuple[np.ndarray, int]:
    """The whole chosen channel as float32 in [−1, 1], and the sample rate."""
    reader = WavReader(path, channel=channel)
    return np.concatenate(list(reader.chunks())), reader.info.sample_rate


def _load(path: Path) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioFileError(f"{path}: no such file — check the path")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not a WAV file")
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
        with warnings.catch_warnings(record=True) as caught:
            # Chunks we do not need (LIST, bext, cue) make scipy warn; they are harmless.
            warnings.simplefilter("always", wavfile.WavFileWarning)
            try:
                rate, data = wavfile.read(path, mmap=True)
            except ValueError:
                # 24-bit cannot be memory-mapped, nor can a file cut short.
                rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError, struct.error) as err:
        raise AudioFileError(
            f"{path}: damaged or unsupported WAV ({err}) — re-export it as 16-bit, 24-bit "
            "or float PCM"
        ) from err
    if any("prematurely" in str(w.message) for w in caught):
        # A recorder that died mid-take leaves a header promising more than the file
        # holds. The audio that is there is still the player's: analyse it, say so.
        log.warning(
            "%s: the file is cut short (recording interrupted?); analysing what is there", path
        )
    if data.dtype.kind not in "iuf":
        raise AudioFileError(f"{path}: unsupported sample format {data.dtype}")
    return data, int(rate)


def _to_float(samples: np.ndarray) -> np.ndarray:
    kind = samples.dtype.kind
    if kind == "f":
        out = np.nan_to_num(samples.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
        return np.clip(out, -1.0, 1.0)
    if kind == "u":  # 8-bit WAV is unsigned, centred on 128
        return (samples.astype(np.float32) - 128.0) / 128.0
    scale = float(2 ** (8 * samples.dtype.itemsize - 1))
    return samples.astype(np.float32) / np.float32(scale)
