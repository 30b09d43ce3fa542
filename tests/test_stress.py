"""``python -m bench.stress``: the dev split through strangers' recording chains."""

from __future__ import annotations

import numpy as np
import pytest

from bench import evalset, stress


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
