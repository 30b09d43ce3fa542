"""The daemon end to end with its shipped fakes: a WAV source, the real store, signals.

No test here paces itself with sleeps: presses are timelines on a stepped clock, and a test
waits for the daemon to have handled them, for a screen to be shown or a log line to come.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageChops

from device.audio import Capture, EndOfStream, ToneSource, WavSource
from device.config import Config, device_settings_path, load_config, remember_setting
from device.daemon import Daemon
from device.run_command import build_buttons
from device.screens import NO_BUTTONS, NO_INTERFACE
from device.session import NAMING_HOLD_S, DspLoop, LiveSession, PracticeSettings, State
from display.state import HomeScreen, PracticeScreen, SettingsScreen, SummaryScreen, TempoScreen
from dsp import HOP_SIZE, METRICS, parse_scale
from dsp.errors import AudioSourceError, ConfigError
from sync.store import Store
from tests.conftest import REPO
from tests.devicerun import (
    GatedTone,
    MockPanel,
    ReadyNotifier,
    ScreenWatcher,
    SteppedClock,
    offline_env,
    recording_display,
    run_device,
    running,
    wait_until,
)

DEMO = REPO / "device" / "demo" / "demo.wav"


def play(daemon: Daemon, source: GatedTone, hops: int) -> None:
    """Let ``hops`` more hops of the tone through and wait until the DSP has taken them."""
    source.play(hops)
    wait_until(lambda: daemon.dsp.stats.hops == source.played, f"the DSP to take {hops} hops")


def test_a_file_runs_through_the_whole_daemon_and_is_stored(tmp_path: Path) -> None:
    config, _ = load_config(None, ["practice.scale='A minor pentatonic'"])
    with Store.open(tmp_path) as store:
        daemon = Daemon(config, source=WavSource(DEMO, realtime=False), store=store)
        results = daemon.run()
        assert len(results) == 1
        result = results[0]
        assert result.status == "completed"
        assert result.duration_s == pytest.approx(9.84, abs=0.05)
        record = store.session(result.session_id)
        assert record is not None
        assert record.status == "completed"
        assert record.sync_state == "pending"
        assert record.scale_chosen == "A Minor (Pentatonic)"
        assert record.total_notes_played == len(record.notes) >= 18
        assert record.bad_notes_played == 2
        assert record.source == "file:demo.wav"
        assert daemon.state is State.SUMMARY
        assert daemon.capture.stats.dropped == 0


class FlakySource:
    """An interface that vanishes after ``fail_after`` hops and is back after ``down_s``."""

    def __init__(self, *, fail_after: int, down_s: float, total_hops: int) -> None:
        self.sample_rate = 48000
        self.description = "flaky test interface"
        self.realtime = True
        self._tone = ToneSource(realtime=False)
        self._served = 0
        self._fail_after = fail_after
        self._down_until = 0.0
        self._down_s = down_s
        self._total = total_hops
        self.opens = 0

    def open(self) -> None:
        if time.monotonic() < self._down_until:
            raise AudioSourceError("no audio input found: plug in your USB audio interface")
        self.opens += 1
        self._tone.open()

    def read_hop(self) -> np.ndarray:
        if self._served == self._fail_after and self._down_until == 0.0:
            self._down_until = time.monotonic() + self._down_s
            raise AudioSourceError("the audio interface stopped delivering (unplugged)")
        if self._served >= self._total:
            raise EndOfStream
        self._served += 1
        time.sleep(HOP_SIZE / self.sample_rate / 4)
        return self._tone.read_hop()

    def close(self) -> None:
        pass


def test_an_unplugged_interface_is_reopened_and_the_session_goes_on(tmp_path: Path) -> None:
    source = FlakySource(fail_after=100, down_s=1.0, total_hops=400)
    with Store.open(tmp_path) as store:
        watcher = ScreenWatcher()
        daemon = Daemon(Config(), source=source, store=store, display=watcher)
        results = daemon.run()
        assert NO_INTERFACE in watcher.shown  # what the screen said while it was gone
        assert source.opens == 2
        assert daemon.capture.stats.reopens == 1
        record = store.session(results[0].session_id)
        assert record is not None
        # Every hop the interface delivered was analysed: 400 hops of audio.
        assert record.duration_seconds == pytest.approx(400 * HOP_SIZE / 48000, abs=0.02)
        assert record.total_notes_played >= 6  # a note every 0.6 s for 4.3 s


@pytest.mark.parametrize(
    "source",
    [ToneSource(realtime=False, seconds=0.5), WavSource(DEMO, realtime=False)],
    ids=["tone", "file"],
)
def test_a_file_or_the_tone_never_asks_for_the_interface(
    source: ToneSource | WavSource, tmp_path: Path
) -> None:
    """Only the interface can be unplugged; nothing is lost before the capture starts."""
    with Store.open(tmp_path) as store:
        watcher = ScreenWatcher()
        Daemon(Config(), source=source, store=store, display=watcher).run()
    assert watcher.shown and NO_INTERFACE not in watcher.shown


def test_capture_counts_dropped_hops_instead_of_blocking() -> None:
    # An interface (realtime: never waits for a slow consumer) on a clock that its own
    # pacing steps, so half a second of audio comes at once.
    clock = SteppedClock()
    source = ToneSource(realtime=True, seconds=0.5, monotonic=clock, sleep=clock.advance)
    capture = Capture(source, queue_hops=4)
    capture.start()
    hops = -(-24000 // HOP_SIZE)  # 0.5 s at 48 kHz, the last hop partly past the end
    wait_until(lambda: capture.stats.hops == hops, "the capture to read every hop")
    capture.stop()  # nobody read the queue
    stats = capture.stats
    assert stats.hops == hops
    assert stats.dropped == stats.hops - 4


def test_the_live_screen_goes_from_note_to_note_without_a_blank_between() -> None:
    """While a pluck is being named (≤ ~60 ms) the DSP thread holds its news back, so the
    screen never flashes "no note" between two notes (that frame would take the bus just
    before the new name), and the new name comes with the last note's scores."""
    capture = Capture(WavSource(DEMO, realtime=False))
    published: list[tuple[str | None, float, bool]] = []
    ended = threading.Event()
    loop = DspLoop(
        capture,
        on_snapshot=lambda snap, urgent: published.append((snap.note_name, snap.stream_s, urgent)),
        on_end_of_stream=ended.set,
    )
    settings = PracticeSettings(parse_scale("A minor pentatonic"), None, 0.5, 0.5, METRICS, 440.0)
    loop.session = session = LiveSession("s", settings, capture.source.sample_rate)
    capture.start()
    loop.start()
    assert ended.wait(30), "the demo did not play through"
    loop.stop()
    capture.stop()
    named = [i for i, (name, _, _) in enumerate(published) if name is not None]
    between = published[named[0] : named[-1]]
    assert all(name is not None for name, _, _ in between), "a blank frame between two notes"
    changes = [new for old, new in itertools.pairwise(between) if new[0] != old[0]]
    assert len(changes) >= 15 and all(urgent for _, _, urgent in changes)
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(published)]
    assert max(gaps) <= 8 * HOP_SIZE / 48000 + NAMING_HOLD_S + HOP_SIZE / 48000
    assert session.finished.qsize() == 20  # every note still reaches the scorer and store


