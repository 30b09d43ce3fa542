"""``coach eval``: score the coach's tips over a versioned dataset of metric snapshots.

The dataset (``eval_dataset_v1.json`` beside this module) holds snapshots that cover a
weak pitch, scale or timing, all strong, all weak, too few notes, disabled metrics,
a metronome and a free tempo, and several scales. A changed dataset is a new file
(``_v2``), never an edit in place, so scores stay comparable.

Four metrics, each a pure function returning a :class:`MetricResult` (0–1 and a reason):

``word_limit``
    at most 30 words, as the screen and the prompt demand.
``names_weakest``
    mentions the weakest enabled metric, by name or a clear synonym.
``actionable_fix``
    contains a concrete fix: a practice verb followed closely by a practice object
    ("set a metronome", "press just behind the fret", "learn one position").
``no_contradicting_numbers``
    every percentage quoted is within 5 points of a measured input value.

They are deliberately simple text checks: they run offline, in milliseconds, and a
failure names what is missing. They do not judge tone or whether the advice is good.

:func:`run_eval` asks a real :class:`~coach.feedback.TipGenerator` (no tracer) for one
tip per item, so without ``OPENAI_API_KEY`` it scores the offline coach and with a key
the model, through the same provider chain and reply checks as the live coach.
:func:`log_experiment` optionally sends the same items, tips and scores to Opik through
the SDK: the items as the dataset ``<name>-v<version>`` (inserted once: a rerun adds
nothing), then ``evaluate`` over it, which makes one experiment (named after the prompt
version, the models and the time; its configuration names the dataset and its version,
the prompt version and its commit in the prompt library, the models and providers)
and, per dataset item, a trace of the tip linked to that item, with the four scores as
its feedback scores. A dataset that Opik holds with other items under the same name and
version is refused rather than mixed in: a changed dataset is a new version. It fails
softly: a warning, never an error.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coach.feedback import TipGenerator, TipRequest
from coach.textfile import read_text_file
from coach.tips import METRIC_NAMES, MetricSnapshot
from coach.tracing import DEPLOYMENT, OpikSettings, prepare_opik_environment
from coach.validate import MAX_WORDS, PERCENT_TOLERANCE, word_count
from dsp.errors import EvalDatasetError
from dsp.scoring import METRICS

log = logging.getLogger(__name__)

DEFAULT_DATASET = Path(__file__).with_name("eval_dataset_v1.json")
EVAL_SESSION_ID = "coach-eval"
EXPERIMENT_TAGS = ["fretcoach-core", DEPLOYMENT, "live-feedback", "coach-eval"]

# Words that name a metric. Narrower than the reply checks' lists on purpose: "scale"
# alone would match every tip that names the scale being played, so the scale metric
# needs "conformity", "out of scale", "wrong notes" or the like.
_METRIC_WORDS: dict[str, str] = {
    "pitch": r"pitch|intonation|in[- ]tune|out[- ]of[- ]tune|tuning|sharp|flat",
    "scale": (
        r"scale conformity|conformity|(?:in|out)[- ]of[- ](?:the )?(?:scale|key)|"
        r"outside (?:the )?(?:scale|key|\w+ (?:major|minor|dorian|blues|pentatonic))|"
        r"off[- ]scale|wrong notes?|stray notes?|scale notes?|scale accuracy"
    ),
    "timing": r"timing|rhythm|tempo|time|beats?|metronome|groove|steady|on the click",
}
_NAME_RE = {
    key: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for key, words in _METRIC_WORDS.items()
}
_VERBS = (
    r"play|press|fret|set|use|count|slow|try|practi[cs]e|learn|map|name|shift|move|keep|"
    r"add|nudge|tune|check|focus|loop|repeat|start|mute|relax|ease|lighten|aim|stay|drill|"
    r"record|listen|hold|lock|place|land|target|avoid|skip|leave|drop|lower|raise|work"
)
_OBJECTS = (
    r"metronome|bpm|tempo|clicks?|beats?|frets?|fingers?|fingertips?|pressure|positions?|"
    r"shapes?|notes?|strings?|scale|thirds|neck|aloud|out loud|tuner|pattern|box|"
    r"[A-G][#b♯♭]?"
)
# A verb, then its object within six words: "set a metronome", "press just behind the fret".
_FIX_RE = re.compile(
    rf"\b(?:{_VERBS})\w*\b(?:\W+\w+){{0,6}}?\W+(?:{_OBJECTS})(?![\w#♯♭])",
    re.IGNORECASE,
)
_PERCENT_RE = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent\b)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One metric's verdict on one tip: 0–1 and why."""

    score: float
    reason: str


