"""The tracker's public values: its settings and the note events it reports."""

from __future__ import annotations

from dataclasses import dataclass

from dsp.errors import InvalidSettingError
from dsp.notes import Tuning
from dsp.tracking.constants import HOP_SIZE, SUPPORTED_RATES


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Settings that change what counts as a note. Validated on construction."""

    sample_rate: int = 48000
    a4_hz: float = 440.0
    sensitivity: float = 0.5
    min_midi: int = 36  # C2: below drop-C's low string
    max_midi: int = 91  # G6: above the 24th fret of the high E

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_RATES:
            raise InvalidSettingError(
                f"sample rate must be one of {', '.join(map(str, SUPPORTED_RATES))}, "
                f"not {self.sample_rate}"
            )
        if not 0.0 <= self.sensitivity <= 1.0:
            raise InvalidSettingError(
                f"sensitivity must be between 0 and 1, not {self.sensitivity}"
            )
        Tuning(self.a4_hz)  # validates the range
        if not 0 <= self.min_midi < self.max_midi <= 127:
            raise InvalidSettingError("min_midi must be below max_midi, both within 0–127")

    @property
    def gate_dbfs(self) -> float:
        """RMS level a hop must reach to start a note: −35 dBFS at 0, −75 dBFS at 1."""
        return -35.0 - 40.0 * self.sensitivity

    @property
    def hop_size(self) -> int:
        return HOP_SIZE


@dataclass(frozen=True, slots=True)
class NoteEvent:
    """One played note. Crosses package boundaries (display, coach, store).

    ``midi`` is the nearest semitone to the pitch actually played and ``cents`` the
    deviation from it, so a D3 bent 60 cents up reads as D#3 at −40.
    """

    index: int
    onset_s: float
    end_s: float | None
    midi: int
    cents: float
    freq_hz: float
    confidence: float
    level_db: float
    reported_s: float

    @property
    def is_final(self) -> bool:
        return self.end_s is not None

    @property
    def latency_s(self) -> float:
        return self.reported_s - self.onset_s
