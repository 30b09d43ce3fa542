"""``python -m bench.stress``: the dev split through strangers' recording chains."""

from __future__ import annotations

import numpy as np
import pytest

from bench import evalset, pedals, stress


def _clip() -> tuple[np.ndarray, list[evalset.TruthNote]]:
    n = round(2.0 * evalset.SR)
    t = np.arange(n) / evalset.SR
    room = 3e-4 * np.random.default_rng(0).standard_normal(n)  # -70 dBFS: under the gate
    audio = (0.2 * np.sin(2 * np.pi * 110.0 * t) * (t >= 0.5) + room).astype(np.float32)
    return audio, [evalset.TruthNote(0.5, 45, 0.0)]


def test_every_variant_changes_the_audio_and_moves_the_truth_with_it() -> None:
    audio, notes = _clip()
    for name, variant in stress.VARIANTS.items():
        x, sr, shift = variant(audio, notes, 0)
        assert x.dtype == np.float32 and np.isfinite(x).all(), name
        assert (name == "as-is") == (sr == evalset.SR and np.array_equal(x, audio)), name
        # The truth's onset, moved by ``shift``, is where the note now begins.
        onset = notes[0].onset_s + shift
        at = round(onset * sr)
        assert np.ptp(x[at + 10 : at + 400]) > 0.2, name
        before = x[max(at - 400, 0) : max(at - 10, 0)]
        if name != "clicks" and before.size:
            assert np.ptp(before) < 0.01, name
    trimmed, _, shift = stress.VARIANTS["trimmed"](audio, notes, 0)
    assert shift == pytest.approx(-0.498, abs=1e-4)
    assert len(trimmed) == len(audio) - round(0.498 * evalset.SR)
    assert stress.VARIANTS["44.1kHz"](audio, notes, 0)[1] == 44_100


def test_an_unknown_variant_or_condition_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        stress.main(["--variants", "as-is,underwater"])
    assert "unknown variant underwater" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        stress.main(["--conditions", "clean,polka"])
    err = capsys.readouterr().err
    assert "not a dev condition: polka" in err and "let-ring" in err


def test_a_trimmed_take_and_a_dc_offset_keep_the_notes_the_clip_has_as_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert stress.main(["--conditions", "let-ring", "--clips", "1",
                        "--variants", "as-is,trimmed,dc+0.02"]) == 0  # fmt: skip
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    as_is = lines["as-is"]
    notes, matched = int(as_is[2]), int(as_is[8])
    assert matched >= notes - 1
    for name in ("trimmed", "dc+0.02"):
        assert int(lines[name][8]) >= matched - 1, lines[name]


@pytest.mark.parametrize("why", [[], ["--why"]])
def test_a_low_tuned_clip_is_played_with_its_own_lowest_note(
    capsys: pytest.CaptureFixture[str], why: list[str]
) -> None:
    """bench.stress and its --why spy built the tracker at its default C2: every open B1
    of a B-standard clip counted as a miss."""
    assert stress.main(["--conditions", "B-standard", "--clips", "1", "--variants", "as-is",
                        *why]) == 0  # fmt: skip
    as_is = next(line.split() for line in capsys.readouterr().out.splitlines()
                 if line.startswith("as-is"))  # fmt: skip
    notes, matched = int(as_is[2]), int(as_is[8])
    assert matched == notes


def _tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(round(seconds * evalset.SR)) / evalset.SR
    return (0.4 * np.sin(2 * np.pi * 220.0 * t) * (t >= 0.5)).astype(np.float32)


def test_every_pedal_is_deterministic_keeps_the_level_and_the_length() -> None:
    x = _tone()
    for name in pedals.PEDALS:
        y = pedals.apply(name, x, 3)
        assert y.dtype == np.float32 and y.shape == x.shape and np.isfinite(y).all(), name
        assert np.array_equal(y, pedals.apply(name, x, 3)), name
        assert np.abs(y).max() == pytest.approx(np.abs(x).max(), rel=1e-3), name
        assert not np.array_equal(y, x), name


def _swing_db(y: np.ndarray) -> float:
    """The spread of 5 ms RMS levels over the held tone's second second, in dB."""
    frames = y[evalset.SR : 2 * evalset.SR].reshape(-1, 240).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return float(np.ptp(db))


def test_a_tremolo_swings_the_level_a_vibrato_does_not_and_a_compressor_flattens_a_decay() -> None:
    x = _tone()
    assert _swing_db(pedals.apply("tremolo", x, 0)) > 6.0
    assert _swing_db(pedals.apply("tremolo-square", x, 0)) > 6.0
    assert _swing_db(pedals.apply("vibrato", x, 0)) < 1.0
    t = np.arange(len(x)) / evalset.SR
    decaying = (x * np.exp(-3.0 * np.maximum(t - 0.5, 0.0))).astype(np.float32)
    assert _swing_db(pedals.apply("compressor", decaying, 0)) < 0.5 * _swing_db(decaying)


def test_a_delay_repeats_the_notes_where_echoes_says() -> None:
    x = np.zeros(round(4.0 * evalset.SR), np.float32)  # long enough for 5 repeats of 0.5 s
    x[round(0.5 * evalset.SR)] = 0.5  # one impulse: each repeat is an impulse too
    for name in ("slapback", "echo"):
        y = pedals.apply(name, x, 5)
        times = pedals.echoes(name, [0.5], 5)
        assert (len(times) == 1) if name == "slapback" else (3 <= len(times) <= 5)
        # Sound at the impulse and at each repeat (to a sample), nowhere else.
        at = {round(t * evalset.SR) + d for t in (0.5, *times) for d in (-1, 0, 1)}
        sounding = set(np.flatnonzero(np.abs(y) > 1e-4).tolist())
        assert sounding <= at and len(sounding) == 1 + len(times), name
        assert pedals.echoes("chorus", [0.5], 5) == []


def test_the_pedal_table_splits_extra_notes_at_echoes_and_names_their_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert stress.main(["--conditions", "repeated", "--clips", "1",
                        "--variants", "as-is,slapback,tremolo-square", "--why"]) == 0  # fmt: skip
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "at echoes" in lines["slapback"] and "F w/o echoes" in lines["slapback"]
    assert "at echoes" not in lines["tremolo-square"]
    # A square tremolo's edges still start notes (the table names the tracker's path that
    # did, by name: a path the table cannot name shows as its line number; this clip's
    # sine tremolo no longer starts any, see NoteTracker._goes_on).
    assert "extra started by" in lines["tremolo-square"]
    assert "line " not in lines["tremolo-square"] and "line " not in lines["slapback"]