def word_limit(tip: str, snapshot: MetricSnapshot | None = None) -> MetricResult:
    """1 when the tip has at most 30 words (as the reply checks count them), else 0."""
    words = word_count(tip)
    if words <= MAX_WORDS:
        return MetricResult(1.0, f"{words} words")
    return MetricResult(0.0, f"{words} words, more than {MAX_WORDS}")


def names_weakest(tip: str, snapshot: MetricSnapshot) -> MetricResult:
    """1 when the tip names the weakest enabled metric (any of them on a tie, to the
    percent). A snapshot with nothing measured has nothing to name: 1."""
    weakest = snapshot.weakest()
    if weakest is None:
        return MetricResult(1.0, "nothing measured; no weakest metric to name")
    lowest = round(weakest[1] * 100)
    candidates = [key for key, value in snapshot.measured() if round(value * 100) == lowest]
    for key in candidates:
        match = _NAME_RE[key].search(tip)
        if match is not None:
            return MetricResult(1.0, f"names {key} ({match.group(0)!r})")
    names = " or ".join(METRIC_NAMES[key] for key in candidates)
    return MetricResult(0.0, f"does not name the weakest metric, {names} ({lowest}%)")


def actionable_fix(tip: str, snapshot: MetricSnapshot | None = None) -> MetricResult:
    """1 when the tip contains a practice verb with a practice object close after it."""
    match = _FIX_RE.search(tip)
    if match is None:
        return MetricResult(0.0, "no concrete fix (a practice verb with its object)")
    return MetricResult(1.0, f"fix: {match.group(0)!r}")


def no_contradicting_numbers(tip: str, snapshot: MetricSnapshot) -> MetricResult:
    """1 when every percentage quoted is within 5 points of a measured metric, else 0."""
    values = [value * 100 for _, value in snapshot.measured()]
    quoted = [float(m.group(1)) for m in _PERCENT_RE.finditer(tip)]
    for number in quoted:
        if not any(abs(number - value) <= PERCENT_TOLERANCE for value in values):
            shown = ", ".join(f"{v:.0f}%" for v in values) or "none"
            return MetricResult(0.0, f"quotes {number:g}%, input values are {shown}")
    if not quoted:
        return MetricResult(1.0, "quotes no percentage")
    return MetricResult(1.0, f"{len(quoted)} percentage(s), all within the input")


Metric = Callable[[str, MetricSnapshot], MetricResult]
METRIC_FUNCTIONS: dict[str, Metric] = {
    "word_limit": word_limit,
    "names_weakest": names_weakest,
    "actionable_fix": actionable_fix,
    "no_contradicting_numbers": no_contradicting_numbers,
}


def score_tip(tip: str, snapshot: MetricSnapshot) -> dict[str, MetricResult]:
    return {name: metric(tip, snapshot) for name, metric in METRIC_FUNCTIONS.items()}


@dataclass(frozen=True, slots=True)
class EvalItem:
    id: str
    description: str
    snapshot: MetricSnapshot


@dataclass(frozen=True, slots=True)
class EvalDataset:
    name: str
    version: int
    description: str
    items: tuple[EvalItem, ...]

    @property
    def label(self) -> str:
        """``fretcoach-coach-eval-v1``: the Opik dataset name too."""
        return f"{self.name}-v{self.version}"


DATASET_SHAPE = (
    'a JSON object with "name", "version" and "items", a list of {"id", "snapshot"} '
    f"objects, as in {DEFAULT_DATASET.name}"
)


