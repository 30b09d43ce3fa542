"""Turn an analysed performance into a stored session (``fretcoach analyze --save``).

The daemon's live sessions go through the same store calls (begin, checkpoint, finish);
a file is simply a session whose every note is known at once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from importlib import metadata

from dsp import METRICS, Analysis, Scores
from dsp.scales import Scale
from sync.clock import read_clock
from sync.records import NoteRow, SessionProgress, SessionStart
from sync.store import Store

DEFAULT_USER_ID = "guitarist"


def software_version() -> str:
    try:
        return metadata.version("fretcoach-portable")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_id() -> str:
    """The Hub user this device records for: ``FRETCOACH_USER_ID`` (default "guitarist")."""
    return os.environ.get("FRETCOACH_USER_ID", "").strip() or DEFAULT_USER_ID


def progress_of(
    scores: Scores | None, seconds: float, *, clicks_heard: bool = False
) -> SessionProgress:
    """The store's view of a session so far: its scores, its counts, how long it lasted,
    and, when it was played to clicks the player heard, the mean offset to them (without
    them the offset is against a guessed phase: it means nothing to the Hub)."""
    if scores is None:
        return SessionProgress(round(seconds, 3), None, None, None, 0, 0, 0)
    return SessionProgress(
        duration_seconds=round(seconds, 3),
        pitch_accuracy=scores.pitch_accuracy,
        scale_conformity=scores.scale_conformity,
        timing_stability=scores.timing_stability,
        total_notes_played=scores.counts.total_notes,
        correct_notes_played=scores.counts.in_scale_notes,
        bad_notes_played=scores.counts.out_of_scale_notes,
        mean_offset_ms=scores.mean_offset_ms if clicks_heard else None,
    )


def begin_session(
    store: Store,
    *,
    user: str,
    scale: Scale,
    strictness: float,
    sensitivity: float,
    bpm: float | None,
    metrics: Sequence[str],
    source: str,
    started_seconds_ago: float = 0.0,
) -> str:
    """Open a live session in the store, stamped with both clocks; returns its id.

    The one place a :class:`SessionStart` is made, for the daemon and for ``--save``.
    """
    clock = read_clock()
    session_id = str(uuid.uuid4())
    store.begin_session(
        SessionStart(
            session_id=session_id,
            user_id=user,
            device_id=store.device_id(),
            software_version=software_version(),
            scale_chosen=scale.hub_name,
            scale_type=scale.hub_type,
            total_inscale_notes=scale.size,
            sensitivity=sensitivity,
            strictness=strictness,
            bpm=bpm,
            enabled_metrics=tuple(m for m in METRICS if m in metrics),
            start_wall=clock.wall - started_seconds_ago,
            start_monotonic=clock.monotonic - started_seconds_ago,
            boot_id=clock.boot_id,
            clock_synced=clock.synced,
            source=source,
        )
    )
    return session_id


def save_analysis(
    store: Store,
    analysis: Analysis,
    *,
    scale: Scale,
    strictness: float,
    sensitivity: float,
    bpm: float | None,
    source: str,
) -> str:
    """Store an analysed file as a completed session queued for the Hub; returns its id.

    The session is taken to have ended now and lasted as long as the audio.
    """
    session_id = begin_session(
        store,
        user=user_id(),
        scale=scale,
        strictness=strictness,
        sensitivity=sensitivity,
        bpm=bpm,
        metrics=METRICS,
        source=source,
        started_seconds_ago=analysis.audio_seconds,
    )
    notes = [
        NoteRow(n.onset_s, n.midi, n.cents, in_scale)
        for n, in_scale in zip(analysis.notes, analysis.in_scale, strict=True)
    ]
    store.finish_session(session_id, progress_of(analysis.scores, analysis.audio_seconds), notes)
    return session_id
