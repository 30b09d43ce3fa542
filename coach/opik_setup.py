"""``fretcoach opik setup``: make an Opik workspace match :mod:`coach.workspace`, through
the SDK's client and its REST client, idempotently.

Each item is read first and compared with the repo's definition; only what is missing or
different is written, so a second run writes nothing. Reading is the whole of ``--check``
and ``--dry-run``. What can differ, and what setup does about it:

* a feedback definition: its type, range or categories, or description → updated;
* a prompt: the library has no version with the repo's text → a new version whose commit
  is the text's hash (:attr:`coach.prompts.LibraryPrompt.commit`, what traces carry); a
  later version with other text (edited in the UI) → the repo's text saved again as the
  latest version;
* a rule: any field of the file (judge prompts, variables, filters, model, sampling,
  enabled) or the project it scores → updated in place;
* the dataset: items missing → added; items it does not have → a conflict setup does not
  resolve (a changed dataset is a new version, see :mod:`coach.eval`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from coach.eval import opik_items
from coach.prompts import LibraryPrompt
from coach.tracing import OpikSettings, prepare_opik_environment
from coach.workspace import FeedbackDefinition, JudgeRule, WorkspaceSpec
from dsp.errors import OpikSetupError

if TYPE_CHECKING:
    import opik
    from opik.rest_api import OpikApi

log = logging.getLogger(__name__)

Mode = Literal["apply", "dry-run", "check"]
Action = Literal["unchanged", "create", "update", "conflict"]
_DONE = {"unchanged": "unchanged", "create": "created", "update": "updated", "conflict": "CONFLICT"}
_PLANNED = {
    "unchanged": "unchanged",
    "create": "would create",
    "update": "would update",
    "conflict": "CONFLICT",
}
_DRIFT = {"unchanged": "ok", "create": "missing", "update": "drift", "conflict": "conflict"}
_DOING = {"create": "creating", "update": "updating"}


@dataclass(frozen=True, slots=True)
class Change:
    """One item of the workspace and what setup does to it; ``drift`` says what differs."""

    kind: str
    name: str
    action: Action
    drift: tuple[str, ...] = ()
    apply: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def line(self, words: Mapping[str, str]) -> str:
        text = f"{words[self.action]:<12} {self.kind} {self.name!r}"
        return text + (f": {'; '.join(self.drift)}" if self.drift else "")


@dataclass(frozen=True, slots=True)
class SetupReport:
    mode: Mode
    changes: tuple[Change, ...]

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def in_step(self) -> bool:
        """True when the workspace matches the repo (nothing to create, update or resolve)."""
        return all(change.action == "unchanged" for change in self.changes)


class _Project:
    """The project's id, known once it exists (setup may create it before the rules)."""

    def __init__(self, name: str, project_id: str | None) -> None:
        self.name = name
        self.id = project_id


def run_setup(
    settings: OpikSettings,
    spec: WorkspaceSpec,
    *,
    mode: Mode = "apply",
    say: Callable[[str], None] = print,
) -> SetupReport:
    """Plan (and in ``apply`` mode make) every change, saying one line per item.

    Raises :class:`OpikSetupError`, in one line naming the URL and the fix, when Opik is
    not configured, cannot be reached, refuses the API key or refuses a request.
    """
    if not settings.enabled:
        raise OpikSetupError(
            "Opik is not configured: set OPIK_URL_OVERRIDE to a self-hosted Opik "
            "(e.g. http://localhost:5173/api/), or OPIK_API_KEY and OPIK_WORKSPACE for "
            "Opik Cloud (and unset OPIK_TRACK_DISABLE)"
        )
    prepare_opik_environment(settings)
    import httpx
    import opik
    from opik.rest_api.core.api_error import ApiError

    try:
        client = opik.Opik(
            project_name=settings.project_name,
            workspace=settings.workspace,
            host=settings.url,
            api_key=settings.api_key,
        )
    except Exception as err:  # the SDK's own configuration checks
        raise OpikSetupError(f"the opik SDK could not start: {err}") from err
    doing = "checking the API key"
    try:
        client.auth_check()
        session = _Session(client, settings, spec)
        changes: list[Change] = []
        words = _DONE if mode == "apply" else _PLANNED if mode == "dry-run" else _DRIFT
        for what, plan in session.planners():
            doing = f"reading {what}"
            for change in plan():
                if mode == "apply" and change.apply is not None:
                    doing = f"{_DOING[change.action]} {change.kind} {change.name!r}"
                    change.apply()
                say(change.line(words))
                changes.append(change)
        return SetupReport(mode, tuple(changes))
    except httpx.TransportError as err:
        raise OpikSetupError(
            f"cannot reach Opik at {settings.shown_url} ({type(err).__name__}: {err}); "
            "check OPIK_URL_OVERRIDE and that the server is up"
        ) from err
    except ApiError as err:
        raise _api_error(err, settings, doing) from err
    finally:
        client.end(timeout=1)


