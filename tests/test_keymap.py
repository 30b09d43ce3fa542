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
from device.config import Config
from device.daemon import Daemon
from device.keymap import SCREENS, Action, action_for, screen_of
from device.session import State
from dsp import parse_scale
from sync.store import Store
from tests.conftest import REPO

A = Action
_ = None  # the press does nothing there
# (button, long) → the action on: home, suggestion, practising, paused, summary, tuner
EXPECTED: dict[tuple[str, bool], tuple[Action | None, ...]] = {
    ("start", False): (A.START, A.PLAY_SUGGESTION, A.PAUSE, A.RESUME, A.HOME, _),
    ("start", True): (_, A.DISMISS, A.STOP, A.STOP, A.HOME, _),
    ("select", False): (A.NEXT_ROOT, A.DISMISS, *[A.NEXT_TIP_LINE] * 3, _),
    ("select", True): (A.NEXT_SCALE_TYPE, A.DISMISS, *[A.NEXT_TIP_LINE] * 3, _),
    ("mode", False): (A.NEXT_TEMPO, A.DISMISS, A.NEXT_TIP_INTERVAL, A.NEXT_TIP_INTERVAL, _, _),
    ("mode", True): (A.TUNER, A.DISMISS, _, _, _, A.TUNER),
    ("feedback", False): (A.NEXT_METRICS, A.DISMISS, *[A.THUMBS_UP] * 3, _),
    ("feedback", True): (A.AI_MODE, A.DISMISS, *[A.THUMBS_DOWN] * 3, _),
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


def test_the_tempo_steps_through_free_and_60_to_160_by_20() -> None:
    seen: list[float | None] = [None]
    for _step in range(7):
        seen.append(keymap.next_tempo(seen[-1]))
    assert seen == [None, 60, 80, 100, 120, 140, 160, None]
    assert keymap.next_tempo(90.0) == 60.0  # a configured tempo off the list: the first


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
