"""The evaluation set: splits that share conditions and nothing else, truth that is true."""

from __future__ import annotations

import numpy as np
import pytest

from bench import evalset, evaluate, notebank

pytestmark = pytest.mark.skipif(
    notebank.unavailable("fluidr3") is not None, reason="FluidSynth or FluidR3 GM missing"
)


def test_the_splits_share_conditions_but_not_sources_or_melodies() -> None:
    assert not set(evalset.SOUNDFONTS["dev"]) & set(evalset.SOUNDFONTS["test"])
    assert not set(evalset.VOICES["dev"]) & set(evalset.VOICES["test"])
    dev = next(evalset.clips("dev", ["clean"]))
    test = next(evalset.clips("test", ["clean"]))
    assert [n.midi for n in dev.notes] != [n.midi for n in test.notes]
    assert dev.condition == test.condition == "clean"


def test_clips_are_deterministic_and_labelled() -> None:
    a = next(evalset.clips("dev", ["repeated"]))
    b = next(evalset.clips("dev", ["repeated"]))
    assert np.array_equal(a.audio, b.audio)
    assert a.audio.dtype == np.float32 and np.isfinite(a.audio).all()
    assert any(n.repeated for n in a.notes)
    assert all(0.0 < n.onset_s < len(a.audio) / evalset.SR for n in a.notes)


def test_truth_onsets_sit_at_the_attack() -> None:
    """Each plucked note's energy rises within a few ms after its truth onset."""
    clip = next(evalset.clips("test", ["clean"]))
    x = clip.audio.astype(np.float64)
    for note in clip.notes:
        at = round(note.onset_s * evalset.SR)
        before = np.sqrt(np.mean(x[at - 480 : at - 48] ** 2))
        after = np.sqrt(np.mean(x[at : at + 240] ** 2))
        assert after > 2.0 * before, note


def test_noise_conditions_are_at_their_snr() -> None:
    clean = next(evalset.clips("dev", ["noise-30dB"]))
    noisy = next(evalset.clips("dev", ["noise-10dB"]))
    # The first 0.4 s hold no note: only the added noise.
    floor = [float(np.sqrt(np.mean(c.audio[: int(0.4 * evalset.SR)] ** 2))) for c in (clean, noisy)]
    assert 20 * np.log10(floor[1] / floor[0]) > 10.0


def test_matching_is_one_to_one_within_50_ms() -> None:
    truth = [evalset.TruthNote(1.0, 60, 0.0), evalset.TruthNote(1.06, 62, 0.0)]
    found = [evaluate.Detected(1.03, 60, 0.0), evaluate.Detected(1.07, 62, 0.0)]
    assert evaluate.match(truth, found) == {0: 0, 1: 1}
    twice = [evaluate.Detected(1.01, 60, 0.0), evaluate.Detected(1.02, 60, 0.0)]
    assert evaluate.match(truth[:1], twice) == {0: 0}
    assert evaluate.match(truth, [evaluate.Detected(1.3, 60, 0.0)]) == {}


def test_our_engine_is_scored_on_a_clean_clip() -> None:
    clip = next(evalset.clips("test", ["clean"]))
    result = evaluate.score_clip(clip, "ours", evaluate.ours)
    summary = evaluate.summarise([result])
    assert summary["truth"] == len(clip.notes)
    assert summary["f"] > 0.9 and summary["names"] > 0.9


def test_one_clip_is_made_as_the_split_makes_it() -> None:
    listed = list(evalset.clips("dev", ["let-ring"]))
    for k in (0, 1):
        one = evalset.make_clip("dev", "let-ring", k)
        assert one.name == listed[k].name and one.source == listed[k].source
        assert np.array_equal(one.audio, listed[k].audio) and one.notes == listed[k].notes


def _result(instrument: str, truth: int, detected: int, matched: int) -> evaluate.ClipResult:
    return evaluate.ClipResult(
        f"real/{instrument}", instrument, "ours", truth, detected, (0.0,) * matched,
        (True,) * matched, (), (True,) * matched, 0, 0, 1.0, 0.01,
    )  # fmt: skip