def _api_error(err: Any, settings: OpikSettings, doing: str) -> OpikSetupError:
    where = f"Opik at {settings.shown_url}"
    workspace = settings.workspace or "default"
    if err.status_code == 401:
        return OpikSetupError(
            f"{where} refused the API key (HTTP 401) while {doing}: check OPIK_API_KEY"
        )
    if err.status_code == 403:
        return OpikSetupError(
            f"{where}: the API key has no rights in workspace {workspace!r} (HTTP 403) while "
            f"{doing}: use a key of a member who may edit it, or set OPIK_WORKSPACE"
        )
    body = json.dumps(err.body, default=str) if not isinstance(err.body, str) else err.body
    body = " ".join(body.split())  # one line, whatever the backend sent
    return OpikSetupError(f"{where} answered HTTP {err.status_code} while {doing}: {body[:200]}")


class _Session:
    """One run's reads and writes, through one SDK client and its REST client."""

    def __init__(self, client: opik.Opik, settings: OpikSettings, spec: WorkspaceSpec) -> None:
        self.client = client
        self.api: OpikApi = client.rest_client
        self.settings = settings
        self.spec = spec
        self.project = _Project(settings.project_name, None)

    def planners(self) -> list[tuple[str, Callable[[], list[Change]]]]:
        """What to read, in order (the rules need the project's id), and what it is."""
        return [
            ("the project", self.plan_project),
            ("the feedback definitions", self.plan_feedback_definitions),
            ("the prompts", self.plan_prompts),
            ("the online evaluation rules", self.plan_rules),
            ("the coach eval dataset", self.plan_dataset),
        ]

    # ------------------------------------------------------------------ project

    def plan_project(self) -> list[Change]:
        from opik.rest_api.core.api_error import ApiError

        name = self.project.name
        try:
            self.project.id = self.api.projects.retrieve_project(name=name).id
        except ApiError as err:
            if err.status_code != 404:
                raise

            def create() -> None:
                self.api.projects.create_project(name=name)
                self.project.id = self.api.projects.retrieve_project(name=name).id

            return [Change("project", name, "create", (), create)]
        return [Change("project", name, "unchanged")]

    # ------------------------------------------------------ feedback definitions

    def plan_feedback_definitions(self) -> list[Change]:
        return [self._definition(d) for d in self.spec.feedback_definitions]

    def _definition(self, wanted: FeedbackDefinition) -> Change:
        from opik.rest_api.core.pydantic_utilities import parse_obj_as
        from opik.rest_api.types import FeedbackCreate, FeedbackUpdate

        api = self.api.feedback_definitions
        page = api.find_feedback_definitions(name=wanted.name, size=100)
        found = [d for d in page.content or [] if d.name == wanted.name]
        body = wanted.as_body()
        if not found:
            return Change(
                "feedback definition",
                wanted.name,
                "create",
                (),
                lambda: api.create_feedback_definition(request=parse_obj_as(FeedbackCreate, body)),
            )
        have = found[0].dict()
        drift = _differences(
            {
                "type": have.get("type"),
                "details": _details(have),
                "description": have.get("description") or "",
            },
            {"type": body["type"], "details": _details(body), "description": body["description"]},
        )
        if not drift:
            return Change("feedback definition", wanted.name, "unchanged")
        definition_id = str(have["id"])
        return Change(
            "feedback definition",
            wanted.name,
            "update",
            drift,
            lambda: api.update_feedback_definition(
                definition_id, request=parse_obj_as(FeedbackUpdate, {**body, "id": definition_id})
            ),
        )

    # ------------------------------------------------------------------ prompts

    def plan_prompts(self) -> list[Change]:
        return [self._prompt(p) for p in self.spec.prompts]

    def _retrieve(self, name: str, commit: str | None = None) -> Any:
        from opik.rest_api.core.api_error import ApiError

        try:
            if commit is None:
                return self.api.prompts.retrieve_prompt_version(
                    name=name, project_name=self.project.name
                )
            return self.api.prompts.retrieve_prompt_version(
                name=name, commit=commit, project_name=self.project.name
            )
        except ApiError as err:
            if err.status_code == 404:
                return None
            raise

    def _prompt(self, wanted: LibraryPrompt) -> Change:
        latest = self._retrieve(wanted.name)
        if latest is None:
            return Change(
                "prompt",
                wanted.name,
                "create",
                (f"first version {wanted.commit}",),
                lambda: self._save_version(wanted, commit=wanted.commit),
            )
        if latest.template_structure not in (None, "chat"):
            return Change(
                "prompt",
                wanted.name,
                "conflict",
                (
                    f"the library holds a {latest.template_structure} prompt of this name, the "
                    "repo's is a chat prompt: rename or delete it in Opik",
                ),
            )
        ours = (
            latest if latest.commit == wanted.commit else self._retrieve(wanted.name, wanted.commit)
        )
        if _same_template(latest.template, wanted.template):
            if ours is not None:
                return Change("prompt", wanted.name, "unchanged", ())
            return Change(
                "prompt",
                wanted.name,
                "update",
                (
                    f"the latest version {latest.commit} has the repo's text but not its "
                    f"commit {wanted.commit}",
                ),
                lambda: self._save_version(wanted, commit=wanted.commit),
            )
        if ours is None:
            return Change(
                "prompt",
                wanted.name,
                "update",
                (f"the repo's text is new: version {wanted.commit} after {latest.commit}",),
                lambda: self._save_version(wanted, commit=wanted.commit),
            )
        return Change(
            "prompt",
            wanted.name,
            "update",
            (
                f"the latest version {latest.commit} is not the repo's {wanted.commit} "
                "(changed in Opik?); the repo's text becomes the latest again",
            ),
            lambda: self._save_version(wanted, commit=None),
        )

    def _save_version(self, wanted: LibraryPrompt, *, commit: str | None) -> None:
        from opik.rest_api.types import PromptVersionDetail

        self.api.prompts.create_prompt_version(
            name=wanted.name,
            version=PromptVersionDetail(
                template=wanted.template,
                commit=commit,
                metadata={"fretcoach_version": wanted.version, "fretcoach_commit": wanted.commit},
                type="mustache",
                change_description=f"{wanted.version} from the fretcoach-portable repo",
            ),
            template_structure="chat",
            project_name=self.project.name,
        )

    # -------------------------------------------------------------------- rules

    def plan_rules(self) -> list[Change]:
        return [self._rule(rule) for rule in self.spec.rules]

    def _rule(self, wanted: JudgeRule) -> Change:
        from opik.rest_api.core.pydantic_utilities import parse_obj_as
        from opik.rest_api.types import AutomationRuleEvaluatorUpdate, AutomationRuleEvaluatorWrite

        api = self.api.automation_rule_evaluators
        project = self.project
        found = []
        if project.id is not None:
            page = api.find_evaluators(project_id=project.id, name=wanted.name, size=100)
            found = [r for r in page.content or [] if r.name == wanted.name]
        if not found:
            return Change(
                "rule",
                wanted.name,
                "create",
                (),
                lambda: api.create_automation_rule_evaluator(
                    request=parse_obj_as(AutomationRuleEvaluatorWrite, wanted.as_body(project.id))
                ),
            )
        have = found[0].dict()
        drift = _differences(
            _rule_fields(have, project.id), _rule_fields(wanted.as_body(project.id), project.id)
        )
        if not drift:
            return Change("rule", wanted.name, "unchanged")
        rule_id = str(have["id"])
        return Change(
            "rule",
            wanted.name,
            "update",
            drift,
            lambda: api.update_automation_rule_evaluator(
                rule_id,
                request=parse_obj_as(AutomationRuleEvaluatorUpdate, wanted.as_body(project.id)),
            ),
        )

    # ------------------------------------------------------------------ dataset

    def plan_dataset(self) -> list[Change]:
        from opik.rest_api.core.api_error import ApiError

        dataset = self.spec.dataset
        items = opik_items(dataset)
        project = self.project.name
        try:
            stored = self.client.get_dataset(dataset.label, project_name=project)
        except ApiError as err:
            if err.status_code != 404:
                raise

            def create() -> None:
                made = self.client.create_dataset(
                    dataset.label, description=dataset.description, project_name=project
                )
                made.insert(items, num_threads=1)

            return [
                Change(
                    "dataset",
                    dataset.label,
                    "create",
                    (f"{len(items)} items",),
                    create,
                )
            ]
        ours = {item["item_id"]: json.loads(json.dumps(item["snapshot"])) for item in items}
        seen: set[Any] = set()
        other: list[str] = []
        for item in stored.get_items(num_threads=1):
            item_id = item.get("item_id")
            if item_id in seen or ours.get(item_id) != item.get("snapshot"):
                other.append(str(item_id))
            seen.add(item_id)
        if other:
            shown = ", ".join(sorted(other)[:5]) + (
                f" and {len(other) - 5} more" if len(other) > 5 else ""
            )
            return [
                Change(
                    "dataset",
                    dataset.label,
                    "conflict",
                    (
                        f"Opik's copy holds items the repo's does not ({shown}): a changed "
                        "dataset is a new version, a new file with "
                        f'"version": {dataset.version + 1}',
                    ),
                )
            ]
        missing = [item for item in items if item["item_id"] not in seen]
        if not missing:
            return [Change("dataset", dataset.label, "unchanged")]
        return [
            Change(
                "dataset",
                dataset.label,
                "update",
                (f"{len(missing)} of {len(items)} items missing",),
                lambda: stored.insert(missing, num_threads=1),
            )
        ]


