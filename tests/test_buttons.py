"""Buttons: the press state machine on synthetic timelines, gpiozero through its
MockFactory (real gpiozero code paths, a fake clock), and the keyboard backend through
a pipe and a pseudo-terminal. No test asserts a timing: waits are generous timeouts
for behaviour that must happen."""

from __future__ import annotations

import os
import pty
import queue
import termios
import threading

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.buttons import (
    ButtonEvent,
    GpioButtons,
    KeyboardButtons,
    NoButtons,
    PressDetector,
    _gpio_hint,
    open_buttons,
)
from dsp.errors import ButtonsError, DeviceError

WAIT_S = 5.0  # generous: only reached when something is broken


def feed(detector: PressDetector, timeline: list[tuple[float, bool]]) -> list[ButtonEvent]:
    events: list[ButtonEvent] = []
    for at, pressed in timeline:
        events += detector.edge(pressed, at)
    return events


def bouncing(at: float, pressed: bool, gaps_ms: tuple[float, ...] = (3, 2, 4, 1)) -> list:
    """Edges of a contact that chatters before settling on ``pressed``."""
    edges, level = [(at, pressed)], pressed
    for gap in gaps_ms:
        at, level = at + gap / 1000, not level
        edges.append((at, level))
    if level != pressed:
        edges.append((at + 0.001, pressed))
    return edges


# --- PressDetector ---------------------------------------------------------------------


def test_clean_press_is_one_short_press() -> None:
    detector = PressDetector("start")
    events = feed(detector, [(1.0, True), (1.2, False)])
    events += detector.poll(1.3)
    assert events == [ButtonEvent("start", "short", 1.2)]
    assert detector.poll(5.0) == []


def test_bouncing_press_and_release_are_one_short_press() -> None:
    detector = PressDetector("select")
    timeline = bouncing(1.0, True) + bouncing(1.25, False)
    events = feed(detector, timeline)
    for step in range(1, 40):  # polls in between, as the poll thread would
        events += detector.poll(1.0 + step * 0.02)
    assert [(e.button, e.kind) for e in events] == [("select", "short")]


def test_bouncing_without_polls_is_one_short_press() -> None:
    detector = PressDetector("select")
    events = feed(detector, bouncing(1.0, True) + bouncing(1.25, False))
    events += detector.poll(2.0)
    assert [(e.button, e.kind) for e in events] == [("select", "short")]


def test_hold_fires_one_long_press_at_threshold_and_nothing_at_release() -> None:
    detector = PressDetector("mode", long_press_s=0.8)
    events = detector.edge(True, 0.0)
    for step in range(1, 50):  # hold 1 s, polling every 20 ms
        events += detector.poll(step * 0.02)
    assert events == [ButtonEvent("mode", "long", 0.8)]
    released = detector.edge(False, 1.0) + detector.poll(1.1) + detector.poll(2.0)
    assert released == []


def test_long_press_with_bouncing_release_emits_nothing_more() -> None:
    detector = PressDetector("mode")
    events = feed(detector, bouncing(0.0, True))
    events += detector.poll(0.9)
    events += feed(detector, bouncing(1.2, False))
    events += detector.poll(1.5)
    assert [e.kind for e in events] == ["long"]


def test_long_hold_without_polls_is_still_long() -> None:
    detector = PressDetector("start")
    events = feed(detector, [(0.0, True), (1.5, False)]) + detector.poll(2.0)
    assert events == [ButtonEvent("start", "long", 0.8)]


def test_double_click_is_two_short_presses() -> None:
    detector = PressDetector("feedback")
    events = feed(detector, [(0.0, True), (0.08, False), (0.15, True), (0.23, False)])
    events += detector.poll(0.5)
    assert events == [
        ButtonEvent("feedback", "short", 0.08),
        ButtonEvent("feedback", "short", 0.23),
    ]


def test_glitch_shorter_than_debounce_is_nothing() -> None:
    detector = PressDetector("start", debounce_s=0.03)
    events = feed(detector, [(1.0, True), (1.01, False)])
    events += detector.poll(1.05) + detector.poll(3.0)
    assert events == []
    assert not detector.is_pressed


def test_glitch_during_hold_does_not_split_the_press() -> None:
    detector = PressDetector("start")
    events = feed(detector, [(0.0, True), (0.3, False), (0.302, True), (0.5, False)])
    events += detector.poll(0.6)
    assert events == [ButtonEvent("start", "short", 0.5)]


