"""``python -m bench.realaug``: the real notes' tuning half played back other ways."""

from __future__ import annotations

import numpy as np
import pytest

from bench import evalset, realaug


def test_every_variant_keeps_the_clip_s_length_and_changes_it() -> None:
    rng = np.random.default_rng(0)
    n = round(3.0 * evalset.SR)
    audio = (0.01 * rng.standard_normal(n)).astype(np.float32)
    audio[round(1.5 * evalset.SR) :] += 0.3 * np.sin(
        2 * np.pi * 110.0 * np.arange(n - round(1.5 * evalset.SR)) / evalset.SR
    ).astype(np.float32)
    played = dict(realaug.variants(audio, list(realaug.VARIANTS)))
    assert list(played) == list(realaug.VARIANTS)
    for name, x in played.items():
        assert x.dtype == np.float32 and x.shape == audio.shape, name
        assert np.isfinite(x).all(), name
        assert np.abs(x).max() <= 1.0 or name in ("hum", "white-30dB", "room+10dB"), name
        assert (name == "as-is") == np.array_equal(x, audio), name
    assert np.abs(played["+12dB"]).max() == pytest.approx(1.0)  # clipped
    assert np.abs(played["-25dB"]).max() == pytest.approx(np.abs(audio).max() * 10 ** (-25 / 20))


def test_an_unknown_variant_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        realaug.main(["--variants", "as-is,louder"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unknown variant louder" in err and "highpass-150" in err


@pytest.mark.skipif(
    not (evalset.REAL_NOTES / "labels.csv").is_file(), reason="the real notes are not here"
)
def test_only_the_tuning_half_is_played(capsys: pytest.CaptureFixture[str]) -> None:
    clips = list(realaug.tuning_half())
    assert len(clips) == 60  # of 109; the held-out half is never played here
    assert realaug.main(["--limit", "2", "--variants", "as-is,-15dB", "--all-clips"]) == 0
    out = capsys.readouterr().out
    assert out.count("as-is ") >= 3  # two clips listed, and the tally
    assert "clips   2" in out
