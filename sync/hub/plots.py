"""Server-side SVG pictures for the Hub's pages: scores over time, and one session's notes.

Each function returns one ``<svg>`` element as text, ready to sit inline in an HTML page:
no script, no fonts or styles from elsewhere, so a Hub on a LAN without internet draws
them on any phone. Every piece of text is escaped here, whatever its source. The drawing
uses a fixed ``viewBox`` and lets the page scale it to its width.

>>> svg = score_plot([ScorePoint(datetime(2026, 1, 1, tzinfo=UTC), 0.9, 0.8, 0.7)])
>>> svg.startswith("<svg")
True
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from dsp.notes import note_name
from dsp.scales import Scale

WIDTH = 640
HEIGHT = 300
# Room for the y labels on the left, the legend above and the x labels below.
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 36
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM

# (field, legend text, colour, dash): Okabe–Ito colours and three dash patterns, so the
# lines stay apart for colour-blind readers and on a grey-scale printout.
SCORE_SERIES = (
    ("pitch_accuracy", "pitch accuracy", "#0072B2", ""),
    ("scale_conformity", "scale conformity", "#009E73", "6 3"),
    ("timing_stability", "timing stability", "#D55E00", "2 3"),
)
IN_SCALE_COLOUR = "#0072B2"
OUT_OF_SCALE_COLOUR = "#D55E00"
# Below this many pixels between two scale lines their labels would overlap: label roots only.
MIN_LABEL_GAP_PX = 11.0
MIN_SEMITONES_SHOWN = 12  # at least an octave: every note of the scale gets a line


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """One session on the score plot; a score is None when its metric was off."""

    when: datetime
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    href: str | None = None  # where a click on the session's marks leads
    label: str = ""  # the marks' tooltip


class PlottedNote(Protocol):
    """What the pitch picture needs of a note (the Hub's ``NoteEvent``, the store's ``NoteRow``)."""

    @property
    def onset_s(self) -> float: ...
    @property
    def midi(self) -> int: ...
    @property
    def cents(self) -> float: ...
    @property
    def in_scale(self) -> bool: ...


def _num(value: float) -> str:
    """A coordinate with one decimal and no trailing zeros: a long session stays small."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text(x: float, y: float, words: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{klass}>'
        f"{html.escape(words)}</text>"
    )


