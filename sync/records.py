"""Values that cross from the store to the device, the CLI and the Hub client.

Field names follow the Hub's ``sessions`` table, so a record turns into the API payload
(``sync/hub-api.md``) without renaming anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SESSION_STATES = ("live", "completed", "interrupted")
# The Hub accepts at most this many notes per session; a longer session (hours of fast
# playing) is sent with ``notes: null`` rather than rejected forever.
MAX_NOTES_PER_UPLOAD = 20_000
# Where a session is on its way to the Hub: not queued yet (live), queued, delivered, or
# refused with a reason until `fretcoach sync --retry-rejected`.
SYNC_STATES = ("local", "pending", "synced", "rejected")


def utc_iso(timestamp: float) -> str:
    """Seconds since the epoch → ``2026-11-28T03:10:43.123+00:00`` (millisecond precision)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class NoteRow:
    """One played note as stored: compact on purpose (a session can hold thousands)."""

    onset_s: float
    midi: int
    cents: float
    in_scale: bool


@dataclass(frozen=True, slots=True)
class SessionStart:
    """What is known when a session begins."""

    session_id: str
    user_id: str
    device_id: str
    software_version: str
    scale_chosen: str  # the Hub form, "A Minor (Pentatonic)"
    scale_type: str
    total_inscale_notes: int
    sensitivity: float
    strictness: float
    bpm: float | None
    enabled_metrics: tuple[str, ...]
    start_wall: float  # time.time() at the start
    start_monotonic: float  # time.monotonic() at the start, for clock correction
    boot_id: str
    clock_synced: bool
    source: str = "device"


@dataclass(frozen=True, slots=True)
class SessionProgress:
    """Scores and counts so far: written at every checkpoint and at the finish."""

    duration_seconds: float
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    total_notes_played: int
    correct_notes_played: int
    bad_notes_played: int
    # Signed ms from the metronome click, averaged over the timed notes: negative is early
    # (rushing), positive late (dragging); None at free tempo or with nothing timed.
    mean_offset_ms: float | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A stored session with its sync state, as ``fretcoach sessions`` shows it."""

    session_id: str
    user_id: str
    device_id: str
    software_version: str
    status: str  # live | completed | interrupted
    start_timestamp: str
    end_timestamp: str | None
    clock_synced: bool
    scale_chosen: str
    scale_type: str
    total_inscale_notes: int
    sensitivity: float
    strictness: float
    bpm: float | None
    enabled_metrics: tuple[str, ...]
    pitch_accuracy: float | None
    scale_conformity: float | None
    timing_stability: float | None
    total_notes_played: int
    correct_notes_played: int
    bad_notes_played: int
    duration_seconds: float
    source: str
    sync_state: str  # local | pending | synced | rejected
    sync_attempts: int = 0
    sync_error: str | None = None
    notes: tuple[NoteRow, ...] = field(default=(), repr=False)
    mean_offset_ms: float | None = None  # see SessionProgress

    def hub_payload(self, *, include_notes: bool = True) -> dict[str, Any]:
        """The JSON body of ``POST /api/v1/sessions``."""
        payload: dict[str, Any] = {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "start_timestamp": self.start_timestamp,
            "end_timestamp": self.end_timestamp or self.start_timestamp,
            "pitch_accuracy": self.pitch_accuracy,
            "scale_conformity": self.scale_conformity,
            "timing_stability": self.timing_stability,
            "scale_chosen": self.scale_chosen,
            "scale_type": self.scale_type,
            "sensitivity": self.sensitivity,
            "strictness": self.strictness,
            "total_notes_played": self.total_notes_played,
            "correct_notes_played": self.correct_notes_played,
            "bad_notes_played": self.bad_notes_played,
            "total_inscale_notes": self.total_inscale_notes,
            "duration_seconds": self.duration_seconds,
            "ambient_light_option": None,
            "device_id": self.device_id,
            "software_version": self.software_version,
            "clock_synced": self.clock_synced,
            "status": self.status,
            "bpm": self.bpm,
            "enabled_metrics": list(self.enabled_metrics),
        }
        if self.mean_offset_ms is not None:
            # Optional, and left out when unknown: a Hub older than the field refuses
            # unknown keys, and free-tempo sessions stay byte-identical to before.
            payload["mean_offset_ms"] = self.mean_offset_ms
        if include_notes:
            payload["notes"] = (
                [
                    {"onset_s": n.onset_s, "midi": n.midi, "cents": n.cents, "in_scale": n.in_scale}
                    for n in self.notes
                ]
                if len(self.notes) <= MAX_NOTES_PER_UPLOAD
                else None
            )
        return payload

    def as_json(self) -> dict[str, Any]:
        """``fretcoach sessions --json``: the Hub columns plus status and sync state."""
        data = self.hub_payload(include_notes=False)
        data.update(
            mean_offset_ms=self.mean_offset_ms,
            sync_state=self.sync_state,
            sync_attempts=self.sync_attempts,
            sync_error=self.sync_error,
            source=self.source,
        )
        return data


@dataclass(frozen=True, slots=True)
class HubPause:
    """The Hub refused this device's token (401/403): the queue waits for a re-pair.

    Shown by ``fretcoach status`` and the screen as "re-pair"; cleared by the next
    delivery or a new pairing.
    """

    status: int
    reason: str
    since: str  # ISO 8601, UTC

    @property
    def advice(self) -> str:
        return (
            f"sync paused: the Hub refused this device's token (HTTP {self.status}) — "
            "re-pair with `fretcoach pair`"
        )
