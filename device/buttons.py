"""Button presses as :class:`ButtonEvent` values, from GPIO pins, the keyboard or nowhere.

Everything above this module sees only those events — a logical button name, ``"short"``
or ``"long"``, and a monotonic time — delivered through the small :class:`Buttons`
interface. Three implementations ship in the package so a laptop runs the whole daemon:

- :class:`GpioButtons`: gpiozero ``Button`` per logical button (lgpio on a Pi 5,
  RPi.GPIO on older Pis, or any pin factory passed in, e.g. ``MockFactory`` in tests).
- :class:`KeyboardButtons`: single keys from a terminal (or lines from a pipe).
- :class:`NoButtons`: nothing at all; the daemon then starts a session at once.

What a press does on each screen is :data:`device.keymap.KEYMAP`. A 3-button build leaves
out ``feedback``. Keyboard (simulator): ``g`` or space = start, ``s`` = select, ``m`` =
mode, ``f`` = feedback; the uppercase letter is the long press (``G`` stops the session).
Why the debounce and long press are ours, not gpiozero's: ``docs/buttons.md``.
"""

from __future__ import annotations

import codecs
import contextlib
import glob
import io
import logging
import os
import select
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, Any, Literal, Protocol

from dsp.errors import ButtonsError

log = logging.getLogger(__name__)

BUTTON_NAMES: tuple[str, ...] = ("start", "select", "mode", "feedback")
BUTTON_KINDS: tuple[str, ...] = ("gpio", "keyboard", "none")

# 30 ms outlasts the contact bounce of ordinary tactile switches (typically 1–10 ms)
# while staying well below the ~100 ms at which a press starts to feel laggy.
DEFAULT_DEBOUNCE_S = 0.03
DEFAULT_LONG_PRESS_S = 0.8
# Long presses and the final release of a short press are noticed by polling; 20 ms
# keeps that delay invisible and costs nothing measurable on a Pi.
DEFAULT_POLL_INTERVAL_S = 0.02

DEFAULT_KEYMAP: Mapping[str, str] = MappingProxyType(
    {" ": "start", "g": "start", "s": "select", "m": "mode", "f": "feedback"}
)

PressKind = Literal["short", "long"]


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    """One completed gesture on one logical button.

    ``at`` is in the clock's (monotonic) seconds: for a short press the moment the
    button was released, for a long press the moment the hold crossed the threshold.
    """

    button: str
    kind: PressKind
    at: float


OnEvent = Callable[[ButtonEvent], None]


class Buttons(Protocol):
    """What the daemon needs from any button source."""

    def start(self, on_event: OnEvent) -> None:
        """Begin delivering events to ``on_event`` (from a background thread)."""

    def close(self) -> None:
        """Stop delivering events and release the hardware; safe to call twice."""


def _check_timings(debounce_s: float, long_press_s: float) -> None:
    if not debounce_s >= 0:
        raise ButtonsError(f"debounce_s must be ≥ 0 s, not {debounce_s!r}")
    if not long_press_s > debounce_s:
        raise ButtonsError(
            f"long_press_s must be longer than debounce_s ({debounce_s} s), not {long_press_s!r}"
        )


