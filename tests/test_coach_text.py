"""The coach's pure parts: snapshots, the prompt, the offline coach and the reply checks."""

from __future__ import annotations

import random
import re

import pytest

from coach.offline import offline_summary, offline_tip
from coach.prompts import LIVE_FEEDBACK_V1, SESSION_SUMMARY_V1
from coach.tips import snapshot_from_scores
from coach.validate import MAX_WORDS, check_reply, word_count
from dsp import NoteEvent, Scorer, ScoringConfig, parse_scale
from tests.conftest import metric_snapshot as snap

A_MINOR_PENTA = parse_scale("A minor pentatonic")


def note(onset: float, midi: int, cents: float = 0.0) -> NoteEvent:
    return NoteEvent(
        index=0,
        onset_s=onset,
        end_s=onset + 0.2,
        midi=midi,
        cents=cents,
        freq_hz=440.0,
        confidence=1.0,
        level_db=-20.0,
        reported_s=onset + 0.05,
    )


# -- snapshot and prompt --------------------------------------------------------------


def test_snapshot_from_real_scores_keeps_only_enabled_metrics() -> None:
    scorer = Scorer(ScoringConfig(A_MINOR_PENTA, metrics=("pitch", "scale")))
    # A (in scale, in tune) ×3, then a badly sharp C and an out-of-scale F (MIDI 65).
    for i, (midi, cents) in enumerate([(57, 0), (57, 0), (57, 0), (60, 35), (65, 0)]):
        scorer.add(note(i * 0.5, midi, cents))
    snapshot = snapshot_from_scores(
        scorer.window(), scale=A_MINOR_PENTA, metrics=("pitch", "scale"), bpm=None
    )
    assert snapshot.metrics == ("pitch", "scale")
    assert snapshot.timing is None
    assert snapshot.scale == pytest.approx(0.8)
    assert snapshot.pitch is not None and snapshot.pitch < 1.0
    assert snapshot.notes == 5
    assert snapshot.most_out_of_tune == "C"
    assert snapshot.most_out_of_scale == "F"
    assert snapshot.scale_name == "A minor pentatonic"
    assert snapshot.bpm == 120  # measured: two notes a second
    assert snapshot_from_scores(scorer.window(), scale=A_MINOR_PENTA, bpm=80).bpm == 80


def test_prompt_follows_the_family_shape_and_adds_what_the_device_knows() -> None:
    text = LIVE_FEEDBACK_V1.user(snap(out_of_scale="C"))
    lines = text.splitlines()
    assert lines[:4] == [
        "Enabled metrics: Pitch Accuracy, Timing Stability",
        "Pitch 95%, Timing 21%",
        "Strongest: Pitch Accuracy (95%)",
        "Weakest: Timing Stability (21%)",
    ]
    assert "Scale: A minor pentatonic" in lines
    assert "Tempo: 92 BPM" in lines
    assert "Note most often out of tune: F#" in lines
    assert "Note most often out of scale: C" in lines
    assert lines[-1] == (
        "1–2 sentences, at most 30 words, [what's good], but [what's weak] – [specific fix]:"
    )
    messages = LIVE_FEEDBACK_V1.messages(snap())
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "at most 30 words" in messages[0]["content"]
    assert LIVE_FEEDBACK_V1.version == "live-feedback-v1"


def test_prompt_with_one_metric_and_an_unmeasured_one() -> None:
    text = LIVE_FEEDBACK_V1.user(snap(pitch=0.8, timing=None, bpm=None, out_of_tune=None))
    assert "Pitch 80%, Timing not measured yet" in text
    assert "Measured: Pitch Accuracy (80%)" in text
    assert "Strongest" not in text and "Tempo" not in text


def test_summary_prompt_covers_the_whole_session() -> None:
    text = SESSION_SUMMARY_V1.user(snap(notes=312), duration_s=252)
    assert "Pitch 95%, Timing 21%" in text
    assert "Session: 4 min 12 s, 312 notes" in text
    assert "Notes in this window" not in text
    assert text.endswith("one specific exercise:")
    assert (SESSION_SUMMARY_V1.max_words, SESSION_SUMMARY_V1.max_sentences) == (60, 3)


# -- the offline coach ----------------------------------------------------------------


def test_offline_summary_says_what_was_played_then_what_to_fix() -> None:
    summary = offline_summary(snap(notes=312), 252, rng=random.Random(2))
    assert summary.startswith("4 min 12 s of A minor pentatonic, 312 notes.")
    assert "21%" in summary and "metronome" in summary.lower()
    assert word_count(summary) <= 60
    assert check_reply(summary, snap(), max_words=60, max_sentences=3).kind == "model"
    one = offline_summary(snap(notes=1), 2, rng=random.Random(2))
    assert one.startswith("2 s of A minor pentatonic, 1 note.")  # not "1 notes"


