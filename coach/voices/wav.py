"""A WAV as a voice hands it to the player: checked, and rebuilt with the sizes it really has
(streamed WAVs often declare a bogus length)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Audio:
    """A WAV with its header made true (streamed WAVs often declare a bogus length)."""

    wav: bytes = field(repr=False)
    sample_rate: int
    channels: int
    sample_width: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def read_wav(data: bytes) -> Audio:
    """Check a RIFF/WAVE file and rebuild it with the sizes it really has.

    espeak-ng (and any encoder writing to a pipe) declares a length it cannot know,
    ``0x7ffff000``-ish; players differ on what they make of that, so every WAV handed to
    a player is canonical: RIFF, the original ``fmt `` chunk, one ``data`` chunk with its
    true size, whole frames only. PCM, float and extensible formats are accepted (what
    ``aplay`` plays). Raises ValueError saying what is wrong.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"not a WAV file (starts with {data[:12]!r})")
    fmt: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body_at = offset + 8
        if chunk_id == b"fmt ":
            fmt = data[body_at : body_at + size]
        elif chunk_id == b"data":
            if fmt is None or len(fmt) < 16:
                raise ValueError("WAV has no format chunk before its data")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
            width = bits // 8
            if (
                tag not in (1, 3, 0xFFFE)
                or channels < 1
                or rate < 1000
                or width not in (1, 2, 3, 4)
            ):
                raise ValueError(
                    f"unplayable WAV format: tag {tag:#x}, {channels} ch, {rate} Hz, {bits} bit"
                )
            payload = data[body_at : body_at + size]  # shorter than declared: streamed
            frames = len(payload) // (channels * width)
            if not frames:
                raise ValueError("WAV holds no audio")
            payload = payload[: frames * channels * width]
            fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"\0" * (len(fmt) & 1)
            data_chunk = (
                b"data" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)
            )
            body = b"WAVE" + fmt_chunk + data_chunk
            wav = b"RIFF" + struct.pack("<I", len(body)) + body
            return Audio(wav, rate, channels, width, frames)
        offset = body_at + size + (size & 1)  # chunks are padded to even sizes
    raise ValueError("WAV has no data chunk")
