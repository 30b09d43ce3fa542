"""``fretcoach run``: the device. Builds every part, runs the main loop, tears down in reverse.

Threads: capture (reads the interface), dsp (notes and scores), display (frames), sync
(uploads) and this main thread, which owns the session state machine, the store, the
buttons' events, signals and the systemd watchdog. Start-up and shutdown are in one place
(:meth:`Daemon.run`): on SIGTERM/SIGINT the session in progress is finished and queued,
the store flushed, the OLED left on a deliberate "stopped" screen, and systemd told
``STOPPING=1``.

What each button press does is :data:`device.keymap.KEYMAP`; :attr:`Daemon.actions` runs
it. The screens are built by :mod:`device.screens`. The tempo and settings screens open
over the home screen; what is set on the settings screen is remembered in the state
directory (:func:`device.config.remember_setting`) and read back by the next start. A
thumbs press goes to Opik as "User Feedback"; AI mode asks the coach for the next session
on its own thread, and the plan it stores is linked to the session START then begins. The
session summary the coach writes at the end is queued for the Hub as soon as it arrives.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from device import keymap, parts, screens
from device.audio import AudioSource, Capture
from device.buttons import ButtonEvent, Buttons
from device.config import (
    Config,
    device_settings_path,
    lowest_note_midi,
    metronome_settings,
    remember_setting,
)
from device.keymap import SETTINGS, Action, Editor
from device.metronome import BeatLed, SessionMetronome
from device.output import OutputMix
from device.parts import PairingOffer
from device.recording import begin_session, progress_of
from device.session import (
    DspLoop,
    LiveSession,
    LiveSnapshot,
    PracticeSettings,
    State,
)
from device.systemd import Notifier
from display.state import ScreenState, StoppedScreen
from dsp import Scores, parse_scale
from dsp.errors import StoreError
from sync.client import redact_url
from sync.clock import read_clock
from sync.records import NoteRow, SessionProgress
from sync.store import HUB_KINDS, Store
from sync.worker import SyncWorker

if TYPE_CHECKING:
    from coach.recommend import Recommendation
    from coach.tips import MetricSnapshot, Tip
    from coach.tracing import Tracer
    from sync.pairing import BackgroundPairing, Paired

log = logging.getLogger(__name__)

SUMMARY_LINGER_S = 1.5  # a file run's last summary stays this long before "stopped"
SHUTDOWN_BUDGET_S = 10.0  # sync, coach, speech and tracing together, after a signal
SPEECH_LINGER_S = 20.0  # at the end of a file run, how long a spoken summary may finish
SENT_KEEP_S = 30 * 86400.0  # delivered Opik traces are kept this long, then pruned
SYNC_STATE_EVERY_S = 0.5  # the summary screen's sync state (one keyed lookup)
COUNTS_EVERY_S = 2.0  # how stale the home screen's sync counts may be
NOTICE_S = 2.0  # a button's acknowledgement replaces the tip line this long


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What the daemon reports about a finished session (printed by ``run``)."""

    session_id: str
    status: str
    duration_s: float
    scores: Scores | None
    sync_state: str
    clicks_heard: bool = False  # played to the metronome's heard clicks: the offset is real


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "button" | "end" | "redraw" | "recommendation"
    button: str = ""
    long: bool = False
    at: float | None = None  # "button": when it was pressed (monotonic), for tap tempo
    payload: Any = None  # "recommendation": (Recommendation, practice_id) or None


