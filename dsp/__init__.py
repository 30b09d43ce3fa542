"""The listening engine: pure signal → notes → scores. No I/O, threads or clocks.

Float32 hops of :data:`HOP_SIZE` samples go in; :class:`NoteEvent` and :class:`Scores`
values come out. The daemon, ``fretcoach analyze`` and the tests drive the same code.
"""

from dsp.analysis import Analysis, Analyzer, analyze_samples, hops_of
from dsp.errors import (
    DspError,
    FretCoachError,
    InvalidSettingError,
    UnknownNoteError,
    UnknownScaleError,
)
from dsp.notes import Tuning, cents_between, hz_to_midi, midi_to_hz, note_name, parse_note
from dsp.scales import SCALE_TYPES, Scale, parse_scale
from dsp.scoring import METRICS, Counts, Scorer, Scores, ScoringConfig
from dsp.tracker import HOP_SIZE, SUPPORTED_RATES, NoteEvent, NoteTracker, TrackerConfig

__all__ = [
    "HOP_SIZE",
    "METRICS",
    "SCALE_TYPES",
    "SUPPORTED_RATES",
    "Analysis",
    "Analyzer",
    "Counts",
    "DspError",
    "FretCoachError",
    "InvalidSettingError",
    "NoteEvent",
    "NoteTracker",
    "Scale",
    "Scorer",
    "Scores",
    "ScoringConfig",
    "TrackerConfig",
    "Tuning",
    "UnknownNoteError",
    "UnknownScaleError",
    "analyze_samples",
    "cents_between",
    "hops_of",
    "hz_to_midi",
    "midi_to_hz",
    "note_name",
    "parse_note",
    "parse_scale",
]
