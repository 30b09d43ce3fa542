"""What each screen shows: one frozen dataclass per screen, built by the daemon.

A state holds exactly what is drawn, already in display units, so two equal states
render to the same pixels and the display worker can skip a redraw by comparing states.
Scores are 0–1 as ``dsp.scoring`` reports them and ``None`` when a metric is switched off
or has too few notes to judge; the screens draw ``None`` as "–".

Round live values to what the screen can show before building a state (elapsed time to
whole seconds, cents to whole cents): unchanged screens are then caught by a cheap state
comparison instead of a render.
"""

from __future__ import annotations

from dataclasses import dataclass

SYNC_STATES = ("queued", "synced", "offline", "rejected")
LEVELS = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class HomeScreen:
    """Idle: the scale and tempo the next session will use, and how syncing is going."""

    scale_name: str
    bpm: float | None
    metrics: tuple[str, ...]
    sync_pending: int
    sync_rejected: int
    hub_configured: bool
    hint: str = "Press START to play"
    hub_note: str | None = None  # "not paired", "re-pair": in place of the sync counts


@dataclass(frozen=True, slots=True)
class TempoScreen:
    """Setting the next session's tempo: ``bpm`` (None: free, no metronome) and how many
    taps the count in progress has (0: none; from 3 the taps set ``bpm``)."""

    bpm: float | None
    taps: int = 0


@dataclass(frozen=True, slots=True)
class SettingsScreen:
    """The device's settings: one (label, value as shown) row each, ``selected`` the one
    SELECT and FEEDBACK change. Rows beyond the screen's three scroll into view."""

    rows: tuple[tuple[str, str], ...]
    selected: int = 0
    actions: frozenset[int] = frozenset()  # rows FEEDBACK acts on (drawn without − +)


@dataclass(frozen=True, slots=True)
class PairingScreen:
    """Pairing with the Hub from the device: the QR code of the link with the code in it
    (rows of modules, True = dark; empty while the Hub is asked for a code) and the code to
    type on the Hub's page."""

    user_code: str | None
    qr: tuple[tuple[bool, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class PracticeScreen:
    """A session in progress: live scores, the note being played, a coach tip.

    ``tip_page`` picks one line of the word-wrapped tip (see ``display.render.text_pages``)
    and wraps around, so the daemon pages a long tip by counting up from 0 when the tip
    appears; ``timing_note`` (the mean offset to the click) follows the tip's pages.
    ``scale_name`` is the header's short form (``Scale.short_name``, "Am pent"): beside
    the tempo and the clock there is room for about 11 characters.
    """

    elapsed_s: float
    pitch: float | None
    scale: float | None
    timing: float | None
    note_name: str | None
    cents: float | None
    in_scale: bool | None
    tip: str | None
    tip_page: int = 0
    paused: bool = False
    bpm: float | None = None
    scale_name: str = ""
    beat: int = 0  # the metronome's beat of the bar (from 1) while it flashes; 0 between
    count_in: int = 0  # beats left of the count-in (drawn big instead of the note); 0 none
    timing_note: str | None = None  # "You rush by 18 ms": the tip line's last page


@dataclass(frozen=True, slots=True)
class TunerScreen:
    """Tuner mode: the note, how far off it is, and the open string it is nearest to
    (``"E4"``; drawn as "E4 string")."""

    note_name: str | None
    cents: float | None
    freq_hz: float | None
    nearest_string: str | None


@dataclass(frozen=True, slots=True)
class SummaryScreen:
    """After a session: scores, notes, duration and where the session is on its way to the Hub.

    ``sync_state`` is one of ``SYNC_STATES``; anything else is shown as written, so a new
    state upstream shows up as text instead of crashing the display. ``tip_page`` works as
    on :class:`PracticeScreen`.
    """

    pitch: float | None
    scale: float | None
    timing: float | None
    notes_total: int
    notes_in_scale: int
    duration_s: float
    sync_state: str
    tip: str | None
    tip_page: int = 0
    timing_note: str | None = None  # as on PracticeScreen


@dataclass(frozen=True, slots=True)
class StatusScreen:
    """Something the player should know or fix, e.g. "No interface" / "Plug in your USB
    audio interface". ``level`` is one of ``LEVELS`` and picks the icon (unknown: info)."""

    title: str
    lines: tuple[str, ...]
    level: str = "info"


@dataclass(frozen=True, slots=True)
class StoppedScreen:
    """The deliberate last frame left on the OLED when the daemon stops."""

    message: str = "FretCoach stopped"


ScreenState = (
    HomeScreen
    | TempoScreen
    | SettingsScreen
    | PairingScreen
    | PracticeScreen
    | TunerScreen
    | SummaryScreen
    | StatusScreen
    | StoppedScreen
)
