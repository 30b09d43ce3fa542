"""What an Opik workspace needs for this device, as values: the feedback definitions, the
library prompts, the online-evaluation rules and the ``coach eval`` dataset.

The code owns what it sends (the "User Feedback" categories, the prompts, the dataset);
``opik_workspace.toml`` beside this module holds the reviewed rest: the judges' prompts,
variable mappings, filters and sampling rates. :func:`load_spec` checks that file against
itself (every judge score has a definition, every prompt variable a mapping) so a typo
fails here, naming the rule, not silently in Opik. :mod:`coach.opik_setup` makes a
workspace match it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from coach.eval import DEFAULT_DATASET, EvalDataset, load_dataset
from coach.prompts import LIVE_FEEDBACK_V1, SESSION_SUMMARY_V1, LibraryPrompt
from coach.recommend import AI_MODE_PROMPT
from coach.textfile import read_text_file
from coach.tracing import USER_FEEDBACK, USER_FEEDBACK_CATEGORIES
from dsp.errors import OpikSetupError

DEFAULT_SPEC = Path(__file__).with_name("opik_workspace.toml")
LIBRARY_PROMPTS: tuple[LibraryPrompt, ...] = (
    LIVE_FEEDBACK_V1.library,
    SESSION_SUMMARY_V1.library,
    AI_MODE_PROMPT,
)
# Opik's rule types for the two scopes the file may name.
RULE_TYPES = {"trace": "llm_as_judge", "thread": "trace_thread_llm_as_judge"}
THREAD_VARIABLE = "context"  # what Opik fills with a thread's turns
_VARIABLE = re.compile(r"{{\s*([\w.]+)\s*}}")


@dataclass(frozen=True, slots=True)
class FeedbackDefinition:
    """A feedback definition: categorical (named categories with their values) or
    numerical (a range)."""

    name: str
    type: Literal["categorical", "numerical"]
    description: str
    categories: Mapping[str, float] | None = None
    min: float | None = None
    max: float | None = None

    @property
    def details(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"categories": dict(self.categories or {})}
        return {"min": self.min, "max": self.max}

    def as_body(self) -> dict[str, Any]:
        """The REST body (``FeedbackCreate`` / ``FeedbackUpdate``) for this definition."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class JudgeRule:
    """An online-evaluation rule: an LLM judge over traces or threads of the project."""

    name: str
    scope: Literal["trace", "thread"]
    enabled: bool
    sampling_rate: float
    model: str
    temperature: float
    filters: tuple[Mapping[str, str], ...]
    messages: tuple[Mapping[str, str], ...]
    scores: tuple[Mapping[str, str], ...]
    variables: Mapping[str, str]

    @property
    def type(self) -> str:
        return RULE_TYPES[self.scope]

    def as_body(self, project_id: str | None) -> dict[str, Any]:
        """The REST body (``AutomationRuleEvaluatorWrite``/``…Update``) for this rule."""
        code: dict[str, Any] = {
            "model": {"name": self.model, "temperature": self.temperature},
            "messages": [dict(m) for m in self.messages],
            "schema": [dict(s) for s in self.scores],
        }
        if self.scope == "trace":
            code["variables"] = dict(self.variables)
        body: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "action": "evaluator",
            "enabled": self.enabled,
            "sampling_rate": self.sampling_rate,
            "filters": [dict(f) for f in self.filters],
            "code": code,
        }
        if project_id is not None:
            body["project_ids"] = [project_id]
        return body


@dataclass(frozen=True, slots=True)
class WorkspaceSpec:
    """Everything ``fretcoach opik setup`` makes, in the order it makes it."""

    feedback_definitions: tuple[FeedbackDefinition, ...]
    prompts: tuple[LibraryPrompt, ...]
    rules: tuple[JudgeRule, ...]
    dataset: EvalDataset


USER_FEEDBACK_DEFINITION = FeedbackDefinition(
    name=USER_FEEDBACK,
    type="categorical",
    description="The player's thumbs up or down on a tip, from the device's FEEDBACK buttons.",
    categories=USER_FEEDBACK_CATEGORIES,
)


