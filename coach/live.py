"""The live coach: decides when a tip (or the session summary) is due and asks for it on
its own worker thread, so nothing the daemon calls ever waits; see docs/coach-live.md.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coach.feedback import TipGenerator, TipRequest
from coach.providers import CoachSettings
from coach.replay import TraceReplayer
from coach.tips import MetricSnapshot, Tip
from coach.tracing import OpikSettings, Tracer
from dsp.errors import CoachSettingError

if TYPE_CHECKING:
    from sync.store import Store

log = logging.getLogger(__name__)

INTERVAL_CHOICES: tuple[float, ...] = (30.0, 60.0, 120.0, 300.0)
DEFAULT_FIRST_TIP_S = 15.0
DEFAULT_INTERVAL_S = 60.0
# A tip about fewer notes than this is noise (the live window holds 24).
DEFAULT_MIN_NOTES = 8
DEFAULT_REPLAY_EVERY_S = 60.0
_KEEP_SESSIONS = 8


@dataclass(slots=True)
class _Session:
    next_due_s: float
    last_request_s: float | None = None
    ended: bool = False
    latest: Tip | None = None
    late: Tip | None = None
    summary: Tip | None = None


@dataclass(frozen=True, slots=True)
class _Feedback:
    trace_id: str
    thumbs_up: bool


class _Replay:
    pass


_REPLAY = _Replay()


class LiveCoach:
    """Live tips for the daemon. Build, :meth:`start`, call from the main thread, :meth:`close`."""

    def __init__(
        self,
        generator: TipGenerator,
        *,
        replayer: TraceReplayer | None = None,
        first_tip_s: float = DEFAULT_FIRST_TIP_S,
        interval_s: float = DEFAULT_INTERVAL_S,
        min_notes: int = DEFAULT_MIN_NOTES,
        replay_every_s: float = DEFAULT_REPLAY_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < first_tip_s <= 600:
            raise CoachSettingError(
                f"coach.first_tip_s must be between 0 and 600 seconds, not {first_tip_s:g}"
            )
        _check_interval(interval_s)
        if min_notes < 1:
            raise CoachSettingError(f"coach.min_notes must be at least 1, not {min_notes}")
        self.generator = generator
        self.replayer = replayer
        self.first_tip_s = first_tip_s
        self.interval_s = interval_s
        self.min_notes = min_notes
        self.replay_every_s = replay_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._busy = False  # a live tip request is queued or running
        self._outstanding = 0  # tip and summary requests queued or running
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._jobs: queue.SimpleQueue[TipRequest | _Feedback | _Replay | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="coach", daemon=True)
        self.tips_made = 0
        # Called on the worker thread after a tip or summary is ready (the daemon wakes its
        # main loop with it, so the tip is drawn now rather than at the next poll).
        self.on_update: Callable[[], None] | None = None

    @classmethod
    def from_env(
        cls,
        *,
        store: Store | None,
        first_tip_s: float = DEFAULT_FIRST_TIP_S,
        interval_s: float = DEFAULT_INTERVAL_S,
        min_notes: int = DEFAULT_MIN_NOTES,
        replay_every_s: float = DEFAULT_REPLAY_EVERY_S,
        environ: Mapping[str, str] | None = None,
    ) -> LiveCoach:
        """The coach as the environment configures it (see :mod:`coach.providers` and
        :mod:`coach.tracing` for the variables). ``store`` holds the trace outbox."""
        settings = CoachSettings.from_env(environ)
        opik_settings = OpikSettings.from_env(environ)
        tracer = Tracer(opik_settings, store=store) if opik_settings.enabled else None
        replayer = (
            TraceReplayer(store, opik_settings)
            if store is not None and opik_settings.enabled
            else None
        )
        return cls(
            TipGenerator(settings, tracer=tracer),
            replayer=replayer,
            first_tip_s=first_tip_s,
            interval_s=interval_s,
            min_notes=min_notes,
            replay_every_s=replay_every_s,
        )

    # -- the daemon's side (main thread; never blocks) -----------------------------------

    def start(self) -> LiveCoach:
        self._thread.start()
        return self

    def maybe_request(
        self,
        session_id: str,
        snapshot: MetricSnapshot,
        stream_s: float,
        paused: bool,
        *,
        ai_mode: bool = False,
    ) -> None:
        """Ask for a tip if one is due; returns at once either way."""
        with self._lock:
            if self._closed:
                return
            state = self._sessions.get(session_id)
            if state is None:
                state = self._open_session(session_id)
            if paused or state.ended or stream_s < state.next_due_s:
                return
            if snapshot.notes < self.min_notes or self._busy:
                return
            self._busy = True
            self._outstanding += 1
            self._idle.clear()
            state.last_request_s = stream_s
            state.next_due_s = stream_s + self.interval_s
        self._jobs.put(TipRequest(session_id, snapshot, stream_s, ai_mode))

    def latest(self, session_id: str) -> Tip | None:
        """The tip for the live screen (None until the first one, or after the end)."""
        with self._lock:
            state = self._sessions.get(session_id)
            return state.latest if state is not None and not state.ended else None

    def summary_tip(self, session_id: str) -> Tip | None:
        """For the summary screen: a tip that came after the end, else the last live one."""
        with self._lock:
            state = self._sessions.get(session_id)
            if state is None:
                return None
            return state.late or state.latest

    def tip_on_screen(self, session_id: str) -> Tip | None:
        """What the player is reading: the live tip while the session runs; after its end
        the summary (once it came), else a tip that came late, else the last live one."""
        with self._lock:
            state = self._sessions.get(session_id)
            if state is None:
                return None
            if not state.ended:
                return state.latest
            return state.summary or state.late or state.latest

    def end_session(self, session_id: str) -> None:
        """From now on a tip for this session goes to the summary, not the live screen."""
        with self._lock:
            state = self._sessions.get(session_id)
            if state is None:
                state = self._open_session(session_id)
            state.ended = True

    def request_summary(
        self,
        session_id: str,
        snapshot: MetricSnapshot,
        duration_s: float,
        *,
        ai_mode: bool = False,
    ) -> None:
        """Ask for the 2–3 sentence session summary (whole-session scores); ends the
        session. Returns at once; :meth:`summary` has it when it is ready."""
        with self._lock:
            if self._closed:
                return
            state = self._sessions.get(session_id) or self._open_session(session_id)
            state.ended = True
            self._outstanding += 1
            self._idle.clear()
        self._jobs.put(
            TipRequest(
                session_id,
                snapshot,
                duration_s,
                ai_mode,
                purpose="session-summary",
                duration_s=duration_s,
            )
        )

    def summary(self, session_id: str) -> Tip | None:
        """The session summary asked for with :meth:`request_summary`, once it is ready."""
        with self._lock:
            state = self._sessions.get(session_id)
            return state.summary if state is not None else None

    def set_interval(self, interval_s: float) -> None:
        """Change the tip interval (30, 60, 120 or 300 s); the next tip is re-timed."""
        _check_interval(interval_s)
        with self._lock:
            self.interval_s = interval_s
            for state in self._sessions.values():
                if state.last_request_s is not None:
                    state.next_due_s = state.last_request_s + interval_s

    def feedback(self, session_id: str, *, thumbs_up: bool) -> bool:
        """Thumbs up/down on the session's tip on screen (:meth:`tip_on_screen`).

        False when there is no traced tip to attach it to. The score is queued and sent
        by the worker.
        """
        tip = self.tip_on_screen(session_id)
        if tip is None or tip.trace_id is None:
            return False
        with self._lock:
            if self._closed:
                return False
        self._jobs.put(_Feedback(tip.trace_id, thumbs_up))
        return True

    @property
    def in_flight(self) -> bool:
        with self._lock:
            return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no tip or summary request is queued or running (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 3.0) -> bool:
        """Stop the worker; waits at most ``timeout`` (+ ≤ 1 s for the SDK to flush).

        True when the worker stopped in time. A request still in flight is abandoned;
        its trace, if it completes, is in the outbox for the next start.
        """
        with self._lock:
            self._closed = True
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        tracer = self.generator.tracer
        if stopped and tracer is not None:
            try:
                tracer.close(1.0)
            except Exception as err:  # shutting down: report, never raise
                log.warning("coach: Opik did not close cleanly: %s", err)
        if not stopped:
            log.warning("coach: a tip request was still running at shutdown; left behind")
        return stopped

    def __enter__(self) -> LiveCoach:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _open_session(self, session_id: str) -> _Session:
        # One player, one session at a time: a new one ends any other still open.
        for other in self._sessions.values():
            other.ended = True
        state = self._sessions[session_id] = _Session(next_due_s=self.first_tip_s)
        while len(self._sessions) > _KEEP_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        return state

    # -- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.generator.prepare()
        except Exception:
            log.exception("coach: set-up failed; tips come from the offline coach")
        tracer = self.generator.tracer
        if self.replayer is not None:
            # Traces this process's SDK may still deliver are only checked, not posted.
            self.replayer.live_origin = tracer.origin if tracer and tracer.active else None
        next_replay = self._monotonic()  # first: whatever earlier runs left queued
        while True:
            wait = None
            if self.replayer is not None:
                wait = max(0.0, next_replay - self._monotonic())
            try:
                job = self._jobs.get(timeout=wait)
            except queue.Empty:
                job = _REPLAY
            if job is None:
                break
            if isinstance(job, _Replay):
                self._replay()
                next_replay = self._monotonic() + self.replay_every_s
            elif isinstance(job, _Feedback):
                if tracer is not None:
                    tracer.queue_feedback(job.trace_id, thumbs_up=job.thumbs_up)
                    # The score waits for its trace: let the SDK deliver that first.
                    tracer.flush(1.0)
                self._replay()
            else:
                self._serve(job)

    def _serve(self, request: TipRequest) -> None:
        tip: Tip | None = None
        try:
            tip = self.generator.generate(request)
        except Exception:  # generate() never raises by design; this is a bug's last stop
            log.exception("coach: tip generation failed")
        with self._lock:
            state = self._sessions.get(request.session_id)
            if request.purpose == "session-summary":
                if state is not None:
                    state.summary = tip
            else:
                self._busy = False
                if tip is not None:
                    self.tips_made += 1
                    if state is not None and state.ended:
                        state.late = tip
                    elif state is not None:
                        state.latest = tip
            self._outstanding -= 1
            if self._outstanding == 0:
                self._idle.set()
        if tip is not None and self.on_update is not None:
            try:
                self.on_update()
            except Exception:  # a callback's bug must not stop the coach
                log.exception("coach: on_update failed")

    def _replay(self) -> None:
        if self.replayer is None:
            return
        try:
            report = self.replayer.replay_once()
        except Exception:
            log.exception("coach: trace replay failed")
            return
        if report.sent or report.feedback_sent or report.rejected:
            log.info("coach: trace outbox %s", report.as_dict())


def _check_interval(interval_s: float) -> None:
    if interval_s not in INTERVAL_CHOICES:
        choices = ", ".join(f"{c:g}" for c in INTERVAL_CHOICES)
        raise CoachSettingError(f"coach.interval_s must be one of {choices}, not {interval_s:g}")
