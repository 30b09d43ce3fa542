"""Running the device in tests: `fretcoach run` as a process, or the daemon in this
process with parts that say when something happened, so tests wait on events, not sleeps.

Not a test module. The subprocess gets this environment without keys or backends unless
the test passes its own (a developer's ``OPENAI_API_KEY`` must not reach the real OpenAI
from a test), an empty config file and its own state directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from device.systemd import Notifier
from tests.conftest import REPO

if TYPE_CHECKING:
    from device.buttons import ButtonEvent
    from device.daemon import Daemon
    from display.state import ScreenState


def offline_env() -> dict[str, str]:
    """This environment without keys or backends: the offline coach, no tracing."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPIK_", "FRETCOACH_"))
    }


def run_cli(
    *args: str, env: Mapping[str, str], drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``fretcoach ARGS`` as a process, in this environment without the variables that
    start with one of ``drop``, plus ``env``. Never fails by itself: tests read the result."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env={**inherited, **env},
    )


def run_device(
    args: Sequence[str],
    *,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 180.0,
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """``fretcoach run --json ARGS``; returns the finished sessions and the process.

    Fails the test (with its stderr) when the run does not exit 0."""
    # An empty config file and an explicit state directory: neither the developer's
    # ~/.config/fretcoach nor an installed /etc/fretcoach (or its store) can leak in.
    config = state_dir.with_name(state_dir.name + "-config.toml")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "run", "--json", "--config", str(config)]
        + ["--data-dir", str(state_dir), *args],
        cwd=REPO,
        env={**offline_env(), **(env or {}), "FRETCOACH_DATA_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sessions: list[dict[str, Any]] = json.loads(result.stdout)
    return sessions, result


def recording_display(frames: list[Any], *, max_fps: float = 60) -> Any:
    """A display worker on luma's dummy device that appends every state it draws."""
    from display.device import DisplayWorker, open_display

    return DisplayWorker(
        lambda: open_display("dummy"), max_fps=max_fps, on_frame=lambda s, _t: frames.append(s)
    )


# -- the daemon in this process, with parts that say when things happened ---------------

PINS = {"start": 17, "select": 27, "mode": 22, "feedback": 23}


class SteppedClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ReadyNotifier(Notifier):
    """systemd's notifier without systemd: ``ready`` is set once the daemon listens."""

    def __init__(self) -> None:
        super().__init__("")
        self.is_ready = threading.Event()

    def ready(self, status: str = "listening") -> None:
        self.is_ready.set()


class ScreenWatcher:
    """A display that keeps every state the daemon shows and wakes whoever waits for one."""

    def __init__(self) -> None:
        self.shown: list[ScreenState] = []
        self._changed = threading.Condition()

    def show(self, state: ScreenState) -> None:
        with self._changed:
            self.shown.append(state)
            self._changed.notify_all()

    def close(self, final: ScreenState | None = None) -> None:
        if final is not None:
            self.show(final)

    def wait_for(self, wanted: Callable[[ScreenState], bool], timeout: float = 30.0) -> Any:
        """The first state shown, from now on or already on screen, that is ``wanted``."""
        with self._changed:
            start = max(len(self.shown) - 1, 0)

            def found() -> ScreenState | None:
                return next((s for s in self.shown[start:] if wanted(s)), None)

            assert self._changed.wait_for(lambda: found() is not None, timeout), (
                f"never shown; last screens: {self.shown[-3:]}"
            )
            return found()


def handled(daemon: Daemon, timeout: float = 10.0) -> None:
    """Wait until the daemon's main loop has handled every event queued so far."""
    events = daemon.events
    with events.all_tasks_done:
        assert events.all_tasks_done.wait_for(lambda: events.unfinished_tasks == 0, timeout), (
            "the daemon did not handle its events"
        )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """For what no event announces (a thread's progress): look every 10 ms until it holds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(0.01)


class MockPanel:
    """The daemon's buttons: gpiozero ``MockFactory`` pins read by the real
    :class:`~device.buttons.GpioButtons`, on a stepped clock, so a press is a timeline and
    not a wait. :meth:`press` returns once the daemon has handled the press."""

    def __init__(self) -> None:
        from gpiozero.pins.mock import MockFactory

        from device.buttons import GpioButtons

        self.factory = MockFactory()
        self.clock = SteppedClock()
        self.daemon: Daemon | None = None
        self._inner = GpioButtons(
            PINS, pin_factory=self.factory, debounce_s=0.01, long_press_s=0.5, monotonic=self.clock
        )
        self._delivered = threading.Semaphore(0)

    def start(self, on_event: Callable[[ButtonEvent], None]) -> None:
        def deliver(event: ButtonEvent) -> None:
            on_event(event)
            self._delivered.release()

        self._inner.start(deliver)

    def close(self) -> None:
        self._inner.close()

    def press(self, name: str, *, long: bool = False) -> None:
        """Press and release as a finger would (pull-up wiring: pressed is low)."""
        assert self.daemon is not None, "give the daemon these buttons first"
        pin = self.factory.pin(PINS[name])
        pin.drive_low()
        self.clock.advance(0.9 if long else 0.05)
        pin.drive_high()
        self.clock.advance(0.05)  # past the debounce: the next poll reports the press
        assert self._delivered.acquire(timeout=10), f"the {name} press never arrived"
        handled(self.daemon)


@contextlib.contextmanager
def running(daemon: Daemon, *, timeout: float = 15.0) -> Iterator[Daemon]:
    """``daemon.run()`` on a thread, from listening to stopped."""
    notifier = daemon.notifier
    assert isinstance(notifier, ReadyNotifier), "build the daemon with notifier=ReadyNotifier()"
    if isinstance(daemon.buttons, MockPanel):
        daemon.buttons.daemon = daemon
    runner = threading.Thread(target=daemon.run, name="daemon-under-test")
    runner.start()
    try:
        assert notifier.is_ready.wait(timeout), "the daemon never started listening"
        yield daemon
    finally:
        daemon.stop()
        runner.join(timeout=timeout)
        assert not runner.is_alive(), "the daemon did not stop"


class GatedTone:
    """The test tone melody, served one hop at a time as the test lets hops through: the
    session's stream time is then exactly what was played while it was not paused."""

    def __init__(self) -> None:
        from device.audio import ToneSource

        self._tone = ToneSource(realtime=False)
        self.sample_rate = self._tone.sample_rate
        self.description = "gated test tone"
        self.realtime = False  # the capture waits for the DSP: no hop is dropped
        self.played = 0
        self._credit = threading.Semaphore(0)
        self._ended = threading.Event()

    def play(self, hops: int) -> None:
        self.played += hops
        for _ in range(hops):
            self._credit.release()

    def end(self) -> None:
        """End of stream: the capture thread stops at once instead of waiting for hops."""
        self._ended.set()

    def open(self) -> None:
        self._tone.open()

    def read_hop(self) -> np.ndarray:
        from device.audio import EndOfStream

        while not self._credit.acquire(timeout=0.05):
            if self._ended.is_set():
                raise EndOfStream
        return self._tone.read_hop()

    def close(self) -> None:
        self._ended.set()
