"""What each button press does on each screen: one frozen table, looked up by the daemon.

A new button action is a member of :class:`Action` (its value is what the README says it
does), its cells in :data:`KEYMAP`, and its handler in ``Daemon.actions``;
``tests/test_keymap.py`` fails until all three agree and the README's table is the one
``python -m device.keymap`` prints.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from coach.live import INTERVAL_CHOICES
from device.buttons import BUTTON_NAMES
from device.config import ButtonsConfig
from device.session import State
from dsp import METRICS, SCALE_TYPES
from dsp.notes import SHARP_NAMES
from dsp.scales import Scale

# What the buttons act on. "suggestion" is the home screen while the AI coach's suggestion
# is shown; the "No interface" warning changes nothing: the buttons act on the state below.
Screen = Literal["home", "suggestion", "practising", "paused", "summary", "tuner"]
SCREENS: tuple[Screen, ...] = ("home", "suggestion", "practising", "paused", "summary", "tuner")
SCREEN_TITLES: Mapping[Screen, str] = MappingProxyType(
    {
        "home": "home",
        "suggestion": "AI suggestion",
        "practising": "practising",
        "paused": "paused",
        "summary": "summary",
        "tuner": "tuner",
    }
)

TEMPO_CHOICES: tuple[float | None, ...] = (None, 60.0, 80.0, 100.0, 120.0, 140.0, 160.0)
METRIC_CHOICES: tuple[tuple[str, ...], ...] = (
    ("pitch", "scale", "timing"),
    ("pitch", "scale"),
    ("pitch", "timing"),
    ("scale", "timing"),
    ("pitch",),
    ("scale",),
    ("timing",),
)


def _tempos() -> str:
    first, *_, last = (f"{bpm:g}" for bpm in TEMPO_CHOICES if bpm is not None)
    return f"free, {first} … {last} bpm"


class Action(enum.Enum):
    """What a press does; the value is how the README's table says it."""

    START = "start a session"
    PLAY_SUGGESTION = "play it"
    DISMISS = "dismiss it"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop the session"
    HOME = "back to home"
    NEXT_ROOT = "next scale root"
    NEXT_SCALE_TYPE = "next scale type"
    NEXT_TEMPO = f"next tempo: {_tempos()}"
    TUNER = "tuner on / off"
    NEXT_TIP_LINE = "next line of the tip"
    NEXT_TIP_INTERVAL = f"a tip every {' / '.join(f'{s:g}' for s in INTERVAL_CHOICES)} s"
    NEXT_METRICS = "next set of metrics"
    AI_MODE = "AI mode: suggest the next session"
    THUMBS_UP = "thumbs up on the tip"
    THUMBS_DOWN = "thumbs down on the tip"


def _live(start: Action) -> dict[tuple[str, bool], Action]:
    """Practising and paused differ only in what a short START does."""
    return {
        ("start", False): start,
        ("start", True): Action.STOP,
        ("select", False): Action.NEXT_TIP_LINE,
        ("select", True): Action.NEXT_TIP_LINE,
        ("mode", False): Action.NEXT_TIP_INTERVAL,
        ("feedback", False): Action.THUMBS_UP,
        ("feedback", True): Action.THUMBS_DOWN,
    }


_BY_SCREEN: dict[Screen, dict[tuple[str, bool], Action]] = {
    "home": {
        ("start", False): Action.START,
        ("select", False): Action.NEXT_ROOT,
        ("select", True): Action.NEXT_SCALE_TYPE,
        ("mode", False): Action.NEXT_TEMPO,
        ("mode", True): Action.TUNER,
        ("feedback", False): Action.NEXT_METRICS,
        ("feedback", True): Action.AI_MODE,
    },
    # START plays the suggestion; any other press, a long START too, only dismisses it.
    "suggestion": {
        (button, long): Action.PLAY_SUGGESTION
        if (button, long) == ("start", False)
        else Action.DISMISS
        for button in BUTTON_NAMES
        for long in (False, True)
    },
    "practising": _live(Action.PAUSE),
    "paused": _live(Action.RESUME),
    "summary": {
        ("start", False): Action.HOME,
        ("start", True): Action.HOME,
        ("select", False): Action.NEXT_TIP_LINE,
        ("select", True): Action.NEXT_TIP_LINE,
        ("feedback", False): Action.THUMBS_UP,
        ("feedback", True): Action.THUMBS_DOWN,
    },
    "tuner": {("mode", True): Action.TUNER},
}

