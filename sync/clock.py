"""Is the wall clock trustworthy yet? A Pi without an RTC boots in the past until NTP syncs.

Sessions record ``time.time()`` *and* ``time.monotonic()`` with the kernel's boot id. When
the clock is later found synchronised in the same boot, ``wall = monotonic + offset``
recovers the true times of sessions recorded before the sync (see
:meth:`sync.store.Store.correct_clock`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


@dataclass(frozen=True, slots=True)
class ClockReading:
    wall: float
    monotonic: float
    boot_id: str
    synced: bool

    @property
    def offset(self) -> float:
        """``wall − monotonic``: add it to a monotonic time of this boot to get wall time."""
        return self.wall - self.monotonic


def boot_id() -> str:
    """The kernel's id of this boot; a random stand-in where there is none (not Linux)."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return _FALLBACK_BOOT_ID


_FALLBACK_BOOT_ID = str(uuid.uuid4())


def clock_synced() -> bool:
    """Whether the kernel says NTP has disciplined the clock.

    ``FRETCOACH_CLOCK_SYNCED=0|1`` overrides (tests, and machines whose time source the
    kernel does not know about, e.g. a GPS daemon).
    """
    override = os.environ.get("FRETCOACH_CLOCK_SYNCED")
    if override is not None:
        return override.strip().lower() in ("1", "true", "yes")
    state = _adjtimex_state()
    if state is not None:
        return state != _TIME_ERROR
    return _TIMESYNCD_FLAG.exists()


def _adjtimex_state() -> int | None:
    # struct timex is ~208 bytes on 64-bit Linux; modes = 0 (first field) only reads.
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buffer = ctypes.create_string_buffer(512)
        result = libc.adjtimex(buffer)
    except (OSError, AttributeError):
        return None
    return int(result) if result >= 0 else None


def read_clock() -> ClockReading:
    return ClockReading(time.time(), time.monotonic(), boot_id(), clock_synced())
