"""The screen states the daemon shows: pure functions from what it knows to ``display.state``.

The daemon decides which screen is up and reads the store and clocks; these only turn
values into the frozen states the display draws, rounded to what the screen can show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from device.keymap import SETTINGS
from device.session import LiveSnapshot, PracticeSettings
from display.render import text_pages
from display.state import (
    HomeScreen,
    PairingScreen,
    PracticeScreen,
    SettingsScreen,
    StatusScreen,
    SummaryScreen,
    TempoScreen,
    TunerScreen,
)
from dsp import Scores
from dsp.notes import note_name
from dsp.timing import describe_offset
from sync.qr import qr_matrix

if TYPE_CHECKING:
    from coach.recommend import Recommendation
    from sync.pairing import PairingState

NO_INTERFACE = StatusScreen("No interface", ("Plug in your USB", "audio interface"), level="error")
THINKING = StatusScreen("AI coach", ("Choosing your next", "practice..."))

# What each focus trains, short enough for one line of the 128×64 screen.
_FOCUS_LINES = {
    "pitch": "Clean, in-tune notes",
    "scale": "Stay inside the key",
    "timing": "Even notes, on beat",
}
# The home screen's bottom line takes turns (a turn every `coach.tip_page_s`): what to do
# next, and where the settings are.
HOME_HINTS = ("Press START to play", "Hold START: settings")
# GPIO buttons were configured but could not be opened: the device plays on without them
# and the journal says why and what to fix. One line of the tip line and the hint bar.
NO_BUTTONS = "No buttons: see log"
CLOCK_HINT = "Clock not synced yet"
PAIR_HINT = "Pair Hub in settings"
BEAT_FLASH_S = 0.15  # how long the header lights up on each beat
MIN_TIMED = 4  # notes timed against the click before their mean offset is shown
_OPEN_STRINGS = (("E2", 40), ("A2", 45), ("D3", 50), ("G3", 55), ("B3", 59), ("E4", 64))


def tuner(
    snapshot: LiveSnapshot | None, *, lowest_midi: int = 36, a4_hz: float = 440.0
) -> TunerScreen:
    """The note heard, how far off it is, and the open string nearest to it."""
    near = None
    if snapshot and snapshot.freq_hz:
        near = nearest_string(snapshot.freq_hz, lowest_midi=lowest_midi, a4_hz=a4_hz)
    return TunerScreen(
        snapshot.note_name if snapshot else None,
        snapshot.cents if snapshot else None,
        snapshot.freq_hz if snapshot else None,
        near,
    )


def practice(
    snapshot: LiveSnapshot | None,
    settings: PracticeSettings,
    *,
    stream_s: float,
    tip: str | None,
    tip_page: int,
    paused: bool,
    buttons_missing: bool = False,
    clicks_heard: bool = False,
) -> PracticeScreen:
    """A session in progress: the window's scores, the note being played, the tip line.
    With ``buttons_missing`` the tip line says so while there is no tip to show. The
    metronome's beat flashes for :data:`BEAT_FLASH_S`; with ``clicks_heard`` (the phase is
    the click's, not a guess) the recent notes' mean offset to it follows the tip."""
    window = snapshot.window if snapshot and snapshot.session_id else None
    beat = snapshot.beat if snapshot and not paused else None
    return PracticeScreen(
        elapsed_s=float(int(stream_s)),  # the screen shows m:ss
        pitch=window.pitch_accuracy if window else None,
        scale=window.scale_conformity if window else None,
        timing=window.timing_stability if window else None,
        note_name=snapshot.note_name if snapshot else None,
        cents=snapshot.cents if snapshot else None,
        in_scale=snapshot.in_scale if snapshot else None,
        tip=_or_no_buttons(tip, buttons_missing),
        tip_page=tip_page,
        paused=paused,
        bpm=settings.bpm,
        scale_name=settings.scale.short_name,  # "Am pent": the header has room for no more
        beat=beat.of_bar if beat is not None and beat.since_s < BEAT_FLASH_S else 0,
        count_in=-beat.number if beat is not None and beat.number < 0 else 0,
        timing_note=timing_note(window) if clicks_heard else None,
    )


def timing_note(scores: Scores | None) -> str | None:
    """ "You rush by 18 ms": the mean offset to the click, once enough notes were timed."""
    if scores is None or scores.mean_offset_ms is None or scores.timed_intervals < MIN_TIMED:
        return None
    words = describe_offset(scores.mean_offset_ms)
    return words[0].upper() + words[1:]


def summary(
    scores: Scores | None,
    *,
    duration_s: float,
    sync_state: str,
    tip: str | None,
    tip_page: int,
    buttons_missing: bool = False,
    clicks_heard: bool = False,
) -> SummaryScreen:
    """A finished session: its scores, notes, length and where it is on its way to the Hub.
    With ``buttons_missing`` the tip line says so while there is no summary to show."""
    return SummaryScreen(
        pitch=scores.pitch_accuracy if scores else None,
        scale=scores.scale_conformity if scores else None,
        timing=scores.timing_stability if scores else None,
        notes_total=scores.counts.total_notes if scores else 0,
        notes_in_scale=scores.counts.in_scale_notes if scores else 0,
        duration_s=duration_s,
        sync_state=sync_state,
        tip=_or_no_buttons(tip, buttons_missing),
        tip_page=tip_page,
        timing_note=timing_note(scores) if clicks_heard else None,
    )


def _or_no_buttons(tip: str | None, buttons_missing: bool) -> str | None:
    return tip if tip or not buttons_missing else NO_BUTTONS


def suggestion(rec: Recommendation) -> StatusScreen:
    """AI mode's suggestion for the next session, until a press dismisses it."""
    return StatusScreen(
        "AI coach suggests",
        (rec.scale.name, f"Focus: {rec.focus_area}", short_reason(rec), "START to play it"),
    )


