"""``coach eval``: the metrics on hand-written tips, the offline coach over the shipped
dataset, the command as a process, a model reply from the OpenAI-compatible stub, the
Opik experiment as the capture server receives it from the real SDK (dataset, items,
experiment, experiment items linked to traces, feedback scores), and an Opik backend that
cannot take experiments (a warning, never a crash)."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coach.eval import (
    DEFAULT_DATASET,
    METRIC_FUNCTIONS,
    EvalDataset,
    actionable_fix,
    format_table,
    load_dataset,
    names_weakest,
    no_contradicting_numbers,
    run_eval,
    snapshot_as_dict,
    word_limit,
)
from coach.feedback import TipGenerator
from coach.prompts import LIVE_FEEDBACK_V1
from coach.providers import CoachSettings, ProviderSettings
from coach.tips import MetricSnapshot
from device.coach_commands import add_parsers
from dsp.errors import EvalDatasetError
from tests.conftest import REPO
from tests.llmstub import LLMStub
from tests.opikstub import OpikStub

WEAK_TIMING = MetricSnapshot(
    metrics=("pitch", "timing"),
    pitch=0.953,
    scale=None,
    timing=0.21,
    scale_name="A minor pentatonic",
    bpm=92,
    notes=24,
    most_out_of_tune="F#",
)
WEAK_SCALE = MetricSnapshot(
    metrics=("pitch", "scale", "timing"),
    pitch=0.9,
    scale=0.47,
    timing=0.82,
    scale_name="C major",
    bpm=80,
    notes=44,
    most_out_of_scale="F#",
)
GOOD_TIP = (
    "Pitch is strong at 95%, but timing stability is low at 21% – "
    "set a metronome to 70 BPM and count aloud."
)
# Without the keys a developer may have set, the command scores the offline coach.
CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if not key.startswith(("OPENAI_", "OPIK_", "FRETCOACH_COACH_"))
}


# `fretcoach coach eval ARGS...` in a fresh interpreter, before device/cli.py knows `coach`.
COMMAND = (
    "import argparse, sys\n"
    "from device.coach_commands import add_parsers\n"
    "parser = argparse.ArgumentParser(prog='fretcoach')\n"
    "add_parsers(parser.add_subparsers(dest='command'))\n"
    "args = parser.parse_args(['coach', 'eval', *sys.argv[1:]])\n"
    "sys.exit(args.handler(args))\n"
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fretcoach")
    add_parsers(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def one_item_dataset(tmp_path: Path) -> Path:
    doc = json.loads(DEFAULT_DATASET.read_text())
    doc["items"] = [item for item in doc["items"] if item["id"] == "weak-timing-metronome"]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(doc))
    return path


# --- the metrics --------------------------------------------------------------------


def test_a_good_tip_passes_every_metric() -> None:
    for metric in (word_limit, names_weakest, actionable_fix, no_contradicting_numbers):
        result = metric(GOOD_TIP, WEAK_TIMING)
        assert result.score == 1.0, (metric.__name__, result.reason)


def test_word_limit_fails_past_30_words() -> None:
    long_tip = (
        GOOD_TIP + " Then play the scale again slowly, one note per click, listening closely."
    )
    result = word_limit(long_tip, WEAK_TIMING)
    assert result.score == 0.0 and "more than 30" in result.reason
    assert word_limit("Slow down – count aloud.", WEAK_TIMING).score == 1.0


def test_names_weakest_wants_the_weakest_metric_or_a_synonym() -> None:
    assert names_weakest("Pitch is great at 95% – keep it up.", WEAK_TIMING).score == 0.0
    assert "Timing Stability" in names_weakest("Pitch is great.", WEAK_TIMING).reason
    assert names_weakest("Your rhythm drifts – use a metronome.", WEAK_TIMING).score == 1.0
    # Naming the scale being played is not naming scale conformity.
    assert names_weakest("Nice C major – count the beat.", WEAK_SCALE).score == 0.0
    assert names_weakest("F# is out of the scale – map C major.", WEAK_SCALE).score == 1.0
    assert names_weakest("Scale conformity lags at 47%.", WEAK_SCALE).score == 1.0


def test_names_weakest_accepts_either_metric_on_a_tie_and_nothing_when_unmeasured() -> None:
    tie = MetricSnapshot(("pitch", "timing"), 0.6, None, 0.6, "C major", None, 30)
    assert names_weakest("Pitch wobbles – press behind the fret.", tie).score == 1.0
    assert names_weakest("Timing wobbles – use a metronome.", tie).score == 1.0
    nothing = MetricSnapshot(("pitch",), None, None, None, "C major", None, 2)
    assert names_weakest("Play clear notes.", nothing).score == 1.0


def test_actionable_fix_wants_a_verb_and_a_practice_object() -> None:
    for tip in (
        "Great job, keep going!",
        "Timing is weak at 21%.",
        "Your metronome work is improving.",  # an object, but no instruction
    ):
        assert actionable_fix(tip, WEAK_TIMING).score == 0.0, tip
    for tip in (
        "Press just behind the fret.",
        "Learn one position, then the next.",
        "Slow down to 60 BPM.",
        "Count 1-2-3-4 aloud.",
        "Check your F# against a tuner.",
        "Try the scale shape one position higher.",
    ):
        assert actionable_fix(tip, WEAK_TIMING).score == 1.0, tip


def test_no_contradicting_numbers_checks_every_percentage() -> None:
    assert no_contradicting_numbers("Timing is at 24% – count.", WEAK_TIMING).score == 1.0
    result = no_contradicting_numbers("Pitch 95%, timing 50% – count.", WEAK_TIMING)
    assert result.score == 0.0 and "50%" in result.reason
    # A disabled metric is no input value.
    assert no_contradicting_numbers("Scale is at 0 percent.", WEAK_TIMING).score == 0.0
    assert no_contradicting_numbers("Use a metronome at 70 BPM.", WEAK_TIMING).score == 1.0


# --- the dataset and the offline coach ----------------------------------------------


def test_the_shipped_dataset_covers_the_cases() -> None:
    dataset = load_dataset()
    assert dataset.label == "fretcoach-coach-eval-v1"
    assert len(dataset.items) >= 15
    snapshots = [item.snapshot for item in dataset.items]
    weakest = {s.weakest()[0] for s in snapshots if s.weakest() is not None}
    assert weakest == {"pitch", "scale", "timing"}
    assert any(s.weakest() is None for s in snapshots)  # too few notes: nothing judged
    assert any(s.measured() and min(v for _, v in s.measured()) >= 0.85 for s in snapshots)
    assert any(s.measured() and max(v for _, v in s.measured()) < 0.5 for s in snapshots)
    assert any(len(s.metrics) < 3 for s in snapshots)
    assert any(s.bpm is None for s in snapshots) and any(s.bpm is not None for s in snapshots)
    assert len({s.scale_name for s in snapshots}) >= 5
    assert all(item.description for item in dataset.items)


def test_a_broken_dataset_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x", "version": 1, "items": [{"id": "a", "snapshot": {}}]}')
    with pytest.raises(EvalDatasetError, match=r"bad\.json.*item 'a'"):
        load_dataset(path)


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("binary", "is not UTF-8 text (byte 0)"),  # was a UnicodeDecodeError traceback
        ("fifo", "is not a regular file"),  # opening it waited for a writer, for ever
        ("list", 'expected a JSON object with "name", "version" and "items"'),
        ("items-of-null", 'expected a JSON object with "name", "version" and "items"'),
        ("nested", "nests too deep to read"),  # a RecursionError traceback
    ],
)
def test_a_dataset_that_is_no_dataset_file_is_one_line_naming_it(
    tmp_path: Path, kind: str, said: str
) -> None:
    """``fretcoach coach eval --dataset FILE`` with the wrong kind of file: one line on
    stderr, exit 1, never a traceback or a hang (the old "malformed: list indices must be
    integers or slices, not str" named no fix)."""
    path = tmp_path / "dataset.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(
            {
                "binary": b"\xff\xfe{",
                "list": b"[]",
                "items-of-null": b'{"items": [null]}',
                "nested": b"[" * 200_000,
            }[kind]
        )
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "coach", "eval", "--dataset", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=CLEAN_ENV,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"fretcoach: error: the eval dataset {path}")
    assert said in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("seed", range(5))
