"""Speech's audio out: the WAV goes to a player process (``aplay`` by default) on the ALSA
device ``coach.speech_device`` names, one child process at a time, killed at once on cancel."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shlex
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coach.speech_settings import SpeechSettings
from coach.voices.base import ProcessResult, last_line, utcnow
from coach.voices.wav import Audio
from device.processes import kill_group, lower_priority

log = logging.getLogger(__name__)

DEFAULT_DEVICE = "default"
PROC_CARDS = Path("/proc/asound/cards")
# A player gets the audio's length plus this before it is taken to be stuck and killed.
PLAYER_SLACK_S = 10.0
_REAP_S = 2.0  # after SIGKILL, how long to wait for the pipes to close


def resolve_alsa_device(name: str, cards_path: Path = PROC_CARDS) -> str:
    """The ALSA device for ``coach.speech_device``: a name with a colon as it is, else the
    sound card whose id or name contains it (``plughw:CARD=<id>,DEV=0``), else the name."""
    name = name.strip()
    if not name or name == DEFAULT_DEVICE:
        return DEFAULT_DEVICE
    if ":" in name:
        return name
    try:
        listing = cards_path.read_text(errors="replace")
    except OSError:
        return name
    wanted = name.casefold()
    # " 1 [Solo           ]: USB-Audio - Scarlett Solo USB" then an indented detail line.
    for match in re.finditer(r"^\s*\d+\s+\[(\S+)\s*\]:\s*(.*)\n?(.*)$", listing, re.M):
        card_id, title, detail = match.groups()
        if any(wanted in text.casefold() for text in (card_id, title, detail)):
            return f"plughw:CARD={card_id},DEV=0"
    return name


class ChildProcesses:
    """Runs one child process at a time (espeak-ng, the player) for speech's player thread.

    :meth:`cancel` kills the running one from any thread and bumps the generation, so a
    child started for an utterance said before it is killed the moment it is registered:
    no window in which a cancelled tip starts playing anyway.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: subprocess.Popen[bytes] | None = None
        self._killed = False
        self.generation = 0
        self.closed = False

    def wanted(self, generation: int) -> bool:
        with self._lock:
            return not self.closed and generation == self.generation

    def run(
        self, command: Sequence[str], data: bytes, timeout_s: float, *, generation: int
    ) -> ProcessResult:
        try:
            # Its own process group, so a player that is a wrapper (``sh -c '… aplay …'``)
            # is killed with everything it started, not just the shell.
            proc = subprocess.Popen(
                list(command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as err:
            return ProcessResult(None, b"", b"", error=f"cannot run {command[0]}: {err.strerror}")
        lower_priority(proc.pid)
        with self._lock:
            self._current, self._killed = proc, False
            if self.closed or generation != self.generation:
                self._killed = True
                kill_group(proc)
        timed_out = False
        try:
            stdout, stderr = proc.communicate(data, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc)
            try:
                stdout, stderr = proc.communicate(timeout=_REAP_S)
            except subprocess.TimeoutExpired:  # a grandchild holding the pipes: let go
                stdout, stderr = b"", b""
        finally:
            with self._lock:
                self._current = None
                killed = self._killed or timed_out
        return ProcessResult(proc.returncode, stdout, stderr, killed=killed, timed_out=timed_out)

    def cancel(self, *, close: bool = False) -> None:
        """Kill the running child, if any (SIGKILL: aplay stops at once), and refuse
        children for earlier generations (for any, once closed)."""
        with self._lock:
            self.generation += 1
            self.closed = self.closed or close
            proc = self._current
            if proc is not None and proc.poll() is None:
                self._killed = True
                kill_group(proc)


@dataclass(frozen=True, slots=True)
class Playback:
    """How one utterance's playback went, as its trace records it."""

    device: str
    command: list[str]
    started_at: dt.datetime
    ended_at: dt.datetime
    outcome: Literal["ok", "interrupted", "failed"]
    returncode: int | None
    error: str | None = None


class Player:
    """Plays a voice's WAV through ``coach.speech_player`` on the resolved ALSA device, in
    ``children`` (which the voices that run a program share, so one cancel stops either)."""

    def __init__(
        self, settings: SpeechSettings, children: ChildProcesses, *, cards_path: Path = PROC_CARDS
    ) -> None:
        self.settings = settings
        self.children = children
        self.cards_path = cards_path
        self._error: str | None = None  # the last problem reported, so each is logged once

    @property
    def program(self) -> str:
        return self.settings.player_command[0]

    def device(self) -> str:
        return resolve_alsa_device(self.settings.output_device, self.cards_path)

    def play(self, audio: Audio, generation: int) -> Playback:
        """Play to the end (or until cancelled); never raises. Runs on the player thread."""
        device = self.device()
        command = [part.replace("{device}", device) for part in self.settings.player_command]
        started = utcnow()
        done = self.children.run(
            command, audio.wav, audio.duration_s + PLAYER_SLACK_S, generation=generation
        )
        ended = utcnow()
        if done.returncode == 0:
            self._error = None
            return Playback(device, command, started, ended, "ok", 0)
        if done.killed and not done.timed_out:
            return Playback(device, command, started, ended, "interrupted", done.returncode)
        if done.timed_out:
            error = f"still playing {PLAYER_SLACK_S:g} s after the audio ended; killed"
        else:
            error = done.error or f"exit {done.returncode}: {last_line(done.stderr)}"
        if error != self._error:  # once per distinct problem, not once per tip
            self._error = error
            log.warning(
                "text-to-speech: `%s` failed (%s); check `coach.speech_device` "
                "(`aplay -L` lists the devices) or `coach.speech_player`",
                shlex.join(command),
                error,
            )
        return Playback(device, command, started, ended, "failed", done.returncode, error)