def test_config_errors_name_the_key_and_the_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"`audio.sample_rate` must be one of 44100, 48000, not 22050"
    ):
        load_config(None, ["audio.sample_rate=22050"])
    with pytest.raises(ConfigError, match=r"`practice.strictness` must be between 0 and 1, not 2"):
        load_config(None, ["practice.strictness=2"])
    with pytest.raises(ConfigError, match=r"unknown setting `practice.tempo`"):
        load_config(None, ["practice.tempo=90"])
    with pytest.raises(ConfigError, match="looks like a secret"):
        load_config(None, ["sync.hub_token=abc"])
    with pytest.raises(ConfigError, match=r"`practice.scale`: unknown scale"):
        load_config(None, ["practice.scale='H major'"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[audio\nsample_rate = 48000\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text('[practice]\nscale = "E blues"\nbpm = 90\n[audio]\nchannel = 2\n')
    config, source = load_config(good, ["practice.bpm=100"])
    assert source == good
    assert config.practice.scale == "E blues"
    assert config.practice.bpm == 100.0  # -o wins over the file
    assert config.audio.channel == 2


def run_daemon_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "device.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_mid_session_finishes_and_queues_it(tmp_path: Path) -> None:
    env = {"FRETCOACH_DATA_DIR": str(tmp_path)}
    proc = run_daemon_process(
        ["run", "--source", "demo", "--display", "none", "--buttons", "none", "--json"], env
    )
    with Store.open(tmp_path) as store:
        wait_until(
            lambda: any(r.status == "live" and r.duration_seconds > 0 for r in store.sessions()),
            "the daemon to checkpoint a live session",
        )
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    [session] = json.loads(out)
    assert session["status"] == "completed"
    assert session["sync_state"] == "pending"
    assert 4.0 <= session["duration_seconds"] < 9.8  # stopped part-way through the demo
    assert "Traceback" not in err


def test_kill_9_mid_session_is_recovered_on_next_start(tmp_path: Path) -> None:
    env = {"FRETCOACH_DATA_DIR": str(tmp_path)}
    proc = run_daemon_process(
        ["run", "--source", "demo", "--display", "none", "--buttons", "none"], env
    )
    with Store.open(tmp_path) as store:
        wait_until(
            lambda: any(r.status == "live" and r.total_notes_played > 0 for r in store.sessions()),
            "the daemon to checkpoint notes of a live session",
        )
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    again = run_daemon_process(
        ["run", "--source", "demo", "--display", "none", "--buttons", "none", "--fast"], env
    )
    again.communicate(timeout=60)
    assert again.returncode == 0
    with Store.open(tmp_path) as store:
        statuses = sorted(r.status for r in store.sessions())
        assert statuses == ["completed", "interrupted"]
        interrupted = next(r for r in store.sessions() if r.status == "interrupted")
        assert interrupted.sync_state == "pending"
        assert interrupted.total_notes_played > 0


def test_the_embedded_demo_goes_all_the_way_to_a_local_hub(tmp_path: Path) -> None:
    """What `make run` does: demo → DSP → screens → store → a real Hub on loopback."""
    frames = tmp_path / "oled"
    [session], _ = run_device(
        ["--source", "demo", "--fast", "--display", "emulator", "--buttons", "none"]
        + ["--local-hub", "-o", f"display.emulator_dir={json.dumps(str(frames))}"],
        state_dir=tmp_path / "state",
    )
    assert session["sync_state"] == "synced"
    assert session["total_notes_played"] >= 18
    assert (frames / "last.png").exists()
    assert (frames / "oled.gif").exists()
    assert len(list(frames.glob("frame_*.png"))) >= 2
    hub_db = tmp_path / "state" / "local-hub" / "local-hub.db"
    import sqlite3

    with sqlite3.connect(hub_db) as db:
        rows = db.execute("SELECT session_id, total_notes_played FROM sessions").fetchall()
    assert rows == [(session["session_id"], session["total_notes_played"])]
    # The offline coach's session summary travels to the Hub beside the session.
    assert session["coach_summary"]
    with sqlite3.connect(hub_db) as db:
        summaries = db.execute(
            "SELECT session_id, summary, model FROM session_summaries"
        ).fetchall()
    assert summaries == [(session["session_id"], session["coach_summary"], "offline-coach")]
    # The summary screen itself turned "synced" (the daemon's own worker sent it, not the
    # last pass after the screen was gone): its last frame's sync label reads as a summary
    # drawn with "synced" does.
    labels = [_sync_label(Image.open(f)) for f in sorted(frames.glob("frame_*.png"))]
    shown = [label for label in labels if label is not None]
    assert shown and shown[-1] == "synced", f"the summary's sync labels, in order: {shown}"


def _sync_label(frame: Image.Image) -> str | None:
    """The sync state a summary screen in ``frame`` shows, read from its pixels; None when
    the frame is not a summary (its label box matches no state)."""
    from display.render import render
    from display.state import SYNC_STATES, SummaryScreen

    def drawn(state: str) -> Image.Image:
        return render(SummaryScreen(0.9, 0.9, 0.9, 20, 18, 9.8, state, tip=None)).convert("1")

    shown = {state: drawn(state) for state in SYNC_STATES}
    # The label's box: where the states differ; the rest is the same screen.
    boxes = [
        ImageChops.difference(shown["queued"].convert("L"), image.convert("L")).getbbox()
        for state, image in shown.items()
        if state != "queued"
    ]
    assert all(boxes), "the summary draws two sync states alike"
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    label = frame.convert("1").crop(box).tobytes()
    matches = [state for state, image in shown.items() if image.crop(box).tobytes() == label]
    return matches[0] if len(matches) == 1 else None


class LogLines:
    """A process's stderr, read as it comes, so a test can wait for a line."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)
            self._new.put(line)

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        """The next line matching ``pattern`` (lines before it are passed over)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._new.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise AssertionError(f"no line like {pattern!r}; got {self.lines[-5:]}") from None
            if re.search(pattern, line):
                return line

    def text(self) -> str:
        self._reader.join(timeout=10)
        return "".join(self.lines)


def test_keyboard_buttons_drive_the_daemon_from_a_pipe(tmp_path: Path) -> None:
    """`--buttons keyboard` through a pipe: start, pause, resume, long-press stop, SIGTERM.
    Each step waits for the daemon's log line (that the pause is not counted is timed
    exactly by test_buttons_from_gpio_pins_drive_the_daemon)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "run", "--source", "tone", "--display", "none"]
        + ["--buttons", "keyboard", "--json", "-o", "practice.checkpoint_s=0.5"],
        cwd=REPO,
        env={**os.environ, "FRETCOACH_DATA_DIR": str(tmp_path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    log = LogLines(proc.stderr)

    def press(keys: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(keys + "\n")
        proc.stdin.flush()

    try:
        log.expect(r"listening on")
        with Store.open(tmp_path) as store:
            assert store.sessions() == []  # buttons: nothing starts by itself
            press("g")  # start
            log.expect(r"session \S+ started")
            wait_until(
                lambda: any(r.total_notes_played >= 2 for r in store.sessions()),
                "two notes in a checkpoint",
            )
        press("g g G")  # pause, resume, long press: stop the session
        log.expect(r"session \S+ finished")
        proc.send_signal(signal.SIGTERM)
        out = proc.stdout.read()
        assert proc.wait(timeout=30) == 0, log.text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.text()
    [session] = json.loads(out)
    assert session["status"] == "completed"
    assert session["total_notes_played"] >= 2


def test_coach_tips_reach_the_live_screen_and_the_summary(tmp_path: Path) -> None:
    """No key: the offline coach writes the tips; they show while playing and at the end."""
    from coach import LiveCoach
    from display.state import PracticeScreen, SummaryScreen

    frames: list[object] = []
    config, _ = load_config(
        None, ["practice.scale='A minor pentatonic'", "coach.first_tip_s=3", "coach.min_notes=4"]
    )
    with Store.open(tmp_path) as store:
        coach = LiveCoach.from_env(
            store=store, first_tip_s=3, interval_s=30, min_notes=4, environ={}
        ).start()
        display = recording_display(frames)
        daemon = Daemon(
            config,
            source=WavSource(DEMO, realtime=True),
            store=store,
            display=display,
            coach=coach,
        )
        results = daemon.run()
    live_tips = {f.tip for f in frames if isinstance(f, PracticeScreen) and f.tip}
    summary_tips = {f.tip for f in frames if isinstance(f, SummaryScreen) and f.tip}
    assert live_tips, "no tip reached the practice screen"
    assert all(len(tip.split()) <= 30 for tip in live_tips)
    assert summary_tips, "the summary screen showed no coach summary"
    summary = coach.summary(results[0].session_id)
    assert summary is not None, "no session summary was asked for"
    assert summary.text in summary_tips  # the session summary, not just the last live tip
    assert results[0].status == "completed"


class _SilentStream:
    """What PortAudio's stream looks like after a USB unplug it never reported."""

    def get_read_available(self) -> int:
        return 0

    def read(self, frames: int, exception_on_overflow: bool = False) -> bytes:
        raise AssertionError("must not block in read() when nothing is available")


def test_a_silent_stream_is_a_stall_not_a_hang() -> None:
    # The real hang cannot be made here (no USB to pull), so the real source class is given
    # a stream that never has frames, exactly as after an unreported unplug.
    from device.audio import PyAudioSource

    source = PyAudioSource(stall_timeout_s=0.2)
    source._stream = _SilentStream()
    with pytest.raises(AudioSourceError, match=r"no audio from the interface for 0.2 s"):
        source.read_hop()


def test_buttons_from_gpio_pins_drive_the_daemon(tmp_path: Path) -> None:
    """gpiozero's MockFactory pins, pressed like real buttons, through the whole daemon; the
    audio is let through hop by hop, so the session's length is exact: a pause is not
    counted, nor what was played before START."""
    panel = MockPanel()
    source = GatedTone()
    config, _ = load_config(None, ["practice.scale='A minor pentatonic'"])
    with Store.open(tmp_path) as store:
        daemon = Daemon(
            config,
            source=source,
            store=store,
            buttons=panel,
            exit_when_source_ends=False,
            notifier=ReadyNotifier(),
        )
        with running(daemon):
            panel.press("feedback")  # home screen: next metrics set
            assert daemon.settings.metrics == ("pitch", "scale")
            panel.press("select")  # home screen: next root
            assert daemon.settings.scale.name == "A# minor pentatonic"
            play(daemon, source, 50)  # heard on the home screen: no session's
            panel.press("start")
            assert daemon.state is State.PRACTISING
            play(daemon, source, 200)
            panel.press("start")
            assert daemon.state is State.PAUSED
            play(daemon, source, 300)  # paused: not counted
            panel.press("start")
            assert daemon.state is State.PRACTISING
            play(daemon, source, 100)
            panel.press("start", long=True)  # stop
            assert daemon.state is State.SUMMARY
            source.end()
        [record] = store.sessions()
        assert record.status == "completed"
        assert record.duration_seconds == round(300 * HOP_SIZE / source.sample_rate, 3)
        assert record.total_notes_played >= 2
        assert record.scale_chosen == "A# Minor (Pentatonic)"
        assert record.enabled_metrics == ("pitch", "scale")
        assert record.timing_stability is None


def test_presses_move_the_daemon_between_screens(tmp_path: Path) -> None:
    """The keymap's actions on a daemon that is not running: presses are handled in this
    thread, one by one (only the DSP thread runs, to flush the session a stop finishes)."""
    with Store.open(tmp_path) as store:
        daemon = Daemon(Config(), source=ToneSource(realtime=False), store=store)
        daemon.dsp.start()
        try:
            daemon.press("mode")  # home: the tempo screen
            assert daemon.screen() == TempoScreen(None, taps=1)  # that press was a tap
            daemon.press("feedback")  # from free: 100 bpm, where a first step lands
            for _step in range(8):
                daemon.press("select", long=True)  # −5 each
            assert daemon.settings.bpm == 60.0
            daemon.press("start")  # done: home
            assert daemon.state is State.IDLE and isinstance(daemon.screen(), HomeScreen)
            daemon.press("select", long=True)  # home: the scale type
            assert daemon.settings.scale.type.key != "minor_pentatonic"
            assert daemon.settings.scale.spelled_root == "A"
            daemon.press("mode", long=True)
            assert daemon.state is State.TUNER and daemon.dsp.tuning
            for button in ("start", "select", "mode", "feedback"):
                daemon.press(button)  # the tuner: only a long MODE does something
            assert daemon.state is State.TUNER
            daemon.press("mode", long=True)
            assert daemon.state is State.IDLE and not daemon.dsp.tuning
            daemon.press("start", long=True)  # home: the settings screen
            assert isinstance(daemon.screen(), SettingsScreen) and store.sessions() == []
            daemon.press("start", long=True)  # done, long or short
            assert isinstance(daemon.screen(), HomeScreen)
            daemon.press("start")
            assert daemon.state is State.PRACTISING and daemon.live is not None
            daemon.press("mode")  # practising: the tip interval, 60 → 120 s
            daemon.press("mode", long=True)  # practising: nothing
            assert daemon.settings.bpm == 60.0 and daemon.state is State.PRACTISING
            daemon.press("start")
            assert daemon.state is State.PAUSED and daemon.live.paused
            daemon.press("start")
            assert daemon.state is State.PRACTISING and not daemon.live.paused
            daemon.press("start", long=True)
            assert daemon.state is State.SUMMARY and len(daemon.results) == 1
            daemon.press("mode")  # the summary: nothing
            assert daemon.state is State.SUMMARY
            daemon.press("start", long=True)  # the summary: home, long or short
            assert daemon.state is State.IDLE
        finally:
            daemon.dsp.stop()
        [record] = store.sessions()
        assert record.status == "completed" and record.bpm == 60.0


def test_the_tempo_set_by_taps_and_by_steps_is_the_next_session_s(tmp_path: Path) -> None:
    """MockPanel presses through the running daemon; the taps are spaced on the buttons'
    stepped clock (each press itself takes 0.1 s of it), and the tempo reaches the scorer
    of the session START begins, and the stored session."""
    panel = MockPanel()
    source = GatedTone()
    watcher = ScreenWatcher()

    def tap_after(seconds: float) -> None:
        panel.clock.advance(seconds - 0.1)
        panel.press("mode")

    def session_bpm() -> float | None:
        panel.press("start")  # the tempo screen: done
        panel.press("start")  # home: play
        assert daemon.live is not None
        bpm = daemon.live.scorer.config.bpm
        panel.press("start", long=True)  # stop
        panel.press("start")  # the summary: home
        return bpm

    with Store.open(tmp_path) as store:
        daemon = Daemon(
            Config(),
            source=source,
            store=store,
            display=watcher,
            buttons=panel,
            exit_when_source_ends=False,
            notifier=ReadyNotifier(),
        )
        with running(daemon):
            panel.press("mode")  # home: the tempo screen, and the first tap
            watcher.wait_for(lambda s: s == TempoScreen(None, taps=1))
            tap_after(0.5)
            assert daemon.settings.bpm is None  # two taps are not enough
            tap_after(0.5)
            assert daemon.settings.bpm == 120.0
            tap_after(0.3)  # a fumbled tap: the median of 0.5, 0.5, 0.3 s is kept
            assert daemon.settings.bpm == 120.0
            watcher.wait_for(lambda s: s == TempoScreen(120.0, taps=4))
            assert session_bpm() == 120.0

            panel.press("mode")  # the tempo screen again: a new count
            for _step in range(3):
                panel.press("feedback")  # +1
            panel.press("select", long=True)  # −5
            assert daemon.settings.bpm == 118.0
            panel.press("mode", long=True)  # free tempo
            watcher.wait_for(lambda s: s == TempoScreen(None))
            assert session_bpm() is None

            panel.press("mode")
            panel.press("mode", long=True)  # from free back to the last tempo
            assert daemon.settings.bpm == 118.0
            tap_after(0.75)  # 80 bpm, but one interval is only a start
            tap_after(2.5)  # over 2 s: the count starts again
            tap_after(0.75)
            assert daemon.settings.bpm == 118.0
            tap_after(0.75)
            assert daemon.settings.bpm == 80.0
            assert session_bpm() == 80.0
            source.end()
        records = sorted(store.sessions(), key=lambda r: r.start_timestamp)
        assert [r.bpm for r in records] == [120.0, None, 80.0]


def test_settings_set_on_the_device_outlast_a_restart(tmp_path: Path) -> None:
    """The settings screen's values are kept in the state directory and read back by the
    next start: over the config file, under ``-o``."""
    saved = device_settings_path(tmp_path)

    def started(config: Config) -> Daemon:
        return Daemon(config, source=ToneSource(realtime=False), store=store)

    with Store.open(tmp_path) as store:
        config, _ = load_config(None, [], device_settings=saved)
        daemon = started(config)
        daemon.press("start", long=True)  # home: settings
        assert daemon.screen() == SettingsScreen(
            (
                ("Strictness", "0.5"),
                ("Sensitivity", "0.5"),
                ("Click", "50 %"),
                ("Beats a bar", "4"),
                ("Tips every", "60 s"),
            ),
            0,
        )
        daemon.press("feedback")
        daemon.press("feedback", long=True)  # strictness 0.7
        daemon.press("mode")
        daemon.press("select")  # sensitivity 0.4
        daemon.press("mode")
        daemon.press("select")  # the click at 40 %
        for _ in range(4):
            daemon.press("mode", long=True)  # back round to beats a bar, from the top
        daemon.press("select")  # 3 beats a bar
        daemon.press("mode")
        daemon.press("feedback")  # a tip every 120 s
        rows = (
            ("Strictness", "0.7"),
            ("Sensitivity", "0.4"),
            ("Click", "40 %"),
            ("Beats a bar", "3"),
            ("Tips every", "120 s"),
        )
        assert daemon.screen() == SettingsScreen(rows, 4)
        daemon.press("start")  # done
        assert daemon.state is State.IDLE and daemon.settings.strictness == 0.7
        assert (daemon.metronome.volume, daemon.metronome.beats_per_bar) == (0.4, 3)
        assert json.loads(saved.read_text()) == {
            "coach.interval_s": 120.0,
            "metronome.beats_per_bar": 3.0,
            "metronome.volume": 0.4,
            "practice.sensitivity": 0.4,
            "practice.strictness": 0.7,
        }
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".settings")] == []

        # The next start, in the same state directory.
        config, _ = load_config(None, [], device_settings=saved)
        assert (config.practice.strictness, config.practice.sensitivity) == (0.7, 0.4)
        assert config.coach.interval_s == 120.0
        assert (config.metronome.volume, config.metronome.beats_per_bar) == (0.4, 3)
        again = started(config)
        again.press("start", long=True)
        assert again.screen() == SettingsScreen(rows, 0)
        again.press("start")
        again.press("start")  # a session with them
        assert again.live is not None
        assert again.live.scorer.config.strictness == 0.7
        assert again.live.tracker.config.sensitivity == 0.4
        again.press("mode")  # practising: the tip interval, 120 → 300 s, remembered too
        assert json.loads(saved.read_text())["coach.interval_s"] == 300.0
        again._finish_session(status="completed")

    # Above the config file, below -o.
    file = tmp_path / "config.toml"
    file.write_text("[practice]\nstrictness = 0.2\nsensitivity = 0.2\n")
    config, _ = load_config(file, ["practice.sensitivity=0.9"], device_settings=saved)
    assert (config.practice.strictness, config.practice.sensitivity) == (0.7, 0.9)


def test_a_damaged_settings_file_never_stops_the_device(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved = device_settings_path(tmp_path)
    saved.write_text("{not json")
    config, _ = load_config(None, [], device_settings=saved)
    assert config == Config()
    assert "ignoring the device's saved settings" in caplog.text
    saved.write_text(
        '{"practice.strictness": 7, "practice.sensitivity": 0.3, "sync.data_dir": "/"}'
    )
    config, _ = load_config(None, [], device_settings=saved)
    assert config.practice.strictness == 0.5  # out of range: skipped, and logged
    assert config.practice.sensitivity == 0.3
    assert config.sync.data_dir == ""  # only what the settings screen sets is read
    assert "`practice.strictness` must be between 0 and 1, not 7" in caplog.text
    remember_setting(saved, "practice.strictness", 0.8)  # rewrites it whole
    assert json.loads(saved.read_text()) == {
        "practice.sensitivity": 0.3,
        "practice.strictness": 0.8,
    }


def test_fretcoach_status_shows_the_settings_kept_on_the_device(tmp_path: Path) -> None:
    data = tmp_path / "state"
    remember_setting(device_settings_path(data), "practice.strictness", 0.9)
    config = tmp_path / "config.toml"
    config.write_text("[practice]\nstrictness = 0.1\n")
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "status", "--json", "--config", str(config)]
        + ["--data-dir", str(data)],
        cwd=REPO,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout)["config"]["practice"]["strictness"] == 0.9