def test_injected_clock_is_used_when_no_time_is_given() -> None:
    clock = FakeClock()
    detector = PressDetector("start", monotonic=clock)
    detector.edge(True)
    clock.advance(0.1)
    detector.edge(False)
    clock.advance(0.1)
    assert detector.poll() == [ButtonEvent("start", "short", 0.1)]


def test_nonsense_timings_are_refused() -> None:
    with pytest.raises(ButtonsError, match="long_press_s"):
        PressDetector("start", debounce_s=0.05, long_press_s=0.01)
    with pytest.raises(ButtonsError, match="debounce_s"):
        PressDetector("start", debounce_s=-1)


# --- GpioButtons on gpiozero's MockFactory --------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


PINS = {"start": 17, "select": 27, "mode": 22, "feedback": 23}


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.close()


class Collector:
    def __init__(self) -> None:
        self.events: queue.Queue[ButtonEvent] = queue.Queue()

    def __call__(self, event: ButtonEvent) -> None:
        self.events.put(event)

    def next(self) -> ButtonEvent:
        return self.events.get(timeout=WAIT_S)

    def nothing_more(self, settle_s: float = 0.1) -> bool:
        try:
            extra = self.events.get(timeout=settle_s)
        except queue.Empty:
            return True
        pytest.fail(f"unexpected extra event {extra}")


def drive(pin, clock: FakeClock, pressed: bool, after_s: float) -> None:
    clock.advance(after_s)
    if pressed:
        pin.drive_low()  # pull-up: pressed shorts the pin to ground
    else:
        pin.drive_high()


def test_gpio_short_press_with_bounce_arrives_once(factory) -> None:
    clock = FakeClock()
    buttons = GpioButtons(PINS, pin_factory=factory, monotonic=clock)
    got = Collector()
    buttons.start(got)
    try:
        pin = factory.pin(27)
        for pressed, gap_s in [(True, 0), (False, 0.003), (True, 0.002), (False, 0.004)]:
            drive(pin, clock, pressed, gap_s)
        drive(pin, clock, True, 0.001)
        clock.advance(0.2)
        for pressed, gap_s in [(False, 0), (True, 0.002), (False, 0.003)]:
            drive(pin, clock, pressed, gap_s)
        clock.advance(0.2)
        event = got.next()
        assert (event.button, event.kind) == ("select", "short")
        assert got.nothing_more()
    finally:
        buttons.close()


def test_gpio_long_press_fires_while_held(factory) -> None:
    clock = FakeClock()
    buttons = GpioButtons(PINS, pin_factory=factory, monotonic=clock, long_press_s=0.8)
    got = Collector()
    buttons.start(got)
    try:
        pin = factory.pin(17)
        drive(pin, clock, True, 0)
        clock.advance(1.1)  # still held: the poll thread, not a release, fires it
        assert got.next() == ButtonEvent("start", "long", 0.8)
        drive(pin, clock, False, 0)
        clock.advance(0.5)
        assert got.nothing_more()
    finally:
        buttons.close()


def test_gpio_long_press_with_real_clock(factory) -> None:
    buttons = GpioButtons(PINS, pin_factory=factory, debounce_s=0.01, long_press_s=0.1)
    got = Collector()
    buttons.start(got)
    try:
        factory.pin(22).drive_low()
        event = got.next()  # arrives while the button is still held
        assert (event.button, event.kind) == ("mode", "long")
        factory.pin(22).drive_high()
        assert got.nothing_more(0.2)
    finally:
        buttons.close()


def test_gpio_close_stops_events_and_releases_pins(factory) -> None:
    clock = FakeClock()
    first = GpioButtons(PINS, pin_factory=factory, monotonic=clock)
    first_got = Collector()
    first.start(first_got)
    first.close()
    first.close()  # idempotent
    assert not any(t.name == "buttons" and t.is_alive() for t in threading.enumerate())

    second = GpioButtons(PINS, pin_factory=factory, monotonic=clock)
    second_got = Collector()
    second.start(second_got)
    try:
        pin = factory.pin(23)
        drive(pin, clock, True, 0)
        drive(pin, clock, False, 0.1)
        clock.advance(0.1)
        event = second_got.next()
        assert (event.button, event.kind) == ("feedback", "short")
        assert first_got.events.empty()
    finally:
        second.close()


