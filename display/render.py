"""Screens for a 128×64 monochrome OLED: ``render(state) -> PIL.Image`` and nothing else.

Pure and deterministic: the same state always gives the same pixels, on any machine,
because every glyph comes from the bundled Terminus bitmap font (``fonts/``, SIL OFL 1.1)
at one of its native pixel sizes, so FreeType copies bitmaps instead of rasterising
outlines. That is what lets the tests compare screens pixel for pixel.

Layout works in ink, not in font cells: ``_text(..., top=y)`` puts the top of the capital
letters on row ``y``. Text never overflows its box: it is cut with "…".
"""

from __future__ import annotations

import functools
import math
import re
import textwrap
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from display.state import (
    HomeScreen,
    PairingScreen,
    PracticeScreen,
    ScreenState,
    SettingsScreen,
    StatusScreen,
    StoppedScreen,
    SummaryScreen,
    TempoScreen,
    TunerScreen,
)

WIDTH, HEIGHT = 128, 64
#: Characters of the small (6×12) font on one line: the width ``text_pages`` wraps tips to.
LINE_CHARS = WIDTH // 6
FONT_DIR = Path(__file__).with_name("fonts")
#: Terminus strikes, as pixel heights; each renders crisply only at exactly these sizes.
FONT_SIZES = (12, 14, 16, 18, 20, 22, 24, 28, 32)

Font = ImageFont.FreeTypeFont
Align = Literal["left", "center", "right"]
ON, OFF = 1, 0
ELLIPSIS = "…"

# Characters the font lacks that have a plain stand-in (♯ and ♭ are not in Terminus).
_STAND_INS = str.maketrans({"♯": "#", "♭": "b", "\t": " ", "\n": " ", "\r": " "})
_NOTE_RE = re.compile(r"^([A-Ga-g])(#|b)?(-?\d+)?$")
# FreeType faces are not thread-safe, and the cached fonts are shared by every render.
_FREETYPE = threading.Lock()


@functools.cache
def font(size: int = 12, *, bold: bool = False) -> Font:
    """The bundled Terminus font at one of ``FONT_SIZES`` (loaded once, then cached)."""
    if size not in FONT_SIZES:
        raise ValueError(f"font size must be one of {FONT_SIZES}, not {size}")
    path = FONT_DIR / ("terminus-bold.otb" if bold else "terminus-normal.otb")
    return ImageFont.truetype(str(path), size)


@functools.cache
def _ink(fnt: Font) -> tuple[int, int]:
    """(row of the capitals' top, capital height) within a line of ``fnt``."""
    _, top, _, bottom = fnt.getmask("H").getbbox() or (0, 0, 0, 0)
    return top, bottom - top


@functools.cache
def _has_glyph(char: str) -> bool:
    probe = font(12)
    missing = probe.getmask("\uffff")
    mask = probe.getmask(char)
    return mask.size != missing.size or bytes(mask) != bytes(missing)


def _clean(text: str) -> str:
    """Make any string drawable: stand-ins for ♯/♭, accents stripped when the accented
    letter is missing, "?" for anything else the font cannot show (emoji, CJK)."""
    out = []
    for char in text.translate(_STAND_INS):
        if _has_glyph(char):
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if _has_glyph(c))
        out.append(base or "?")
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def _width(fnt: Font, text: str) -> int:
    return math.ceil(fnt.getlength(text))


@functools.lru_cache(maxsize=512)
def fit_text(text: str, max_width: int, fnt: Font | None = None) -> str:
    """``text`` cut with "…" so it is at most ``max_width`` pixels wide in ``fnt``."""
    fnt = fnt or font(12)
    text = _clean(text)
    if _width(fnt, text) <= max_width:
        return text
    low, high = 0, len(text) - 1  # the longest prefix that fits with "…" is text[:low]
    while low < high:
        mid = (low + high + 1) // 2
        if _width(fnt, text[:mid].rstrip() + ELLIPSIS) <= max_width:
            low = mid
        else:
            high = mid - 1
    cut = text[:low].rstrip() + ELLIPSIS
    return cut if _width(fnt, cut) <= max_width else ""