class ScriptedCoach:
    """A coach whose live tip and summary the test sets: the daemon's paging is under test."""

    on_update = None

    def __init__(self) -> None:
        self.tip: str | None = None
        self.summary_text: str | None = None

    def latest(self, session_id: str) -> SimpleNamespace | None:
        return SimpleNamespace(text=self.tip) if self.tip else None

    def tip_on_screen(self, session_id: str) -> SimpleNamespace | None:
        text = self.summary_text or self.tip
        return SimpleNamespace(text=text) if text else None

    def summary(self, session_id: str) -> None:
        return None

    def maybe_request(self, *args: object, **kwargs: object) -> None:
        pass

    def request_summary(self, *args: object, **kwargs: object) -> None:
        pass

    def set_interval(self, interval_s: float) -> None:
        pass

    def feedback(self, session_id: str, *, thumbs_up: bool) -> bool:
        return False  # as with Opik off

    def wait_idle(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float = 3.0) -> bool:
        return True


def test_a_tip_and_the_summary_page_from_their_first_line(tmp_path: Path) -> None:
    """Each text on the tip line starts at its first line and moves on a line every
    `coach.tip_page_s` from when it appeared, whatever the clock said then; SELECT shows
    the next line at once. A press's acknowledgement fits one line."""
    from display.render import text_pages
    from display.state import PracticeScreen, SummaryScreen

    clock = SteppedClock(start=1013.7)  # paged by the clock itself, a tip would start mid-way
    coach = ScriptedCoach()
    config, _ = load_config(None, ["coach.tip_page_s=3"])
    with Store.open(tmp_path) as store:
        daemon = Daemon(
            config,
            source=ToneSource(realtime=False),
            store=store,
            coach=coach,
            monotonic=clock,
        )
        daemon.dsp.start()
        try:

            def tip_line() -> tuple[str | None, int]:
                screen = daemon.screen()
                assert isinstance(screen, PracticeScreen | SummaryScreen)
                return screen.tip, screen.tip_page

            daemon.press("start")
            assert tip_line() == (None, 0)
            clock.advance(1.1)
            coach.tip = "one two three four five six seven eight nine ten eleven twelve"
            assert tip_line() == (coach.tip, 0)
            clock.advance(2.9)
            assert tip_line()[1] == 0
            clock.advance(0.2)
            assert tip_line()[1] == 1
            daemon.press("select")  # the next line now, for a whole 3 s
            assert tip_line()[1] == 2
            clock.advance(2.9)
            assert tip_line()[1] == 2
            clock.advance(0.2)
            assert tip_line()[1] == 3

            daemon.press("feedback")  # thumbs up, with Opik off
            notice, page = tip_line()
            assert (notice, page) == ("Thumbs up: not sent", 0)
            assert text_pages(notice) == [notice]  # one line, never split across two
            clock.advance(2.0)  # the acknowledgement is over: the tip again, from its start
            assert tip_line() == (coach.tip, 0)

            coach.tip = "A new tip arrives"
            clock.advance(1.4)
            assert tip_line() == (coach.tip, 0)

            coach.summary_text = "Ten seconds of A minor pentatonic, twenty notes."
            daemon.press("start", long=True)  # stop: the summary screen
            assert daemon.state is State.SUMMARY
            assert tip_line() == (coach.summary_text, 0)
            clock.advance(3.1)
            assert tip_line() == (coach.summary_text, 1)
        finally:
            daemon.dsp.stop()


