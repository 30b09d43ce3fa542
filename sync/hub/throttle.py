"""Rate limits kept in the database, so every Hub worker and host counts the same attempts.

A fixed window per key (``sign-in:addr:203.0.113.7``, ``pair:203.0.113.7``): the first
counted attempt opens a window of ``window_s``; ``limit`` attempts fill it; the next ones
are refused until it ends. Coarser than a sliding window, but one row per key and one
statement per attempt. :meth:`Throttle.allow` counts and decides in one step (pairing,
approvals); sign-in counts only failures, so it asks :meth:`Throttle.blocked` first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync.hub.models import RateLimitRow


@dataclass(frozen=True, slots=True)
class Rule:
    """At most ``limit`` attempts per ``window_s`` seconds for one key."""

    name: str
    limit: int
    window_s: float


# A person mistypes a password a few times; a script tries thousands.
SIGN_IN = Rule("sign-in", limit=10, window_s=300.0)
# A device starts pairing once in a while; more is someone filling the table.
PAIR = Rule("pair", limit=10, window_s=60.0)
# Wrong user codes typed by one signed-in user: 8 characters from 20 letters (~10¹⁰
# codes) at 10 guesses per 5 min cannot find a pending code in a code's 10-minute life.
APPROVE = Rule("approve", limit=10, window_s=300.0)


class Throttle:
    """``allow(rule, who)`` counts one attempt and says how long to wait (0: go ahead)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def allow(self, rule: Rule, who: str, *, now: datetime | None = None) -> float:
        """Count one attempt; 0.0 if it is within the limit, else seconds until it is."""
        now = now or datetime.now(UTC)
        count, ends = self.count(rule, who, now=now)
        if count <= rule.limit:
            return 0.0
        return max(1.0, (ends - now).total_seconds())

    def count(self, rule: Rule, who: str, *, now: datetime | None = None) -> tuple[int, datetime]:
        """Count one attempt: the attempts in ``who``'s window so far, this one included,
        and when that window ends. Three lost races in a row give ``(0, now)``: the request
        goes through rather than fail."""
        now = now or datetime.now(UTC)
        key = f"{rule.name}:{who}"[:200]
        window = timedelta(seconds=rule.window_s)
        since = now - window
        rows = RateLimitRow
        with Session(self.engine) as db:
            for _ in range(3):  # a racing insert of the same key: count again
                counted = db.execute(
                    update(rows)
                    .where(rows.key == key, rows.window_start > since)
                    .values(count=rows.count + 1)
                    .returning(rows.count, rows.window_start)
                ).first()
                if counted is not None:
                    db.commit()
                    count, start = counted
                    return count, start + window
                # A new window: drop this key's old one, and any key idle for a day, so
                # the table holds only addresses seen lately.
                db.execute(
                    delete(rows).where(
                        ((rows.key == key) & (rows.window_start <= since))
                        | (rows.window_start < now - timedelta(days=1))
                    )
                )
                db.add(RateLimitRow(key=key, window_start=now, count=1))
                try:
                    db.commit()
                    return 1, now + window
                except IntegrityError:
                    db.rollback()
        return 0, now

    def blocked(self, rule: Rule, who: str, *, now: datetime | None = None) -> float:
        """Seconds until ``who`` may try again under ``rule``, without counting anything."""
        now = now or datetime.now(UTC)
        since = now - timedelta(seconds=rule.window_s)
        with Session(self.engine) as db:
            row = db.execute(
                select(RateLimitRow.count, RateLimitRow.window_start).where(
                    RateLimitRow.key == f"{rule.name}:{who}"[:200],
                    RateLimitRow.window_start > since,
                )
            ).first()
        if row is None or row.count < rule.limit:
            return 0.0
        return max(1.0, (row.window_start - since).total_seconds())

    def forget(self, rule: Rule, who: str) -> None:
        """Clear a key (a successful sign-in forgives the typos before it)."""
        with Session(self.engine) as db:
            db.execute(delete(RateLimitRow).where(RateLimitRow.key == f"{rule.name}:{who}"[:200]))
            db.commit()


class SharedFailureLimit:
    """Requests without a valid device token, counted per client address in the database,
    so every worker and host of a Hub counts the same failures (the
    :class:`~sync.hub.limits.FailureLimit` the token gate asks).

    ``limit`` failures within a fixed window of ``window_s`` block the address until the
    window ends. Each failure costs one statement until then; once blocked, each worker
    remembers the block in memory until its window ends and refuses the address without
    touching the database, so a blocked flood costs no database work at all. A worker
    learns of a block set through another worker on the next failure it counts.
    """

    def __init__(
        self,
        throttle: Throttle,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if limit < 1 or not window_s > 0:
            raise ValueError(f"limit must be ≥ 1 and window_s > 0, not {limit} and {window_s}")
        self.rule = Rule("auth-failures", limit, window_s)
        self._throttle = throttle
        self._clock = clock
        self._blocked_until: dict[str, datetime] = {}

    @property
    def window_s(self) -> float:
        return self.rule.window_s

    def hit(self, address: str) -> bool:
        """Count one failure; True if this worker now holds ``address`` blocked and did not
        before (so the block is logged once per worker)."""
        now = self._clock()
        count, ends = self._throttle.count(self.rule, address, now=now)
        if count < self.rule.limit or ends <= now:
            return False
        self._sweep(now)
        known = address in self._blocked_until
        self._blocked_until[address] = ends
        return not known

    def blocked(self, address: str) -> float:
        """Seconds until ``address`` may fail again, 0.0 if this worker knows no block."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0.0
        left = (until - self._clock()).total_seconds()
        if left <= 0:
            del self._blocked_until[address]
            return 0.0
        return left

    def _sweep(self, now: datetime) -> None:
        """Forget ended blocks, so memory holds only the addresses blocked now."""
        self._blocked_until = {a: t for a, t in self._blocked_until.items() if t > now}
