"""The tracker's inner records: a sounding note and the queries it leaves pending."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsp.tracking.values import NoteEvent

_Attack = tuple[np.ndarray, np.ndarray]  # a note's audio since its attack, and its spectrum


@dataclass(frozen=True, slots=True)
class _FluxRise:
    """A rise of the whitened flux waiting for its confirmation (see _flux_repick)."""

    onset_s: float
    level_db: float  # the hop's before the rise
    strong: bool  # it rose 5× (else 2.5×)
    sure: bool  # YIN was sure of the pitch on the hop before it


@dataclass(frozen=True, slots=True)
class _BreakQuery:
    """Where to look for the break a note heard late made in the one it cut short (see
    _attack_heard_late, _legato_break): that note, when the new one was heard, the
    half-rate audio kept then and the stream's length then; for a legato note its pitch
    (``_period_break``'s ``new_midi``), and then the break is not looked for at its first
    report (see _event)."""

    note: _Note
    heard_s: float
    lookback: tuple[np.ndarray, ...]
    samples: int
    new_midi: float = math.nan


@dataclass(frozen=True, slots=True)
class _Deferred:
    """A level attack waiting on a swell's edge (see _edge_of_swell), and the largest
    spectral change, flux and click of the hops it has waited through."""

    onset_s: float
    level_db: float
    novelty: float
    flux: float
    click: float

    def heard(self, novelty: float, flux: float, click: float) -> _Deferred:
        return _Deferred(
            self.onset_s,
            self.level_db,
            max(self.novelty, novelty),
            max(self.flux, flux),
            max(self.click, click),
        )


@dataclass(slots=True)
class _Note:
    index: int
    onset_s: float  # where its attack was heard: what its analysis is timed from
    peak_db: float
    began_s: float = math.nan  # where it began, when heard late (see _period_break)
    touch_s: float = math.nan  # the pick's touch before its pluck (see _touch_before)
    from_room: bool = False  # it, or the unnamed sound it restarted, began with no note sounding
    novelty: float = 0.0  # the largest spectral change of its attack
    restruck: bool = False  # a re-pick of the ringing string, heard by the flux
    over: float = math.nan  # the pitch of the named note its attack cut short (see _restruck)
    partial: float = math.nan  # the last reading of a harmonic of it, or its drift ...
    partial_s: float = -math.inf  # ... and when (see _drifting) ...
    partial_run: int = 0  # ... and how many hops in a row it has been read
    flux: float = 0.0  # the largest spectral flux of its attack
    trough_db: float = 0.0  # the quietest hop since its peak
    fell_db: float = 0.0  # the deepest fall from its peak yet (a louder hop resets the trough)
    shown: float = math.nan  # the pitch its first report showed
    times: list[float] = field(default_factory=list)  # voiced frames: end of hop
    midis: list[float] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    early: list[tuple[float, float]] = field(default_factory=list)  # short window: MIDI, conf
    guesses: list[float] = field(default_factory=list)  # unsure readings, for the deadline
    ref: float = math.nan  # the note's pitch as decided so far (fractional MIDI)
    locked: bool = False  # the octave check decided ``ref``'s octave
    support: int = 0  # confident frames since the report that read ``ref`` (or a harmonic)
    confirmed: bool = False
    previewed: bool = False  # the live screen was checked against the body's spectrum
    reported: NoteEvent | None = None
    body_from: float = 0.0  # the note's body, for the spectrum, starts here
    body: int = 0  # half-rate samples of the body collected
    spectrum: np.ndarray | None = None
    spectrum_len: int = 0  # half-rate samples the spectrum was taken over
    before: np.ndarray | None = None  # the audio that rang up to its onset (see _rang)
    rang: np.ndarray | None = None  # its spectrum at ``spectrum_len``, once taken (see _rang_of)
    rang_taken: bool = False
    over_ringing: tuple[float, float | None] | None = None  # see _read_over_ringing
    unchanged: tuple[int, float] | None = None  # a legato pitch refused, and its onset (_changed)
