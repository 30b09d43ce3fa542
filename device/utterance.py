"""An utterance: a tip the speaker took to say, and what became of it. Values shared by the
speaker (which makes them) and its trace (which records them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

# What became of an utterance, as recorded in its trace's metadata.
UtteranceOutcome = Literal[
    "played", "superseded", "cancelled", "interrupted", "player-failed", "failed"
]


@dataclass(frozen=True, slots=True)
class Utterance:
    """A tip to speak, as :meth:`Speaker.say` took it."""

    text: str
    session_id: str
    ai_mode: bool
    said_at: dt.datetime
    said_monotonic: float
    generation: int
    replaced: int  # queued tips this one replaced before they were synthesised