def test_a_note_off_its_label_is_an_extra_but_not_beyond_one_per_pluck() -> None:
    late = _result("a", 1, 1, 0)  # the one note found, 60 ms after a touch labelled
    twice = _result("b", 1, 2, 1)  # the pluck and a phantom
    summary = evaluate.summarise([late, twice])
    assert summary["extra_per_pluck"] == 1.0  # two unmatched detections, two plucks
    assert summary["beyond_per_pluck"] == 0.5
    assert summary["clips_beyond"] == 1


def test_the_real_notes_split_in_two_fixed_halves_of_instruments() -> None:
    results = [_result(name, 1, 1, 1) for name in ("Admira Classic", "TunerSamples", "guitar 1")]
    tuning, held_out = evaluate.real_halves(results)
    assert len(tuning) + len(held_out) == 3
    assert evaluate.real_halves(results) == (tuning, held_out)
    assert {r.condition for r in tuning}.isdisjoint({r.condition for r in held_out})


def test_soft_re_picks_are_dev_only_and_softer_than_the_note_they_re_pick() -> None:
    """``repick-soft``: each re-pick 3–12 dB under the note that began its run; the test
    split neither holds it nor has a seed moved by it."""
    assert "repick-soft" in evalset.conditions_of("dev")
    assert "repick-soft" not in evalset.conditions_of("test")
    shared = {evalset._seed("dev", c, k) for c in evalset.CONDITIONS for k in range(40)}
    assert evalset._seed("dev", "repick-soft", 0) not in shared
    plan = evalset.DEV_ONLY["repick-soft"](np.random.default_rng(7))
    runs = 0
    first = plan.notes[0].velocity
    for previous, note in zip(plan.notes, plan.notes[1:], strict=False):
        if note.midi == previous.midi:
            runs += 1
            assert 3.0 <= 20.0 * np.log10(first / note.velocity) <= 12.0
        else:
            first = note.velocity
    assert runs >= 5


def test_dev_clips_beyond_the_split_are_seeds_it_never_held_and_test_has_none() -> None:
    own = {clip.name for clip in evalset.clips("dev", ["clean"])}
    more = list(evalset.clips("dev", ["clean"], beyond=(0, 2)))
    assert [clip.name for clip in more] == ["dev/clean/4", "dev/clean/5"]
    assert not own & {clip.name for clip in more}
    assert not np.array_equal(more[0].audio[: evalset.SR], more[1].audio[: evalset.SR])
    with pytest.raises(ValueError, match="only the dev split"):
        next(evalset.clips("test", ["clean"], beyond=(0, 1)))
    with pytest.raises(ValueError, match="seeds beyond the split run from 4 to 96"):
        next(evalset.clips("dev", ["clean"], beyond=(90, 10)))
    for argv in (["--split", "test", "--beyond", "0:1"], ["--split", "dev", "--beyond", "a"]):
        with pytest.raises(SystemExit) as refused:
            evaluate.main(argv)
        assert refused.value.code == 2


def test_the_low_tuned_conditions_are_in_both_splits_carry_their_lowest_note_and_move_no_seed() -> (
    None
):
    """``B-standard`` and ``drop-A``: seeded after every other condition (no clip of theirs
    moved), tracked from their low string; a sampled note under the bank's C2 is its C2
    played slower, its attack where the truth says."""
    for split in evalset.SPLITS:
        assert {"B-standard", "drop-A"} <= set(evalset.conditions_of(split))
    before = {
        evalset._seed(split, c, k)
        for split in evalset.SPLITS
        for c in (*evalset.CONDITIONS, *evalset.DEV_ONLY)
        for k in range(evalset.MAX_SEEDS)
    }
    for split in evalset.SPLITS:
        for c in evalset.LOW_TUNED:
            assert not before & {evalset._seed(split, c, k) for k in range(evalset.MAX_SEEDS)}
    clip = evalset.make_clip("dev", "drop-A", 1)  # sampled
    assert clip.lowest_midi == 33 and min(n.midi for n in clip.notes) == 33
    a1 = next(n for n in clip.notes if n.midi == 33)
    start = round(a1.onset_s * evalset.SR)
    before_db = 20 * np.log10(np.abs(clip.audio[start - 480 : start - 48]).max() + 1e-9)
    after_db = 20 * np.log10(np.abs(clip.audio[start : start + 480]).max() + 1e-9)
    assert after_db > before_db + 6  # the attack comes at the truth onset