def load_spec(
    path: Path | str = DEFAULT_SPEC, *, dataset: Path | str = DEFAULT_DATASET
) -> WorkspaceSpec:
    path = Path(path)
    try:
        doc = tomllib.loads(read_text_file(path, "the workspace file", OpikSetupError))
    except tomllib.TOMLDecodeError as err:
        raise OpikSetupError(f"the workspace file {path} is not valid TOML: {err}") from err
    try:
        definitions = (
            USER_FEEDBACK_DEFINITION,
            *(_definition(raw) for raw in doc.get("feedback_definitions", [])),
        )
        rules = tuple(_rule(raw) for raw in doc.get("rules", []))
    except (KeyError, TypeError, ValueError) as err:
        raise OpikSetupError(f"the workspace file {path} is malformed: {err}") from err
    _check(path, definitions, rules)
    return WorkspaceSpec(
        feedback_definitions=definitions,
        prompts=LIBRARY_PROMPTS,
        rules=rules,
        dataset=load_dataset(dataset),
    )


def _definition(raw: Mapping[str, Any]) -> FeedbackDefinition:
    kind = raw["type"]
    if kind == "numerical":
        low, high = float(raw["min"]), float(raw["max"])
        if not low < high:
            raise ValueError(f"feedback definition {raw['name']!r}: min must be below max")
        return FeedbackDefinition(
            raw["name"], "numerical", raw.get("description", ""), None, low, high
        )
    if kind == "categorical":
        categories = {str(k): float(v) for k, v in raw["categories"].items()}
        return FeedbackDefinition(
            raw["name"], "categorical", raw.get("description", ""), categories
        )
    raise ValueError(f"feedback definition {raw['name']!r}: type must be numerical or categorical")


def _rule(raw: Mapping[str, Any]) -> JudgeRule:
    name = raw["name"]
    scope = raw["scope"]
    if scope not in RULE_TYPES:
        raise ValueError(f"rule {name!r}: scope must be trace or thread, not {scope!r}")
    rate = float(raw["sampling_rate"])
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rule {name!r}: sampling_rate must be from 0 to 1, not {rate}")
    return JudgeRule(
        name=name,
        scope=scope,
        enabled=bool(raw.get("enabled", True)),
        sampling_rate=rate,
        model=str(raw["model"]),
        temperature=float(raw.get("temperature", 0.0)),
        filters=tuple(
            {"field": str(f["field"]), "operator": str(f["operator"]), "value": str(f["value"])}
            for f in raw.get("filters", [])
        ),
        messages=tuple(
            {"role": str(m["role"]), "content": str(m["content"])} for m in raw["messages"]
        ),
        scores=tuple(
            {"name": str(s["name"]), "type": str(s["type"]), "description": str(s["description"])}
            for s in raw["scores"]
        ),
        variables={str(k): str(v) for k, v in raw.get("variables", {}).items()},
    )


def _check(
    path: Path, definitions: tuple[FeedbackDefinition, ...], rules: tuple[JudgeRule, ...]
) -> None:
    """Each judge score needs a numerical definition of its name; each ``{{variable}}`` a
    mapping (trace rules) or to be ``{{context}}`` (thread rules); names are unique."""
    numerical = {d.name for d in definitions if d.type == "numerical"}
    problems = []
    for kind, names in (
        ("feedback definition", [d.name for d in definitions]),
        ("rule", [r.name for r in rules]),
    ):
        repeated = sorted({n for n in names if names.count(n) > 1})
        problems += [f"{kind} {n!r} is defined twice" for n in repeated]
    for rule in rules:
        used = {v for m in rule.messages for v in _VARIABLE.findall(m["content"])}
        if rule.scope == "trace":
            problems += [
                f"rule {rule.name!r}: {{{{{v}}}}} has no entry in `variables`"
                for v in sorted(used - set(rule.variables))
            ]
        elif used != {THREAD_VARIABLE}:
            problems.append(
                f"rule {rule.name!r}: a thread rule's messages use {{{{context}}}} and nothing "
                f"else, not {', '.join(sorted(used)) or 'nothing'}"
            )
        problems += [
            f"rule {rule.name!r}: score {s['name']!r} has no numerical feedback definition"
            for s in rule.scores
            if s["name"] not in numerical
        ]
    if problems:
        raise OpikSetupError(f"the workspace file {path}: {'; '.join(problems)}")
