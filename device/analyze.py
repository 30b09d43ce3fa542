"""``fretcoach analyze``: the daemon's DSP path with a WAV file as the source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.wavread import WavInfo, WavReader
from dsp import HOP_SIZE, Analysis, Analyzer, ScoringConfig, TrackerConfig, parse_scale
from dsp.scales import Scale

ProgressCallback = Callable[[float, float], None]  # (seconds done, seconds total)


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    scale: Scale
    bpm: float | None = None
    strictness: float = 0.5
    sensitivity: float = 0.5
    a4_hz: float = 440.0
    channel: int | None = None
    lowest_midi: int = 36  # the guitar's lowest string: C2 (see device.config.lowest_note_midi)


def analyze_file(
    path: Path | str,
    *,
    scale: str | Scale = "C chromatic",
    bpm: float | None = None,
    strictness: float = 0.5,
    sensitivity: float = 0.5,
    channel: int | None = None,
    a4_hz: float = 440.0,
    lowest_midi: int = 36,
    progress: ProgressCallback | None = None,
) -> Analysis:
    """Analyse one WAV file; raises :class:`~dsp.errors.FretCoachError` subclasses on bad input."""
    settings = AnalysisSettings(
        scale=scale if isinstance(scale, Scale) else parse_scale(scale),
        bpm=bpm,
        strictness=strictness,
        sensitivity=sensitivity,
        a4_hz=a4_hz,
        channel=channel,
        lowest_midi=lowest_midi,
    )
    return analyze_reader(WavReader(path, channel=channel), settings, progress=progress)


def analyze_reader(
    reader: WavReader, settings: AnalysisSettings, *, progress: ProgressCallback | None = None
) -> Analysis:
    info: WavInfo = reader.info
    analyzer = Analyzer(
        TrackerConfig(
            sample_rate=info.sample_rate,
            a4_hz=settings.a4_hz,
            sensitivity=settings.sensitivity,
            min_midi=settings.lowest_midi,
        ),
        ScoringConfig(scale=settings.scale, strictness=settings.strictness, bpm=settings.bpm),
    )
    carry = np.zeros(0, dtype=np.float32)
    done = 0
    for chunk in reader.chunks(HOP_SIZE * 94):  # ~1 s per chunk
        block = np.concatenate([carry, chunk]) if carry.size else chunk
        full = len(block) - len(block) % HOP_SIZE
        for start in range(0, full, HOP_SIZE):
            analyzer.feed(block[start : start + HOP_SIZE])
        carry = block[full:]
        done += len(chunk)
        if progress is not None:
            progress(done / info.sample_rate, info.seconds)
    if carry.size:
        padded = np.zeros(HOP_SIZE, dtype=np.float32)
        padded[: carry.size] = carry
        analyzer.feed(padded, valid=carry.size)
    return analyzer.finish()
