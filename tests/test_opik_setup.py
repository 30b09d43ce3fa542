"""``fretcoach opik setup`` and prompt provenance: the command as a process and the real
``opik`` SDK, against the Opik stub on 127.0.0.1.

The workspace is read back from what the stub holds (feedback definitions, prompt
versions, rules, dataset items); hand-made changes go in through the SDK's REST client,
as the Opik UI would make them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coach.feedback import LIVE_FEEDBACK
from coach.live import LiveCoach
from coach.opik_setup import run_setup
from coach.prompts import LIVE_FEEDBACK_V1, SESSION_SUMMARY_V1, LibraryPrompt, facts
from coach.providers import CoachSettings
from coach.recommend import AI_MODE_PROMPT, PracticeHistory, Recommender
from coach.replay import TraceReplayer
from coach.tracing import (
    DEPLOYMENT,
    THREAD_SUFFIX,
    TRACE_KIND,
    USER_FEEDBACK,
    OpikSettings,
    Tracer,
)
from coach.workspace import DEFAULT_SPEC, load_spec
from device.launcher import free_port
from dsp.errors import OpikSetupError
from sync.store import Store
from tests.conftest import REPO, metric_snapshot
from tests.devicerun import offline_env, run_device
from tests.llmstub import LLMStub
from tests.opikstub import OpikStub, _project_id

SPEC = load_spec()
PROMPTS = {p.name: p for p in SPEC.prompts}
RULES = {r.name: r for r in SPEC.rules}
TRACE_RULE, THREAD_RULE = (
    "portable_live_coach_feedback_quality",
    "portable_live_feedback_effectiveness",
)
ITEMS = 1 + len(SPEC.feedback_definitions) + len(SPEC.prompts) + len(SPEC.rules) + 1
WAIT_S = 30.0


def setup_cli(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``fretcoach opik setup ARGS`` as a process, configured as the device is: by env."""
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "opik", "setup", *args],
        cwd=REPO,
        env={**offline_env(), "OPIK_URL_OVERRIDE": url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def writes(stub: OpikStub) -> list[dict[str, Any]]:
    """Everything the stub was sent to keep (reads leave no trace in its log)."""
    return stub.events()


def rest_api(stub: OpikStub) -> Any:
    """The SDK's REST client, as a person in the Opik UI would change the workspace."""
    from opik.rest_api import OpikApi

    return OpikApi(base_url=stub.url.rstrip("/"), workspace_name="default")


@pytest.fixture
def ready(opik_stub: OpikStub) -> OpikStub:
    """A stub workspace that `fretcoach opik setup` has set up."""
    done = setup_cli(opik_stub.url)
    assert done.returncode == 0, done.stderr
    return opik_stub


def test_the_first_run_creates_what_the_device_needs(opik_stub: OpikStub) -> None:
    done = setup_cli(opik_stub.url)
    assert done.returncode == 0, done.stderr
    out = lines(done.stdout)
    # One progress line per item, then the summary.
    assert len(out) == ITEMS + 1
    assert out[0].startswith("created") and "project 'FretCoach'" in out[0]
    assert all(line.startswith("created") for line in out[:-1]), out
    assert out[-1].endswith(f"{ITEMS} created, 0 unchanged.")

    definitions = {d["name"]: d for d in opik_stub.objects("feedback_definition")}
    # The categories and values the thumbs buttons send (coach.tracing.queue_feedback).
    assert definitions[USER_FEEDBACK]["type"] == "categorical"
    assert definitions[USER_FEEDBACK]["details"] == {
        "categories": {"thumbs up": 1.0, "thumbs down": 0.0}
    }
    quality = definitions["Live Coach Feedback Quality"]
    assert (quality["type"], quality["details"]) == ("numerical", {"min": 1.0, "max": 4.0})

    prompts = {p["id"]: p for p in opik_stub.objects("prompt")}
    versions = {prompts[v["prompt_id"]]["name"]: v for v in opik_stub.objects("prompt_version")}
    assert set(versions) == {
        "fretcoach-live-feedback",
        "fretcoach-session-summary",
        "fretcoach-ai-mode-recommendation",
    }
    for name, version in versions.items():
        # The commit is the hash of the text that ships: the one every trace carries.
        assert version["commit"] == PROMPTS[name].commit
        assert json.loads(version["template"]) == json.loads(PROMPTS[name].template)
        assert prompts[version["prompt_id"]]["template_structure"] == "chat"
        assert prompts[version["prompt_id"]]["project_name"] == "FretCoach"

    rules = {r["name"]: r for r in opik_stub.objects("rule")}
    project_id = _project_id("FretCoach")
    trace_rule, thread_rule = rules[TRACE_RULE], rules[THREAD_RULE]
    assert trace_rule["project_ids"] == thread_rule["project_ids"] == [project_id]
    assert trace_rule["type"] == "llm_as_judge"
    assert {"field": "name", "operator": "=", "value": LIVE_FEEDBACK} in trace_rule["filters"]
    assert trace_rule["code"]["variables"] == {"facts": "input.input", "tip": "output.output"}
    assert trace_rule["code"]["schema"][0]["name"] == "Live Coach Feedback Quality"
    assert trace_rule["sampling_rate"] == 1.0 and trace_rule["enabled"] is True
    assert thread_rule["type"] == "trace_thread_llm_as_judge"
    assert thread_rule["filters"] == [
        {"field": "id", "operator": "ends_with", "value": THREAD_SUFFIX}
    ]
    assert "{{context}}" in thread_rule["code"]["messages"][1]["content"]

    (dataset,) = opik_stub.datasets()
    assert dataset["name"] == SPEC.dataset.label
    assert sorted(i["data"]["item_id"] for i in opik_stub.dataset_items()) == sorted(
        item.id for item in SPEC.dataset.items
    )


def test_a_second_run_changes_nothing_and_says_so(ready: OpikStub) -> None:
    before = writes(ready)
    again = setup_cli(ready.url)
    assert again.returncode == 0, again.stderr
    out = lines(again.stdout)
    assert all(line.startswith("unchanged") for line in out[:-1]) and len(out) == ITEMS + 1
    assert "nothing to change" in out[-1]
    assert writes(ready) == before
    check = setup_cli(ready.url, "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "matches the repo" in lines(check.stdout)[-1]


def test_check_names_each_hand_made_change_and_setup_puts_it_back(ready: OpikStub) -> None:
    from opik.rest_api.core.pydantic_utilities import parse_obj_as
    from opik.rest_api.types import (
        AutomationRuleEvaluatorUpdate,
        FeedbackUpdate,
        PromptVersionDetail,
    )

    api = rest_api(ready)
    definitions = {d["name"]: d for d in ready.objects("feedback_definition")}
    rules = {r["name"]: r for r in ready.objects("rule")}
    # Four changes made by hand in the UI:
    api.feedback_definitions.delete_feedback_definition_by_id(definitions[USER_FEEDBACK]["id"])
    quality = definitions["Live Coach Feedback Quality"]
    api.feedback_definitions.update_feedback_definition(
        quality["id"],
        request=parse_obj_as(
            FeedbackUpdate,
            {**quality, "details": {"min": 1.0, "max": 5.0}},
        ),
    )
    halved = {**RULES[TRACE_RULE].as_body(_project_id("FretCoach")), "sampling_rate": 0.1}
    api.automation_rule_evaluators.update_automation_rule_evaluator(
        rules[TRACE_RULE]["id"], request=parse_obj_as(AutomationRuleEvaluatorUpdate, halved)
    )
    api.prompts.create_prompt_version(
        name="fretcoach-live-feedback",
        version=PromptVersionDetail(template='[{"role": "system", "content": "Be nice."}]'),
        project_name="FretCoach",
    )

    check = setup_cli(ready.url, "--check")
    assert check.returncode == 1
    out = lines(check.stdout)
    drifted = [line for line in out[:-1] if not line.startswith("ok")]
    assert len(drifted) == 4, out
    assert f"missing      feedback definition '{USER_FEEDBACK}'" in drifted
    assert (
        "drift        feedback definition 'Live Coach Feedback Quality': details is "
        '{"min": 1.0, "max": 5.0} in Opik, {"min": 1.0, "max": 4.0} in the repo'
    ) in drifted
    assert (
        f"drift        rule '{TRACE_RULE}': sampling_rate is 0.1 in Opik, 1.0 in the repo"
        in drifted
    )
    assert any(
        line.startswith("drift        prompt 'fretcoach-live-feedback': the latest version")
        and f"is not the repo's {LIVE_FEEDBACK_V1.library.commit}" in line
        for line in drifted
    ), drifted
    assert "4 of 10 items differ" in out[-1]

    dry = setup_cli(ready.url, "--dry-run")
    assert (
        dry.returncode == 0
        and sum(line.startswith(("would create", "would update")) for line in lines(dry.stdout))
        == 4
    )

    fixed = setup_cli(ready.url)
    assert fixed.returncode == 0, fixed.stderr
    assert "1 created, 3 updated, 6 unchanged" in lines(fixed.stdout)[-1]
    assert setup_cli(ready.url, "--check").returncode == 0
    # The repo's text is the latest version again; its first version keeps the commit.
    prompt = next(p for p in ready.objects("prompt") if p["name"] == "fretcoach-live-feedback")
    texts = [
        v["template"] for v in ready.objects("prompt_version") if v["prompt_id"] == prompt["id"]
    ]
    assert len(texts) == 3 and texts[0] == texts[2] == LIVE_FEEDBACK_V1.library.template


def test_dry_run_prints_the_plan_and_changes_nothing(opik_stub: OpikStub) -> None:
    dry = setup_cli(opik_stub.url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    out = lines(dry.stdout)
    assert all(line.startswith("would create") for line in out[:-1]) and len(out) == ITEMS + 1
    assert f"would create rule '{THREAD_RULE}'" in out
    assert out[-1].startswith(f"dry run, nothing changed: {ITEMS} to create")
    assert writes(opik_stub) == []


def test_a_changed_prompt_text_becomes_one_new_version(ready: OpikStub) -> None:
    settings = OpikSettings(enabled=True, url=ready.url)
    changed = dataclasses.replace(
        LIVE_FEEDBACK_V1, version="live-feedback-v2", instruction="One sentence, 20 words:"
    ).library
    spec = dataclasses.replace(SPEC, prompts=(changed, *SPEC.prompts[1:]))
    said: list[str] = []
    report = run_setup(settings, spec, say=said.append)
    assert report.count("update") == 1 and report.count("create") == 0
    old = LIVE_FEEDBACK_V1.library.commit
    assert (
        f"updated      prompt 'fretcoach-live-feedback': the repo's text is new: "
        f"version {changed.commit} after {old}"
    ) in said
    prompt = next(p for p in ready.objects("prompt") if p["name"] == changed.name)
    commits = [
        v["commit"] for v in ready.objects("prompt_version") if v["prompt_id"] == prompt["id"]
    ]
    assert commits == [LIVE_FEEDBACK_V1.library.commit, changed.commit]
    assert run_setup(settings, spec, say=said.append).in_step  # and only once


def test_an_unreachable_opik_is_one_clear_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    done = setup_cli(url)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = lines(done.stderr)
    assert line.startswith(f"fretcoach: error: cannot reach Opik at {url.rstrip('/')} ")
    assert line.endswith("check OPIK_URL_OVERRIDE and that the server is up")


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (401, "refused the API key (HTTP 401) while checking the API key: check OPIK_API_KEY"),
        (403, "the API key has no rights in workspace 'team-a' (HTTP 403)"),
    ],
)
def test_an_api_key_without_rights_is_one_clear_line_and_exit_1(
    tmp_path: Path, status: int, says: str
) -> None:
    with OpikStub(tmp_path / "opik.jsonl", deny=status) as stub:
        done = setup_cli(stub.url, env={"OPIK_API_KEY": "key-1", "OPIK_WORKSPACE": "team-a"})
        assert done.returncode == 1 and done.stdout == ""
        (line,) = lines(done.stderr)
        assert line.startswith(f"fretcoach: error: Opik at {stub.url.rstrip('/')}")
        assert says in line
        assert writes(stub) == []


def test_a_request_opik_refuses_is_one_line_naming_what_was_being_done(tmp_path: Path) -> None:
    with OpikStub(tmp_path / "opik.jsonl", refuse=["/v1/private/automations"]) as stub:
        done = setup_cli(stub.url)
        assert done.returncode == 1
        (line,) = lines(done.stderr)
        assert line.startswith(
            f"fretcoach: error: Opik at {stub.url.rstrip('/')} answered HTTP 422 while "
            "reading the online evaluation rules: "
        )
        # What came before the refusal was made and said.
        assert lines(done.stdout)[-1].startswith("created      prompt")


def test_without_opik_configured_setup_says_which_variables_to_set() -> None:
    with pytest.raises(OpikSetupError, match="set OPIK_URL_OVERRIDE"):
        run_setup(OpikSettings.from_env({}), SPEC)


# -- the reviewed file, checked against the code -----------------------------------------


def test_the_workspace_file_matches_what_the_traces_carry() -> None:
    trace_rule, thread_rule = RULES[TRACE_RULE], RULES[THREAD_RULE]
    assert {"field": "name", "operator": "=", "value": LIVE_FEEDBACK} in trace_rule.filters
    assert {"field": "tags", "operator": "contains", "value": DEPLOYMENT} in trace_rule.filters
    assert thread_rule.filters == (
        {"field": "id", "operator": "ends_with", "value": THREAD_SUFFIX},
    )
    assert trace_rule.scope == "trace" and thread_rule.scope == "thread"
    assert 0 < trace_rule.sampling_rate <= 1 and 0 < thread_rule.sampling_rate <= 1


def test_a_judge_variable_without_a_mapping_is_refused_naming_the_rule(tmp_path: Path) -> None:
    text = DEFAULT_SPEC.read_text(encoding="utf-8")
    bad = tmp_path / "workspace.toml"
    bad.write_text(text.replace('tip = "output.output"', 'answer = "output.output"'))
    with pytest.raises(OpikSetupError, match=rf"rule '{TRACE_RULE}': {{{{tip}}}} has no entry"):
        load_spec(bad)
    bad.write_text(
        text.replace(
            'name = "Live Feedback Effectiveness"\ndescription', 'name = "Other"\ndescription'
        )
    )
    with pytest.raises(
        OpikSetupError, match="score 'Live Feedback Effectiveness' has no numerical"
    ):
        load_spec(bad)


def test_the_library_template_is_the_text_that_ships() -> None:
    snapshot = metric_snapshot()
    for template in (LIVE_FEEDBACK_V1, SESSION_SUMMARY_V1):
        library = template.library
        system, user = json.loads(library.template)
        rendered = user["content"].replace("{{facts}}", "\n".join(facts(snapshot, duration_s=90)))
        assert [system["content"], rendered] == [
            m["content"] for m in template.messages(snapshot, duration_s=90)
        ]
    other = LibraryPrompt(LIVE_FEEDBACK_V1.name, "x", (("system", "changed"),))
    assert len({LIVE_FEEDBACK_V1.library.commit, other.commit}) == 2


# -- provenance: every trace names its prompt's version -----------------------------------


def library_commits(stub: OpikStub) -> dict[str, str]:
    prompts = {p["id"]: p["name"] for p in stub.objects("prompt")}
    return {prompts[v["prompt_id"]]: v["commit"] for v in stub.objects("prompt_version")}


def assert_provenance(
    trace: dict[str, Any], prompt: LibraryPrompt, library: dict[str, str]
) -> None:
    metadata = trace["metadata"]
    assert (metadata["prompt_name"], metadata["prompt_version"]) == (prompt.name, prompt.version)
    assert metadata["prompt_commit"] == library[prompt.name] == prompt.commit
    (linked,) = metadata["opik_prompts"]
    assert linked["name"] == prompt.name and linked["version"]["commit"] == prompt.commit
    assert linked["version"]["template"] == prompt.template


def test_live_tips_summaries_and_plans_carry_the_library_version(
    ready: OpikStub, llm: LLMStub, tmp_path: Path
) -> None:
    library = library_commits(ready)
    environ = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": llm.base_url,
        "OPIK_URL_OVERRIDE": ready.url,
    }
    with Store.open(tmp_path / "state") as store:
        coach = LiveCoach.from_env(store=store, environ=environ, replay_every_s=0.2).start()
        try:
            coach.maybe_request("sess-P", metric_snapshot(), 15.0, False)
            assert coach.wait_idle(WAIT_S)
            tip = coach.latest("sess-P")
            assert tip is not None and tip.trace_id
            assert coach.feedback("sess-P", thumbs_up=True)
            coach.request_summary("sess-P", metric_snapshot(), 240.0)
            assert coach.wait_idle(WAIT_S)
            summary = coach.summary("sess-P")
            assert summary is not None and summary.trace_id
            traces = {t["id"]: t for t in ready.wait_for("trace", 2)}
            (score,) = ready.wait_for("feedback", 1)
        finally:
            assert coach.close()
    assert_provenance(traces[tip.trace_id], LIVE_FEEDBACK_V1.library, library)
    assert_provenance(traces[summary.trace_id], SESSION_SUMMARY_V1.library, library)
    # The thumbs-up lands on the definition setup made, as one of its categories.
    (definition,) = [d for d in ready.objects("feedback_definition") if d["name"] == score["name"]]
    assert definition["details"]["categories"][score["category_name"]] == score["value"] == 1.0
    assert score["id"] == tip.trace_id

    settings = OpikSettings(enabled=True, url=ready.url)
    tracer = Tracer(settings)
    try:
        Recommender(CoachSettings(None), tracer=tracer).recommend(
            PracticeHistory(user_id="alice", sessions=()), practice_id="plan-1"
        )
        (plan,) = [t for t in ready.wait_for("trace", 3) if t["name"] == "ai-mode-recommendation"]
    finally:
        tracer.close(1)
    assert_provenance(plan, AI_MODE_PROMPT, library)