def load_dataset(path: Path | str = DEFAULT_DATASET) -> EvalDataset:
    path = Path(path)
    try:
        doc = json.loads(read_text_file(path, "the eval dataset", EvalDatasetError))
    except json.JSONDecodeError as err:
        raise EvalDatasetError(f"the eval dataset {path} is not valid JSON: {err}") from err
    except RecursionError as err:
        raise EvalDatasetError(
            f"the eval dataset {path} nests too deep to read: it is no eval dataset "
            f"(expected {DATASET_SHAPE})"
        ) from err
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            raise TypeError(f"expected {DATASET_SHAPE}")
        items = tuple(_item(raw) for raw in doc["items"])
        dataset = EvalDataset(
            name=str(doc["name"]),
            version=int(doc["version"]),
            description=str(doc.get("description", "")),
            items=items,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise EvalDatasetError(f"the eval dataset {path} is malformed: {err}") from err
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise EvalDatasetError(f"the eval dataset {path} repeats an item id")
    return dataset


def _item(raw: Mapping[str, Any]) -> EvalItem:
    if not isinstance(raw, dict):
        raise TypeError(f"an item is {type(raw).__name__}, not an object: expected {DATASET_SHAPE}")
    item_id = raw["id"]
    try:
        snapshot = snapshot_from_dict(raw["snapshot"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"item {item_id!r}: {err}") from err
    return EvalItem(id=str(item_id), description=str(raw.get("description", "")), snapshot=snapshot)


def snapshot_from_dict(raw: Mapping[str, Any]) -> MetricSnapshot:
    metrics = tuple(raw["metrics"])
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics must be among {', '.join(METRICS)}, not {unknown}")
    values: dict[str, float | None] = {}
    for key in METRICS:
        value = raw.get(key)
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{key} must be between 0 and 1, not {value}")
        values[key] = None if value is None or key not in metrics else float(value)
    bpm = raw.get("bpm")
    return MetricSnapshot(
        metrics=metrics,
        pitch=values["pitch"],
        scale=values["scale"],
        timing=values["timing"],
        scale_name=str(raw["scale_name"]),
        bpm=None if bpm is None else float(bpm),
        notes=int(raw["notes"]),
        most_out_of_tune=raw.get("most_out_of_tune"),
        most_out_of_scale=raw.get("most_out_of_scale"),
    )


def snapshot_as_dict(snapshot: MetricSnapshot) -> dict[str, Any]:
    raw = dataclasses.asdict(snapshot)
    raw["metrics"] = list(snapshot.metrics)
    return raw


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One item's tip and scores. ``provider``/``kind``/``reason`` say where the text came
    from: a reply the checks replaced shows ``provider="offline"`` and the reason."""

    item_id: str
    description: str
    tip: str
    provider: str
    model: str
    kind: str
    reason: str | None
    attempts: tuple[str, ...]
    scores: dict[str, MetricResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "description": self.description,
            "tip": self.tip,
            "provider": self.provider,
            "model": self.model,
            "kind": self.kind,
            "reason": self.reason,
            "attempts": list(self.attempts),
            "scores": {
                name: {"score": r.score, "reason": r.reason} for name, r in self.scores.items()
            },
        }


@dataclass(frozen=True, slots=True)
class EvalReport:
    dataset: str
    prompt_version: str
    models: tuple[str, ...]
    rows: tuple[EvalRow, ...]
    experiment: str | None = None
    # The prompt library's name and commit of the prompt (see coach.prompts.LibraryPrompt).
    prompt_name: str = ""
    prompt_commit: str = ""

    def averages(self) -> dict[str, float]:
        if not self.rows:
            return {name: 0.0 for name in METRIC_FUNCTIONS}
        return {
            name: sum(row.scores[name].score for row in self.rows) / len(self.rows)
            for name in METRIC_FUNCTIONS
        }

    def below(self, min_score: float) -> dict[str, float]:
        """The averages under ``min_score``."""
        return {name: avg for name, avg in self.averages().items() if avg < min_score}

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "prompt_version": self.prompt_version,
            "prompt_commit": self.prompt_commit,
            "models": list(self.models),
            "experiment": self.experiment,
            "averages": self.averages(),
            "items": [row.as_dict() for row in self.rows],
        }


def run_eval(dataset: EvalDataset, generator: TipGenerator) -> EvalReport:
    """One tip per item from ``generator`` (untraced), scored by every metric.

    Never raises for a provider fault: the generator falls back to the offline coach, and
    the row records which provider wrote the tip and why a reply was replaced.
    """
    generator.prepare()
    rows = []
    for item in dataset.items:
        request = TipRequest(EVAL_SESSION_ID, item.snapshot, 0.0)
        result = generator.produce(request)
        rows.append(
            EvalRow(
                item_id=item.id,
                description=item.description,
                tip=result.text,
                provider=result.provider,
                model=result.model,
                kind=result.kind,
                reason=result.reason,
                attempts=tuple(f"{a.provider}:{a.outcome}" for a in result.attempts),
                scores=score_tip(result.text, item.snapshot),
            )
        )
    return EvalReport(
        dataset=dataset.label,
        prompt_version=generator.prompt.version,
        models=tuple(dict.fromkeys(row.model for row in rows)),
        rows=tuple(rows),
        prompt_name=generator.prompt.name,
        prompt_commit=generator.prompt.library.commit,
    )


_SHORT = {
    "word_limit": "words",
    "names_weakest": "weakest",
    "actionable_fix": "fix",
    "no_contradicting_numbers": "numbers",
}


def format_table(report: EvalReport, *, tip_width: int | None = None) -> str:
    """One row per item (id, source, the four scores, the tip), then the averages; under a
    row, why a model reply was replaced and why a metric failed. ``tip_width`` cuts tips."""
    heads = [_SHORT[name] for name in METRIC_FUNCTIONS]
    id_width = max([len("item"), *(len(row.item_id) for row in report.rows)])
    header = f"{'item':<{id_width}}  {'source':<8} " + " ".join(f"{h:>7}" for h in heads)
    lines = [
        f"coach eval: {report.dataset}, prompt {report.prompt_version}, "
        f"model {', '.join(report.models) or '–'}",
        "",
        header + "  tip",
    ]
    for row in report.rows:
        tip = row.tip
        if tip_width is not None and len(tip) > tip_width:
            tip = tip[: tip_width - 1] + "…"
        scores = " ".join(f"{row.scores[name].score:7.2f}" for name in METRIC_FUNCTIONS)
        lines.append(f"{row.item_id:<{id_width}}  {row.provider:<8} {scores}  {tip}")
        if row.reason and row.attempts:  # a model reply was trimmed or replaced
            lines.append(f"{'':<{id_width}}    ↳ {row.kind}: {row.reason}")
        for name in METRIC_FUNCTIONS:
            if row.scores[name].score < 1.0:
                lines.append(f"{'':<{id_width}}    ↳ {name}: {row.scores[name].reason}")
    averages = " ".join(f"{avg:7.2f}" for avg in report.averages().values())
    lines += ["", f"{'average':<{id_width}}  {'':<8} {averages}  ({len(report.rows)} items)"]
    if report.experiment:
        lines.append(f"Opik experiment: {report.experiment}")
    return "\n".join(lines)


def log_experiment(report: EvalReport, dataset: EvalDataset, settings: OpikSettings) -> str | None:
    """Log the report to Opik as dataset ``<name>-v<version>`` plus one experiment.

    Uses the SDK's ``evaluate`` with a task that returns the tips already generated (so the
    experiment shows exactly what the table shows) and the four metrics wrapped as Opik
    metrics. Returns the experiment's name, or None — with a warning — when Opik is off or
    anything fails: the evaluation itself never depends on the backend.
    """
    if not settings.enabled:
        return None
    try:
        # The SDK prints to stdout (a link to the results), where --json puts the report.
        with contextlib.redirect_stdout(sys.stderr):
            return _log_experiment(report, dataset, settings)
    except Exception as err:  # an optional part: the table is already printed
        log.warning(
            "coach eval: the Opik experiment was not logged (%s: %s)",
            type(err).__name__,
            str(err)[:300],
        )
        return None


def opik_metrics() -> list[Any]:
    """The four metrics as ``opik.evaluation`` metrics (imports ``opik``).

    Each scores a task output ``{"output": tip}`` against a dataset item that carries the
    snapshot as ``{"snapshot": {...}}``, as :func:`log_experiment` builds them.
    """
    from opik.evaluation.metrics import base_metric, score_result

    class OpikMetric(base_metric.BaseMetric):
        def __init__(self, name: str, metric: Metric) -> None:
            # track=False: the experiment records the scores; a span per score is noise.
            super().__init__(name=name, track=False)
            self._metric = metric

        def score(
            self, output: str, snapshot: Mapping[str, Any], **ignored: Any
        ) -> score_result.ScoreResult:
            result = self._metric(output, snapshot_from_dict(snapshot))
            return score_result.ScoreResult(
                value=result.score, name=self.name, reason=result.reason
            )

    return [OpikMetric(name, metric) for name, metric in METRIC_FUNCTIONS.items()]


def opik_items(dataset: EvalDataset) -> list[dict[str, Any]]:
    """The dataset's items as Opik dataset items: ``item_id`` and ``snapshot`` are the
    data; ``description`` is the item's description (Opik keeps it beside the data)."""
    return [
        {
            "item_id": item.id,
            "description": item.description,
            "snapshot": snapshot_as_dict(item.snapshot),
        }
        for item in dataset.items
    ]


def experiment_name(report: EvalReport, now: dt.datetime | None = None) -> str:
    """``coach-eval-<prompt version>-<models>-<UTC time>``: unique per run, sortable."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"coach-eval-{report.prompt_version}-{'+'.join(report.models)}-{stamp}"


def experiment_config(report: EvalReport, dataset: EvalDataset) -> dict[str, Any]:
    """What the experiment was run with, for Opik's experiment configuration."""
    return {
        "dataset": dataset.label,
        "dataset_name": dataset.name,
        "dataset_version": dataset.version,
        "dataset_items": len(dataset.items),
        "prompt_version": report.prompt_version,
        "prompt_name": report.prompt_name,
        "prompt_commit": report.prompt_commit,
        "models": list(report.models),
        "providers": list(dict.fromkeys(row.provider for row in report.rows)),
        "metrics": list(METRIC_FUNCTIONS),
        "deployment": DEPLOYMENT,
    }


def _check_same_items(stored: list[dict[str, Any]], dataset: EvalDataset) -> None:
    """Refuse to log into an Opik dataset that holds items this one does not (or one of
    its items twice: the experiment would score it twice)."""
    ours = {
        item["item_id"]: json.loads(json.dumps(item["snapshot"])) for item in opik_items(dataset)
    }
    seen: set[Any] = set()
    other: set[str] = set()
    for item in stored:
        item_id = item.get("item_id")
        if item_id in seen or ours.get(item_id) != item.get("snapshot"):
            other.add(str(item_id))
        seen.add(item_id)
    if other:
        listed = sorted(other)
        shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
        raise EvalDatasetError(
            f"Opik's dataset {dataset.label!r} holds items that this dataset does not "
            f"({shown}): a changed dataset is a new version (a new file with "
            f'"version": {dataset.version + 1}), a subset one with a name of its own'
        )


def _log_experiment(report: EvalReport, dataset: EvalDataset, settings: OpikSettings) -> str:
    prepare_opik_environment(settings)
    import opik
    from opik.evaluation import evaluate

    client = opik.Opik(
        project_name=settings.project_name,
        workspace=settings.workspace,
        host=settings.url,
        api_key=settings.api_key,
    )
    try:
        opik_dataset = client.get_or_create_dataset(
            name=dataset.label,
            description=dataset.description,
            project_name=settings.project_name,
        )
        _check_same_items(opik_dataset.get_items(num_threads=1), dataset)
        # Items Opik has already (same content) are skipped: a rerun adds no version.
        opik_dataset.insert(opik_items(dataset), num_threads=1)
        rows = {row.item_id: row for row in report.rows}

        def task(item: dict[str, Any]) -> dict[str, Any]:
            row = rows[item["item_id"]]
            return {
                "output": row.tip,
                "provider": row.provider,
                "model": row.model,
                "kind": row.kind,
                "replaced_because": row.reason,
            }

        def run() -> Any:
            # evaluate() works through the current client: this one, in a context of its
            # own, so the caller's (and its backend) is left as it was.
            opik.set_global_client(client, context_wise=True)
            return evaluate(
                dataset=opik_dataset,
                task=task,
                scoring_metrics=opik_metrics(),
                experiment_name=experiment_name(report),
                experiment_config=experiment_config(report, dataset),
                experiment_tags=EXPERIMENT_TAGS,
                verbose=0,
                task_threads=1,
            )

        result = contextvars.copy_context().run(run)
    finally:
        client.end(timeout=settings.flush_timeout_s)
    return str(result.experiment_name)


def evaluate_coach(
    dataset: EvalDataset,
    generator: TipGenerator,
    *,
    opik_settings: OpikSettings | None = None,
) -> EvalReport:
    """:func:`run_eval`, then :func:`log_experiment` when ``opik_settings`` enables Opik."""
    report = run_eval(dataset, generator)
    if opik_settings is not None and opik_settings.enabled:
        experiment = log_experiment(report, dataset, opik_settings)
        if experiment is not None:
            report = dataclasses.replace(report, experiment=experiment)
    return report


__all__ = [
    "DEFAULT_DATASET",
    "METRIC_FUNCTIONS",
    "EvalDataset",
    "EvalDatasetError",
    "EvalItem",
    "EvalReport",
    "EvalRow",
    "MetricResult",
    "actionable_fix",
    "evaluate_coach",
    "experiment_config",
    "experiment_name",
    "format_table",
    "load_dataset",
    "log_experiment",
    "names_weakest",
    "no_contradicting_numbers",
    "opik_items",
    "opik_metrics",
    "run_eval",
    "score_tip",
    "snapshot_from_dict",
    "word_limit",
]