def test_the_offline_coach_scores_full_marks_on_the_shipped_dataset(seed: int) -> None:
    # Measured: 1.0 on every metric over 200 seeds. The floor is that, not a hope.
    report = run_eval(load_dataset(), TipGenerator(CoachSettings(None), rng=random.Random(seed)))
    assert {row.provider for row in report.rows} == {"offline"}
    failures = [
        (row.item_id, name, result.reason)
        for row in report.rows
        for name, result in row.scores.items()
        if result.score < 1.0
    ]
    assert failures == []
    assert report.averages() == {
        "word_limit": 1.0,
        "names_weakest": 1.0,
        "actionable_fix": 1.0,
        "no_contradicting_numbers": 1.0,
    }


# --- the command --------------------------------------------------------------------


def test_coach_eval_prints_a_table_and_exits_0() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COMMAND],
        cwd=REPO,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "words" in lines[2] and "weakest" in lines[2] and "numbers" in lines[2]
    dataset = load_dataset()
    for item in dataset.items:
        assert any(line.startswith(item.id + " ") for line in lines), item.id
    assert lines[-1].startswith("average") and "(18 items)" in lines[-1]


def test_coach_eval_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("OPENAI_API_KEY", "OPIK_URL_OVERRIDE", "OPIK_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    args = parse(["coach", "eval", "--json", "--dataset", str(one_item_dataset(tmp_path))])
    assert args.handler(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "fretcoach-coach-eval-v1"
    assert report["experiment"] is None
    assert report["averages"]["names_weakest"] == 1.0
    (item,) = report["items"]
    assert item["id"] == "weak-timing-metronome" and item["provider"] == "offline"
    assert set(item["scores"]) == {
        "word_limit",
        "names_weakest",
        "actionable_fix",
        "no_contradicting_numbers",
    }


def test_min_score_must_be_a_fraction() -> None:
    with pytest.raises(SystemExit):
        parse(["coach", "eval", "--min-score", "2"])


# --- a model behind the OpenAI-compatible stub -------------------------------------


def model_generator(stub: LLMStub) -> TipGenerator:
    primary = ProviderSettings("openai", "gpt-4o-mini", "sk-test", stub.base_url, 5.0)
    return TipGenerator(CoachSettings(primary), rng=random.Random(1))


def one_item(tmp_path: Path) -> EvalDataset:
    return load_dataset(one_item_dataset(tmp_path))


def test_a_reply_the_checks_replace_is_reported_as_offline(llm: LLMStub, tmp_path: Path) -> None:
    llm.set_default("Timing stability is at 50% – set a metronome to 70 BPM.")
    report = run_eval(one_item(tmp_path), model_generator(llm))
    (row,) = report.rows
    assert row.provider == "offline" and row.kind == "offline"
    assert row.attempts == ("openai:ok",)
    assert row.reason is not None and "50%" in row.reason
    assert all(result.score == 1.0 for result in row.scores.values())
    assert "↳ offline: quotes 50%" in format_table(report)


def test_a_vague_model_reply_fails_the_metrics(
    llm: LLMStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # About the scores ("scale"), short, no numbers: the reply checks let it through.
    llm.set_default("Your scale work sounds great, well done!")
    report = run_eval(one_item(tmp_path), model_generator(llm))
    (row,) = report.rows
    assert (row.provider, row.model, row.kind) == ("openai", "gpt-4o-mini", "model")
    assert row.scores["names_weakest"].score == 0.0
    assert row.scores["actionable_fix"].score == 0.0
    assert row.scores["word_limit"].score == 1.0
    assert report.below(0.5) == {"names_weakest": 0.0, "actionable_fix": 0.0}

    # The command, through the environment as on the device: exit 1 under --min-score.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    for key in ("OPIK_URL_OVERRIDE", "OPIK_API_KEY", "FRETCOACH_COACH_FALLBACK_MODEL"):
        monkeypatch.delenv(key, raising=False)
    path = str(one_item_dataset(tmp_path))
    plain = parse(["coach", "eval", "--dataset", path])
    assert plain.handler(plain) == 0
    args = parse(["coach", "eval", "--dataset", path, "--min-score", "0.5"])
    assert args.handler(args) == 1


# --- the Opik experiment ------------------------------------------------------------


def coach_eval(opik: OpikStub, *args: str, env: dict[str, str] | None = None) -> Any:
    """``fretcoach coach eval --json ARGS`` as a process logging to ``opik``."""
    done = subprocess.run(
        [sys.executable, "-c", COMMAND, "--json", *args],
        cwd=REPO,
        env={**CLEAN_ENV, "OPIK_URL_OVERRIDE": opik.url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "not logged" not in done.stderr, done.stderr
    return json.loads(done.stdout)  # stdout is the report alone, whatever the SDK prints


def assert_experiment_matches(opik: OpikStub, report: dict[str, Any]) -> dict[str, Any]:
    """The experiment named in ``report``: one item per dataset item, each linked to a
    trace of that item's tip scored as the report scores it. Returns the experiment."""
    (experiment,) = [e for e in opik.experiments() if e["name"] == report["experiment"]]
    dataset_items = {item["id"]: item for item in opik.dataset_items()}
    traces = {trace["id"]: trace for trace in opik.traces()}
    rows = {row["id"]: row for row in report["items"]}
    links = [i for i in opik.experiment_items() if i["experiment_id"] == experiment["id"]]
    assert len(links) == len(rows)
    linked = [dataset_items[link["dataset_item_id"]]["data"]["item_id"] for link in links]
    assert sorted(linked) == sorted(rows)  # each dataset item once
    for link in links:
        row = rows[dataset_items[link["dataset_item_id"]]["data"]["item_id"]]
        trace = traces[link["trace_id"]]
        assert trace["output"]["output"] == row["tip"]
        assert (trace["output"]["provider"], trace["output"]["model"]) == (
            row["provider"],
            row["model"],
        )
        scores = {s["name"]: s for s in opik.feedback() if s["id"] == link["trace_id"]}
        assert set(scores) == set(METRIC_FUNCTIONS)
        for name, score in scores.items():
            assert score["value"] == row["scores"][name]["score"], (row["id"], name)
            assert score["reason"] == row["scores"][name]["reason"]
    assert experiment["id"] in [e["id"] for e in opik.events("experiment_finished")]
    return experiment


def test_coach_eval_logs_a_dataset_and_an_experiment_to_opik(tmp_path: Path, llm: LLMStub) -> None:
    dataset = load_dataset()
    with OpikStub(tmp_path / "opik.jsonl") as opik:
        report = coach_eval(opik)  # the offline coach

        # The dataset, under its versioned name, holding the shipped items.
        (stored,) = opik.datasets()
        assert stored["name"] == "fretcoach-coach-eval-v1"
        assert stored["description"] == dataset.description
        assert stored["project_name"] == "FretCoach"
        items = {item["data"]["item_id"]: item for item in opik.dataset_items()}
        assert sorted(items) == sorted(item.id for item in dataset.items)
        for item in dataset.items:
            assert items[item.id]["data"]["snapshot"] == snapshot_as_dict(item.snapshot)
            assert items[item.id]["description"] == item.description
        (version,) = opik.events("dataset_version")

        # One experiment over it: named after the prompt and model, configured with what
        # the run used.
        experiment = assert_experiment_matches(opik, report)
        assert report["experiment"].startswith("coach-eval-live-feedback-v1-offline-coach-")
        assert experiment["dataset_name"] == "fretcoach-coach-eval-v1"
        assert experiment["dataset_version_id"] == version["id"]
        assert experiment["project_name"] == "FretCoach"
        config = experiment["metadata"]
        assert (config["dataset"], config["dataset_version"]) == ("fretcoach-coach-eval-v1", 1)
        assert config["dataset_items"] == len(dataset.items)
        assert config["prompt_version"] == "live-feedback-v1"
        assert config["prompt_commit"] == LIVE_FEEDBACK_V1.library.commit
        assert (config["models"], config["providers"]) == (["offline-coach"], ["offline"])
        assert config["metrics"] == list(METRIC_FUNCTIONS)
        assert "coach-eval" in experiment["tags"] and "fretcoach-portable" in experiment["tags"]
        assert all(
            trace["project_name"] == "FretCoach" and trace["source"] == "experiment"
            for trace in opik.traces()
        )

        # Again, with a model: the same dataset (nothing inserted, no new version), a
        # second experiment whose scores are the model's, failures included.
        llm.set_default("Nice work, keep the beat steady – count aloud with a metronome.")
        model_report = coach_eval(
            opik, env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": llm.base_url}
        )
        assert len(opik.datasets()) == 1 and len(opik.dataset_items()) == len(dataset.items)
        assert len(opik.events("dataset_version")) == 1
        second = assert_experiment_matches(opik, model_report)
        assert second["id"] != experiment["id"]
        assert (second["metadata"]["models"], second["metadata"]["providers"]) == (
            ["gpt-4o-mini"],
            ["openai"],
        )
        assert 0.0 < model_report["averages"]["names_weakest"] < 1.0
        assert opik.events("unknown") == []  # every request the SDK made had its route


def test_an_opik_dataset_with_other_items_is_refused_not_mixed_in(tmp_path: Path) -> None:
    """Opik holds the shipped v1; a file that changes it without a new version is told so
    and logs nothing."""
    with OpikStub(tmp_path / "opik.jsonl") as opik:
        coach_eval(opik)
        done = subprocess.run(
            [sys.executable, "-c", COMMAND, "--dataset", str(one_item_dataset(tmp_path))],
            cwd=REPO,
            env={**CLEAN_ENV, "OPIK_URL_OVERRIDE": opik.url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "holds items that this dataset does not" in done.stderr
        assert '"version": 2' in done.stderr
        assert len(opik.experiments()) == 1 and len(opik.dataset_items()) == 18


# --- an Opik backend that cannot take the experiment --------------------------------


def test_an_opik_failure_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    """A backend that takes the dataset but refuses experiments (HTTP 422): the SDK's
    call fails, the table is still printed and the exit status is 0."""
    path = str(one_item_dataset(tmp_path))
    with OpikStub(tmp_path / "opik.jsonl", refuse=["/v1/private/experiments"]) as opik:
        done = subprocess.run(
            [sys.executable, "-c", COMMAND, "--dataset", path],
            cwd=REPO,
            env={**CLEAN_ENV, "OPIK_URL_OVERRIDE": opik.url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        refused = opik.events("refused")
        (dataset,) = opik.datasets()
    assert done.returncode == 0, done.stderr
    assert "the Opik experiment was not logged" in done.stderr
    assert "weak-timing-metronome" in done.stdout
    assert "Opik experiment:" not in done.stdout
    assert dataset["name"] == "fretcoach-coach-eval-v1"
    assert refused and refused[0]["route"] == "/v1/private/experiments"