KEYMAP: Mapping[tuple[Screen, str, bool], Action] = MappingProxyType(
    {
        (screen, button, long): action
        for screen, cells in _BY_SCREEN.items()
        for (button, long), action in cells.items()
    }
)
"""(screen, button, long press) → action; a press missing here does nothing."""


def screen_of(state: State, *, suggestion: bool) -> Screen:
    """The screen the buttons act on, from the daemon's state and whether a suggestion shows."""
    if state is State.IDLE:
        return "suggestion" if suggestion else "home"
    screens: dict[State, Screen] = {
        State.PRACTISING: "practising",
        State.PAUSED: "paused",
        State.SUMMARY: "summary",
        State.TUNER: "tuner",
    }
    return screens[state]


def action_for(screen: Screen, button: str, *, long: bool) -> Action | None:
    """What pressing ``button`` (held when ``long``) does on ``screen``; None: nothing."""
    return KEYMAP.get((screen, button, long))


# -- the choices the home screen's and the live screen's presses step through ------------


def next_root(scale: Scale) -> Scale:
    """The same scale type a semitone up."""
    return Scale.of(SHARP_NAMES[(scale.root_pc + 1) % 12], scale.type.key)


def next_scale_type(scale: Scale) -> Scale:
    """The next scale type (``dsp.SCALE_TYPES`` order) on the same root."""
    keys = list(SCALE_TYPES)
    return Scale.of(scale.spelled_root, keys[(keys.index(scale.type.key) + 1) % len(keys)])


def next_tempo(bpm: float | None) -> float | None:
    """Free (no metronome), then 60 to 160 bpm in steps of 20, then free again."""
    index = TEMPO_CHOICES.index(bpm) if bpm in TEMPO_CHOICES else 0
    return TEMPO_CHOICES[(index + 1) % len(TEMPO_CHOICES)]


def next_metrics(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """Which metrics are scored: all three, then each pair, then each alone."""
    current = tuple(m for m in METRICS if m in metrics)
    index = METRIC_CHOICES.index(current) if current in METRIC_CHOICES else -1
    return METRIC_CHOICES[(index + 1) % len(METRIC_CHOICES)]


def next_tip_interval(interval_s: float) -> float:
    """How often the coach speaks up: the next of ``coach.live.INTERVAL_CHOICES``."""
    index = INTERVAL_CHOICES.index(interval_s) if interval_s in INTERVAL_CHOICES else -1
    return INTERVAL_CHOICES[(index + 1) % len(INTERVAL_CHOICES)]


# -- the README's table -------------------------------------------------------------------


def readme_table() -> str:
    """The README's button table (between its ``buttons:`` markers), from :data:`KEYMAP`."""
    defaults = ButtonsConfig()
    pins = {name: getattr(defaults, f"{name}_pin") for name in BUTTON_NAMES}
    hold = f"long ({defaults.long_press_ms / 1000:g} s)"
    header = ["button", "pin", "press", *(SCREEN_TITLES[s] for s in SCREENS)]
    rows = [header, ["---"] * len(header)]
    for button in BUTTON_NAMES:
        for long in (False, True):
            cells = [action_for(s, button, long=long) for s in SCREENS]
            rows.append(
                [
                    "" if long else button,
                    "" if long else str(pins[button]),
                    hold if long else "short",
                    *(a.value if a is not None else "–" for a in cells),
                ]
            )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


if __name__ == "__main__":
    print(readme_table())