def test_gpio_handler_errors_do_not_stop_the_buttons(factory) -> None:
    clock = FakeClock()
    got = Collector()
    calls = []

    def flaky(event: ButtonEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("handler bug")
        got(event)

    buttons = GpioButtons(PINS, pin_factory=factory, monotonic=clock)
    buttons.start(flaky)
    try:
        pin = factory.pin(17)
        for _ in range(2):
            drive(pin, clock, True, 0.1)
            drive(pin, clock, False, 0.1)
            clock.advance(0.1)
        assert got.next().button == "start"
    finally:
        buttons.close()


def test_gpio_pin_conflict_names_the_setting(factory) -> None:
    with pytest.raises(ButtonsError, match=r"buttons\.select_pin"):
        GpioButtons({"start": 17, "select": 17}, pin_factory=factory)
    # The half-built set was released: the pins are free again.
    GpioButtons({"start": 17}, pin_factory=factory).close()


def test_gpio_bad_pin_and_unknown_name(factory) -> None:
    with pytest.raises(ButtonsError, match="not a usable GPIO pin"):
        GpioButtons({"start": 99}, pin_factory=factory)
    with pytest.raises(ButtonsError, match="'strat'"):
        GpioButtons({"strat": 17}, pin_factory=factory)


def test_gpio_without_backend_names_the_fix(monkeypatch) -> None:
    if Device.pin_factory is not None or any(os.path.exists(f"/dev/gpiochip{n}") for n in range(8)):
        pytest.skip("this machine has GPIO; the no-backend error cannot happen here")
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with pytest.raises(ButtonsError, match="--buttons keyboard") as caught:
        open_buttons("gpio", pins=PINS, debounce_s=0.03, long_press_s=0.8)
    assert isinstance(caught.value, DeviceError)
    assert Device.pin_factory is None  # nothing global was left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root may open any file; no permission error")
def test_gpio_hint_tells_apart_missing_blocked_and_usable(tmp_path) -> None:
    chip = tmp_path / "gpiochip0"
    chip.touch(mode=0o600)
    assert "pip install lgpio" in _gpio_hint([str(chip)])
    chip.chmod(0o000)
    assert "gpio group" in _gpio_hint([str(chip)])
    assert "--buttons keyboard|none" in _gpio_hint([])


# --- KeyboardButtons -------------------------------------------------------------------


def test_keyboard_through_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r") as stream:
        buttons = KeyboardButtons(stream)
        got = Collector()
        buttons.start(got)
        try:
            os.write(write_fd, b"s m F\n")
            os.close(write_fd)
            assert buttons.wait(WAIT_S), "EOF did not end the reader"
        finally:
            buttons.close()
    assert [(e.button, e.kind) for e in list(got.events.queue)] == [
        ("select", "short"),
        ("mode", "short"),
        ("feedback", "long"),
    ]


def test_keyboard_close_stops_an_idle_reader() -> None:
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(read_fd, "r") as stream:
            buttons = KeyboardButtons(stream)
            buttons.start(Collector())
            buttons.close()
            assert buttons.wait(WAIT_S)
    finally:
        os.close(write_fd)


def test_keyboard_on_a_terminal_uses_cbreak_and_restores_it() -> None:
    leader, follower = pty.openpty()
    try:
        before = termios.tcgetattr(follower)
        with os.fdopen(os.dup(follower), "r") as stream:
            buttons = KeyboardButtons(stream)
            got = Collector()
            buttons.start(got)
            try:
                assert not termios.tcgetattr(follower)[3] & termios.ICANON
                os.write(leader, b"gG ")  # no newline: cbreak delivers keys at once
                events = [got.next() for _ in range(3)]
                assert [(e.button, e.kind) for e in events] == [
                    ("start", "short"),
                    ("start", "long"),
                    ("start", "short"),  # space is start on a terminal
                ]
            finally:
                buttons.close()
        assert termios.tcgetattr(follower) == before
    finally:
        os.close(leader)
        os.close(follower)


def test_keymap_is_validated() -> None:
    with pytest.raises(ButtonsError, match="keymap"):
        KeyboardButtons(keymap={"x": "launch"})


# --- open_buttons ----------------------------------------------------------------------


def test_open_buttons_kinds(factory) -> None:
    none = open_buttons("none", pins=PINS, debounce_s=0.03, long_press_s=0.8)
    assert isinstance(none, NoButtons)
    none.start(Collector())
    none.close()
    gpio = open_buttons("gpio", pins=PINS, debounce_s=0.03, long_press_s=0.8, pin_factory=factory)
    assert isinstance(gpio, GpioButtons)
    gpio.close()


def test_open_buttons_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(ButtonsError, match="gpio, keyboard, none") as caught:
        open_buttons("joystick", pins=PINS, debounce_s=0.03, long_press_s=0.8)
    assert "'joystick'" in str(caught.value)
