"""Outbox → Hub: exactly once, whatever the network does.

Exactly once rests on three things: the outbox row is written in the same transaction
that finishes the session; the payload is frozen at the first attempt, so every retry
sends identical bytes under the same ``Idempotency-Key``; and the Hub answers 200 to a
repeat of what it already stored. A response lost after the Hub committed therefore ends
as 200 on the retry, not as a second row.

Backoff is exponential with jitter on the monotonic clock, and honours ``Retry-After``.
A retryable failure pauses the whole queue (the Hub or the network is the problem, not
the item); a 401 or 403 pauses it too, for as long as the token is refused (the device
must be paired again: :meth:`~sync.store.Store.hub_pause` says so to ``status`` and the
screen), and no item is rejected for it; any other 4xx rejects that item only, which
then waits, with the Hub's reason, for ``fretcoach sync --retry-rejected``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sync.client import PLANS_PATH, SESSIONS_PATH, SUMMARIES_PATH, HubClient, Verdict
from sync.clock import ClockReading, read_clock
from sync.store import HUB_KINDS, OutboxItem, Store

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (done, total)
# AI-mode practice plans, after sessions: a plan as made, then the session it started.
# Both go to PLANS_PATH under the practice_id; their payloads are frozen when queued.
PLAN_KINDS = ("practice_plan", "practice_plan_link")
# The coach's session summary, under the session_id; queued with its payload when the
# summary is written (seconds after the session), held for the clock with its session.
SUMMARY_KIND = "session_summary"
NO_SUCH_ROUTE = (404, 405, 501)  # what a Hub without the summaries route answers
_PATHS = {
    "session": SESSIONS_PATH,
    "practice_plan": PLANS_PATH,
    "practice_plan_link": PLANS_PATH,
    SUMMARY_KIND: SUMMARIES_PATH,
}


@dataclass(frozen=True, slots=True)
class SyncReport:
    """One pass: items delivered, items the Hub refused for good, what is still queued."""

    sent: int
    rejected: int
    remaining: int
    held_for_clock: int
    error: str | None

    @property
    def complete(self) -> bool:
        return self.remaining == 0 and self.rejected == 0 and self.error is None


class SyncWorker:
    """Drains the outbox. :meth:`sync_once` for the CLI, :meth:`run` for the daemon."""

    def __init__(
        self,
        store: Store,
        client: HubClient,
        *,
        base_delay_s: float = 2.0,
        max_delay_s: float = 300.0,
        refused_token_delay_s: float = 900.0,
        clock_hold_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], ClockReading] = read_clock,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.client = client
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        # A refused token stays refused until someone re-pairs: ask again only rarely.
        self.refused_token_delay_s = refused_token_delay_s
        self.clock_hold_s = clock_hold_s
        self._monotonic = monotonic
        self._clock = clock
        self._rng = rng
        self._failures = 0
        self._next_attempt = 0.0
        self._started = monotonic()
        self.last_error: str | None = None
        # The last answer came from something other than the Hub (a captive portal): the
        # screen asks about the Wi-Fi's sign-in instead of just counting what waits.
        self.not_the_hub = False
        self._wake = threading.Event()
        # Start by believing the store: a pause recorded by an earlier run is cleared by
        # this run's first delivery.
        self._paused = store.hub_pause() is not None

    # -- one pass ------------------------------------------------------------------------

    def sync_once(
        self,
        *,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> SyncReport:
        """Offer every pending item once; stop at the first retryable failure, or when
        ``stop`` is set (between items: shutdown must not wait for a backlog)."""
        reading = self._clock()
        if reading.synced:
            corrected = self.store.correct_clock(reading.boot_id, reading.offset)
            if corrected:
                log.info("clock synchronised: re-timed %d session(s) recorded before", corrected)
        held = self._held_for_clock(reading)
        items = [i for i in self.store.pending(limit=100_000) if i.ref not in held]
        items += self.store.pending(limit=100_000, kinds=PLAN_KINDS)
        items += [
            i for i in self.store.pending(limit=100_000, kinds=(SUMMARY_KIND,)) if i.ref not in held
        ]
        sent = rejected = 0
        error = None
        for done, item in enumerate(items):
            if stop is not None and stop.is_set():
                break
            verdict, reason, retry_after = self._offer(item)
            if verdict is Verdict.SENT:
                sent += 1
                self._failures = 0
            elif verdict is Verdict.PAUSE:
                error = reason
                log.error(
                    "the Hub refused this device's token (%s): sync paused, nothing rejected; "
                    "re-pair with `fretcoach pair`",
                    reason,
                )
                self._next_attempt = self._monotonic() + self.refused_token_delay_s
                break
            elif verdict is Verdict.REJECTED:
                rejected += 1
                log.error(
                    "%s %s rejected by the Hub: %s (kept; `fretcoach sync --retry-rejected` "
                    "sends it again)",
                    item.kind.replace("_", " "),
                    item.ref,
                    reason,
                )
            else:
                error = reason
                self._back_off(retry_after)
                break
            if progress is not None:
                progress(done + 1, len(items))
        self.last_error = error
        remaining = self.store.outbox_counts(HUB_KINDS).pending
        return SyncReport(sent, rejected, remaining, len(held), error)

    def _offer(self, item: OutboxItem) -> tuple[Verdict, str, float | None]:
        body = item.payload or self._payload(item)
        if body is None:
            self.store.mark_rejected(item.id, "the session is no longer in the store")
            return Verdict.REJECTED, "missing from the store", None
        body = self.store.freeze_payload(item.id, body)
        path = _PATHS[item.kind]
        result = self.client.post(path, body, idempotency_key=item.ref)
        self.not_the_hub = result.not_the_hub
        if item.kind == SUMMARY_KIND and result.status in NO_SUCH_ROUTE:
            # An optional extra: a Hub that predates it must not turn every session's
            # summary into a rejected item. Kept on the device, not resent. Any other 4xx
            # (a bad token, an invalid body) is rejected like any item.
            self.store.mark_declined(item.id, result.reason)
            log.info(
                "the Hub does not take session summaries (%s); kept on the device", result.reason
            )
            return Verdict.SENT, f"declined by the Hub: {result.reason}", None
        if result.verdict is Verdict.SENT:
            self.store.mark_sent(item.id)
            if self._paused:
                self.store.resume_hub()
                self._paused = False
        elif result.verdict is Verdict.PAUSE:
            self.store.mark_retry(item.id, result.reason)
            self.store.pause_hub(result.status or 401, result.reason)
            self._paused = True
        elif result.verdict is Verdict.REJECTED:
            self.store.mark_rejected(item.id, result.reason)
        else:
            self.store.mark_retry(item.id, result.reason)
        return result.verdict, result.reason, result.retry_after_s

    def _payload(self, item: OutboxItem) -> str | None:
        if item.kind != "session":
            return None  # plans and summaries are queued with their payload
        record = self.store.session(item.ref)
        if record is None:
            return None
        return json.dumps(record.hub_payload(), sort_keys=True, separators=(",", ":"))

    def _held_for_clock(self, reading: ClockReading) -> set[str]:
        """Sessions of this boot recorded before NTP sync wait for it — for a while.

        Uploading them now would send 1970-ish timestamps that can never be corrected.
        After ``clock_hold_s`` without a sync they go as they are, flagged
        ``clock_synced: false``, rather than never.
        """
        if reading.synced or self._monotonic() - self._started > self.clock_hold_s:
            return set()
        return self.store.sessions_waiting_for_clock(reading.boot_id)

    def _back_off(self, retry_after_s: float | None) -> None:
        self._failures += 1
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (self._failures - 1))
        delay = delay / 2 + self._rng() * delay / 2  # equal jitter: spread, never zero
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_delay_s))
        self._next_attempt = self._monotonic() + delay

    @property
    def seconds_until_next_attempt(self) -> float:
        return max(0.0, self._next_attempt - self._monotonic())

    # -- background ----------------------------------------------------------------------

    def run(self, stop: threading.Event, *, idle_poll_s: float = 10.0) -> None:
        """Loop until ``stop`` is set; never raises (the practice loop must not die)."""
        while not stop.is_set():
            wait = self.seconds_until_next_attempt
            if wait > 0:
                self._sleep(stop, wait)
                continue
            try:
                report = self.sync_once(stop=stop)
            except Exception:  # the worker must survive anything; log it loudly
                log.exception("sync pass failed")
                self._back_off(None)
                continue
            if report.error is None:
                self._sleep(stop, idle_poll_s)

    def _sleep(self, stop: threading.Event, seconds: float) -> None:
        # Short slices so both stop() and wake() take effect within half a second.
        deadline = self._monotonic() + seconds
        while not stop.is_set() and not self._wake.is_set():
            left = deadline - self._monotonic()
            if left <= 0:
                break
            stop.wait(min(left, 0.5))
        self._wake.clear()

    def wake(self) -> None:
        """Skip the current wait (a new session was queued, or the user asked)."""
        self._next_attempt = 0.0
        self._wake.set()
