"""The input repair: a DC offset, drop-outs and clicks undone before the tracker hears them."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import HOP_SIZE, NoteTracker, TrackerConfig, hops_of
from dsp.repair import InputRepair, _mean_std
from tests import signals

SR = signals.SR


def repaired(x: np.ndarray, period: float | None = None) -> tuple[np.ndarray, InputRepair]:
    repair = InputRepair(SR)
    out = [repair.process(hop, period) for hop, _ in hops_of(x)]
    return np.concatenate(out), repair


def finals(x: np.ndarray) -> list:
    tracker = NoteTracker(TrackerConfig())
    events = [e for hop, _ in hops_of(x) for e in tracker.process(hop)]
    return [e for e in events + tracker.flush() if e.is_final]


def note(seconds: float = 2.0, midi: int = 45) -> np.ndarray:
    """A plucked note after 0.3 s of quiet room (a real input is never digital silence)."""
    room = signals.white_noise(seconds + 0.3, amp_dbfs=-70.0, seed=1)
    pluck = signals.karplus_strong(440.0 * 2 ** ((midi - 69) / 12), seconds, amp_dbfs=-12.0)
    room[round(0.3 * SR) : round(0.3 * SR) + pluck.size] += pluck
    return room


def test_a_clean_input_passes_bit_for_bit() -> None:
    x = note()
    out, repair = repaired(x)
    assert np.array_equal(out[: x.size], x)
    assert (repair.drop_outs, repair.clicks, repair.dc_offset_removed) == (0, 0, False)


def test_a_drop_out_in_a_sounding_note_is_filled_with_its_waveform() -> None:
    x = note()
    damaged = x.copy()
    at = round(0.8 * SR) + 100  # inside a hop
    damaged[at : at + 96] = 0.0  # 2 ms lost
    out, repair = repaired(damaged, period=SR / 110.0)
    assert repair.drop_outs == 1
    gap = slice(at, at + 96)
    # The string's waveform goes on: within a few % of what was lost, where zeros were 100 %.
    assert np.abs(out[gap] - x[gap]).max() < 0.1 * np.abs(x[gap]).max()
    assert np.array_equal(out[:at], x[:at])
    assert np.array_equal(out[at + 96 : x.size], x[at + 96 :])


def test_a_drop_out_across_a_hop_s_edge_is_filled_from_the_next_hop_on() -> None:
    x = note()
    damaged = x.copy()
    edge = 80 * HOP_SIZE  # 0.85 s: the note rings
    damaged[edge - 48 : edge + 48] = 0.0
    out, repair = repaired(damaged, period=SR / 110.0)
    assert repair.drop_outs == 1
    assert not out[edge - 48 : edge].any()  # the first hop had passed as it was
    gap = slice(edge, edge + 48)
    assert np.abs(out[gap] - x[gap]).max() < 0.1 * np.abs(x[gap]).max()


def test_digital_silence_after_the_sound_is_left_as_it_is() -> None:
    # A take that ends (or a gate that closes) is not a drop-out: the sound never comes back.
    x = signals.sequence([(0.3, 110.0, 1.0, "ks")], seconds=2.0)
    x[round(1.0 * SR) + 37 :] = 0.0
    out, repair = repaired(x)
    assert repair.drop_outs == 0
    assert not out[round(1.0 * SR) + 37 :].any()


def test_a_click_on_a_ringing_note_is_taken_out_and_a_pluck_is_not() -> None:
    x = note(3.0)
    damaged = x.copy()
    at = round(2.5 * SR) + 200  # far into the decay
    damaged[at] += 0.5
    out, repair = repaired(damaged)
    assert repair.clicks == 1
    assert abs(out[at] - x[at]) < 0.05 * 0.5
    # Only the click and its two neighbours (each off their own neighbours by half of it).
    assert np.array_equal(out[: at - 1], x[: at - 1])
    assert np.array_equal(out[at + 2 : x.size], x[at + 2 :])
    # The pluck's own first samples (after the room) are no click.
    assert repaired(x)[1].clicks == 0


def test_a_dc_offset_comes_off_without_a_step() -> None:
    x = note(3.0) + np.float32(0.05)
    out, repair = repaired(x)
    assert repair.dc_offset_removed
    hop_means = out[: out.size // HOP_SIZE * HOP_SIZE].reshape(-1, HOP_SIZE).mean(axis=1)
    # Eight hops (85 ms) to be sure it is an offset; from then on it is gone, the room before
    # the pluck as flat as it was.
    assert np.abs(hop_means[8:28]).max() < 0.002
    assert np.abs(np.diff(hop_means[8:28])).max() < 0.001


@pytest.mark.parametrize("fault", ["drop-outs", "clicks"])
def test_a_sustained_note_through_a_faulty_chain_is_still_one_note(fault: str) -> None:
    x = note(4.0, midi=52)
    rng = np.random.default_rng(0)
    for t in np.arange(0.8, 4.0, 0.45):
        at = round(t * SR) + int(rng.integers(20, 300))
        if fault == "drop-outs":
            x[at : at + 96] = 0.0
        else:
            x[at] += 0.5
    notes = finals(x)
    assert [n.midi for n in notes] == [52], notes


def test_a_hop_of_the_wrong_size_is_refused() -> None:
    from dsp import InvalidSettingError

    with pytest.raises(InvalidSettingError, match="512 samples"):
        InputRepair(SR).process(np.zeros(100, dtype=np.float32))


def test_offset_tests_mean_and_spread_are_numpys() -> None:
    """The offset test's mean and spread of the hops' means (``_mean_std``, run on most
    hops of a noisy input) are ``x.mean()`` and ``x.std()`` to the bit, at any length it
    sees and any scale."""
    rng = np.random.default_rng(21)
    for _ in range(20000):
        n = int(rng.integers(1, 95))
        x = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 1)
        x += rng.uniform(-1.0, 1.0) * 10.0 ** rng.uniform(-8, 0)
        assert _mean_std(x) == (x.mean(), x.std())


@pytest.mark.parametrize("midi", [41, 42, 43])
def test_a_low_note_from_the_first_sample_is_no_offset(midi: int) -> None:
    """A recording trimmed to start on a held F2-G2: their periods (507-551 samples at
    48 kHz) are near the hop's 512, so the hops' means drift as slowly as an offset's.
    Taken for one 85 ms in, the blocker's step was picked as a second note (F#2 and G2
    split in two, the second named 1-2 semitones sharp; F2 held)."""
    x = signals.sine(440.0 * 2 ** ((midi - 69) / 12), 2.0, amp_dbfs=-12.0)
    assert not repaired(x)[1].dc_offset_removed
    assert [n.midi for n in finals(x)] == [midi]


def test_an_offset_under_a_loud_note_from_the_first_sample_still_comes_off() -> None:
    """Under a swing the offset is certain only once the mean outgrows what a swing can
    leave over the hops heard (see _DC_SWING_MIN_HZ): later, not never."""
    pluck = signals.karplus_strong(440.0 * 2 ** ((42 - 69) / 12), 3.0, amp_dbfs=-12.0)
    x = pluck + np.float32(0.02)
    repair = InputRepair(SR)
    on_at_s = None
    for k, (hop, _) in enumerate(hops_of(x)):
        repair.process(hop)
        if repair.dc_offset_removed:
            on_at_s = k * HOP_SIZE / SR
            break
    assert on_at_s is not None and on_at_s < 0.5