def test_the_ai_mode_screens_the_daemon_builds_are_the_reference_images() -> None:
    from coach.recommend import Recommendation
    from device import screens
    from tests.render_screens import EXAMPLES

    rec = Recommendation.checked(
        scale_name="A Minor (Pentatonic)",
        scale_type="pentatonic",
        focus_area="timing",
        reasoning="Timing is the weakest of the last sessions.",
        strictness=0.5,
        sensitivity=0.5,
    )
    assert screens.suggestion(rec) == EXAMPLES["ai_mode_rules"]
    assert EXAMPLES["ai_mode_choosing"] == screens.THINKING
    model = replace(rec, source="model", reasoning="Your weakest area has been the scale. Go")
    assert screens.short_reason(model) == "Your weakest area ha…"  # one 21-character line
    assert screens.nearest_string(108.9) == "A2"  # the tuner screen adds "string"


def test_the_tuner_names_a_low_tuned_guitars_lowest_string() -> None:
    """A B1 string (61.7 Hz) was called "E2" whatever practice.lowest_note said."""
    from device import screens

    b1 = 440.0 * 2 ** ((35 - 69) / 12)
    assert screens.nearest_string(b1) == "E2"  # standard tuning's six only, by default
    assert screens.nearest_string(b1, lowest_midi=35) == "B1"
    assert screens.nearest_string(b1 * 0.99, lowest_midi=33) == "A1"  # nearer A1 than E2
    assert screens.nearest_string(82.0, lowest_midi=35) == "E2"
    assert screens.nearest_string(110.0 * 432 / 440, a4_hz=432.0) == "A2"