def text_pages(text: str, width_chars: int = LINE_CHARS) -> list[str]:
    """Word-wrap ``text`` into lines of at most ``width_chars``. A word is never split
    across lines unless it is longer than a whole line. Blank text gives no pages."""
    if width_chars < 1:
        raise ValueError(f"width_chars must be at least 1, not {width_chars}")
    return textwrap.wrap(_clean(" ".join(text.split())), width_chars, break_on_hyphens=False)


def render(state: ScreenState) -> Image.Image:
    """Draw ``state`` as a 128×64 mode "1" image (white pixels are lit).

    Raises ``TypeError`` for anything that is not one of the screen states. Safe to call
    from any thread: the shared FreeType faces are used by one render at a time.
    """
    try:
        screen = _SCREENS[type(state)]
    except KeyError:
        raise TypeError(f"no screen for {type(state).__name__}") from None
    image = Image.new("1", (WIDTH, HEIGHT), OFF)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    with _FREETYPE:
        screen(draw, state)
    return image


# --- drawing helpers -------------------------------------------------------------------


def _text(
    draw: ImageDraw.ImageDraw,
    x: int,
    top: int,
    text: str,
    fnt: Font,
    *,
    max_width: int | None = None,
    align: Align = "left",
    fill: int = ON,
) -> int:
    """Draw ``text`` with its capitals' top on row ``top``; ``x`` is the left edge, the
    centre or the right edge per ``align``. Returns the drawn width in pixels."""
    text = fit_text(text, max_width, fnt) if max_width is not None else _clean(text)
    width = _width(fnt, text)
    if align == "center":
        x -= width // 2
    elif align == "right":
        x -= width
    cap_top, _ = _ink(fnt)
    draw.text((x, top - cap_top), text, font=fnt, fill=fill)
    return width


def _first_fitting(candidates: list[tuple[str, Font]], max_width: int) -> tuple[str, Font]:
    """The first (text, font) that fits unshortened, else the last one, cut to fit."""
    for text, fnt in candidates:
        if _width(fnt, _clean(text)) <= max_width:
            return text, fnt
    text, fnt = candidates[-1]
    return fit_text(text, max_width, fnt), fnt


def _rule(draw: ImageDraw.ImageDraw, y: int, x0: int = 0, x1: int = WIDTH - 1) -> None:
    draw.line((x0, y, x1, y), fill=ON)


def _dotted(draw: ImageDraw.ImageDraw, y: int, x0: int, x1: int) -> None:
    draw.point([(x, y) for x in range(x0, x1 + 1, 2)], fill=ON)


def _percent(value: float | None) -> str:
    return "–" if value is None else str(round(min(max(value, 0.0), 1.0) * 100))


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _signed_cents(cents: float) -> str:
    value = round(cents)
    return "0" if value == 0 else f"{'+' if value > 0 else '−'}{abs(value)}"


