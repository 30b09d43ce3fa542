"""What the input repair hands the tracker besides the hop: its energy, and a period asked
for only when a drop-out needs one (both to spare the tracker's every hop some work)."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from dsp import HOP_SIZE, NoteTracker, TrackerConfig, hops_of
from dsp.repair import InputRepair
from tests import signals
from tests.test_repair import note

SR = signals.SR


def energies(x: np.ndarray) -> tuple[list[float], list[float], InputRepair]:
    """The repair's ``energy`` after each hop, and ``np.dot`` of each hop it returned."""
    repair = InputRepair(SR)
    told, measured = [], []
    for hop, _ in hops_of(x):
        out = repair.process(hop)
        told.append(repair.energy)
        measured.append(float(np.dot(out, out)))
    return told, measured, repair


def test_the_energy_is_that_of_the_hop_returned_clean_clicked_or_offset() -> None:
    clean = note(3.0)
    clicked = clean.copy()
    clicked[round(2.5 * SR) + 200] += 0.5  # taken out: the returned hop's energy changes
    offset = clean + np.float32(0.05)  # the blocker changes every hop after the first few
    for x, clicks, dc in ((clean, 0, False), (clicked, 1, False), (offset, 0, True)):
        told, measured, repair = energies(x)
        assert told == measured  # exactly: the tracker's levels read it
        assert (repair.clicks, repair.dc_offset_removed) == (clicks, dc)


def test_the_period_is_asked_for_only_to_fill_a_drop_out_and_fills_as_if_given() -> None:
    x = note()
    x = x[: x.size // HOP_SIZE * HOP_SIZE]  # (no zero-padded last hop: zeros, not a gap)
    damaged = x.copy()
    at = round(0.8 * SR) + 100
    damaged[at : at + 96] = 0.0
    asked = []

    def period_of() -> float:
        asked.append(len(asked))
        return SR / 110.0

    lazy = InputRepair(SR)
    given = InputRepair(SR)
    for hop, _ in hops_of(damaged):
        assert np.array_equal(
            lazy.process(hop, period_of=period_of), given.process(hop, SR / 110.0)
        )
    assert (lazy.drop_outs, given.drop_outs, len(asked)) == (1, 1, 1)
    # Clean input: never asked.
    clean = InputRepair(SR)
    for hop, _ in hops_of(x):
        clean.process(hop, period_of=period_of)
    assert len(asked) == 1


def test_a_tracker_is_freed_as_soon_as_it_is_dropped() -> None:
    # The repair asks for the period through each hop's call, not a reference it keeps:
    # a tracker held by its repair would wait for the cycle collector (one per session).
    tracker = NoteTracker(TrackerConfig())
    for hop, _ in hops_of(note(0.5)):
        tracker.process(hop)
    gone = weakref.ref(tracker)
    gc.disable()
    try:
        del tracker
        assert gone() is None
    finally:
        gc.enable()