def test_ai_mode_from_the_home_screen_suggests_and_runs_the_next_session(tmp_path: Path) -> None:
    """FEEDBACK held on the home screen: a suggestion on screen, then the session it sets up."""
    from coach.recommend import Recommender
    from display.state import StatusScreen

    panel = MockPanel()
    watcher = ScreenWatcher()
    config, _ = load_config(None, ["practice.scale='E dorian'"])
    with Store.open(tmp_path) as store:
        daemon = Daemon(
            config,
            source=ToneSource(realtime=True),
            store=store,
            display=watcher,
            buttons=panel,
            recommender=Recommender(),  # no model configured: the rule-based coach
            exit_when_source_ends=False,
            notifier=ReadyNotifier(),
        )
        with running(daemon):
            panel.press("feedback", long=True)  # long press on the home screen: AI mode
            screen = watcher.wait_for(
                lambda s: isinstance(s, StatusScreen) and s.title == "AI coach suggests"
            )
            assert screen.lines[0] == "A minor pentatonic"
            assert screen.lines[1] == "Focus: pitch"
            assert daemon.settings.scale.name == "A minor pentatonic"
            assert daemon.settings.metrics == ("pitch", "scale", "timing")  # not cycled
            panel.press("start")  # dismisses the suggestion and plays it
            assert daemon.state is State.PRACTISING
            panel.press("start", long=True)
            assert daemon.state is State.SUMMARY
        [record] = store.sessions()
        assert record.scale_chosen == "A Minor (Pentatonic)"
        [plan] = store.practice_plans(config.sync.user_id)
        assert plan["practice_plan"]["strictness"] == record.strictness
        assert plan["practice_plan"]["sensitivity"] == record.sensitivity
        assert plan["executed_session_id"] == record.session_id
        kinds = {item.kind for item in store.pending(kinds=("practice_plan", "practice_plan_link"))}
        assert kinds == {"practice_plan", "practice_plan_link"}


