"""Checks on a model's reply before it reaches the screen. Pure functions, no I/O.

A reply is never shown raw. It is cleaned (quotes, markdown, a "Tip:" label, line
breaks), then:

* empty → replaced;
* longer than 30 words or 2 sentences (60 and 3 for a session summary) → trimmed at a
  sentence boundary, or replaced when even its first sentence is too long;
* cut off by the token limit → its unfinished last sentence dropped;
* not about the scores — it names no metric and no fix → replaced;
* quoting a percentage more than 5 points away from the metric it talks about (or from
  every metric, when it names none), or a percentage for a metric that is not measured
  → replaced.

"Replaced" means :func:`check_reply` returns no text and a reason; the caller shows the
offline coach's tip instead and records the reason in the trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coach.tips import MetricSnapshot, TipKind

MAX_WORDS = 30
MAX_SENTENCES = 2
PERCENT_TOLERANCE = 5.0

_METRIC_WORDS: dict[str, str] = {
    "pitch": r"pitch|intonation|in[- ]tune|out[- ]of[- ]tune|tuning|sharp|flat",
    "scale": r"scale|conformity|key|positions?|in[- ]scale|out[- ]of[- ]scale",
    "timing": r"timing|rhythm|tempo|time|beats?|metronome|stability|groove|steady",
}
_METRIC_RE = {
    key: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for key, words in _METRIC_WORDS.items()
}
_FIX_RE = re.compile(
    r"\b(?:fret\w*|fingers?|fingertips?|pressure|press|metronome|count\w*|slow\w*|"
    r"positions?|bpm|tuner|shapes?|practi[cs]e\w*|clicks?|notes?)\b",
    re.IGNORECASE,
)
_PERCENT_RE = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:%|per\s*cent\b)", re.IGNORECASE)
_CLAUSE_RE = re.compile(r"[,;:.!?–—]|\s-\s|\bbut\b|\bwhile\b|\bwhereas\b", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_LABEL_RE = re.compile(r"^(?:tip|feedback|coach|advice)\s*:\s*", re.IGNORECASE)
_MARKDOWN_RE = re.compile(r"[*_`#>]+")
_QUOTES = "\"'“”‘’«»"


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome: ``text`` to show (None → show the offline tip) and why, if not as is."""

    text: str | None
    kind: TipKind
    reason: str | None = None


def word_count(text: str) -> int:
    """Words as a reader counts them: tokens with a letter or digit ("–" is not a word)."""
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


def clean(text: str) -> str:
    text = _MARKDOWN_RE.sub("", text)
    text = " ".join(text.split())
    text = _LABEL_RE.sub("", text).strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_RE.split(text) if s.strip()]


def check_reply(
    reply: str | None,
    snapshot: MetricSnapshot,
    *,
    truncated: bool = False,
    max_words: int = MAX_WORDS,
    max_sentences: int = MAX_SENTENCES,
) -> Checked:
    """Decide what of ``reply`` may be shown for ``snapshot``.

    ``truncated`` says the provider stopped at its token limit, so the last sentence may
    be unfinished. The limits are a live tip's; a session summary allows more.
    """
    text = clean(reply or "")
    if not text:
        return Checked(None, "offline", "empty reply")
    parts = sentences(text)
    trimmed = False
    if truncated and parts and parts[-1][-1] not in ".!?":
        parts = parts[:-1]
        trimmed = True
        if not parts:
            return Checked(None, "offline", "reply cut off by the token limit")
    kept: list[str] = []
    for sentence in parts:
        if len(kept) == max_sentences or word_count(" ".join([*kept, sentence])) > max_words:
            trimmed = True
            break
        kept.append(sentence)
    if not kept:
        return Checked(None, "offline", f"first sentence longer than {max_words} words")
    text = " ".join(kept)
    if not about_the_scores(text):
        return Checked(None, "offline", "reply names no metric and no fix")
    contradiction = contradicting_percentage(text, snapshot)
    if contradiction is not None:
        return Checked(None, "offline", contradiction)
    if trimmed:
        return Checked(text, "trimmed", f"trimmed to {word_count(text)} words")
    return Checked(text, "model")


def about_the_scores(text: str) -> bool:
    return any(rx.search(text) for rx in _METRIC_RE.values()) or bool(_FIX_RE.search(text))


def contradicting_percentage(text: str, snapshot: MetricSnapshot) -> str | None:
    """Describe the first percentage in ``text`` that the snapshot contradicts, if any."""
    measured = dict(snapshot.measured())
    bounds = [m.end() for m in _CLAUSE_RE.finditer(text)]
    for match in _PERCENT_RE.finditer(text):
        quoted = float(match.group(1))
        start = max((b for b in bounds if b <= match.start()), default=0)
        end = min((m.start() for m in _CLAUSE_RE.finditer(text, match.end())), default=len(text))
        metric = _metric_named(text, start, match.start(), end)
        if metric is not None:
            if metric not in measured:
                return f"quotes {quoted:g}% for {metric}, which is not measured"
            actual = measured[metric] * 100
            if abs(quoted - actual) > PERCENT_TOLERANCE:
                return f"quotes {quoted:g}% for {metric}, which is {actual:.0f}%"
        elif not any(abs(quoted - v * 100) <= PERCENT_TOLERANCE for v in measured.values()):
            return f"quotes {quoted:g}%, which matches no metric"
    return None


def _metric_named(text: str, start: int, number: int, end: int) -> str | None:
    """The metric a number's clause talks about: the last one named before it, else after."""
    before: tuple[int, str] | None = None
    after: tuple[int, str] | None = None
    for key, rx in _METRIC_RE.items():
        for m in rx.finditer(text, start, number):
            if before is None or m.start() > before[0]:
                before = (m.start(), key)
        m = rx.search(text, number, end)
        if m is not None and (after is None or m.start() < after[0]):
            after = (m.start(), key)
    if before is not None:
        return before[1]
    return after[1] if after is not None else None