def _details(definition: Mapping[str, Any]) -> dict[str, Any]:
    details = dict(definition.get("details") or {})
    if "categories" in details:
        return {"categories": {k: float(v) for k, v in dict(details["categories"]).items()}}
    return {key: float(details[key]) for key in ("min", "max") if details.get(key) is not None}


def _rule_fields(rule: Mapping[str, Any], project_id: str | None) -> dict[str, Any]:
    """What a rule says, read the same way from Opik's answer and from our REST body."""
    code = dict(rule.get("code") or {})
    model = dict(code.get("model") or {})
    projects = {p.get("project_id") for p in rule.get("projects") or []}
    projects |= set(rule.get("project_ids") or [])
    if rule.get("project_id"):
        projects.add(rule["project_id"])
    return {
        "type": rule.get("type"),
        "enabled": rule.get("enabled"),
        "sampling_rate": float(rule.get("sampling_rate") or 0.0),
        "project": project_id in projects,
        "filters": [
            {k: f.get(k) for k in ("field", "operator", "value")} for f in rule.get("filters") or []
        ],
        "model": model.get("name"),
        "temperature": model.get("temperature"),
        "messages": [
            {k: m.get(k) for k in ("role", "content")} for m in code.get("messages") or []
        ],
        "variables": dict(code.get("variables") or {}),
        "scores": [
            {k: s.get(k) for k in ("name", "type", "description")} for s in code.get("schema") or []
        ],
    }