CASES = {
    "weak timing": (snap(), "timing", ("metronome",), None),
    "weak pitch": (
        snap(pitch=0.32, scale=0.91, timing=0.88, metrics=("pitch", "scale", "timing")),
        "pitch",
        ("fret", "pressure"),
        "F#",
    ),
    "weak scale": (
        snap(
            pitch=0.88,
            scale=0.41,
            timing=0.7,
            metrics=("pitch", "scale", "timing"),
            out_of_scale="C",
        ),
        "scale",
        ("position",),
        "C",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_offline_tip_fixes_the_weakest_metric(case: str) -> None:
    snapshot, weakest, fix_words, named_note = CASES[case]
    tips = {offline_tip(snapshot, rng=random.Random(seed)) for seed in range(12)}
    assert len(tips) >= 3, "the wording should vary"
    for tip in tips:
        assert word_count(tip) <= MAX_WORDS, tip
        assert any(word in tip.lower() for word in fix_words), tip
        assert weakest in tip.lower(), tip
        if named_note:
            assert re.search(rf"(?<!\w){re.escape(named_note)}(?!\w)", tip), tip
        # Never contradicts the numbers: the checks for model replies pass it as is.
        assert check_reply(tip, snapshot).kind == "model", tip


def test_offline_timing_fix_slows_the_tempo_down() -> None:
    tip = offline_tip(snap(bpm=120), rng=random.Random(1))
    assert "90 BPM" in tip


def test_the_offset_to_a_heard_click_reaches_the_prompt_and_the_offline_tip() -> None:
    from dataclasses import replace

    rushing = replace(snap(bpm=100), mean_offset_ms=-18.4)
    assert "Against the metronome click: you rush by 18 ms on average" in (
        LIVE_FEEDBACK_V1.user(rushing).splitlines()
    )
    assert "Against the metronome click" not in LIVE_FEEDBACK_V1.user(snap(bpm=100))
    for seed in range(5):
        tip = offline_tip(rushing, rng=random.Random(seed))
        assert "you rush the click by 18 ms" in tip
        assert check_reply(tip, rushing).kind == "model", tip
        dragging = offline_tip(replace(rushing, mean_offset_ms=12.0), rng=random.Random(seed))
        assert "you drag by 12 ms" in dragging
    # Under 10 ms the usual slow-down advice stays.
    assert "ms" not in offline_tip(replace(rushing, mean_offset_ms=-6.0), rng=random.Random(1))


def test_a_scores_offset_goes_into_the_snapshot_only_with_heard_clicks() -> None:
    scorer = Scorer(ScoringConfig(A_MINOR_PENTA, bpm=120, beat_origin_s=0.0))
    for i in range(8):
        scorer.add(note(i * 0.5 + 0.02, 57, 0))  # 20 ms behind every click
    window = scorer.window()
    assert window.mean_offset_ms == pytest.approx(20.0, abs=0.5)
    heard = snapshot_from_scores(window, scale=A_MINOR_PENTA, bpm=120, clicks_heard=True)
    assert heard.mean_offset_ms == window.mean_offset_ms
    assert snapshot_from_scores(window, scale=A_MINOR_PENTA, bpm=120).mean_offset_ms is None


def test_offline_tip_when_everything_is_strong_sets_a_challenge() -> None:
    strong = snap(pitch=0.95, scale=0.9, timing=0.88, metrics=("pitch", "scale", "timing"))
    for seed in range(6):
        tip = offline_tip(strong, rng=random.Random(seed))
        assert "Pitch 95%, Scale 90%, Timing 88%" in tip
        assert " but " not in tip  # nothing weak to name
        assert word_count(tip) <= MAX_WORDS


def test_offline_tip_never_calls_a_low_score_good() -> None:
    low = snap(pitch=0.45, timing=0.2)
    for seed in range(10):
        tip = offline_tip(low, rng=random.Random(seed))
        assert not re.search(r"\b(strong|excellent|great|solid|decent)\b", tip), tip
        # Nor as the best of a poor take: "Pitch Accuracy leads at 45%, but ..." read as praise.
        assert not re.search(r"\b(leads|best)\b", tip), tip
        assert tip.startswith("Pitch Accuracy 45% and timing stability 20% both need work"), tip


def test_offline_tip_never_names_one_metric_twice_when_scores_tie() -> None:
    for scores in ({"pitch": 0.0, "timing": 0.0}, {"pitch": 0.3, "timing": 0.3}):
        for seed in range(6):
            tip = offline_tip(snap(**scores), rng=random.Random(seed)).lower()
            assert tip.count("pitch accuracy") <= 1 and "timing stability" in tip, tip


def test_offline_tip_with_one_metric_and_with_none() -> None:
    one = offline_tip(snap(pitch=None, metrics=("timing",), timing=0.4), rng=random.Random(0))
    assert one.startswith("Timing Stability") and "40%" in one and "metronome" in one.lower()
    none = offline_tip(snap(pitch=None, timing=None), rng=random.Random(0))
    assert "A minor pentatonic" in none and "%" not in none


# -- the reply checks -----------------------------------------------------------------

GOOD = (
    "Your pitch accuracy is outstanding at 95%, but timing stability is lacking at 21%. "
    "Slow down and count to improve your rhythm consistency."
)


def test_a_good_reply_is_shown_as_is() -> None:
    checked = check_reply(GOOD, snap())
    assert (checked.text, checked.kind, checked.reason) == (GOOD, "model", None)


@pytest.mark.parametrize("reply", [None, "", "   \n ", '""', "**  **"])
def test_an_empty_reply_is_replaced(reply: str | None) -> None:
    checked = check_reply(reply, snap())
    assert checked.text is None and checked.reason == "empty reply"


def test_markdown_quotes_and_labels_are_cleaned() -> None:
    reply = '**Tip:** "Pitch is great at 95%,\nbut timing lags – use a metronome."'
    checked = check_reply(reply, snap())
    assert checked.text == "Pitch is great at 95%, but timing lags – use a metronome."
    assert checked.kind == "model"


def test_a_long_reply_is_trimmed_at_a_sentence_boundary() -> None:
    reply = (
        "Pitch is strong at 95%, but timing is weak at 21%. Use a metronome at 70 BPM. "
        "Also, remember to relax your picking hand and breathe while you play the scale."
    )
    checked = check_reply(reply, snap())
    assert checked.kind == "trimmed"
    assert checked.text == (
        "Pitch is strong at 95%, but timing is weak at 21%. Use a metronome at 70 BPM."
    )


def test_a_reply_with_one_endless_sentence_is_replaced() -> None:
    reply = "Pitch " + " ".join(["really"] * 40) + " good at 95%."
    checked = check_reply(reply, snap())
    assert checked.text is None and "longer than 30 words" in (checked.reason or "")


def test_a_reply_cut_off_by_the_token_limit_loses_its_unfinished_sentence() -> None:
    reply = "Pitch is strong at 95%, but timing is weak at 21%. Try a metronome and"
    checked = check_reply(reply, snap(), truncated=True)
    assert checked.text == "Pitch is strong at 95%, but timing is weak at 21%."
    assert checked.kind == "trimmed"
    assert check_reply("Try a metronome and", snap(), truncated=True).text is None


def test_a_reply_not_about_the_scores_is_replaced() -> None:
    checked = check_reply("Great job! You are awesome, keep rocking out!", snap())
    assert checked.text is None and "no metric" in (checked.reason or "")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("Timing is excellent at 95%, but pitch lags at 21%.", "for timing"),
        ("Pitch is strong at 80%, but timing needs work.", "for pitch"),
        ("Great work at 60% overall – use a metronome.", "matches no metric"),
        ("Scale conformity is 90% – keep in position.", "not measured"),
    ],
)
def test_a_reply_quoting_a_contradicting_percentage_is_replaced(reply: str, why: str) -> None:
    checked = check_reply(reply, snap())
    assert checked.text is None and why in (checked.reason or "")


def test_percentages_within_five_points_pass() -> None:
    assert check_reply("Pitch is at 91%, but timing lags at 25 percent.", snap()).kind == "model"


def test_a_measured_tempo_is_told_as_a_metronome_would_be_set() -> None:
    """Eighths at 90 BPM measure 180 notes a minute; the advice should say 90, not 180."""
    from coach.tips import beat_tempo

    assert beat_tempo(180.0) == 90.0
    assert beat_tempo(280.0) == 140.0
    assert beat_tempo(100.0) == 100.0
    assert beat_tempo(30.0) == 60.0
    assert beat_tempo(None) is None
    assert beat_tempo(180.6) == 90.0  # whole BPM, as a metronome is set
    assert beat_tempo(float("inf")) is None