def home(
    settings: PracticeSettings,
    *,
    sync_pending: int,
    sync_rejected: int,
    hub_configured: bool,
    clock_waits: bool,
    hub_note: str | None = None,
    turn: int = 0,
    buttons_missing: bool = False,
) -> HomeScreen:
    """Idle: what the next session will use and how syncing goes. The bottom line shows
    :data:`HOME_HINTS` in turn (``turn`` counts up), or :data:`NO_BUTTONS` instead when
    ``buttons_missing``, and, when ``clock_waits``, also says that sessions wait for the
    clock to be synced. ``hub_note`` ("not paired", "re-pair") replaces the sync counts,
    and the hints then also say where pairing is."""
    hints = (NO_BUTTONS,) if buttons_missing else HOME_HINTS
    if clock_waits:
        hints = (*hints, CLOCK_HINT)
    if hub_note is not None and not buttons_missing:
        hints = (*hints, PAIR_HINT)  # settings → Hub line → FEEDBACK
    return HomeScreen(
        scale_name=settings.scale.name,
        bpm=settings.bpm,
        metrics=settings.metrics,
        sync_pending=sync_pending,
        sync_rejected=sync_rejected,
        hub_configured=hub_configured,
        hint=hints[turn % len(hints)],
        hub_note=hub_note,
    )


def tempo(bpm: float | None, *, taps: int) -> TempoScreen:
    """The tempo screen: the next session's tempo (None: free) and the taps counted."""
    return TempoScreen(None if bpm is None else float(round(bpm)), taps)


def settings(
    values: Mapping[str, float], *, selected: int, hub: str | None = None
) -> SettingsScreen:
    """The settings screen: ``values`` by config key, one row per ``keymap.SETTINGS``, and
    with ``hub`` (how the device stands with the Hub: "not paired", "paired", "re-pair") a
    last line that FEEDBACK pairs from."""
    rows = tuple((s.label, s.shown(values[s.key])) for s in SETTINGS)
    if hub is None:
        return SettingsScreen(rows, selected % len(rows))
    index = len(rows)
    selected %= index + 1
    shown = "FEEDBACK: pair" if selected == index else hub
    return SettingsScreen((*rows, ("Hub", shown)), selected, frozenset({index}))


def pairing(state: PairingState | None) -> PairingScreen | StatusScreen:
    """Pairing from the device: the code and the QR code of the link while the Hub waits
    for the player to approve; then a status screen saying it worked or what to do."""
    if state is None or state.phase == "starting":
        return PairingScreen(None)
    if state.phase == "waiting" and state.user_code:
        return PairingScreen(state.user_code, _qr(state.verification_uri_complete or ""))
    if state.phase == "paired":
        return StatusScreen("Paired", ("Sessions now sync", "to your Hub account", "START: home"))
    lines = text_pages(state.message or "pairing failed", 21)[:3]
    return StatusScreen("Pairing failed", (*lines, "START: home")[:4], level="error")


@lru_cache(maxsize=4)
def _qr(uri: str) -> tuple[tuple[bool, ...], ...]:
    """The link's QR code, or none when it is too long for the screen (the code alone is
    shown, to type on the Hub's page)."""
    try:
        return tuple(tuple(row) for row in qr_matrix(uri))
    except ValueError:
        return ()


def short_reason(rec: Recommendation, limit: int = 21) -> str:
    """One screen line: the model's first words, or what the rule-based pick trains."""
    if rec.source != "model":
        return _FOCUS_LINES.get(rec.focus_area, "")
    first = rec.reasoning.split(". ")[0].strip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def nearest_string(freq_hz: float, *, lowest_midi: int = 36, a4_hz: float = 440.0) -> str:
    """The open string nearest to ``freq_hz``, as ``"E4"``; the tuner screen adds the word
    "string". Standard tuning's six, and the guitar's lowest note when it is set under C2
    (``practice.lowest_note``: a B-standard or 7-string low B1 was called "E2")."""
    midi = 69 + 12 * math.log2(freq_hz / a4_hz)
    strings = _OPEN_STRINGS
    if lowest_midi < 36:
        strings = ((note_name(lowest_midi), lowest_midi), *_OPEN_STRINGS)
    name, _ = min(strings, key=lambda s: abs(s[1] - midi))
    return name