def test_thumbs_and_the_tip_interval_from_the_buttons_reach_the_coach_and_opik(
    tmp_path: Path,
) -> None:
    """FEEDBACK rates the tip on screen in Opik; MODE steps the tip interval; the session
    summary is kept for the Hub. Real opik SDK, capture server on loopback, MockFactory pins."""
    from coach import LiveCoach
    from display.state import PracticeScreen
    from tests.opikstub import OpikStub

    panel = MockPanel()
    watcher = ScreenWatcher()
    config, _ = load_config(
        None, ["practice.scale='A minor pentatonic'", "coach.interval_s=30", "coach.min_notes=4"]
    )
    with OpikStub(tmp_path / "opik.jsonl") as opik, Store.open(tmp_path / "state") as store:
        coach = LiveCoach.from_env(
            store=store,
            first_tip_s=2,
            interval_s=30,
            min_notes=4,
            environ={"OPIK_URL_OVERRIDE": opik.url, "OPIK_PROJECT_NAME": "FretCoach"},
        ).start()
        daemon = Daemon(
            config,
            source=ToneSource(realtime=True),
            store=store,
            display=watcher,
            buttons=panel,
            coach=coach,
            exit_when_source_ends=False,
            notifier=ReadyNotifier(),
        )

        def tip_line() -> str | None:
            screen = daemon.screen()
            return screen.tip if isinstance(screen, PracticeScreen) else None

        with running(daemon):
            panel.press("feedback")  # on the home screen this steps the metrics, rates nothing
            assert daemon.settings.metrics == ("pitch", "scale")
            panel.press("start")
            assert daemon.state is State.PRACTISING
            assert daemon.live is not None
            session_id = daemon.live.session_id
            # The first tip also imports opik and openai: it may take a while.
            watcher.wait_for(lambda s: isinstance(s, PracticeScreen) and s.tip is not None, 40)
            tip = coach.latest(session_id)
            assert tip is not None and tip.trace_id is not None
            panel.press("feedback")  # thumbs up on the tip on screen
            assert tip_line() == "Thumbs up: thanks!"
            panel.press("mode")  # the tip interval: 30 → 60 s
            assert coach.interval_s == 60.0
            assert tip_line() == "Tips every 60 s"
            panel.press("start", long=True)  # stop
            assert daemon.state is State.SUMMARY
            assert coach.wait_idle(timeout=20)
        [score] = opik.wait_for("feedback", 1, timeout=30)
        assert score["id"] == tip.trace_id
        assert (score["name"], score["value"]) == ("User Feedback", 1.0)
        summary = coach.summary(session_id)
        assert summary is not None
        assert store.session_summary(session_id) == summary.text
        [item] = store.pending(kinds=("session_summary",))
        assert json.loads(item.payload or "")["model"] == summary.model


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt install espeak-ng)"
)
def test_tips_are_spoken_when_speech_is_on(tmp_path: Path) -> None:
    """`coach.speech = "espeak"`: the offline coach's tips go through espeak-ng to the player
    (here a command that keeps each WAV it is given), while the session plays on."""
    spoken = tmp_path / "spoken"
    spoken.mkdir()
    keep = (
        "import sys, time; from pathlib import Path; "
        "Path(sys.argv[1], f'{time.time_ns()}.wav').write_bytes(sys.stdin.buffer.read())"
    )
    player = f"{sys.executable} -c {shlex.quote(keep)} {spoken}"
    [session], result = run_device(
        ["--source", "demo", "--display", "none", "--buttons", "none", "--speech", "espeak"]
        + ["-o", "coach.first_tip_s=3", "-o", "coach.min_notes=4"]
        + ["-o", f"coach.speech_player={json.dumps(player)}"],
        state_dir=tmp_path / "state",
    )
    assert session["status"] == "completed"
    wavs = sorted(spoken.glob("*.wav"))
    # A live tip, then the session summary, heard out before the run ends.
    assert len(wavs) >= 2, f"spoken: {wavs}; {result.stderr[-2000:]}"
    first = wavs[0].read_bytes()
    assert first[:4] == b"RIFF" and first[8:12] == b"WAVE"
    assert len(first) > 10_000  # a sentence, not an empty file


