"""Prompt templates, versioned: a changed prompt gets a new version label, never an edit
in place.

Every trace carries where its prompt came from (:meth:`LibraryPrompt.trace_metadata`): the
prompt library's name, our version label and the *commit*, a hash of the template text
that `fretcoach opik setup` also gives the version it saves in Opik's prompt library. The
hash needs no network, so a tip made offline and replayed from the outbox names the exact
text as surely as one traced live; Opik can compare tips from two prompts side by side,
and ``coach eval`` can pin the one it scores.

``LIVE_FEEDBACK_V1`` keeps the FretCoach family's shape (see
``docs/fretcoach-context.md``): the enabled metrics, a ``Pitch 95%, Timing 21%`` line,
the strongest and weakest metric with percentages, then the 1–2 sentence instruction.
It adds what the device knows and the Studio did not use: the scale, the tempo, and the
note most often out of tune or out of scale. ``SESSION_SUMMARY_V1`` is the 2–3 sentence
summary at the end of a session, over the whole session's scores.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from coach.tips import METRIC_NAMES, METRIC_SHORT, MetricSnapshot, percent
from dsp.timing import describe_offset

# The length Opik gives a prompt version's commit (it accepts one it is given).
COMMIT_LENGTH = 8


@dataclass(frozen=True, slots=True)
class LibraryPrompt:
    """A prompt as Opik's prompt library holds it: a chat template (mustache variables),
    saved under ``name`` with :attr:`commit` as its version's commit."""

    name: str
    version: str
    messages: tuple[tuple[str, str], ...]  # (role, template)
    description: str = ""

    @property
    def template(self) -> str:
        """The chat template as the library stores it: the messages as JSON."""
        return json.dumps(
            [{"role": role, "content": content} for role, content in self.messages],
            ensure_ascii=False,
        )

    @property
    def commit(self) -> str:
        """The first 8 hex digits of the template's SHA-256: the same text, the same commit."""
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:COMMIT_LENGTH]

    def trace_metadata(self) -> dict[str, Any]:
        """What every trace made with this prompt carries: flat keys to filter on, and
        ``opik_prompts`` in the shape the SDK itself attaches a library prompt to a trace."""
        return {
            "prompt_name": self.name,
            "prompt_version": self.version,
            "prompt_commit": self.commit,
            "opik_prompts": [
                {
                    "name": self.name,
                    "template_structure": "chat",
                    "version": {"commit": self.commit, "template": self.template},
                }
            ],
        }


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """A coach prompt: the system message, and the instruction that ends the user message
    after the snapshot's facts. ``name`` is its name in Opik's prompt library."""

    name: str
    version: str
    system: str
    instruction: str
    max_words: int = 30
    max_sentences: int = 2

    @property
    def library(self) -> LibraryPrompt:
        """The template for the prompt library: the user message is ``{{facts}}`` (the
        lines :func:`facts` makes), a blank line, the instruction — as :meth:`user` builds it."""
        return LibraryPrompt(
            name=self.name,
            version=self.version,
            messages=(("system", self.system), ("user", "{{facts}}\n\n" + self.instruction)),
        )

    def user(self, snapshot: MetricSnapshot, *, duration_s: float | None = None) -> str:
        return "\n".join([*facts(snapshot, duration_s=duration_s), "", self.instruction])

    def messages(
        self, snapshot: MetricSnapshot, *, duration_s: float | None = None
    ) -> list[dict[str, str]]:
        """The chat messages for ``chat.completions.create``."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user(snapshot, duration_s=duration_s)},
        ]


def facts(snapshot: MetricSnapshot, *, duration_s: float | None = None) -> list[str]:
    """The numbers of a snapshot as prompt lines (shared by every template)."""
    enabled = [METRIC_NAMES[key] for key in snapshot.metrics]
    lines = [f"Enabled metrics: {', '.join(enabled)}"]
    scores = []
    for key in snapshot.metrics:
        value = snapshot.value(key)
        shown = f"{percent(value)}%" if value is not None else "not measured yet"
        scores.append(f"{METRIC_SHORT[key]} {shown}")
    lines.append(", ".join(scores))
    measured = snapshot.measured()
    strongest, weakest = snapshot.strongest(), snapshot.weakest()
    if len(measured) == 1:
        key, value = measured[0]
        lines.append(f"Measured: {METRIC_NAMES[key]} ({percent(value)}%)")
    elif strongest is not None and weakest is not None:
        lines.append(f"Strongest: {METRIC_NAMES[strongest[0]]} ({percent(strongest[1])}%)")
        lines.append(f"Weakest: {METRIC_NAMES[weakest[0]]} ({percent(weakest[1])}%)")
    lines.append(f"Scale: {snapshot.scale_name}")
    if snapshot.bpm is not None:
        lines.append(f"Tempo: {snapshot.bpm:g} BPM")
    if snapshot.mean_offset_ms is not None:
        lines.append(
            f"Against the metronome click: {describe_offset(snapshot.mean_offset_ms)} on average"
        )
    if snapshot.most_out_of_tune:
        lines.append(f"Note most often out of tune: {snapshot.most_out_of_tune}")
    if snapshot.most_out_of_scale:
        lines.append(f"Note most often out of scale: {snapshot.most_out_of_scale}")
    if duration_s is None:
        lines.append(f"Notes in this window: {snapshot.notes}")
    else:
        lines.append(f"Session: {duration_text(duration_s)}, {notes_text(snapshot.notes)}")
    return lines


def notes_text(count: int) -> str:
    """3 → "3 notes", 1 → "1 note"."""
    return "1 note" if count == 1 else f"{count} notes"


def duration_text(seconds: float) -> str:
    """125 → "2 min 5 s"."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


LIVE_FEEDBACK_V1 = PromptTemplate(
    name="fretcoach-live-feedback",
    version="live-feedback-v1",
    system=(
        "You are a direct guitar coach giving live feedback on a tiny screen while the "
        "player practises. Answer in 1–2 sentences, at most 30 words, shaped as "
        "\"[what's good], but [what's weak] – [specific fix]\". Tie the advice to the "
        "scores you are given and quote only those percentages. Typical fixes: pitch – "
        "even finger pressure, fretting cleanly just behind the fret; scale – the note "
        "that slips out of the scale, moving between positions; timing – a metronome at a "
        "slow tempo, counting aloud. Name the note when one is given. Vary your wording "
        "from tip to tip. No greeting, no list, no markdown."
    ),
    instruction=(
        "1–2 sentences, at most 30 words, [what's good], but [what's weak] – [specific fix]:"
    ),
)

SESSION_SUMMARY_V1 = PromptTemplate(
    name="fretcoach-session-summary",
    version="session-summary-v1",
    system=(
        "You are a direct guitar coach summing up a practice session that just ended, for "
        "a small screen. Answer in 2–3 sentences, at most 60 words: what went well, what "
        "to work on next time, and one specific exercise for it. Tie it to the session's "
        "scores and quote only those percentages. No greeting, no list, no markdown."
    ),
    instruction=(
        "2–3 sentences, at most 60 words: what went well, what to work on next time, "
        "one specific exercise:"
    ),
    max_words=60,
    max_sentences=3,
)