class PressDetector:
    """Debounce and short/long-press detection for one button, as a pure state machine.

    Fed raw levels with :meth:`edge` and the passage of time with :meth:`poll`; both
    return the :class:`ButtonEvent` values completed by then. No threads, no I/O: the
    clock is injected (or each call passes ``at``), so tests replay exact timelines.

    Debounce rule: a level counts only once it has been stable for ``debounce_s``.
    A bouncing contact (press, 3 ms later release, 2 ms later press …) therefore yields
    one press that begins at the last bounce, and a glitch shorter than ``debounce_s``
    yields nothing, while a real double click (each phase longer than ``debounce_s``)
    yields two presses. The stable level is confirmed lazily, on the next edge or poll,
    so a short press is reported up to ``debounce_s`` plus one poll after release.

    One rule, ours, behaves the same on every Pi and in every test; why gpiozero's
    ``bounce_time`` and ``when_held`` would not: ``docs/buttons.md``.

    A long press fires once, when the hold passes ``long_press_s`` (found by
    :meth:`poll`), not at release; its release then emits nothing. If no poll came in
    time, the long press is reported when the release is confirmed instead.

    Times must not go backwards; a call with an earlier ``at`` is treated as the latest
    time seen, because edges and polls may race in from two threads.
    """

    def __init__(
        self,
        button: str,
        *,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
        long_press_s: float = DEFAULT_LONG_PRESS_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_timings(debounce_s, long_press_s)
        self.button = button
        self.debounce_s = debounce_s
        self.long_press_s = long_press_s
        self._monotonic = monotonic
        self._last_at = float("-inf")
        self._raw = False  # the level as last reported, bounces and all
        self._raw_since = float("-inf")
        self._stable = False  # the debounced level
        self._pressed_at = 0.0  # when the current stable press began
        self._long_fired = False

    @property
    def is_pressed(self) -> bool:
        """The debounced level as of the last call."""
        return self._stable

    def edge(self, pressed: bool, at: float | None = None) -> list[ButtonEvent]:
        """Report a raw level change (``True`` = pressed); repeats of a level are harmless."""
        now = self._now(at)
        events = self._settle(now)
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = now
        return events

    def poll(self, at: float | None = None) -> list[ButtonEvent]:
        """Let time pass: confirms settled levels and fires a due long press."""
        now = self._now(at)
        events = self._settle(now)
        if self._stable and not self._long_fired:
            # A release still inside its debounce window ended the hold at _raw_since
            # if it turns out real; if it was a glitch, the next poll catches up.
            held_until = now if self._raw else self._raw_since
            if held_until - self._pressed_at >= self.long_press_s:
                events.append(self._long_press())
        return events

    def _now(self, at: float | None) -> float:
        now = self._monotonic() if at is None else at
        self._last_at = max(self._last_at, now)
        return self._last_at

    def _settle(self, now: float) -> list[ButtonEvent]:
        if self._raw == self._stable or now - self._raw_since < self.debounce_s:
            return []
        self._stable = self._raw
        if self._stable:
            self._pressed_at = self._raw_since
            self._long_fired = False
            return []
        if self._long_fired:
            return []
        if self._raw_since - self._pressed_at >= self.long_press_s:
            return [self._long_press()]
        return [ButtonEvent(self.button, "short", self._raw_since)]

    def _long_press(self) -> ButtonEvent:
        self._long_fired = True
        return ButtonEvent(self.button, "long", self._pressed_at + self.long_press_s)


def _deliver(on_event: OnEvent, events: list[ButtonEvent]) -> None:
    for event in events:
        try:
            on_event(event)
        except Exception:
            # A broken handler must not kill the only thread that reads the buttons.
            log.exception("button handler failed on %s", event)


class GpioButtons:
    """Physical buttons through gpiozero, wired from a GPIO pin to ground.

    Each button uses the internal pull-up (``pull_up=True``), so pressed reads low.
    gpiozero's own ``bounce_time`` is off; raw edges go to one :class:`PressDetector`
    per button. A daemon thread polls the detectors every ``poll_interval_s`` and is
    the only thread that calls ``on_event``, so events arrive in order and the
    handler never runs on a GPIO backend's callback thread or under our lock.

    The pins are claimed at construction, so a wrong pin or a missing GPIO backend
    fails at start-up with a :class:`ButtonsError` that says what to do. A button held
    down while we start is ignored until it is released.

    ``pin_factory=None`` uses gpiozero's default (``GPIOZERO_PIN_FACTORY``, else the
    first of lgpio, RPi.GPIO, pigpio, native that loads).
    """

    def __init__(
        self,
        pins: Mapping[str, int],
        *,
        pin_factory: Any = None,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
        long_press_s: float = DEFAULT_LONG_PRESS_S,
        monotonic: Callable[[], float] = time.monotonic,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    ) -> None:
        unknown = sorted(set(pins) - set(BUTTON_NAMES))
        if unknown:
            raise ButtonsError(
                f"unknown button {', '.join(map(repr, unknown))}; "
                f"buttons are named {', '.join(BUTTON_NAMES)}"
            )
        if not pins:
            raise ButtonsError("no button pins configured; set buttons.<name>_pin")
        _check_timings(debounce_s, long_press_s)
        self._monotonic = monotonic
        self._poll_interval_s = poll_interval_s
        self._lock = threading.Lock()
        self._detectors = {
            name: PressDetector(name, debounce_s=debounce_s, long_press_s=long_press_s)
            for name in pins
        }
        self._pending: list[ButtonEvent] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._devices = self._open_devices(pins, pin_factory)

    @staticmethod
    def _open_devices(pins: Mapping[str, int], pin_factory: Any) -> dict[str, Any]:
        try:
            from gpiozero import Button
            from gpiozero.exc import BadPinFactory, GPIOPinInUse, PinFactoryFallback
        except ImportError as err:
            raise ButtonsError(
                "gpiozero is not installed: pip install gpiozero "
                "(or run with --buttons keyboard|none)"
            ) from err

        devices: dict[str, Any] = {}
        name, pin = "", 0
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PinFactoryFallback)
                for name, pin in pins.items():
                    devices[name] = Button(
                        pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
                    )
        except BadPinFactory as err:
            reasons = "; ".join(
                str(w.message) for w in caught if issubclass(w.category, PinFactoryFallback)
            )
            raise ButtonsError(
                f"no GPIO backend for the buttons ({reasons or err}). {_gpio_hint()}"
            ) from err
        except GPIOPinInUse as err:
            raise ButtonsError(
                f"GPIO{pin} for the {name!r} button is already in use ({err}); give each "
                f"button its own pin (buttons.{name}_pin) and stop any other program using it"
            ) from err
        except PermissionError as err:
            raise ButtonsError(f"permission denied opening GPIO{pin}: {_GROUP_FIX}") from err
        except ValueError as err:  # gpiozero's PinInvalidPin and friends
            raise ButtonsError(
                f"buttons.{name}_pin = {pin!r} is not a usable GPIO pin ({err}); "
                "use a BCM GPIO number such as 17"
            ) from err
        except Exception as err:
            # Backends raise their own types (lgpio.error, RuntimeError from RPi.GPIO).
            raise ButtonsError(
                f"cannot open GPIO{pin} for the {name!r} button: {err}. {_gpio_hint()}"
            ) from err
        finally:
            if len(devices) < len(pins):
                for device in devices.values():
                    device.close()
        for w in caught:
            if not issubclass(w.category, PinFactoryFallback):
                log.warning("gpiozero: %s", w.message)
        return devices

    def start(self, on_event: OnEvent) -> None:
        """Attach the edge callbacks and start the poll thread."""
        if self._closed:
            raise ButtonsError("these buttons are closed; open new ones")
        if self._thread is not None:
            raise ButtonsError("buttons already started")
        for name, device in self._devices.items():
            device.when_pressed = self._edge_callback(name, pressed=True)
            device.when_released = self._edge_callback(name, pressed=False)
        self._thread = threading.Thread(
            target=self._run, args=(on_event,), name="buttons", daemon=True
        )
        self._thread.start()

    def _edge_callback(self, name: str, *, pressed: bool) -> Callable[[], None]:
        def on_edge() -> None:
            # Runs on the backend's callback thread: record and return, never block.
            with self._lock:
                self._pending += self._detectors[name].edge(pressed, self._monotonic())

        return on_edge

    def _run(self, on_event: OnEvent) -> None:
        while not self._stop.wait(self._poll_interval_s):
            with self._lock:
                now = self._monotonic()
                for detector in self._detectors.values():
                    self._pending += detector.poll(now)
                events, self._pending = self._pending, []
            _deliver(on_event, events)

    def close(self) -> None:
        """Stop the poll thread, detach callbacks and release the pins."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        for device in self._devices.values():
            if thread is not None:
                # gpiozero keeps handlers in a class-level table; drop ours explicitly.
                device.when_pressed = None
                device.when_released = None
            device.close()


_GROUP_FIX = (
    "add the user to the gpio group (sudo usermod -aG gpio $USER, then log in again; "
    "the fretcoach service user already is)"
)


def _gpio_hint(chips: Sequence[str] | None = None) -> str:
    """Say what to do when no GPIO backend works, judging by the GPIO character devices.

    gpiozero reports a backend that could not open ``/dev/gpiochip0`` only as "Falling
    back from lgpio: …" followed by ``BadPinFactory``, so we look at the devices
    ourselves to tell "no GPIO here" from "not allowed" from "library missing".
    """
    if chips is None:
        chips = sorted(glob.glob("/dev/gpiochip*"))
    if not chips:
        return (
            "This machine has no /dev/gpiochip*: on a laptop run with "
            "--buttons keyboard|none; on a Pi install lgpio (Pi 5) or RPi.GPIO."
        )
    blocked = [chip for chip in chips if not os.access(chip, os.R_OK | os.W_OK)]
    if blocked:
        return f"Permission denied on {', '.join(blocked)}: {_GROUP_FIX}."
    return (
        "Install lgpio (Pi 5: sudo apt install python3-lgpio, or pip install lgpio) or "
        "RPi.GPIO (older Pis), or run with --buttons keyboard|none."
    )


class KeyboardButtons:
    """Keys as buttons, for the simulator: lowercase = short press, uppercase = long.

    On a terminal the stream is put in cbreak mode (keys arrive without Enter, Ctrl-C
    still interrupts) and restored on :meth:`close` and when the reader stops for any
    reason. When the stream is not a terminal (a pipe in CI or a test), input is read
    as it comes and every character is a key; whitespace only separates keys there, so
    ``"s m F\\n"`` is select, mode, long feedback — use ``g`` for start. End of input
    stops the reader quietly; :meth:`wait` tells when. No debounce: keys do not bounce.
    """

    def __init__(
        self,
        stream: IO[Any] | None = None,
        *,
        keymap: Mapping[str, str] = DEFAULT_KEYMAP,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        for key, button in keymap.items():
            if len(key) != 1 or key != key.lower() or button not in BUTTON_NAMES:
                raise ButtonsError(
                    f"keymap entry {key!r} → {button!r}: keys are single lowercase "
                    f"characters, buttons one of {', '.join(BUTTON_NAMES)}"
                )
        self._stream = sys.stdin if stream is None else stream
        self._keymap = dict(keymap)
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._saved_tty: list[Any] | None = None
        self._tty_lock = threading.Lock()
        self._closed = False

    def start(self, on_event: OnEvent) -> None:
        """Put a terminal in cbreak mode and start the reader thread."""
        if self._closed:
            raise ButtonsError("these buttons are closed; open new ones")
        if self._thread is not None:
            raise ButtonsError("buttons already started")
        try:
            self._fd = self._stream.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            self._fd = None  # e.g. io.StringIO: read lines through the stream
        if self._fd is not None and os.isatty(self._fd):
            import termios
            import tty

            try:
                self._saved_tty = termios.tcgetattr(self._fd)
                tty.setcbreak(self._fd)
            except termios.error as err:
                raise ButtonsError(
                    f"cannot put the terminal in single-key mode ({err}); "
                    "run with --buttons none, or pipe keys in"
                ) from err
        self._thread = threading.Thread(
            target=self._run, args=(on_event,), name="buttons-keyboard", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the reader has stopped (end of input or close); True if it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self, on_event: OnEvent) -> None:
        is_tty = self._saved_tty is not None
        try:
            for text in self._chunks():
                for char in text:
                    if not is_tty and char.isspace():
                        continue
                    event = self._event_for(char)
                    if event is None:
                        log.debug("key %r is not mapped to a button", char)
                    else:
                        _deliver(on_event, [event])
        except Exception:
            log.exception("keyboard buttons stopped")
        finally:
            self._restore_terminal()
        log.debug("keyboard buttons: end of input")

    def _chunks(self) -> Iterator[str]:
        if self._fd is None:
            yield from iter(self._stream.readline, "")
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while not self._stop.is_set():
            # select with a timeout so close() can stop a reader that has no input.
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(self._fd, 1024)
            if not data:
                return
            yield decoder.decode(data)

    def _event_for(self, char: str) -> ButtonEvent | None:
        if char in self._keymap:
            return ButtonEvent(self._keymap[char], "short", self._monotonic())
        if char != char.lower() and char.lower() in self._keymap:
            return ButtonEvent(self._keymap[char.lower()], "long", self._monotonic())
        return None

    def _restore_terminal(self) -> None:
        with self._tty_lock:
            saved, self._saved_tty = self._saved_tty, None
        if saved is not None and self._fd is not None:
            import termios

            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)

    def close(self) -> None:
        """Stop the reader and give the terminal back as we found it."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        self._restore_terminal()


class NoButtons:
    """No buttons at all: for ``--source FILE.wav`` runs and headless demos."""

    def start(self, on_event: OnEvent) -> None:
        """Deliver nothing, ever."""

    def close(self) -> None:
        """Nothing to release."""


def open_buttons(
    kind: str,
    *,
    pins: Mapping[str, int],
    debounce_s: float = DEFAULT_DEBOUNCE_S,
    long_press_s: float = DEFAULT_LONG_PRESS_S,
    pin_factory: Any = None,
) -> Buttons:
    """Build the button source named by ``--buttons`` / ``buttons.kind``."""
    if kind == "gpio":
        return GpioButtons(
            pins, pin_factory=pin_factory, debounce_s=debounce_s, long_press_s=long_press_s
        )
    if kind == "keyboard":
        return KeyboardButtons()
    if kind == "none":
        return NoButtons()
    raise ButtonsError(f"`buttons.kind` must be one of {', '.join(BUTTON_KINDS)}, not {kind!r}")
