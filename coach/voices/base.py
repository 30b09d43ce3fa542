"""The interface every text-to-speech voice implements, what one synthesis attempt reports,
and the process runner a voice that runs a program is given by whoever plays the audio."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from coach.voices.wav import Audio

SynthesisOutcome = Literal[
    "ok",
    "rate-limited",
    "server-error",
    "timeout",
    "connection-error",
    "rejected",
    "malformed",
    "failed",
]


@dataclass(frozen=True, slots=True)
class Synthesis:
    """One synthesis attempt, as recorded in the trace (also when it failed)."""

    backend: str  # "openai" or "espeak-ng"
    model: str  # the tag: "gpt-4o-mini-tts" or "espeak-ng"
    voice: str
    outcome: SynthesisOutcome
    started_at: dt.datetime
    ended_at: dt.datetime
    audio: Audio | None = None
    error: str | None = None


class Voice(Protocol):
    """Turns a tip's text into a checked WAV. Owned by the one thread that speaks."""

    @property
    def backend(self) -> str:
        """The backend's name: "openai" or "espeak-ng"."""
        ...

    @property
    def model(self) -> str:
        """The model's tag: "gpt-4o-mini-tts" or "espeak-ng"."""
        ...

    @property
    def voice(self) -> str:
        """The voice: "coral", "en-us"."""
        ...

    def synthesize(self, text: str, *, generation: int) -> Synthesis:
        """Never raises: the outcome says what happened. ``generation`` is the utterance's
        (a program run for an utterance that was cancelled since is killed)."""
        ...


def finished(
    voice: Voice,
    outcome: SynthesisOutcome,
    started: dt.datetime,
    *,
    audio: Audio | None = None,
    error: str | None = None,
) -> Synthesis:
    """The attempt ``voice`` began at ``started``, ending now."""
    return Synthesis(
        voice.backend, voice.model, voice.voice, outcome, started, utcnow(), audio, error
    )


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How a child process ended, as :class:`RunProcess` reports it."""

    returncode: int | None  # None: it could not be started
    stdout: bytes
    stderr: bytes
    killed: bool = False  # by the runner: cancel, close, or over its time
    timed_out: bool = False
    error: str | None = None


class RunProcess(Protocol):
    """Runs ``command`` with ``data`` on its stdin for at most ``timeout_s``; killed at once
    when the utterance of ``generation`` is cancelled (``device.playback.ChildProcesses``)."""

    def __call__(
        self, command: Sequence[str], data: bytes, timeout_s: float, *, generation: int
    ) -> ProcessResult: ...


def describe_error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:300]


def last_line(stderr: bytes) -> str:
    """A failed program's last words, for a log line or a trace."""
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "no message"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