def _open(element_id: str, title: str, extra: str = "") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{html.escape(element_id)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}"'
        f' font-family="sans-serif" font-size="11"{extra}><title>{html.escape(title)}</title>'
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="#fff" '
        'stroke="#999"/>'
    )


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 × a power of ten apart) within [low, high], ≤ ``most``.

    In floats throughout and at most ``most`` of them by count: a session stored with a
    duration of 1e308 s (finite, so valid) made the step an integer 10**307 that no float
    could be scaled by (the page was a 500).
    """
    span = high - low
    raw = span / max(most - 1, 1)
    if not raw > 0 or not math.isfinite(span):  # (a span of 5e-324 s gives a raw step of 0)
        return [low]
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    for k in range(most):
        value = first + k * step
        if value > high + 1e-9 * step:
            break
        ticks.append(round(value, 10))
    return ticks


# --------------------------------------------------------------------------- scores


def score_plot(points: Sequence[ScorePoint]) -> str:
    """The three scores (0–1) of each session against its start time, oldest on the left.

    Sessions are placed by their real start time, so a week off shows as a gap; all on one
    instant (one session) sit in the middle. Each score is a line through the sessions that
    have it (a metric switched off leaves no mark) with a dot per session; a dot links to
    the session's page when the point has an ``href``.
    """
    ordered = sorted(points, key=lambda p: p.when)
    parts = [_open("score-plot", "Scores over time", f' data-sessions="{len(ordered)}"')]
    for value in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _score_y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{_num(y)}" y2="{_num(y)}" stroke="#ddd"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{value:g}", anchor="end"))
    if ordered:
        first, last = ordered[0].when, ordered[-1].when
        fmt = "%Y-%m-%d" if (last - first).total_seconds() >= 2 * 86400 else "%m-%d %H:%M"
        base = TOP + PLOT_H + 16
        parts.append(_text(LEFT, base, f"{first.astimezone(UTC):{fmt}}"))
        if last != first:
            parts.append(_text(LEFT + PLOT_W, base, f"{last.astimezone(UTC):{fmt}}", anchor="end"))
        parts.append(_text(LEFT + PLOT_W / 2, base + 14, "session start (UTC)", anchor="middle"))
    xs = _time_xs([p.when for p in ordered])
    for field, _words, colour, dash in SCORE_SERIES:
        marks = [
            (x, _score_y(v))
            for x, p in zip(xs, ordered, strict=True)
            if (v := getattr(p, field)) is not None
        ]
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        if len(marks) > 1:
            line = " ".join(f"{_num(x)},{_num(y)}" for x, y in marks)
            parts.append(
                f'<polyline class="score-line {field}" points="{line}" fill="none" '
                f'stroke="{colour}" stroke-width="2"{dashing}/>'
            )
    parts.extend(_score_dots(ordered, xs))
    parts.append(_legend_row())
    parts.append("</svg>")
    return "".join(parts)


def _score_y(value: float) -> float:
    return TOP + PLOT_H * (1.0 - min(max(value, 0.0), 1.0))


def _time_xs(times: Sequence[datetime]) -> list[float]:
    if not times:
        return []
    start = times[0].timestamp()
    span = times[-1].timestamp() - start
    if span <= 0:
        return [LEFT + PLOT_W / 2] * len(times)
    inset = 8  # keep the end dots off the frame
    return [LEFT + inset + (PLOT_W - 2 * inset) * (t.timestamp() - start) / span for t in times]


def _score_dots(points: Sequence[ScorePoint], xs: Sequence[float]) -> list[str]:
    parts = []
    for x, point in zip(xs, points, strict=True):
        dots = "".join(
            f'<circle class="score-dot {field}" cx="{_num(x)}" cy="{_num(_score_y(v))}" r="3.5" '
            f'fill="{colour}"/>'
            for field, _words, colour, _dash in SCORE_SERIES
            if (v := getattr(point, field)) is not None
        )
        if not dots:
            continue
        title = f"<title>{html.escape(point.label)}</title>" if point.label else ""
        group = f"<g>{title}{dots}</g>"
        if point.href:
            group = f'<a href="{html.escape(point.href)}">{group}</a>'
        parts.append(group)
    return parts


def _legend_row() -> str:
    parts = []
    x = float(LEFT)
    for field, legend, colour, dash in SCORE_SERIES:
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{_num(x)}" x2="{_num(x + 22)}" y1="12" y2="12" stroke="{colour}" '
            f'stroke-width="2"{dashing}/>'
        )
        parts.append(_text(x + 26, 16, legend, cls=f"legend {field}"))
        x += 26 + 7 * len(legend) + 24
    return "".join(parts)


# --------------------------------------------------------------------------- notes


#: A session shorter than this (any duration ≥ 0 is stored) is drawn over one second.
_SHORTEST_AXIS_S = 1e-3


def pitch_plot(notes: Sequence[PlottedNote], scale: Scale, *, duration_s: float) -> str:
    """The notes of one session as pitch (MIDI, with cents) over time (seconds from its start).

    Each scale note in the range played is a horizontal line, the root's darker, labelled
    with its name, so a note off its line was out of the scale or out of tune. Notes are
    dots, blue in the scale and orange outside it; they are drawn as one path per colour
    (a few bytes a note), so a session of 20 000 notes is still a small page.
    """
    pitches = [n.midi + n.cents / 100.0 for n in notes]
    low = math.floor(min(pitches, default=57.0)) - 1
    high = math.ceil(max(pitches, default=69.0)) + 1
    if high - low < MIN_SEMITONES_SHOWN:
        pad = MIN_SEMITONES_SHOWN - (high - low)
        low -= pad // 2
        high += pad - pad // 2
    end_s = max([duration_s, *(n.onset_s for n in notes)])
    end_s = end_s if end_s >= _SHORTEST_AXIS_S else 1.0  # (1e-300 s: six ticks all "0")

    def x_of(onset_s: float) -> float:
        return LEFT + PLOT_W * onset_s / end_s

    def y_of(pitch: float) -> float:
        return TOP + PLOT_H * (high - pitch) / (high - low)

    title = f"Notes played over time, with the notes of {scale.hub_name}"
    extra = f' data-notes="{len(notes)}" data-scale="{html.escape(scale.hub_name)}"'
    parts = [_open("pitch-plot", title, extra)]
    label_all = PLOT_H / (high - low) * _smallest_scale_step(scale) >= MIN_LABEL_GAP_PX
    for midi in range(low, high + 1):
        if not scale.contains(midi):
            continue
        root = (midi - scale.root_pc) % 12 == 0
        y = y_of(midi)
        parts.append(
            f'<line class="scale-line{" root" if root else ""}" data-midi="{midi}" '
            f'x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{"#888" if root else "#ccc"}" stroke-width="{1.5 if root else 1}"/>'
        )
        if root or label_all:
            name = note_name(midi, flats=scale.prefers_flats)
            parts.append(_text(LEFT - 6, y + 4, name, anchor="end"))
    base = TOP + PLOT_H + 16
    for tick in nice_ticks(0.0, end_s):
        parts.append(_text(x_of(tick), base, f"{tick:g}", anchor="middle"))
    parts.append(_text(LEFT + PLOT_W / 2, base + 14, "seconds from the start", anchor="middle"))
    for in_scale, colour, cls in (
        (True, IN_SCALE_COLOUR, "in-scale"),
        (False, OUT_OF_SCALE_COLOUR, "out-of-scale"),
    ):
        chosen = [
            (x_of(n.onset_s), y_of(p))
            for n, p in zip(notes, pitches, strict=True)
            if n.in_scale is in_scale
        ]
        if not chosen:
            continue
        # A zero-length segment with a round cap is a dot.
        path = "".join(f"M{_num(x)} {_num(y)}h0" for x, y in chosen)
        words = "in the scale" if in_scale else "outside the scale"
        parts.append(
            f'<path class="notes {cls}" data-count="{len(chosen)}" d="{path}" '
            f'stroke="{colour}" stroke-width="6" stroke-linecap="round" fill="none">'
            f"<title>{len(chosen)} notes {words}</title></path>"
        )
    parts.append(_notes_legend(scale))
    parts.append("</svg>")
    return "".join(parts)


def _notes_legend(scale: Scale) -> str:
    parts = []
    x = float(LEFT)
    for colour, words in ((IN_SCALE_COLOUR, "in the scale"), (OUT_OF_SCALE_COLOUR, "outside it")):
        parts.append(f'<circle cx="{_num(x + 4)}" cy="12" r="3.5" fill="{colour}"/>')
        parts.append(_text(x + 12, 16, words))
        x += 12 + 7 * len(words) + 20
    parts.append(f'<line x1="{_num(x)}" x2="{_num(x + 22)}" y1="12" y2="12" stroke="#888"/>')
    parts.append(_text(x + 26, 16, f"notes of {scale.hub_name}"))
    return "".join(parts)


def _smallest_scale_step(scale: Scale) -> int:
    steps = sorted(scale.type.intervals) + [12]
    return min(b - a for a, b in itertools.pairwise(steps))