def test_a_tip_made_offline_names_its_prompt_when_replayed_from_the_outbox(
    llm: LLMStub, tmp_path: Path
) -> None:
    opik_stub = OpikStub(tmp_path / "opik.jsonl", port=free_port())  # Opik is down
    settings = OpikSettings(enabled=True, url=opik_stub.url)
    with Store.open(tmp_path / "state") as store:
        tracer = Tracer(settings, store=store)
        from coach.feedback import TipGenerator, TipRequest

        generator = TipGenerator(CoachSettings(None), tracer=tracer)  # the offline coach
        tip = generator.generate(TipRequest("sess-O", metric_snapshot(), 15.0))
        tracer.close(1)  # that process is gone; only the outbox has the trace
        assert tip.trace_id and [i.ref for i in store.pending(kinds=(TRACE_KIND,))] == [
            tip.trace_id
        ]
        with opik_stub:
            assert setup_cli(opik_stub.url).returncode == 0
            report = TraceReplayer(store, settings).replay_once()
            assert (report.sent, report.already_there) == (1, 0)  # the outbox sent it
            (trace,) = [t for t in opik_stub.traces() if t["id"] == tip.trace_id]
            assert_provenance(trace, LIVE_FEEDBACK_V1.library, library_commits(opik_stub))


def test_setup_then_a_demo_run_traces_into_the_rules_project_and_thread(
    ready: OpikStub, llm: LLMStub, tmp_path: Path
) -> None:
    """The issue's "done when": `opik setup`, then `fretcoach run --source demo`."""
    llm.set_default(
        "Your notes stay in the scale, but the timing wanders – tap your foot and play along "
        "with a slow metronome."
    )
    [session], _ = run_device(
        ["--source", "demo", "--display", "none", "--buttons", "none"]
        + ["-o", "coach.first_tip_s=3", "-o", "coach.min_notes=4"],
        state_dir=tmp_path / "state",
        env={
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": llm.base_url,
            "OPIK_URL_OVERRIDE": ready.url,
        },
    )
    thread = f"{session['session_id']}{THREAD_SUFFIX}"
    traces = [t for t in ready.wait_for("trace", 2, timeout=WAIT_S) if t.get("thread_id") == thread]
    assert {t["name"] for t in traces} == {"live-feedback", "session-summary"}
    library = library_commits(ready)
    for trace in traces:
        prompt = LIVE_FEEDBACK_V1 if trace["name"] == "live-feedback" else SESSION_SUMMARY_V1
        assert_provenance(trace, prompt.library, library)
    rules = {r["name"]: r for r in ready.objects("rule")}
    project_ids = {_project_id(t["project_name"]) for t in traces}
    assert (
        project_ids
        == set(rules[TRACE_RULE]["project_ids"])
        == set(rules[THREAD_RULE]["project_ids"])
    )
    (thread_filter,) = rules[THREAD_RULE]["filters"]
    assert thread_filter["operator"] == "ends_with" and thread.endswith(thread_filter["value"])
    live = next(t for t in traces if t["name"] == "live-feedback")
    assert all(
        live.get(f["field"]) == f["value"]
        if f["operator"] == "="
        else f["value"] in live[f["field"]]
        for f in rules[TRACE_RULE]["filters"]
    )
