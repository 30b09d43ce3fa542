"""The button keymap: every (screen, button, long press) cell, its README table and handlers.

Pure: no threads, no clocks, no sleeps. The expected cells are written out here, apart
from the keymap, so a change to what a button does is a change to this file too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coach.live import INTERVAL_CHOICES
from device import keymap
from device.audio import ToneSource
from device.buttons import BUTTON_NAMES, DEFAULT_KEYMAP
from device.config import DEVICE_SETTING_KEYS, Config
from device.daemon import Daemon
from device.keymap import SCREENS, Action, action_for, screen_of
from device.session import State
from dsp import parse_scale
from sync.store import Store
from tests.conftest import REPO

A = Action
_ = None  # the press does nothing there
# (button, long) → the action on: home, tempo, settings, pairing, suggestion, practising,
# paused, summary, tuner
EXPECTED: dict[tuple[str, bool], tuple[Action | None, ...]] = {
    ("start", False): (
        A.START,
        A.HOME,
        A.HOME,
        A.HOME,
        A.PLAY_SUGGESTION,
        A.PAUSE,
        A.RESUME,
        A.HOME,
        _,
    ),
    ("start", True): (A.SETTINGS, A.HOME, A.HOME, A.HOME, A.DISMISS, A.STOP, A.STOP, A.HOME, _),
    ("select", False): (
        A.NEXT_ROOT,
        A.TEMPO_DOWN,
        A.SETTING_DOWN,
        _,
        A.DISMISS,
        *[A.NEXT_TIP_LINE] * 3,
        _,
    ),
    ("select", True): (
        A.NEXT_SCALE_TYPE,
        A.TEMPO_DOWN_5,
        A.SETTING_DOWN,
        _,
        A.DISMISS,
        *[A.NEXT_TIP_LINE] * 3,
        _,
    ),
    ("mode", False): (
        A.TEMPO,
        A.TAP,
        A.NEXT_SETTING,
        _,
        A.DISMISS,
        A.NEXT_TIP_INTERVAL,
        A.NEXT_TIP_INTERVAL,
        _,
        _,
    ),
    ("mode", True): (A.TUNER, A.FREE_TEMPO, A.PREVIOUS_SETTING, _, A.DISMISS, _, _, _, A.TUNER),
    ("feedback", False): (
        A.NEXT_METRICS,
        A.TEMPO_UP,
        A.SETTING_UP,
        _,
        A.DISMISS,
        *[A.THUMBS_UP] * 3,
        _,
    ),
    ("feedback", True): (
        A.AI_MODE,
        A.TEMPO_UP_5,
        A.SETTING_UP,
        _,
        A.DISMISS,
        *[A.THUMBS_DOWN] * 3,
        _,
    ),
}
CELLS = [
    (screen, button, long, actions[i])
    for (button, long), actions in EXPECTED.items()
    for i, screen in enumerate(SCREENS)
]


@pytest.mark.parametrize(("screen", "button", "long", "expected"), CELLS)
def test_each_press_on_each_screen(
    screen: keymap.Screen, button: str, long: bool, expected: Action | None
) -> None:
    assert action_for(screen, button, long=long) is expected


def test_the_keymap_has_no_cell_outside_the_screens_and_buttons() -> None:
    assert len(CELLS) == len(SCREENS) * len(BUTTON_NAMES) * 2
    assert {(s, b, long) for s, b, long, a in CELLS if a is not None} == set(keymap.KEYMAP)
    assert set(keymap.KEYMAP.values()) == set(Action)  # no action without a press


def test_the_screen_the_buttons_act_on() -> None:
    assert screen_of(State.IDLE, suggestion=False) == "home"
    assert screen_of(State.IDLE, suggestion=True) == "suggestion"
    editors: tuple[keymap.Editor, ...] = ("tempo", "settings")
    for editor in editors:  # open over home, and before a suggestion
        assert screen_of(State.IDLE, suggestion=True, editor=editor) == editor
    assert screen_of(State.PRACTISING, suggestion=False, editor="tempo") == "practising"
    for state in (State.PRACTISING, State.PAUSED, State.SUMMARY, State.TUNER):
        assert screen_of(state, suggestion=True) == state.value  # only home shows one


def test_the_readme_table_is_the_keymap() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- buttons:begin[^>]*-->\n(.*?)\n<!-- buttons:end -->", readme, re.S)
    assert found, "README.md has no <!-- buttons:begin --> … <!-- buttons:end --> block"
    assert found.group(1) == keymap.readme_table(), (
        "the README's button table is stale: paste `python -m device.keymap` between its markers"
    )


def test_the_readme_names_the_simulator_keys() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key, button in DEFAULT_KEYMAP.items():
        if not key.isspace():
            assert f"`{key}` {button}" in readme


def test_every_action_has_one_handler_in_the_daemon(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        daemon = Daemon(Config(), source=ToneSource(realtime=False), store=store)
        assert set(daemon.actions) == set(Action)


def test_the_tempo_steps_by_whole_bpm_within_40_to_240() -> None:
    assert keymap.step_tempo(90.0, 1) == 91.0
    assert keymap.step_tempo(90.0, -5) == 85.0
    assert keymap.step_tempo(92.4, 5) == 97.0  # a configured 92.4 steps from 92
    assert keymap.step_tempo(238.0, 5) == 240.0 and keymap.step_tempo(240.0, 1) == 240.0
    assert keymap.step_tempo(42.0, -5) == 40.0 and keymap.step_tempo(40.0, -1) == 40.0
    assert keymap.step_tempo(400.0, 0) == 240.0  # a config's 400 is played at 240


def test_a_step_from_free_tempo_lands_on_the_last_tempo_unstepped() -> None:
    assert keymap.step_tempo(None, 1, last=72.0) == 72.0
    assert keymap.step_tempo(None, -5) == keymap.DEFAULT_BPM == 100
    assert keymap.step_tempo(None, 1, last=20.0) == 40.0


def test_tap_tempo_is_the_median_interval_of_the_last_taps() -> None:
    taps: tuple[float, ...] = ()
    tempos = []
    for at in (10.0, 10.5, 11.0, 11.5):  # 120 bpm
        taps = keymap.add_tap(taps, at)
        tempos.append(keymap.tap_tempo(taps))
    assert tempos == [None, None, 120.0, 120.0]  # two intervals before a tempo is set
    # One fumbled tap among steady ones at 0.6 s (100 bpm): the median ignores it.
    assert keymap.tap_tempo((0.0, 0.6, 1.2, 1.5)) == 100.0  # intervals .6 .6 .3
    assert keymap.tap_tempo((0.0, 0.6, 1.3, 1.9)) == 100.0  # intervals .6 .7 .6
    # Only the last four taps count: a slow start is forgotten once the player settles.
    taps = ()
    for at in (0.0, 1.0, 2.0, 2.5, 3.0, 3.5):
        taps = keymap.add_tap(taps, at)
    assert taps == (2.0, 2.5, 3.0, 3.5) and keymap.tap_tempo(taps) == 120.0


def test_taps_more_than_2_s_apart_restart_the_count() -> None:
    taps = keymap.add_tap(keymap.add_tap((), 0.0), 0.5)
    assert keymap.add_tap(taps, 2.5) == (0.0, 0.5, 2.5)  # exactly 2 s: still the same count
    restarted = keymap.add_tap(taps, 2.51)
    assert restarted == (2.51,) and keymap.tap_tempo(restarted) is None
    assert keymap.add_tap(taps, 0.4) == (0.4,)  # a clock that went back: a new count too


def test_tap_tempo_is_clamped_to_the_metronome_s_range() -> None:
    assert keymap.tap_tempo((0.0, 0.1, 0.2)) == 240.0  # 600 bpm
    assert keymap.tap_tempo((0.0, 1.9, 3.8)) == 40.0  # 31.6 bpm


def test_the_settings_screen_sets_what_the_device_remembers() -> None:
    assert [s.key for s in keymap.SETTINGS] == list(DEVICE_SETTING_KEYS)
    assert keymap.SETTINGS[-1].choices == INTERVAL_CHOICES


@pytest.mark.parametrize(
    ("index", "value", "step", "expected"),
    [
        (0, 0.5, 1, 0.6),
        (0, 0.5, -1, 0.4),
        (0, 1.0, 1, 1.0),  # no wrap from one end to the other
        (1, 0.0, -1, 0.0),
        (0, 0.55, 1, 0.6),  # a config file's value between two steps: the neighbour
        (0, 0.55, -1, 0.5),
        (0, 0.52, 0, 0.5),
        (4, 60.0, 1, 120.0),
        (4, 300.0, 1, 300.0),
        (4, 30.0, -1, 30.0),
        (2, 0.5, 1, 0.6),  # the click's volume
        (3, 4.0, -1, 3.0),  # beats a bar
        (3, 12.0, 1, 12.0),
    ],
)
def test_a_setting_steps_through_its_choices(
    index: int, value: float, step: int, expected: float
) -> None:
    assert keymap.step_setting(keymap.SETTINGS[index], value, step) == pytest.approx(expected)


def test_the_metrics_step_through_all_then_pairs_then_one() -> None:
    metrics = ("pitch", "scale", "timing")
    seen = []
    for _step in range(7):
        metrics = keymap.next_metrics(metrics)
        seen.append(metrics)
    assert seen[0] == ("pitch", "scale") and seen[-1] == ("pitch", "scale", "timing")
    assert len(set(seen)) == 7
    assert keymap.next_metrics(("timing", "pitch")) == ("scale", "timing")  # order-blind


def test_the_tip_interval_steps_through_the_coach_s_choices() -> None:
    assert keymap.next_tip_interval(30.0) == 60.0
    assert keymap.next_tip_interval(300.0) == 30.0
    assert keymap.next_tip_interval(45.0) == INTERVAL_CHOICES[0]
    assert Action.NEXT_TIP_INTERVAL.value == "a tip every 30 / 60 / 120 / 300 s"


def test_root_and_scale_type_steps() -> None:
    scale = parse_scale("A minor pentatonic")
    assert keymap.next_root(scale).name == "A# minor pentatonic"
    assert keymap.next_root(parse_scale("G# major")).name.startswith("A ")
    stepped = keymap.next_scale_type(scale)
    assert stepped.spelled_root == scale.spelled_root
    assert stepped.type.key != scale.type.key
