"""Per-note scores with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import InvalidSettingError, NoteEvent, Scorer, ScoringConfig, parse_scale

A_MINOR_PENTA = parse_scale("A minor pentatonic")


def note(onset: float, midi: int, cents: float = 0.0, index: int = 0) -> NoteEvent:
    return NoteEvent(
        index=index,
        onset_s=onset,
        end_s=onset + 0.2,
        midi=midi,
        cents=cents,
        freq_hz=440.0,
        confidence=1.0,
        level_db=-20.0,
        reported_s=onset + 0.05,
    )


def score(notes: list[NoteEvent], **config: object) -> Scorer:
    scorer = Scorer(ScoringConfig(A_MINOR_PENTA, **config))  # type: ignore[arg-type]
    for n in notes:
        scorer.add(n)
    return scorer


def test_pitch_accuracy_uses_a_tolerance_band_not_one_minus_cents() -> None:
    # Within ±17.5 cents (strictness 0.5) every note is perfect.
    s = score([note(i * 0.5, 57, cents) for i, cents in enumerate([0, 10, -17, 17.5])]).session()
    assert s.pitch_accuracy == 1.0
    assert s.in_tune_notes == 4
    # 30 cents off: 1 − (30 − 17.5) / (50 − 17.5) = 0.615...
    s = score([note(0, 57, 30.0)]).session()
    assert s.pitch_accuracy == pytest.approx(0.615, abs=0.001)
    assert s.most_out_of_tune == "A"


def test_strictness_tightens_the_band() -> None:
    lax = score([note(0, 57, 20.0)], strictness=0.0).session()
    strict = score([note(0, 57, 20.0)], strictness=1.0).session()
    assert lax.pitch_accuracy == 1.0
    assert strict.pitch_accuracy == pytest.approx(0.75)  # 1 − 10/40
    assert strict.cents_tolerance == 10.0 and lax.cents_tolerance == 25.0


def test_out_of_scale_notes_do_not_cost_pitch_accuracy() -> None:
    s = score([note(0, 57), note(0.5, 59), note(1.0, 60), note(1.5, 59)]).session()
    assert s.pitch_accuracy == 1.0
    assert s.scale_conformity == 0.5
    assert s.counts.total_notes == 4
    assert s.counts.in_scale_notes == 2
    assert s.counts.out_of_scale_notes == 2
    assert s.counts.scale_size == 5
    assert s.most_out_of_scale == "B"


def test_coverage_reports_how_much_of_the_scale_was_used() -> None:
    one_note = score([note(i * 0.5, 57) for i in range(8)]).session()
    assert one_note.scale_conformity == 1.0
    assert one_note.scale_coverage == 0.2
    all_five = score([note(i * 0.5, m) for i, m in enumerate([57, 60, 62, 64, 67])]).session()
    assert all_five.scale_coverage == 1.0


def test_steady_playing_with_rests_and_subdivisions_is_stable() -> None:
    onsets = [0.0, 0.5, 1.0, 1.5, 2.0, 2.25, 2.5, 3.5, 4.0, 8.0, 8.5, 9.0]
    s = score([note(t, 57) for t in onsets]).session()
    assert s.timing_stability == 1.0
    assert s.tempo_bpm == pytest.approx(120.0)
    # The 4-second gap is a rest, not an interval.
    assert s.timed_intervals == len(onsets) - 3


def test_a_steady_accelerando_is_not_chaos() -> None:
    onsets, t, ioi = [], 0.0, 0.6
    for _ in range(24):
        onsets.append(t)
        t += ioi
        ioi *= 0.97  # 3 % faster every note: 100 → 200 bpm
    assert score([note(t, 57) for t in onsets]).session().timing_stability == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_random_timing_scores_low_and_human_timing_high(seed: int) -> None:
    rng = np.random.default_rng(seed)
    random_onsets = np.cumsum(rng.uniform(0.2, 0.8, 40))
    erratic = score([note(float(t), 57) for t in random_onsets]).session().timing_stability
    assert erratic is not None and erratic < 0.5
    # Eighths at 120 bpm with 15 ms of human jitter (6 % of the interval).
    human_onsets = np.cumsum(0.25 + rng.normal(0.0, 0.015, 40))
    human = score([note(float(t), 57) for t in human_onsets]).session().timing_stability
    assert human is not None and human > 0.85


def test_metronome_grid_judges_against_the_set_tempo() -> None:
    quarter_at_100 = [i * 0.6 for i in range(10)]
    on_grid = score([note(t, 57) for t in quarter_at_100], bpm=100).session()
    assert on_grid.timing_stability == 1.0
    # Steady, but at 75 bpm against a 100 bpm click: every interval 33 % long.
    off_grid = score([note(i * 0.8, 57) for i in range(10)], bpm=100).session()
    assert off_grid.timing_stability is not None and off_grid.timing_stability < 0.3


def test_window_follows_the_latest_notes() -> None:
    scorer = score([note(i * 0.5, 59) for i in range(10)], window_notes=4)
    for i in range(10, 14):
        scorer.add(note(i * 0.5, 57))
    assert scorer.session().scale_conformity == pytest.approx(4 / 14, abs=0.001)
    assert scorer.window().scale_conformity == 1.0
    assert scorer.window().counts.total_notes == 4


def test_disabled_metrics_are_none() -> None:
    s = score([note(0, 57), note(0.5, 60), note(1.0, 62)], metrics=("pitch", "scale")).session()
    assert s.timing_stability is None
    assert s.as_dict()["pitch_accuracy"] == 1.0


def test_no_notes_means_no_scores() -> None:
    s = score([]).session()
    assert s.pitch_accuracy is None and s.scale_conformity is None and s.timing_stability is None
    assert s.counts.total_notes == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strictness": 1.5}, "strictness must be between 0 and 1"),
        ({"bpm": 5.0}, "bpm must be between 20 and 400"),
        ({"metrics": ("pitch", "tone")}, "metrics must be"),
        ({"metrics": ()}, "metrics must be"),
    ],
)
def test_bad_settings_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSettingError, match=message):
        ScoringConfig(A_MINOR_PENTA, **kwargs)  # type: ignore[arg-type]
