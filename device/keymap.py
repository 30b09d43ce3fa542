"""What each button press does on each screen: one frozen table, looked up by the daemon.

A new button action is a member of :class:`Action` (its value is what the README says it
does), its cells in :data:`KEYMAP`, and its handler in ``Daemon.actions``;
``tests/test_keymap.py`` fails until all three agree and the README's table is the one
``python -m device.keymap`` prints.
"""

from __future__ import annotations

import enum
import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from coach.live import INTERVAL_CHOICES
from device.buttons import BUTTON_NAMES
from device.config import ButtonsConfig
from device.session import State
from dsp import METRICS, SCALE_TYPES
from dsp.notes import SHARP_NAMES
from dsp.scales import Scale

# What the buttons act on. "suggestion" is the home screen while the AI coach's suggestion
# is shown; "tempo" and "settings" are opened from the home screen and go back to it, and
# "pairing" from the settings screen's Hub line. The "No interface" warning changes
# nothing: the buttons act on the state below.
Screen = Literal[
    "home",
    "tempo",
    "settings",
    "pairing",
    "suggestion",
    "practising",
    "paused",
    "summary",
    "tuner",
]
Editor = Literal["tempo", "settings", "pairing"]
SCREENS: tuple[Screen, ...] = get_args(Screen)
SCREEN_TITLES: Mapping[Screen, str] = MappingProxyType(
    {
        "home": "home",
        "tempo": "tempo",
        "settings": "settings",
        "pairing": "pairing",
        "suggestion": "AI suggestion",
        "practising": "practising",
        "paused": "paused",
        "summary": "summary",
        "tuner": "tuner",
    }
)

MIN_BPM, MAX_BPM = 40, 240  # the metronome's range
DEFAULT_BPM = 100  # where the first step from free tempo lands
TAP_RESTART_S = 2.0  # a tap this long after the last one starts a new count (30 bpm)
TAP_KEEP = 4  # the tempo is the median of the last 3 intervals: one fumbled tap is ignored
TAPS_TO_SET = 3  # two intervals before a tap tempo is trusted
METRIC_CHOICES: tuple[tuple[str, ...], ...] = (
    ("pitch", "scale", "timing"),
    ("pitch", "scale"),
    ("pitch", "timing"),
    ("scale", "timing"),
    ("pitch",),
    ("scale",),
    ("timing",),
)


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
    TEMPO = "tempo screen (this press is the first tap)"
    SETTINGS = "settings: strictness, sensitivity, click, tips"
    TEMPO_DOWN = f"tempo −1 bpm (down to {MIN_BPM})"
    TEMPO_DOWN_5 = "tempo −5 bpm"
    TEMPO_UP = f"tempo +1 bpm (up to {MAX_BPM})"
    TEMPO_UP_5 = "tempo +5 bpm"
    TAP = f"tap the beat: {TAPS_TO_SET}+ taps set the tempo"
    FREE_TEMPO = "free tempo (no metronome) / back to the last tempo"
    NEXT_SETTING = "next setting"
    PREVIOUS_SETTING = "previous setting"
    SETTING_DOWN = "lower the setting"
    SETTING_UP = "raise the setting (Hub: pair)"
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
        ("start", True): Action.SETTINGS,
        ("select", False): Action.NEXT_ROOT,
        ("select", True): Action.NEXT_SCALE_TYPE,
        ("mode", False): Action.TEMPO,
        ("mode", True): Action.TUNER,
        ("feedback", False): Action.NEXT_METRICS,
        ("feedback", True): Action.AI_MODE,
    },
    # On both editors SELECT lowers and FEEDBACK raises, START goes back home (what was set
    # is kept), and MODE is the odd one out: tap the beat, or go to the next setting.
    "tempo": {
        ("start", False): Action.HOME,
        ("start", True): Action.HOME,
        ("select", False): Action.TEMPO_DOWN,
        ("select", True): Action.TEMPO_DOWN_5,
        ("mode", False): Action.TAP,
        ("mode", True): Action.FREE_TEMPO,
        ("feedback", False): Action.TEMPO_UP,
        ("feedback", True): Action.TEMPO_UP_5,
    },
    "settings": {
        ("start", False): Action.HOME,
        ("start", True): Action.HOME,
        ("select", False): Action.SETTING_DOWN,
        ("select", True): Action.SETTING_DOWN,
        ("mode", False): Action.NEXT_SETTING,
        ("mode", True): Action.PREVIOUS_SETTING,
        ("feedback", False): Action.SETTING_UP,
        ("feedback", True): Action.SETTING_UP,
    },
    # Pairing shows a code until the Hub says yes; START gives up and goes home.
    "pairing": {("start", False): Action.HOME, ("start", True): Action.HOME},
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