def test_speech_goes_to_the_interface_unless_told_otherwise() -> None:
    from device.config import speech_output_for, speech_settings

    assert speech_output_for("Scarlett Solo USB: Audio (hw:1,0)") == "plughw:1,0"
    assert speech_output_for("hw:2,0") == "plughw:2,0"  # hw would refuse 24 kHz mono
    assert speech_output_for("hw:1") == "plughw:1,0"
    assert speech_output_for("front:CARD=Solo,DEV=0") == "plughw:CARD=Solo,DEV=0"
    assert speech_output_for("sysdefault:CARD=Solo") == "plughw:CARD=Solo,DEV=0"
    assert speech_output_for("Scarlett Solo USB: Audio") == "Scarlett Solo USB"
    assert speech_output_for("") == ""  # ALSA's default
    config, _ = load_config(None, ["audio.device='Scarlett'", "coach.speech='espeak'"])
    assert speech_settings(config).output_device == "Scarlett"
    config, _ = load_config(None, ["audio.device='Scarlett'", "coach.speech_device='null'"])
    assert speech_settings(config).output_device == "null"
    with pytest.raises(ConfigError, match=r"`coach.speech` must be one of off, auto"):
        load_config(None, ["coach.speech='loud'"])


def test_the_summary_screen_turns_synced_when_the_hub_has_the_session(tmp_path: Path) -> None:
    from display.state import SummaryScreen
    from sync.client import HubClient, HubSettings
    from sync.clock import ClockReading
    from sync.worker import SyncWorker
    from tests.hubproc import HubProcess

    config, _ = load_config(None, ["practice.scale='A minor pentatonic'", "sync.user_id='alice'"])
    with HubProcess(tmp_path / "hub") as hub, Store.open(tmp_path / "state") as store:
        worker = SyncWorker(
            store,
            HubClient(HubSettings(url=hub.url, token=hub.token_for("alice"))),
            clock=lambda: ClockReading(time.time(), time.monotonic(), "boot", True),
        )
        watcher = ScreenWatcher()
        daemon = Daemon(
            config,
            source=WavSource(DEMO, realtime=False),
            store=store,
            display=watcher,
            sync_worker=worker,
            exit_when_source_ends=False,  # stay on the summary screen until told
            notifier=ReadyNotifier(),
        )
        with running(daemon):
            watcher.wait_for(lambda s: isinstance(s, SummaryScreen) and s.sync_state == "synced")
        states = [s.sync_state for s in watcher.shown if isinstance(s, SummaryScreen)]
        # It said "queued" when the session ended (unless the upload beat the first look).
        assert set(states) <= {"queued", "synced"} and states[-1] == "synced", states
        [result] = daemon.results
        assert [r["session_id"] for r in hub.rows()] == [result.session_id]