class Daemon:
    """One practice device. ``run()`` returns the finished sessions when it stops."""

    def __init__(
        self,
        config: Config,
        *,
        source: AudioSource,
        store: Store,
        display: parts.Display | None = None,
        buttons: Buttons | None = None,  # None: the session starts at once
        buttons_problem: str | None = None,  # why configured buttons are missing: on screen
        sync_worker: SyncWorker | None = None,
        coach: parts.Coach | None = None,  # None: no tips
        recommender: parts.Recommender | None = None,  # None: made from the environment
        speaker: parts.Speaker | None = None,  # None: tips are not spoken
        exit_when_source_ends: bool = True,
        notifier: Notifier | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        settings_path: Path | None = None,  # None: settings.json beside the store
        beat_led: BeatLed | None = None,  # metronome.led_pin's LED
        pairing: PairingOffer | None = None,  # a Hub the settings screen may pair with
        click_phase_s: float | None = None,  # a recording made to a click: its first beat
    ) -> None:
        self.config = config
        self.source = source
        self.store = store
        self.display = display
        self.buttons = buttons
        self.buttons_problem = buttons_problem
        self.sync_worker = sync_worker
        self.coach = coach
        self.recommender = recommender
        self.speaker = speaker
        self.exit_when_source_ends = exit_when_source_ends
        self.notifier = notifier or Notifier()
        self._monotonic = monotonic
        self.settings_path = settings_path or device_settings_path(store.path.parent)
        self.beat_led = beat_led
        self.pairing_offer = pairing
        self.click_phase_s = click_phase_s
        self._pairing: BackgroundPairing | None = None  # the pairing screen's flow
        self.metronome = metronome_settings(config)
        # The interface's output, when it has one (audio.output): clicks and speech.
        self.mix: OutputMix | None = getattr(source, "mix", None)
        if self.mix is not None:
            self.mix.volume = self.metronome.volume
        practice = config.practice
        self.settings = PracticeSettings(
            scale=parse_scale(practice.scale),
            bpm=practice.bpm or None,
            strictness=practice.strictness,
            sensitivity=practice.sensitivity,
            metrics=practice.metrics,
            a4_hz=practice.a4_hz,
            lowest_midi=lowest_note_midi(practice.lowest_note),
        )
        self.state = State.IDLE
        self.events: queue.Queue[Event] = queue.Queue()
        self.capture = Capture(
            source,
            queue_hops=config.audio.queue_hops,
            stall_timeout_s=config.audio.stall_timeout_s,
        )
        self.dsp = DspLoop(
            self.capture,
            on_snapshot=self._on_snapshot,
            on_end_of_stream=lambda: self.events.put(Event("end")),
            tuner_a4_hz=practice.a4_hz,
            tuner_lowest_midi=lowest_note_midi(practice.lowest_note),
        )
        self.live: LiveSession | None = None
        self.results: list[SessionResult] = []
        self._snapshot: LiveSnapshot | None = None
        self._snapshot_lock = threading.Lock()
        self._last_checkpoint = 0.0
        self._sync_stop = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self._stop_requested = False
        self._last_result: SessionResult | None = None
        self._unsaved: list[NoteRow] = []
        self._tip_shown: tuple[object, float, int] | None = None  # (what, since, first page)
        self._stop_at: float | None = None
        self._last_shown: ScreenState | None = None
        self._clock_checked_at = -1e9
        self._clock_ok = True
        self._ai_thread: threading.Thread | None = None
        self._suggestion: Recommendation | None = None  # on screen until dismissed
        self._plan_id: str | None = None  # the plan the next session will run
        self._ai_session = False  # the live session was started from an AI-mode plan
        self._ai_tracer: Tracer | None = None
        self._notice: tuple[str, float] | None = None  # (text, until): a press acknowledged
        self._summary_wanted: set[str] = set()  # sessions whose coach summary is not stored
        self._tip_interval_s = config.coach.interval_s
        self._editor: Editor | None = None  # the tempo or settings screen over home
        self._taps: tuple[float, ...] = ()  # the tap count in progress (monotonic times)
        self._tap_run = 0  # taps in that count, for the screen
        self._last_bpm = self.settings.bpm  # where free tempo goes back to
        self._setting = 0  # the settings screen's selected row
        self._pressed_at = 0.0  # when the press being handled happened
        # (read at, sessions pending, items rejected, queue paused for a re-pair)
        self._counts: tuple[float, int, int, bool] | None = None
        self._shown_sync: tuple[str, float, str] | None = None  # (session, read at, state)
        self._spoken: Tip | None = None  # the last tip (or summary) handed to the speaker
        if coach is not None and hasattr(coach, "on_update"):
            coach.on_update = self._wake  # a new tip is drawn now, not at the next poll
        # What each keymap action does; every Action has exactly one entry here.
        self.actions: Mapping[Action, Callable[[], None]] = {
            Action.START: self._start_session,
            Action.PLAY_SUGGESTION: self._play_suggestion,
            Action.DISMISS: self._dismiss_suggestion,
            Action.PAUSE: lambda: self._pause(True),
            Action.RESUME: lambda: self._pause(False),
            Action.STOP: lambda: self._finish_session(status="completed"),
            Action.HOME: self._go_home,
            Action.NEXT_ROOT: lambda: self._set(scale=keymap.next_root(self.settings.scale)),
            Action.NEXT_SCALE_TYPE: lambda: self._set(
                scale=keymap.next_scale_type(self.settings.scale)
            ),
            Action.TEMPO: self._open_tempo,
            Action.SETTINGS: self._open_settings,
            Action.TEMPO_DOWN: lambda: self._step_tempo(-1),
            Action.TEMPO_DOWN_5: lambda: self._step_tempo(-5),
            Action.TEMPO_UP: lambda: self._step_tempo(1),
            Action.TEMPO_UP_5: lambda: self._step_tempo(5),
            Action.TAP: self._tap,
            Action.FREE_TEMPO: self._free_tempo,
            Action.NEXT_SETTING: lambda: self._select_setting(1),
            Action.PREVIOUS_SETTING: lambda: self._select_setting(-1),
            Action.SETTING_DOWN: lambda: self._step_setting(-1),
            Action.SETTING_UP: lambda: self._step_setting(1),
            Action.TUNER: self._toggle_tuner,
            Action.NEXT_TIP_LINE: self._next_tip_line,
            Action.NEXT_TIP_INTERVAL: self._next_tip_interval,
            Action.NEXT_METRICS: lambda: self._set(
                metrics=keymap.next_metrics(self.settings.metrics)
            ),
            Action.AI_MODE: self._request_recommendation,
            Action.THUMBS_UP: lambda: self._record_feedback(thumbs_up=True),
            Action.THUMBS_DOWN: lambda: self._record_feedback(thumbs_up=False),
        }

    # -- life cycle ----------------------------------------------------------------------

    def run(self) -> list[SessionResult]:
        self._prune_outbox()
        recovered = self.store.recover_interrupted()
        if recovered:
            log.warning("recovered %d interrupted session(s) from the last run", len(recovered))
        previous_handlers = self._install_signal_handlers()
        try:
            self._show()  # bring the display thread up before audio starts flowing
            self.capture.start()
            if self.buttons is None:
                self._start_session()  # no buttons: play at once
            self.dsp.start()
            self._start_sync()
            if self.buttons is not None:
                self.buttons.start(self._on_button)
            log.info("listening on %s", self.source.description)
            self.notifier.ready(f"listening on {self.source.description}")
            self._show()
            self._main_loop()
        finally:
            self._shutdown()
            self._restore_signal_handlers(previous_handlers)
        return self.results

    def _start_sync(self) -> None:
        """The Hub upload on its own thread (at start-up, or once paired from the screen)."""
        if self.sync_worker is None or self._sync_thread is not None:
            return
        self._sync_thread = threading.Thread(
            target=self.sync_worker.run, args=(self._sync_stop,), name="sync", daemon=True
        )
        self._sync_thread.start()

    def _prune_outbox(self) -> None:
        """Forget traces Opik has had for a while: one a minute of practice adds up on an
        SD card over a year. Sessions, plans and summaries are never pruned."""
        from coach.tracing import FEEDBACK_KIND, TRACE_KIND

        try:
            pruned = self.store.prune_sent((TRACE_KIND, FEEDBACK_KIND), older_than_s=SENT_KEEP_S)
        except StoreError as err:
            log.warning("could not prune delivered traces: %s", err)
            return
        if pruned:
            log.info("pruned %d trace(s) delivered to Opik over 30 days ago", pruned)

    def _main_loop(self) -> None:
        watchdog_every = self.notifier.watchdog_interval_s()
        last_ping = 0.0
        while not self._stop_requested:
            if self._stop_at is not None and self._monotonic() >= self._stop_at:
                break
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                event = None
            if event is not None:
                self._handle(event)
                self.events.task_done()  # events.join() returns once all are handled
            now = self._monotonic()
            if self.state is State.PRACTISING and now - self._last_checkpoint >= (
                self.config.practice.checkpoint_s
            ):
                self._checkpoint()
            self._coach_tick()
            self._store_summaries()
            if watchdog_every and now - last_ping >= watchdog_every and not self.capture.stalled:
                self.notifier.watchdog()  # only while audio is fresh: stuck = restarted
                last_ping = now
            self._show()

    def _wake(self) -> None:
        self.events.put_nowait(Event("redraw"))

    def _speak_new_tip(self) -> None:
        """Hand a tip that just reached the screen to the speaker (it never blocks)."""
        if self.speaker is None or self.coach is None:
            return
        if self.live is not None:
            tip = self.coach.latest(self.live.session_id)
        elif self.state is State.SUMMARY and self._last_result is not None:
            tip = self.coach.summary(self._last_result.session_id)
        else:
            return
        if tip is None or tip is self._spoken:
            return
        self._spoken = tip
        self.speaker.say(tip.text, session_id=tip.session_id, ai_mode=self._ai_session)

    def _coach_tick(self) -> None:
        """Let the coach ask for a tip when one is due; it never blocks this thread."""
        self._speak_new_tip()
        live = self.live
        if self.coach is None or live is None:
            return
        with self._snapshot_lock:
            snapshot = self._snapshot
        if snapshot is None or snapshot.session_id != live.session_id or snapshot.window is None:
            return
        self.coach.maybe_request(
            live.session_id,
            self._metric_snapshot(snapshot.window, clicks_heard=_clicks_heard(live)),
            live.stream_s,
            self.state is State.PAUSED,
            ai_mode=self._ai_session,
        )

    def _store_summaries(self) -> None:
        """Queue each finished session's coach summary for the Hub once it has arrived."""
        if self.coach is None or not self._summary_wanted:
            return
        for session_id in list(self._summary_wanted):
            tip = self.coach.summary(session_id)
            if tip is None:
                continue
            self._summary_wanted.discard(session_id)
            try:
                self.store.queue_session_summary(
                    session_id,
                    summary=tip.text,
                    source=tip.kind,
                    model=tip.model,
                    trace_id=tip.trace_id,
                )
            except StoreError as err:
                log.error("could not keep the summary of session %s: %s", session_id, err)
                continue
            if self.sync_worker is not None:
                self.sync_worker.wake()

    def _metric_snapshot(self, scores: Scores, *, clicks_heard: bool) -> MetricSnapshot:
        from coach import snapshot_from_scores

        return snapshot_from_scores(
            scores,
            scale=self.settings.scale,
            metrics=self.settings.metrics,
            bpm=self.settings.bpm,
            clicks_heard=clicks_heard,
        )

    def _tip_text(self, session_id: str, *, summary: bool) -> str | None:
        """The tip line: a button's acknowledgement for a moment, else the coach's words."""
        notice = self._notice
        if notice is not None and self._monotonic() < notice[1]:
            return notice[0]
        return self._coach_text(session_id, summary=summary)

    def _coach_text(self, session_id: str, *, summary: bool) -> str | None:
        if self.coach is None:
            return None
        coach = self.coach
        tip = coach.tip_on_screen(session_id) if summary else coach.latest(session_id)
        return tip.text if tip is not None else None

    def _tip_page(self, shown: object) -> int:
        """Which line of the tip line's text to show: the first when ``shown`` (the text
        and the screen it is on) appears, then one more every ``coach.tip_page_s``, timed
        from then, so every tip and summary is read from its first words."""
        now = self._monotonic()
        current = self._tip_shown
        if current is None or current[0] != shown:
            current = self._tip_shown = (shown, now, 0)
        _, since, first = current
        return first + int((now - since) / self.config.coach.tip_page_s)

    def _turn(self) -> int:
        """Counts up every ``coach.tip_page_s``: for hints that take turns on one line."""
        return int(self._monotonic() / self.config.coach.tip_page_s)

    def _shutdown(self) -> None:
        """Stop everything in reverse order. Each step has its own cap, and the optional
        ones (sync, coach, speech, tracing) share what is left of
        :data:`SHUTDOWN_BUDGET_S` from the start, so a signal's stop stays under systemd's
        ``TimeoutStopSec`` (15 s) with time for the "stopped" screen. Only a recording
        that simply ended may first let its spoken summary finish."""
        deadline = self._monotonic() + SHUTDOWN_BUDGET_S

        def left(cap: float) -> float:
            return max(0.1, min(cap, deadline - self._monotonic()))

        self.notifier.stopping()
        self._cancel_pairing()
        if self.live is not None:
            self._finish_session(status="completed")
        self.dsp.stop()
        if self.mix is not None:
            self.mix.stop_clicks()
        self.capture.stop()
        if self.buttons is not None:
            self.buttons.close()
        if self.beat_led is not None:
            self.beat_led.close()
        if self.speaker is not None and self._stop_at is not None and not self._stop_requested:
            self._hear_out_summary()
            deadline = self._monotonic() + SHUTDOWN_BUDGET_S  # no signal: no systemd clock
        self._sync_stop.set()
        if self.sync_worker is not None:
            self.sync_worker.wake()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=left(3.0))
        if self.coach is not None and self._summary_wanted:
            self.coach.wait_idle(timeout=left(2.0))  # a summary on its way is worth keeping
        self._store_summaries()
        if self.speaker is not None:
            self.speaker.close(timeout=left(2.0))
        if self.coach is not None:
            self.coach.close(timeout=left(2.0))
            self._store_summaries()
        if self._ai_tracer is not None and deadline - self._monotonic() >= 1.0:
            self._ai_tracer.close(1.0)  # whole seconds only; skipped when time is short
        if self.display is not None:
            self.display.close(StoppedScreen())
        self.notifier.close()

    def _hear_out_summary(self) -> None:
        """A recording ended the run: wait (a signal cuts it short) for the coach's summary
        and for the speaker to say it, up to :data:`SPEECH_LINGER_S`."""
        speaker = self.speaker
        if speaker is None:
            return
        until = self._monotonic() + SPEECH_LINGER_S
        while not self._stop_requested and self._monotonic() < until:
            self._speak_new_tip()
            coach_done = self.coach is None or self.coach.wait_idle(timeout=0)
            if not coach_done:
                time.sleep(0.1)  # the summary is still being written
            elif speaker.wait_idle(timeout=0.1):
                self._speak_new_tip()  # it may have come in that last moment
                if speaker.wait_idle(timeout=0.1):
                    return

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _restore_signal_handlers(self, previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the session and stopping", signal.Signals(signum).name)
        self._stop_requested = True

    def stop(self) -> None:
        """Ask the main loop to stop (from another thread, e.g. a test)."""
        self._stop_requested = True

    # -- events --------------------------------------------------------------------------

    def _on_button(self, event: ButtonEvent) -> None:
        self.events.put(Event("button", event.button, event.kind == "long", at=event.at))

    def _on_snapshot(self, snapshot: LiveSnapshot, urgent: bool) -> None:
        with self._snapshot_lock:
            self._snapshot = snapshot
        if urgent:
            self.events.put_nowait(Event("redraw"))  # wake the main loop: a note to show

    def _handle(self, event: Event) -> None:
        if event.kind == "end":
            if self.live is not None:
                self._finish_session(status="completed")
            if self.exit_when_source_ends:
                if self.coach is not None:
                    # A recording ends the run: give the session summary a moment to arrive
                    # so the last screen (and the printed result) can show it.
                    self.coach.wait_idle(timeout=5.0)
                # Leave the summary on screen for a moment before the "stopped" screen.
                self._stop_at = self._monotonic() + SUMMARY_LINGER_S
            return
        if event.kind == "button":
            self.press(event.button, long=event.long, at=event.at)
        elif event.kind == "recommendation":
            self._apply_recommendation(event.payload)
        elif event.kind == "paired":
            self._paired(event.payload)

    def press(self, button: str, *, long: bool = False, at: float | None = None) -> None:
        """Do what pressing ``button`` means on the screen up now (main thread only).
        ``at`` is when it was pressed, in the buttons' monotonic clock (None: now); only
        tap tempo reads it, so the main loop's own delays never shift a tap."""
        screen = keymap.screen_of(
            self.state, suggestion=self._suggestion is not None, editor=self._editor
        )
        action = keymap.action_for(screen, button, long=long)
        if action is not None:
            self._pressed_at = self._monotonic() if at is None else at
            self.actions[action]()

    def _play_suggestion(self) -> None:
        self._suggestion = None
        self._start_session()

    def _dismiss_suggestion(self) -> None:
        self._suggestion = None

    def _go_home(self) -> None:
        self._cancel_pairing()
        self._editor = None
        self.state = State.IDLE

    # -- the tempo and settings screens ----------------------------------------------------

    def _open_tempo(self) -> None:
        """The tempo screen; the press that opens it is the first tap of a count."""
        self._editor = "tempo"
        self._taps = ()
        self._tap()

    def _tap(self) -> None:
        taps = keymap.add_tap(self._taps, self._pressed_at)
        self._tap_run = self._tap_run + 1 if len(taps) > 1 else 1
        self._taps = taps
        bpm = keymap.tap_tempo(taps)
        if bpm is not None:
            self._set_tempo(bpm)

    def _step_tempo(self, step: int) -> None:
        self._end_taps()
        self._set_tempo(keymap.step_tempo(self.settings.bpm, step, last=self._last_bpm))

    def _free_tempo(self) -> None:
        """Free tempo (no metronome), or from free back to the tempo set before."""
        self._end_taps()
        if self.settings.bpm is None:
            self._step_tempo(0)
        else:
            self._set_tempo(None)

    def _end_taps(self) -> None:
        """A step or free tempo ends the tap count: the next tap starts a new one."""
        self._taps, self._tap_run = (), 0

    def _set_tempo(self, bpm: float | None) -> None:
        if bpm is not None:
            self._last_bpm = bpm
        self._set(bpm=bpm)
        log.info("tempo: %s", "free" if bpm is None else f"{bpm:g} bpm")

    def _open_settings(self) -> None:
        self._editor = "settings"
        self._setting = 0

    def _select_setting(self, step: int) -> None:
        rows = len(SETTINGS) + (self.pairing_offer is not None)  # and the Hub's line
        self._setting = (self._setting + step) % rows

    def _setting_values(self) -> dict[str, float]:
        """What the settings screen shows and steps, by config key."""
        return {
            "practice.strictness": self.settings.strictness,
            "practice.sensitivity": self.settings.sensitivity,
            "metronome.volume": self.metronome.volume,
            "metronome.beats_per_bar": float(self.metronome.beats_per_bar),
            "coach.interval_s": self._tip_interval_s,
        }

    def _step_setting(self, step: int) -> None:
        if self._setting >= len(SETTINGS):  # the Hub's line: FEEDBACK pairs
            if step > 0:
                self._start_pairing()
            return
        setting = SETTINGS[self._setting]
        value = keymap.step_setting(setting, self._setting_values()[setting.key], step)
        if setting.key == "coach.interval_s":
            self._set_tip_interval(value)
        elif setting.key == "metronome.volume":
            self.metronome = replace(self.metronome, volume=value)
            if self.mix is not None:
                self.mix.volume = value  # heard at once, in the session playing too
        elif setting.key == "metronome.beats_per_bar":
            self.metronome = replace(self.metronome, beats_per_bar=int(value))
        else:
            self._set(**{setting.key.partition(".")[2]: value})
        self._remember(setting.key, value)

    # -- pairing with the Hub (RFC 8628) from the settings screen ----------------------------

    def _hub_line(self) -> str | None:
        """The settings screen's Hub line: how the device stands with the Hub it may pair
        with (None: no pairing offered)."""
        if self.pairing_offer is None:
            return None
        if self.sync_worker is None:
            return "not paired"
        return "re-pair" if self._counts_paused() else "paired"

    def _start_pairing(self) -> None:
        """Ask the Hub for a code and show it with its QR code; the flow polls on its own
        thread and posts a "paired" event when the Hub says yes."""
        offer = self.pairing_offer
        if offer is None:
            return
        from sync.pairing import BackgroundPairing

        self._cancel_pairing()
        self._editor = "pairing"
        self._pairing = BackgroundPairing(
            offer.hub_url,
            self.store.path.parent,
            self.store.device_id(),  # as `fretcoach pair` names it on the Hub
            verify=offer.verify,
            on_paired=lambda paired: self.events.put(Event("paired", payload=paired)),
        ).start()
        log.info("pairing with the Hub at %s", redact_url(offer.hub_url))

    def _cancel_pairing(self) -> None:
        pairing, self._pairing = self._pairing, None
        if pairing is not None:
            pairing.cancel(wait_s=0.0)  # it stops polling within a second on its own

    def _paired(self, paired: Paired) -> None:
        """The Hub approved: lift the queue's pause, and sync with the new token from now
        on, starting the sync worker if the device had none."""
        from sync.client import HubClient, HubSettings
        from sync.pairing import after_pairing

        try:
            requeued = after_pairing(self.store)
        except StoreError as err:
            log.error("paired, but the store could not be updated: %s", err)
            requeued = 0
        log.info("paired with the Hub as %s (%d item(s) queued again)", paired.user_id, requeued)
        if self.sync_worker is not None:
            self.sync_worker.client.use_token(paired.token)
        else:
            offer = self.pairing_offer
            verify = offer.verify if offer is not None else True
            settings = HubSettings(
                url=paired.url,
                token=paired.token,
                ca_bundle=verify if isinstance(verify, str) else None,
            )
            self.sync_worker = SyncWorker(self.store, HubClient(settings))
            self._start_sync()
        self.sync_worker.wake()
        self._counts = None
        self._flash(f"Paired: {paired.user_id}")

    def _remember(self, key: str, value: float) -> None:
        """Keep a setting for the next start; a store that cannot be written is logged,
        and the setting still holds until the daemon stops."""
        try:
            remember_setting(self.settings_path, key, value)
        except OSError as err:
            log.error("cannot keep %s = %g in %s: %s", key, value, self.settings_path, err)

    def _next_tip_line(self) -> None:
        """Show the next line of a long tip now; it then stays its full time."""
        current = self._tip_shown
        if current is not None:
            self._tip_shown = (current[0], self._monotonic(), self._tip_page(current[0]) + 1)

    def _set(self, **changes: Any) -> None:
        """Change the next session's settings (scale, bpm or metrics) from the home screen."""
        self.settings = replace(self.settings, **changes)

    def _pause(self, paused: bool) -> None:
        if self.live is None:
            return
        self.live.paused = paused
        self.state = State.PAUSED if paused else State.PRACTISING
        if paused:
            self._checkpoint()

    def _toggle_tuner(self) -> None:
        self.dsp.tuning = self.state is not State.TUNER
        self.state = State.TUNER if self.dsp.tuning else State.IDLE

    def _next_tip_interval(self) -> None:
        """Step how often the coach speaks up, say so on the tip line, and remember it."""
        self._set_tip_interval(keymap.next_tip_interval(self._tip_interval_s))
        self._flash(f"Tips every {self._tip_interval_s:g} s")
        self._remember("coach.interval_s", self._tip_interval_s)

    def _set_tip_interval(self, interval_s: float) -> None:
        self._tip_interval_s = interval_s
        if self.coach is not None:
            self.coach.set_interval(interval_s)
        log.info("coach: a tip every %g s", interval_s)

    def _record_feedback(self, *, thumbs_up: bool) -> None:
        """Thumbs up/down on the tip on screen: the coach sends it to Opik as "User Feedback"."""
        if self.live is not None:
            session_id: str | None = self.live.session_id
        else:
            session_id = self._last_result.session_id if self._last_result else None
        verdict = "thumbs up" if thumbs_up else "thumbs down"
        recorded = (
            self.coach is not None
            and session_id is not None
            and self.coach.feedback(session_id, thumbs_up=thumbs_up)
        )
        if recorded:
            self._flash(f"{verdict.capitalize()}: thanks!")
        elif session_id is not None and self._coach_text(session_id, summary=self.live is None):
            self._flash(f"{verdict.capitalize()}: not sent")  # Opik is off
        else:
            self._flash("No tip to rate yet")
        log.info(
            "feedback %s on session %s (%s)",
            verdict,
            session_id,
            "sent to Opik" if recorded else "not recorded: no traced tip",
        )

    def _flash(self, text: str) -> None:
        """Acknowledge a press on the tip line for a moment."""
        self._notice = (text, self._monotonic() + NOTICE_S)

    # -- AI mode -------------------------------------------------------------------------

    def _request_recommendation(self) -> None:
        """Ask on a thread (the model may take seconds); the answer comes as an event."""
        if self._ai_thread is not None and self._ai_thread.is_alive():
            return
        self._ai_thread = threading.Thread(target=self._recommend, name="ai-mode", daemon=True)
        self._ai_thread.start()

    def _recommend(self) -> None:
        payload = None
        try:
            from coach.recommend import Recommender, recommend_for

            if self.recommender is None:
                from coach.providers import CoachSettings
                from coach.tracing import OpikSettings, Tracer

                try:
                    settings = CoachSettings.from_env()
                except ValueError as err:
                    log.warning("ai mode: %s — using the rule-based coach", err)
                    settings = CoachSettings(None)
                try:
                    tracer: Tracer | None = Tracer(OpikSettings.from_env(), store=self.store)
                except ValueError as err:
                    log.warning("ai mode: %s — not tracing", err)
                    tracer = None
                self.recommender = Recommender(settings, tracer=tracer)
                self._ai_tracer = tracer  # made here, so closed by _shutdown
            payload = recommend_for(self.store, self.config.sync.user_id, self.recommender)
        except Exception:  # AI mode is optional: log it, never take the device down
            log.exception("ai mode: no recommendation")
        self.events.put(Event("recommendation", payload=payload))

    def _apply_recommendation(self, payload: tuple[Recommendation, str] | None) -> None:
        if payload is None:
            return
        rec, practice_id = payload
        self.settings = replace(
            self.settings,
            scale=rec.scale,
            strictness=rec.strictness,
            sensitivity=rec.sensitivity,
        )
        self._plan_id = practice_id
        self._suggestion = rec if self.state is State.IDLE else None
        log.info("ai mode (%s): %s, focus %s", rec.source, rec.scale_name, rec.focus_area)
        if self.sync_worker is not None:
            self.sync_worker.wake()  # the plan is queued for the Hub

    # -- sessions ------------------------------------------------------------------------

    def _start_session(self) -> None:
        scale = self.settings.scale
        session_id = begin_session(
            self.store,
            user=self.config.sync.user_id,
            scale=scale,
            strictness=self.settings.strictness,
            sensitivity=self.settings.sensitivity,
            bpm=self.settings.bpm,
            metrics=self.settings.metrics,
            source=_source_label(self.source),
        )
        # A session started from an AI-mode plan is traced as `ai-mode`, else `manual-mode`.
        self._ai_session = self._plan_id is not None
        if self._plan_id is not None:
            try:
                self.store.link_practice_plan(self._plan_id, session_id)
            except StoreError as err:
                log.error("could not link plan %s to the session: %s", self._plan_id, err)
            self._plan_id = None
        self.live = LiveSession(
            session_id,
            self.settings,
            self.source.sample_rate,
            metronome=self._session_metronome(),
        )
        self.dsp.session = self.live
        if self.speaker is not None:
            self.speaker.cancel()  # the last session's summary gives way to the new one
        self._last_checkpoint = self._monotonic()
        self.state = State.PRACTISING
        log.info("session %s started: %s", session_id, scale.name)

    def _session_metronome(self) -> SessionMetronome | None:
        """The clicks for a session with a tempo: heard through the interface's output when
        it is open both ways, else only seen (a file, the demo, an input-only interface)."""
        bpm = self.settings.bpm
        if bpm is None or not self.metronome.enabled:
            return None
        mix = self.mix if self.mix is not None and self.mix.active else None
        return SessionMetronome(
            bpm,
            self.metronome,
            self.source.sample_rate,
            mix=mix,
            round_trip_s=float(getattr(self.source, "round_trip_s", 0.0)),
            position=lambda: self.capture.position,
            led=self.beat_led,
            # A recording's click: at the tempo it was made to (the configured one).
            phase_s=self.click_phase_s if bpm == self.config.practice.bpm else None,
        )

    def _drain_notes(self, live: LiveSession) -> list[NoteRow]:
        """Notes finished since the last successful write (kept until one succeeds)."""
        while True:
            try:
                event, in_scale = live.finished.get_nowait()
            except queue.Empty:
                return list(self._unsaved)
            self._unsaved.append(NoteRow(event.onset_s, event.midi, event.cents, in_scale))

    def _progress(self, live: LiveSession) -> SessionProgress:
        with self._snapshot_lock:
            snapshot = self._snapshot
        scores = snapshot.session if snapshot and snapshot.session_id == live.session_id else None
        return progress_of(scores, live.stream_s, clicks_heard=_clicks_heard(live))

    def _checkpoint(self) -> None:
        live = self.live
        if live is None:
            return
        self._last_checkpoint = self._monotonic()
        notes = self._drain_notes(live)
        try:
            self.store.checkpoint(
                live.session_id, self._progress(live), notes, monotonic=self._monotonic()
            )
        except StoreError as err:
            log.error("checkpoint failed: %s — keeping the notes in memory", err)
            return
        self._unsaved.clear()

    def _finish_session(self, *, status: str) -> None:
        live = self.live
        if live is None:
            return
        self.dsp.finish(live)
        self.dsp.session = None
        self.live = None
        if self.speaker is not None:
            self.speaker.cancel()  # a live tip half spoken gives way to the summary
        progress = self._progress(live)
        notes = self._drain_notes(live)
        sync_state = "queued"
        try:
            self.store.finish_session(live.session_id, progress, notes, status=status)
            self._unsaved.clear()
        except StoreError as err:
            log.error("could not finish session %s: %s", live.session_id, err)
            sync_state = "not saved"
        with self._snapshot_lock:
            snapshot = self._snapshot
        scores = snapshot.session if snapshot and snapshot.session_id == live.session_id else None
        if self.coach is not None and scores is not None:
            # The 2–3 sentence summary, in the session's thread; it reaches the summary
            # screen when ready (the main loop never waits for it), and the Hub after it.
            self._summary_wanted.add(live.session_id)
            self.coach.request_summary(
                live.session_id,
                self._metric_snapshot(scores, clicks_heard=_clicks_heard(live)),
                progress.duration_seconds,
                ai_mode=self._ai_session,
            )
        result = SessionResult(
            live.session_id,
            status,
            progress.duration_seconds,
            scores,
            sync_state,
            clicks_heard=_clicks_heard(live),
        )
        self.results.append(result)
        self._last_result = result
        self._counts = None  # one more session waiting: the home screen must not lag
        self.state = State.SUMMARY
        if self.sync_worker is not None:
            self.sync_worker.wake()
        log.info(
            "session %s finished: %.1f s, %d notes",
            live.session_id,
            progress.duration_seconds,
            progress.total_notes_played,
        )

    # -- screen --------------------------------------------------------------------------

    def _show(self) -> None:
        if self.display is None:
            return
        state = self.screen()
        if state != self._last_shown:  # equal states render equal frames: skip the work
            self._last_shown = state
            self.display.show(state)

    def screen(self) -> ScreenState:
        """The screen state for what is happening now. Reads state, and notes when the
        tip line's text changes (its paging is timed from then)."""
        with self._snapshot_lock:
            snapshot = self._snapshot
        if self.capture.error is not None:
            # Lost after it was opened: only the interface can be unplugged, and before
            # the capture starts nothing has been lost yet.
            return screens.NO_INTERFACE
        if self.state is State.TUNER:
            return screens.tuner(
                snapshot, lowest_midi=self.settings.lowest_midi, a4_hz=self.settings.a4_hz
            )
        live = self.live
        if self.state in (State.PRACTISING, State.PAUSED) and live is not None:
            tip = self._tip_text(live.session_id, summary=False)
            return screens.practice(
                snapshot,
                self.settings,
                stream_s=live.stream_s,
                tip=tip,
                tip_page=self._tip_page((live.session_id, "live", tip)),
                paused=self.state is State.PAUSED,
                buttons_missing=self.buttons_problem is not None,
                clicks_heard=_clicks_heard(live),
            )
        result = self._last_result
        if self.state is State.SUMMARY and result is not None:
            tip = self._tip_text(result.session_id, summary=True)
            return screens.summary(
                result.scores,
                duration_s=result.duration_s,
                sync_state=self._sync_state_of(result),
                tip=tip,
                tip_page=self._tip_page((result.session_id, "summary", tip)),
                buttons_missing=self.buttons_problem is not None,
                clicks_heard=result.clicks_heard,
            )
        if self.state is State.IDLE and self._editor == "tempo":
            return screens.tempo(self.settings.bpm, taps=self._tap_run)
        if self.state is State.IDLE and self._editor == "settings":
            return screens.settings(
                self._setting_values(), selected=self._setting, hub=self._hub_line()
            )
        if self.state is State.IDLE and self._editor == "pairing":
            return screens.pairing(self._pairing.state if self._pairing else None)
        if self.state is State.IDLE and self._suggestion is not None:
            return screens.suggestion(self._suggestion)
        if self.state is State.IDLE and self._ai_thread is not None and self._ai_thread.is_alive():
            return screens.THINKING
        pending, rejected = self._sync_counts()
        return screens.home(
            self.settings,
            sync_pending=pending,
            sync_rejected=rejected,
            hub_configured=self.sync_worker is not None,
            hub_note=self._hub_note(),
            # Sessions are kept, but their times wait for NTP before they are uploaded.
            # Takes turns with "Press START to play", so what to do next stays in view.
            clock_waits=bool(pending and not self._clock_synced()),
            turn=self._turn(),
            buttons_missing=self.buttons_problem is not None,
        )

    def _sync_state_of(self, result: SessionResult) -> str:
        """Where the finished session is on its way to the Hub, as the summary screen says
        it: queued, offline (the Hub unreachable), synced or rejected. Read from the store
        at most every :data:`SYNC_STATE_EVERY_S`, so "queued" turns "synced" as you look."""
        if result.sync_state != "queued":
            return result.sync_state  # "not saved": the store refused it
        now = self._monotonic()
        cached = self._shown_sync
        if (
            cached is not None
            and cached[0] == result.session_id
            and now - cached[1] < SYNC_STATE_EVERY_S
        ):
            return cached[2]
        try:
            record = self.store.session(result.session_id, with_notes=False)
        except StoreError:
            record = None
        state = record.sync_state if record is not None else "pending"
        if state == "synced":
            shown = "synced"
        elif state == "rejected":
            shown = "rejected"
        elif self.sync_worker is not None and self.sync_worker.last_error:
            shown = "offline"
        else:
            shown = "queued"
        self._shown_sync = (result.session_id, now, shown)
        return shown

    def _hub_note(self) -> str | None:
        """What the home screen says in place of the sync counts when the Hub cannot be
        reached for want of a token: "not paired", or "re-pair" once the Hub refused it;
        "Wi-Fi login" while a captive portal answers in its place."""
        if self.sync_worker is None:
            return "not paired" if self.pairing_offer is not None else None
        if self._counts_paused():
            return "re-pair"
        return "Wi-Fi login" if self.sync_worker.not_the_hub else None

    def _counts_paused(self) -> bool:
        self._sync_counts()
        return bool(self._counts and self._counts[3])

    def _sync_counts(self) -> tuple[int, int]:
        """Sessions waiting for the Hub, and items it rejected (plans, summaries too).

        Read at most every :data:`COUNTS_EVERY_S`: the home screen is rebuilt ten times a
        second, and the outbox keeps every item ever sent."""
        now = self._monotonic()
        if self._counts is None or now - self._counts[0] >= COUNTS_EVERY_S:
            try:
                pending = self.store.outbox_counts(("session",)).pending
                rejected = self.store.outbox_counts(HUB_KINDS).rejected
                self._counts = (now, pending, rejected, self.store.hub_pause() is not None)
            except StoreError as err:
                log.warning("cannot read the sync counts: %s", err)
                return (self._counts[1], self._counts[2]) if self._counts else (0, 0)
        return self._counts[1], self._counts[2]

    def _clock_synced(self) -> bool:
        now = self._monotonic()
        if now - self._clock_checked_at > 10.0:
            self._clock_checked_at = now
            self._clock_ok = read_clock().synced
        return self._clock_ok


def _clicks_heard(live: LiveSession) -> bool:
    """The session was played to its metronome's clicks (heard through the interface, or a
    recording made to them): its offset to them is the player's."""
    return live.metronome is not None and live.metronome.phase_known


def _source_label(source: AudioSource) -> str:
    path = getattr(source, "path", None)
    return f"file:{path.name}" if path is not None else "device"