def _bar(draw: ImageDraw.ImageDraw, x: int, y: int, w: int, h: int, value: float | None) -> None:
    """A score bar: an outline filled in proportion to ``value``; a dotted line when None."""
    if value is None:
        _dotted(draw, y + h // 2, x, x + w - 1)
        return
    draw.rectangle((x, y, x + w - 1, y + h - 1), outline=ON)
    inner = w - 4
    filled = round(min(max(value, 0.0), 1.0) * inner)
    if filled:
        draw.rectangle((x + 2, y + 2, x + 1 + filled, y + h - 3), fill=ON)


def _needle(
    draw: ImageDraw.ImageDraw, x: int, y: int, w: int, cents: float | None, *, in_tune: float = 5
) -> None:
    """A cents meter, −50 … +50, ``w`` wide (odd, so 0 has a centre pixel), 11 rows tall
    from ``y``: a pointer above a scale with ticks at every 25 cents. Within ±``in_tune``
    the pointer is drawn wide."""
    half = (w - 1) // 2
    centre = x + half
    base = y + 10
    _rule(draw, base, x, x + w - 1)
    for step in (-2, -1, 1, 2):
        tx = centre + round(step * half / 2)
        draw.line((tx, base - 2, tx, base), fill=ON)
    draw.line((centre, base - 4, centre, base), fill=ON)
    if cents is None:
        return
    offset = round(min(max(cents, -50.0), 50.0) / 50.0 * half)
    px = centre + offset
    if abs(cents) <= in_tune:
        draw.rectangle((px - 2, y, px + 2, base - 2), fill=ON)
    else:
        draw.polygon([(px - 3, y), (px + 3, y), (px, y + 6)], fill=ON)
        draw.line((px, y + 6, px, base - 1), fill=ON)


def _big_note(
    draw: ImageDraw.ImageDraw, x: int, top: int, name: str, *, fill: int = ON, measure: bool = False
) -> int:
    """A note name with the letter 20 px tall, the accidental (10 px) at its top right and
    the octave (8 px) on its baseline under the accidental. Returns the width."""
    match = _NOTE_RE.match(name.strip().translate(_STAND_INS))
    if not match:
        fnt = font(24, bold=True)
        text = fit_text(name, 60, fnt)
        if not measure:
            _text(draw, x, top, text, fnt, fill=fill)
        return _width(fnt, text)
    letter, accidental, octave = match.groups()
    big, mark, small = font(32, bold=True), font(16, bold=True), font(12, bold=True)
    letter_w = _ink_width(big, letter.upper())
    side_w = max(_ink_width(mark, accidental or ""), _ink_width(small, octave or ""))
    width = letter_w + (2 + side_w if side_w else 0)
    if measure:
        return width
    _ink_text(draw, x, top, letter.upper(), big, fill)
    _, big_cap = _ink(big)
    _, small_cap = _ink(small)
    if accidental:
        _ink_text(draw, x + letter_w + 2, top, accidental, mark, fill)
    if octave:
        # Sits on the letter's baseline, clear of the accidental above it.
        _ink_text(draw, x + letter_w + 2, top + big_cap - small_cap, octave, small, fill)
    return width


@functools.cache
def _ink_box(fnt: Font, text: str) -> tuple[int, int, int, int]:
    image = Image.new("1", (math.ceil(fnt.getlength(text)) + 4, fnt.size + 4))
    ImageDraw.Draw(image).text((0, 0), text, font=fnt, fill=ON)
    return image.getbbox() or (0, 0, 0, 0)


def _ink_width(fnt: Font, text: str) -> int:
    if not text:
        return 0
    left, _, right, _ = _ink_box(fnt, text)
    return right - left


def _ink_text(draw: ImageDraw.ImageDraw, x: int, top: int, text: str, fnt: Font, fill: int) -> None:
    """Draw ``text`` with its ink (not its cell) starting at column ``x``."""
    left, _, _, _ = _ink_box(fnt, text)
    cap_top, _ = _ink(fnt)
    draw.text((x - left, top - cap_top), text, font=fnt, fill=fill)


def _header(draw: ImageDraw.ImageDraw, left: str, right: str, *, bold_left: bool = True) -> None:
    """The top line: a title on the left, a status on the right, a rule under both."""
    small, small_bold = font(12), font(12, bold=True)
    right_w = _text(draw, WIDTH - 1, 1, right, small, align="right", max_width=80) if right else 0
    left_font = small_bold if bold_left else small
    _text(draw, 0, 1, left, left_font, max_width=WIDTH - right_w - (6 if right else 0))
    _rule(draw, 11)


def _tip_line(
    draw: ImageDraw.ImageDraw,
    tip: str | None,
    page: int,
    *,
    top: int = 54,
    note: str | None = None,
) -> None:
    """One line of ``tip`` (wrapped, ``page`` wraps around), then ``note`` as a page of
    its own."""
    pages = text_pages(tip or "", LINE_CHARS)
    if note:
        pages.append(fit_text(note, WIDTH))
    if pages:
        _text(draw, 0, top, pages[page % len(pages)], font(12), max_width=WIDTH)


# --- screens ---------------------------------------------------------------------------


def _home(draw: ImageDraw.ImageDraw, state: HomeScreen) -> None:
    if state.hub_note:
        sync = state.hub_note
    elif not state.hub_configured:
        sync = "no Hub"
    elif state.sync_rejected or state.sync_pending:
        parts = []
        if state.sync_pending:
            parts.append(f"↑{state.sync_pending}")
        if state.sync_rejected:
            parts.append(f"✗{state.sync_rejected}")
        sync = " ".join(parts)
    else:
        sync = "✓ synced"
    _header(draw, "FretCoach", sync)

    name, fnt = _first_fitting(
        [(state.scale_name, font(16, bold=True)), (state.scale_name, font(12, bold=True))],
        WIDTH,
    )
    _text(draw, 0, 15, name, fnt, max_width=WIDTH)

    if state.bpm is None:
        _text(draw, 0, 29, "free tempo", font(12))
    else:
        _metronome(draw, 0, 29)
        _text(draw, 11, 29, f"{round(state.bpm)} bpm", font(12))

    _metric_tags(draw, 40, state.metrics)
    _hint_bar(draw, state.hint)


def _hint_bar(draw: ImageDraw.ImageDraw, left: str, right: str = "") -> None:
    """The inverted bottom line that says what the buttons do: ``left`` alone is centred,
    with ``right`` the two sit at either end."""
    draw.rectangle((0, 53, WIDTH - 1, HEIGHT - 1), fill=ON)
    bold = font(12, bold=True)
    if not right:
        _text(draw, WIDTH // 2, 54, left, bold, align="center", max_width=WIDTH - 4, fill=OFF)
        return
    right_w = _text(draw, WIDTH - 3, 54, right, bold, align="right", max_width=WIDTH - 4, fill=OFF)
    _text(draw, 2, 54, left, bold, max_width=WIDTH - 4 - right_w - 3, fill=OFF)


def _tempo(draw: ImageDraw.ImageDraw, state: TempoScreen) -> None:
    _header(draw, "Tempo", "START: done")
    big, small = font(32, bold=True), font(12)
    _, big_cap = _ink(big)
    if state.bpm is None:
        _text(draw, WIDTH // 2, 16, "free", big, align="center")
        line = "no metronome"
    else:
        number = str(round(state.bpm))
        width = _width(big, number) + 3 + _width(small, "bpm")
        x = (WIDTH - width) // 2
        number_w = _text(draw, x, 16, number, big)
        _text(draw, x + number_w + 3, 16 + big_cap - _ink(small)[1], "bpm", small)
        line = "tap MODE, hold: free"
    if 0 < state.taps < 3:
        line = f"tap {state.taps}: keep tapping"
    elif state.taps >= 3:
        line = f"set by {state.taps} taps"
    _text(draw, WIDTH // 2, 40, line, small, align="center", max_width=WIDTH)
    _hint_bar(draw, "− SELECT", "FEEDBACK +")


def _settings(draw: ImageDraw.ImageDraw, state: SettingsScreen) -> None:
    """Three rows at a time, the selected one inverted with its value between − and +."""
    _header(draw, "Settings", "START: done")
    small = font(12)
    rows = state.rows
    first = min(max(state.selected - 1, 0), max(len(rows) - 3, 0))
    for line, (label, value) in enumerate(rows[first : first + 3]):
        top = 15 + line * 12
        selected = first + line == state.selected
        fill = OFF if selected else ON
        if selected:
            draw.rectangle((0, top - 2, WIDTH - 1, top + 9), fill=ON)
            if first + line not in state.actions:
                value = f"− {value} +"
        value_w = _text(draw, WIDTH - 3, top, value, small, align="right", fill=fill)
        _text(draw, 2, top, label, small, max_width=WIDTH - 4 - value_w - 4, fill=fill)
    _hint_bar(draw, "MODE: next setting")


def _pairing(draw: ImageDraw.ImageDraw, state: PairingScreen) -> None:
    """The QR code on the left, dark modules on a lit quiet zone (as a phone expects),
    2 px a module; the code to type on the right."""
    small, bold = font(12), font(12, bold=True)
    if not state.qr or state.user_code is None:
        _header(draw, "Pair Hub", "START: back")
        if state.user_code is None:
            _text(draw, WIDTH // 2, 26, "Asking the Hub...", small, align="center")
        else:  # a link too long for a QR code: the code, for the Hub's /device page
            _text(draw, 0, 16, "On the Hub's /device", small, max_width=WIDTH)
            _text(draw, 0, 28, "page, type:", small)
            _text(draw, WIDTH // 2, 42, state.user_code, font(16, bold=True), align="center")
        return
    size = len(state.qr) * 2
    pad = (HEIGHT - size) // 2
    draw.rectangle((0, 0, size + 2 * pad - 1, HEIGHT - 1), fill=ON)
    for y, row in enumerate(state.qr):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle(
                    (pad + 2 * x, pad + 2 * y, pad + 2 * x + 1, pad + 2 * y + 1), fill=OFF
                )
    x0 = size + 2 * pad + 1
    _text(draw, x0, 1, "Pair Hub", bold)
    _text(draw, x0, 16, "Scan, or", small)
    _text(draw, x0, 28, "type:", small)
    _text(draw, x0, 40, state.user_code, bold, max_width=WIDTH - x0)
    _text(draw, x0, 54, "START:back", small, max_width=WIDTH - x0)


def _metronome(draw: ImageDraw.ImageDraw, x: int, top: int, *, fill: int = ON) -> None:
    """An 8-row metronome icon, as tall as the capitals of the small font."""
    draw.polygon([(x + 3, top), (x + 5, top), (x + 8, top + 7), (x, top + 7)], outline=fill)
    draw.line((x + 4, top + 6, x + 7, top + 1), fill=fill)


def _metric_tags(draw: ImageDraw.ImageDraw, top: int, metrics: tuple[str, ...]) -> None:
    """The enabled metrics as outlined capital tags on one row (or "scores off")."""
    fnt = font(12)
    if not metrics:
        _text(draw, 0, top + 2, "scores off", fnt)
        return
    x = 0
    for name in metrics:
        label = _clean(name.upper())
        width = _width(fnt, label) + 6
        if x + width > WIDTH:
            break
        draw.rectangle((x, top, x + width - 1, top + 11), outline=ON)
        _text(draw, x + 3, top + 2, label, fnt)
        x += width + 3


def _practice(draw: ImageDraw.ImageDraw, state: PracticeScreen) -> None:
    # Gaps of 5 and 4 px (glyphs carry a blank column of their own) leave the scale 66 px:
    # the longest short name, "C# maj pent", beside 240 bpm and a clock up to 9:59.
    small = font(12)
    clock = _clock(state.elapsed_s)
    right_w = _text(draw, WIDTH - 1, 1, clock, small, align="right")
    if state.bpm is not None:
        bpm = str(round(state.bpm))
        bpm_w = _width(small, bpm)
        clock_w = right_w
        right_w += 5 + bpm_w
        right_w += 11
        if state.beat:
            # The beat, seen: the metronome and tempo light up on every beat, and on
            # beat 1 the clock with them.
            x1 = WIDTH - 1 if state.beat == 1 else WIDTH - clock_w - 3
            draw.rectangle((WIDTH - right_w - 2, 0, x1, 10), fill=ON)
        fill = OFF if state.beat else ON
        _text(draw, WIDTH - right_w + 11, 1, bpm, small, fill=fill)
        _metronome(draw, WIDTH - right_w, 1, fill=fill)
        if state.beat == 1:
            _text(draw, WIDTH - 1, 1, clock, small, align="right", fill=OFF)
    _text(draw, 0, 1, state.scale_name or "Practice", small, max_width=WIDTH - right_w - 4)
    _rule(draw, 11)

    if state.paused:
        _paused(draw, state)
    elif state.count_in:
        _count_in(draw, state)
    else:
        _live(draw, state)
    _rule(draw, 51)
    if state.count_in:
        _tip_line(draw, "Count-in: play on 1", 0)
    else:
        _tip_line(draw, state.tip, state.tip_page, note=state.timing_note)


def _count_in(draw: ImageDraw.ImageDraw, state: PracticeScreen) -> None:
    """The count-in bar: the beats left, big, where the note will be."""
    _text(draw, WIDTH // 2, 14, str(state.count_in), font(32, bold=True), align="center")


def _live(draw: ImageDraw.ImageDraw, state: PracticeScreen) -> None:
    # Left: the note being played and how far off it is.
    if state.note_name:
        width = _big_note(draw, 0, 16, state.note_name, measure=True)
        if state.in_scale is False:
            # Out of the scale: the note is drawn inverted, readable from across the room.
            draw.rounded_rectangle((0, 14, width + 5, 37), radius=3, fill=ON)
            _big_note(draw, 3, 16, state.note_name, fill=OFF)
        else:
            _big_note(draw, 3, 16, state.note_name)
        if state.cents is not None:
            _text(draw, 58, 28, _signed_cents(state.cents), font(12, bold=True), align="right")
    else:
        _text(draw, 29, 23, "–", font(24, bold=True), align="center")
    _needle(draw, 2, 38, 55, state.cents if state.note_name else None)

    # Right: the three live scores.
    small_bold = font(12, bold=True)
    for row, (label, value) in enumerate(
        (("P", state.pitch), ("S", state.scale), ("T", state.timing))
    ):
        top = 15 + row * 12
        _text(draw, 63, top, label, small_bold)
        _bar(draw, 71, top, 36, 8, value)
        _text(draw, WIDTH - 1, top, _percent(value), small_bold, align="right")


def _paused(draw: ImageDraw.ImageDraw, state: PracticeScreen) -> None:
    """An inverted PAUSED banner, and the scores so far in one line under it."""
    draw.rectangle((0, 14, WIDTH - 1, 33), fill=ON)
    big = font(16, bold=True)
    label_w = _width(big, "PAUSED")
    x = (WIDTH - (label_w + 14)) // 2
    draw.rectangle((x, 19, x + 3, 28), fill=OFF)
    draw.rectangle((x + 6, 19, x + 9, 28), fill=OFF)
    _text(draw, x + 14, 19, "PAUSED", big, fill=OFF)
    scores = "   ".join(
        f"{label} {_percent(value)}"
        for label, value in (("P", state.pitch), ("S", state.scale), ("T", state.timing))
    )
    _text(draw, WIDTH // 2, 39, scores, font(12, bold=True), align="center", max_width=WIDTH)


def _tuner(draw: ImageDraw.ImageDraw, state: TunerScreen) -> None:
    freq = f"{state.freq_hz:.1f} Hz" if state.freq_hz else ""
    _header(draw, "Tuner", freq)
    if state.note_name:
        width = _big_note(draw, 0, 16, state.note_name, measure=True)
        _big_note(draw, (WIDTH - width) // 2, 16, state.note_name)
    else:
        _text(draw, WIDTH // 2, 22, "Play a string", font(14, bold=True), align="center")
    cents = state.cents if state.note_name else None
    _needle(draw, 9, 40, 111, cents)

    small, small_bold = font(12), font(12, bold=True)
    if state.note_name and state.cents is not None:
        label = "in tune ✓" if abs(state.cents) <= 5 else f"{_signed_cents(state.cents)} cents"
        right_w = _text(draw, WIDTH - 1, 54, label, small_bold, align="right")
    else:
        right_w = 0
    if state.nearest_string:
        _text(draw, 0, 54, f"{state.nearest_string} string", small, max_width=WIDTH - right_w - 6)


_SYNC_LABELS = {
    "queued": "↑ queued",
    "synced": "✓ synced",
    "offline": "offline",
    "rejected": "✗ rejected",
}


def _summary(draw: ImageDraw.ImageDraw, state: SummaryScreen) -> None:
    _header(
        draw,
        f"Done {_clock(state.duration_s)}",
        _SYNC_LABELS.get(state.sync_state, state.sync_state),
    )

    small, number = font(12), font(18, bold=True)
    column = WIDTH // 3
    for i, (label, value) in enumerate(
        (("Pitch", state.pitch), ("Scale", state.scale), ("Timing", state.timing))
    ):
        centre = i * column + column // 2 + 1
        _text(draw, centre, 14, label, small, align="center")
        _text(draw, centre, 26, _percent(value), number, align="center")

    total, fits = state.notes_total, state.notes_in_scale
    notes = "1 note" if total == 1 else f"{total} notes"
    line, fnt = _first_fitting([(f"{notes}, {fits} in key", small), (notes, small)], WIDTH)
    _text(draw, WIDTH // 2, 41, line, fnt, align="center", max_width=WIDTH)
    _rule(draw, 51)
    _tip_line(draw, state.tip, state.tip_page, note=state.timing_note)


def _status(draw: ImageDraw.ImageDraw, state: StatusScreen) -> None:
    _level_icon(draw, 0, 0, state.level)
    room = WIDTH - 16
    big, small_bold = font(16, bold=True), font(12, bold=True)
    if _width(big, _clean(state.title)) <= room:
        _text(draw, 16, 2, state.title, big)
        body_top = 15
    else:
        # A long title takes two lines of the small bold font, beside and under the icon.
        title = text_pages(state.title, room // 6)
        _text(draw, 16, 3, title[0] if title else "", small_bold, max_width=room)
        if len(title) > 1:
            rest = " ".join(title[1:])
            _text(draw, 16, 14, rest, small_bold, max_width=room)
            body_top = 24
        else:
            body_top = 15
    _rule(draw, body_top)

    rows: list[str] = []
    for line in state.lines:
        rows.extend(text_pages(line, LINE_CHARS) or [""])
    room_rows = (HEIGHT - body_top - 3) // 11
    shown = rows[:room_rows]
    if len(rows) > room_rows and shown:
        last = shown[-1]
        shown[-1] = fit_text(last, WIDTH - 6) + ("" if last.endswith(ELLIPSIS) else ELLIPSIS)
    for i, row in enumerate(shown):
        _text(draw, 0, body_top + 5 + i * 11, row, font(12), max_width=WIDTH)


def _level_icon(draw: ImageDraw.ImageDraw, x: int, y: int, level: str) -> None:
    """12×13 icons: (i) in a circle, ! in a triangle, ! in a filled box."""
    if level not in ("warning", "error"):
        draw.ellipse((x, y, x + 12, y + 12), outline=ON)
        draw.point((x + 6, y + 3), fill=ON)
        draw.line((x + 6, y + 5, x + 6, y + 9), fill=ON)
        draw.line((x + 5, y + 5, x + 6, y + 5), fill=ON)
        draw.line((x + 5, y + 9, x + 7, y + 9), fill=ON)
    elif level == "warning":
        draw.polygon([(x + 6, y), (x + 12, y + 12), (x, y + 12)], outline=ON)
        draw.line((x + 6, y + 4, x + 6, y + 8), fill=ON)
        draw.point((x + 6, y + 10), fill=ON)
    elif level == "error":
        draw.rounded_rectangle((x, y, x + 12, y + 12), radius=2, fill=ON)
        draw.line((x + 6, y + 2, x + 6, y + 7), fill=OFF)
        draw.line((x + 5, y + 2, x + 5, y + 7), fill=OFF)
        draw.rectangle((x + 5, y + 9, x + 6, y + 10), fill=OFF)


def _stopped(draw: ImageDraw.ImageDraw, state: StoppedScreen) -> None:
    fnt = font(16, bold=True)
    lines = text_pages(state.message, WIDTH // 8)[:2] or [""]
    _, cap = _ink(fnt)
    pitch = cap + 8
    top = (HEIGHT - (len(lines) * pitch - 8)) // 2
    for i, line in enumerate(lines):
        _text(draw, WIDTH // 2, top + i * pitch, line, fnt, align="center", max_width=WIDTH)


_SCREENS: dict[type, Callable[[ImageDraw.ImageDraw, ScreenState], None]] = {
    HomeScreen: _home,
    TempoScreen: _tempo,
    SettingsScreen: _settings,
    PairingScreen: _pairing,
    PracticeScreen: _practice,
    TunerScreen: _tuner,
    SummaryScreen: _summary,
    StatusScreen: _status,
    StoppedScreen: _stopped,
}