def test_the_daemon_prunes_traces_opik_has_had_for_a_month(tmp_path: Path) -> None:
    import sqlite3

    with Store.open(tmp_path) as store:
        for ref in ("old", "recent"):
            store.enqueue_payload("opik-trace", ref, "{}")
        for item in store.pending(kinds=("opik-trace",)):
            store.mark_sent(item.id)
    with sqlite3.connect(tmp_path / "fretcoach.db") as db:  # delivered 31 days ago
        db.execute("UPDATE outbox SET updated_at = '2020-01-01T00:00:00.000+00:00' WHERE ref='old'")
    with Store.open(tmp_path) as store:
        Daemon(Config(), source=ToneSource(realtime=False, seconds=0.5), store=store).run()
        assert store.outbox_counts(("opik-trace",)).sent == 1  # the recent one is kept


def test_gpio_buttons_that_cannot_open_never_stop_the_device(tmp_path: Path) -> None:
    """No GPIO backend (here: gpiozero told to use a pin factory that does not exist): the
    device plays without buttons, the session starting at once, and the journal says why."""
    [session], result = run_device(
        ["--source", "demo", "--fast", "--display", "none", "--buttons", "gpio"],
        state_dir=tmp_path / "state",
        env={"GPIOZERO_PIN_FACTORY": "no-such-factory"},
    )
    assert session["status"] == "completed" and session["total_notes_played"] >= 18
    assert "no GPIO backend for the buttons" in result.stderr
    assert "running without buttons" in result.stderr


def test_gpio_buttons_that_cannot_open_say_so_on_every_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same missing backend, wired as `fretcoach run` wires it: the home screen, the
    practice screen's tip line (while the coach has nothing to say) and the summary point
    to the journal, where the reason is."""
    from gpiozero import Device

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    monkeypatch.setattr(Device, "pin_factory", None)  # gpiozero's choice is made afresh
    config, _ = load_config(None, ['buttons.kind="gpio"'])
    setup = build_buttons(config)
    assert setup.buttons is None
    assert setup.problem is not None and "no GPIO backend for the buttons" in setup.problem
    watcher = ScreenWatcher()
    with Store.open(tmp_path) as store:
        daemon = Daemon(
            config,
            source=WavSource(DEMO, realtime=False),
            store=store,
            display=watcher,
            buttons=setup.buttons,
            buttons_problem=setup.problem,
        )
        [result] = daemon.run()
    assert result.status == "completed"
    home = next(s for s in watcher.shown if isinstance(s, HomeScreen))
    assert home.hint == NO_BUTTONS  # not "Press START to play": there is no START
    practice = [s for s in watcher.shown if isinstance(s, PracticeScreen)]
    assert practice and all(s.tip == NO_BUTTONS for s in practice)
    assert any(isinstance(s, SummaryScreen) and s.tip == NO_BUTTONS for s in watcher.shown)


@pytest.mark.parametrize(
    ("factory", "shown", "as_json"),
    [
        ("mock", "buttons: gpio through gpiozero's mock pin factory", ("mock", None)),
        (
            "no-such-factory",
            "buttons: none — no GPIO backend for the buttons "
            "(Unable to find pin factory 'no-such-factory')",
            (
                "none",
                "no GPIO backend for the buttons (Unable to find pin factory 'no-such-factory')",
            ),
        ),
    ],
)
def test_status_shows_the_gpio_backend_or_why_there_is_none(
    tmp_path: Path, factory: str, shown: str, as_json: tuple[str, str | None]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[buttons]\nkind = "gpio"\n')

    def status(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "device.cli", "status", "--config", str(config)]
            + ["--data-dir", str(tmp_path / "state"), *args],
            cwd=REPO,
            env={**offline_env(), "GPIOZERO_PIN_FACTORY": factory},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    assert shown in status()
    backend, problem = as_json
    reported = json.loads(status("--json"))
    assert reported["buttons"] == {"kind": "gpio", "backend": backend, "problem": problem}
    assert reported["config"]["buttons"]["kind"] == "gpio"  # the existing keys stay


def test_keyboard_buttons_that_cannot_open_still_stop_with_the_fix(tmp_path: Path) -> None:
    """Only GPIO falls back: a wrong button kind is a setting to fix, said in one line."""
    config = tmp_path / "config.toml"
    config.write_text('[buttons]\nkind = "joystick"\n')
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "run", "--config", str(config)]
        + ["--data-dir", str(tmp_path / "state"), "--source", "demo", "--fast"]
        + ["--display", "none"],
        cwd=REPO,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "buttons.kind" in result.stderr


def test_the_home_screen_asks_about_the_wi_fi_while_a_captive_portal_answers(
    tmp_path: Path,
) -> None:
    """A hotel Wi-Fi's sign-in page answers in the Hub's place: the session stays queued and
    the home screen says "Wi-Fi login" instead of only counting; once the Hub itself
    answers, the session is synced and the note goes."""
    from display.state import HomeScreen
    from sync.client import HubClient, HubSettings
    from sync.clock import ClockReading
    from sync.worker import SyncWorker
    from tests.hubproc import HubProcess

    with HubProcess(tmp_path / "hub") as hub, Store.open(tmp_path / "state") as store:
        worker = SyncWorker(
            store,
            HubClient(HubSettings(url=hub.url, token=hub.token_for("alice"))),
            clock=lambda: ClockReading(time.time(), time.monotonic(), "boot", True),
            base_delay_s=0.01,
        )
        # One short session, queued; then a daemon with the worker, for its screens.
        Daemon(Config(), source=ToneSource(realtime=False, seconds=1.0), store=store).run()
        daemon = Daemon(Config(), source=ToneSource(), store=store, sync_worker=worker)
        hub.faults([{"portal": "page"}])
        assert not worker.sync_once().complete
        daemon._counts = None
        home = daemon.screen()
        assert isinstance(home, HomeScreen) and home.hub_note == "Wi-Fi login"
        assert hub.rows() == []
        assert worker.sync_once().complete
        daemon._counts = None
        home = daemon.screen()
        assert isinstance(home, HomeScreen) and home.hub_note is None and home.sync_pending == 0
        assert len(hub.rows()) == 1
