"""``python -m bench.realaug``: the real notes' tuning half played back other ways."""

from __future__ import annotations

import numpy as np
import pytest

from bench import evalset, evaluate, realaug


def _pluck_after_room() -> tuple[np.ndarray, tuple[evalset.TruthNote, ...]]:
    """3 s: room hiss, then a decaying A2 from its label at 1.8 s."""
    rng = np.random.default_rng(0)
    n = round(3.0 * evalset.SR)
    audio = (0.01 * rng.standard_normal(n)).astype(np.float32)
    at = round(1.8 * evalset.SR)
    t = np.arange(n - at) / evalset.SR
    audio[at:] += (0.3 * np.sin(2 * np.pi * 110.0 * t) * np.exp(-t / 0.8)).astype(np.float32)
    return audio, (evalset.TruthNote(1.8, 45, 0.0, False),)


def test_every_variant_keeps_the_clip_and_changes_it() -> None:
    audio, notes = _pluck_after_room()
    played = dict(realaug.variants(audio, notes, list(realaug.VARIANTS)))
    assert list(played) == list(realaug.VARIANTS)
    for name, (x, truth) in played.items():
        assert x.dtype == np.float32 and x.ndim == 1, name
        assert np.isfinite(x).all(), name
        assert (name == "as-is") == (x.shape == audio.shape and np.array_equal(x, audio)), name
        if not name.startswith(("shift", "repluck")):
            assert x.shape == audio.shape and truth == notes, name
    assert np.abs(played["+12dB"][0]).max() == pytest.approx(1.0)  # clipped
    assert np.abs(played["-25dB"][0]).max() == pytest.approx(np.abs(audio).max() * 10 ** (-25 / 20))


def test_a_pitch_shift_moves_the_label_with_the_sound() -> None:
    audio, notes = _pluck_after_room()
    for semitones in (-3, -1, 2, 3):
        x, (truth,) = realaug.VARIANTS[f"shift{semitones:+d}"](audio, notes)
        ratio = 2.0 ** (semitones / 12.0)
        assert truth.midi == 45 + semitones
        assert truth.onset_s == pytest.approx(1.8 / ratio, abs=1e-3)
        assert len(x) == pytest.approx(len(audio) / ratio, rel=6e-4)  # the ratio: ≤ 1 cent off
        at = round(truth.onset_s * evalset.SR) + evalset.SR // 10
        spectrum = np.abs(np.fft.rfft(x[at : at + evalset.SR // 2] * np.hanning(evalset.SR // 2)))
        assert np.argmax(spectrum) * 2.0 == pytest.approx(110.0 * ratio, abs=2.0)  # 2 Hz bins


def test_a_repluck_adds_its_label_and_its_attack() -> None:
    audio, notes = _pluck_after_room()
    x, truth = realaug.VARIANTS["repluck-0.35"](audio, notes)
    assert [t.onset_s for t in truth] == pytest.approx([1.8, 2.15])
    assert truth[1].repeated and truth[1].midi == 45
    span = round(0.02 * evalset.SR)
    again, first = round(2.16 * evalset.SR), round(1.81 * evalset.SR)
    # The first pluck's own audio, over the sound before it damped 14 dB.
    expected = audio[first : first + span] + 0.2 * audio[again : again + span]
    assert x[again : again + span] == pytest.approx(expected, abs=1e-6)
    assert np.array_equal(x[: round(2.09 * evalset.SR)], audio[: round(2.09 * evalset.SR)])


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


@pytest.mark.skipif(
    not (evalset.REAL_NOTES / "labels.csv").is_file(), reason="the real notes are not here"
)
@pytest.mark.parametrize(
    ("clip", "variant"),
    [
        ("Takamine_Acoustic__Google_Pixel_7__G3", "highpass-150"),  # sharp start, then back
        ("Takamine_Acoustic__Google_Pixel_7__A2", "shift+3"),  # the same
        ("Yamaha_2_Acoustic__Nothing_Phone_2a__E2", "body-420"),  # twice the 5th's period
        ("CS_Telecaster_unplugged__iPhone_11__D3", "body-420"),  # the 3rd partial drifting
        ("Fender_Stratocaster_amp__iPhone_11__B3", "reverb"),  # the 6th partial
    ],
)
def test_a_note_of_the_tuning_half_played_another_way_stays_one_note(
    clip: str, variant: str
) -> None:
    (played,) = (c for c in realaug.tuning_half() if clip in c.name)
    ((_, (audio, truth)),) = realaug.variants(played.audio, played.notes, [variant])
    found = evaluate.ours(audio, evalset.SR)
    assert len(found) == 1 and evaluate.match(truth, found) == {0: 0}, found


@pytest.mark.skipif(
    not (evalset.REAL_NOTES / "labels.csv").is_file(), reason="the real notes are not here"
)
@pytest.mark.parametrize("variant", ["highpass-150", "shift-3"])
def test_a_low_string_whose_attack_reads_its_3rd_partial_is_first_shown_as_itself(
    variant: str,
) -> None:
    (played,) = (c for c in realaug.tuning_half() if "Grand_Acoustic__iPhone_7__E2" in c.name)
    ((_, (audio, truth)),) = realaug.variants(played.audio, played.notes, [variant])
    found = evaluate.ours(audio, evalset.SR)
    assert [(d.first_midi, d.midi) for d in found] == [(truth[0].midi, truth[0].midi)]