def _differences(have: Mapping[str, Any], want: Mapping[str, Any]) -> tuple[str, ...]:
    """One phrase per field that differs: short values shown, long ones named."""
    found = []
    for key, wanted in want.items():
        value = have.get(key)
        if value == wanted:
            continue
        if key == "project":
            found.append("does not score this project")
        elif len(json.dumps(value, default=str)) + len(json.dumps(wanted, default=str)) <= 80:
            found.append(f"{key} is {_shown(value)} in Opik, {_shown(wanted)} in the repo")
        else:
            found.append(f"{key} differ from the repo's")
    return tuple(found)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _same_template(stored: str, ours: str) -> bool:
    """Chat templates compared as messages (the backend may re-space the JSON)."""
    try:
        return bool(json.loads(stored) == json.loads(ours))
    except (TypeError, ValueError):
        return stored == ours


def summary(report: SetupReport, settings: OpikSettings) -> str:
    """The closing line of a run."""
    where = f"Opik project {settings.project_name!r} at {settings.shown_url}"
    counts: Sequence[tuple[str, int]] = [
        ("to create" if report.mode != "apply" else "created", report.count("create")),
        ("to update" if report.mode != "apply" else "updated", report.count("update")),
        ("in conflict", report.count("conflict")),
    ]
    done = ", ".join(f"{n} {what}" for what, n in counts if n)
    if report.mode == "check":
        if report.in_step:
            return f"{where} matches the repo ({len(report.changes)} items)."
        drifted = len(report.changes) - report.count("unchanged")
        return (
            f"{where} has drifted from the repo: {drifted} of {len(report.changes)} items differ."
        )
    if report.in_step:
        return f"{where}: nothing to change, all {len(report.changes)} items are set up."
    if report.mode == "dry-run":
        return f"dry run, nothing changed: {done} in {where}."
    return f"{where}: {done}, {report.count('unchanged')} unchanged."