def screen_of(state: State, *, suggestion: bool, editor: Editor | None = None) -> Screen:
    """The screen the buttons act on, from the daemon's state, whether a suggestion shows
    and which editor (tempo or settings) is open over the home screen."""
    if state is State.IDLE:
        if editor is not None:
            return editor
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


def clamp_tempo(bpm: float) -> float:
    """``bpm`` as the metronome can play it: whole bpm from :data:`MIN_BPM` to :data:`MAX_BPM`."""
    return float(min(max(round(bpm), MIN_BPM), MAX_BPM))


def step_tempo(bpm: float | None, step: int, *, last: float | None = None) -> float:
    """``bpm`` moved by ``step`` bpm and clamped. From free tempo (None) a step lands on
    ``last`` (the tempo set before going free), else :data:`DEFAULT_BPM`, unstepped."""
    if bpm is None:
        return clamp_tempo(last if last is not None else DEFAULT_BPM)
    return clamp_tempo(round(bpm) + step)


def add_tap(taps: Sequence[float], at: float) -> tuple[float, ...]:
    """The tap times of the count in progress after a tap at ``at`` (monotonic seconds): a
    tap over :data:`TAP_RESTART_S` after the last one (or before it) starts a new count,
    and only the last :data:`TAP_KEEP` taps are kept."""
    if taps and not 0.0 < at - taps[-1] <= TAP_RESTART_S:
        return (at,)
    return (*taps, at)[-TAP_KEEP:]


def tap_tempo(taps: Sequence[float]) -> float | None:
    """The tempo the taps give, clamped to the metronome's range: 60 s over the median
    interval between them. None until :data:`TAPS_TO_SET` taps have been counted."""
    if len(taps) < TAPS_TO_SET:
        return None
    intervals = [b - a for a, b in itertools.pairwise(taps)]
    return clamp_tempo(60.0 / statistics.median(intervals))


def next_metrics(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """Which metrics are scored: all three, then each pair, then each alone."""
    current = tuple(m for m in METRICS if m in metrics)
    index = METRIC_CHOICES.index(current) if current in METRIC_CHOICES else -1
    return METRIC_CHOICES[(index + 1) % len(METRIC_CHOICES)]


def next_tip_interval(interval_s: float) -> float:
    """How often the coach speaks up: the next of ``coach.live.INTERVAL_CHOICES``."""
    index = INTERVAL_CHOICES.index(interval_s) if interval_s in INTERVAL_CHOICES else -1
    return INTERVAL_CHOICES[(index + 1) % len(INTERVAL_CHOICES)]


# -- the settings screen -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """One line of the settings screen: the config key it sets and the values it steps
    through, lowest first (a press never wraps round from one end to the other)."""

    key: str
    label: str
    choices: tuple[float, ...]
    unit: str = ""
    factor: float = 1.0  # shown × this: a volume of 0.5 reads "50 %"

    def shown(self, value: float) -> str:
        return f"{value * self.factor:g}{self.unit}"


_TENTHS = tuple(i / 10 for i in range(11))
SETTINGS: tuple[Setting, ...] = (
    Setting("practice.strictness", "Strictness", _TENTHS),
    Setting("practice.sensitivity", "Sensitivity", _TENTHS),
    Setting("metronome.volume", "Click", _TENTHS, " %", 100.0),
    Setting("metronome.beats_per_bar", "Beats a bar", tuple(float(n) for n in range(1, 13))),
    Setting("coach.interval_s", "Tips every", INTERVAL_CHOICES, " s"),
)
"""What the settings screen sets, in its order. Each value is remembered on the device
(``device.config.remember_setting``); :data:`device.config.DEVICE_SETTING_KEYS` lists the
same keys."""


def step_setting(setting: Setting, value: float, step: int) -> float:
    """``value`` moved ``step`` choices along ``setting.choices``, stopping at either end.
    A value between two choices (from the config file) moves to the neighbour in that
    direction, or, for no step, to the nearest."""
    choices = setting.choices
    if step == 0:
        return min(choices, key=lambda c: abs(c - value))
    if step > 0:
        above = [i for i, c in enumerate(choices) if c > value + 1e-9]
        index = above[0] + step - 1 if above else len(choices) - 1
    else:
        below = [i for i, c in enumerate(choices) if c < value - 1e-9]
        index = below[-1] + step + 1 if below else 0
    return choices[min(max(index, 0), len(choices) - 1)]


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
