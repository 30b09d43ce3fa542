"""Text to speech for the live coach's tips: optional, off by default.

A tip is spoken by ``gpt-4o-mini-tts`` (voice "coral") through the official ``openai``
client, with the coach's own key and endpoint (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
see :mod:`coach.providers`), or offline by ``espeak-ng``; when OpenAI fails (no network,
429, 5xx, a timeout, a reply that is not a WAV) espeak-ng says that tip instead. Modes
(``coach.speech``): ``off``; ``openai`` and ``auto`` (OpenAI when a key is set, else
espeak-ng; ``openai`` also warns that the key is missing); ``espeak``.

One player, never two voices at once: a single worker thread synthesises and plays one
utterance after the other. :meth:`Speaker.say` only puts the text in a one-place slot
and returns; a newer tip replaces one still waiting there, and a tip whose audio arrives
after a newer one was said is dropped unplayed (latest wins: speech should match the
screen). The audio goes to a separate process — ``aplay`` (alsa-utils) on the
configured ALSA device by default, the WAV on its stdin, no temporary files — so the
capture path (pyaudio in the daemon) is never touched and never waits. A running player
or espeak-ng is killed by :meth:`Speaker.cancel` and :meth:`Speaker.close`. An OpenAI
request in flight cannot be interrupted; it ends within ``timeout_s``.

Each utterance is its own Opik trace, ``live-coach-tts``, in the tip's thread
(``<session_id>-live-aicoach-feedback``), tagged with the synthesis backends tried
(``gpt-4o-mini-tts`` and/or ``espeak-ng``), ``live-coach`` and ``tts``, with metadata
(session, backend, voice, characters, seconds of audio, outcome) and a span per
synthesis attempt and for the playback, so TTS failures and latency show on their own.
The trace is written to the store's outbox (``opik-trace``, the record form of
:func:`coach.tracing.trace_record`) first, for :class:`coach.tracing.TraceReplayer` to
deliver exactly once. When the coach's :class:`~coach.tracing.Tracer` is running (the
live coach starts it), the same trace — same id, same times — is also sent at once by
its SDK client (``Opik.trace``/``Opik.span`` with explicit ids: the player thread is not
inside an ``@opik.track`` call, and explicit ids keep the two paths one trace); the
record then carries the tracer's origin, so the replayer leaves it to that SDK while it
runs. Otherwise the record carries an origin of its own and the replayer sends it.

Missing tools disable speech with one warning naming the fix (``sudo apt install
espeak-ng``, ``sudo apt install alsa-utils``); nothing here raises after
:class:`SpeechSettings` accepted its values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from coach.providers import CoachSettings, ProviderSettings
from coach.tracing import DEPLOYMENT, RECORD_VERSION, thread_id_for, uuid7
from dsp.errors import CoachSettingError

if TYPE_CHECKING:
    import openai
    import opik

    from coach.tracing import Tracer

log = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("off", "auto", "openai", "espeak")
TTS_TRACE = "live-coach-tts"
LIVE_COACH_TAG = "live-coach"
TTS_TAG = "tts"
ESPEAK = "espeak-ng"
DEFAULT_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "coral"
# The earlier Studio's voice: "coral, a little faster than normal".
DEFAULT_INSTRUCTIONS = (
    "You are a direct, encouraging guitar coach talking to a player mid-practice. "
    "Speak clearly and a little faster than normal."
)
DEFAULT_DEVICE = "default"
# {device} is replaced by the resolved ALSA device; the WAV arrives on stdin.
DEFAULT_PLAYER = "aplay -q -D {device} -"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_ESPEAK_VOICE = "en-us"
DEFAULT_ESPEAK_WPM = 185  # espeak-ng's default is 175: "a little faster than normal"
# A tip is at most ~30 words; this only bounds a runaway reply (the API takes 4096).
MAX_CHARS = 600
# 24 kHz 16-bit mono is 48 kB/s: 8 MB is almost three minutes, far beyond any tip.
MAX_AUDIO_BYTES = 8 * 1024 * 1024
# A player gets the audio's length plus this before it is taken to be stuck and killed.
PLAYER_SLACK_S = 10.0
PROC_CARDS = Path("/proc/asound/cards")

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
# What became of an utterance, as recorded in its trace's metadata.
UtteranceOutcome = Literal[
    "played", "superseded", "cancelled", "interrupted", "player-failed", "failed"
]


@dataclass(frozen=True, slots=True)
class SpeechSettings:
    """How tips are spoken. Each field is the config key ``coach.speech_<name>`` (``mode``
    is ``coach.speech``); the messages of :class:`CoachSettingError` name those keys.

    ``output_device``: "" or "default" is ALSA's default device; a name with a colon
    (``plughw:CARD=Solo,DEV=0``, ``hw:1,0``) is used as it is; anything else is looked up
    as a substring of a sound card's id or name in ``/proc/asound/cards`` (e.g.
    "Scarlett", the audio interface's name) and becomes ``plughw:CARD=<id>,DEV=0`` —
    plughw, so the 24 kHz mono speech is converted to whatever the interface takes — or,
    when no card matches, is passed on as an ALSA device name (``null``, ``pulse``).

    ``player``: "" is ``aplay -q -D {device} -``; any other command line gets the WAV on
    its stdin and ``{device}`` replaced by the resolved device.
    """

    mode: str = "off"
    voice: str = DEFAULT_VOICE
    model: str = DEFAULT_MODEL
    instructions: str = DEFAULT_INSTRUCTIONS
    speed: float = 1.0
    output_device: str = ""
    player: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    espeak: str = ESPEAK
    espeak_voice: str = DEFAULT_ESPEAK_VOICE
    espeak_wpm: int = DEFAULT_ESPEAK_WPM

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CoachSettingError(
                f"`coach.speech` must be one of {', '.join(MODES)}, not {self.mode!r}"
            )
        for key, value in (
            ("voice", self.voice),
            ("model", self.model),
            ("espeak", self.espeak),
            ("espeak_voice", self.espeak_voice),
        ):
            if not value.strip():
                raise CoachSettingError(f"`coach.speech_{key}` must not be empty")
        if not 0.25 <= self.speed <= 4.0:
            raise CoachSettingError(
                f"`coach.speech_speed` must be from 0.25 to 4.0, not {self.speed:g}"
            )
        if not 1.0 <= self.timeout_s <= 60.0:
            raise CoachSettingError(
                f"`coach.speech_timeout_s` must be from 1 to 60 seconds, not {self.timeout_s:g}"
            )
        if not 80 <= self.espeak_wpm <= 450:
            raise CoachSettingError(
                "`coach.speech_espeak_wpm` must be from 80 to 450 words a minute, "
                f"not {self.espeak_wpm}"
            )
        try:
            command = shlex.split(self.player or DEFAULT_PLAYER)
        except ValueError as err:
            raise CoachSettingError(
                f"`coach.speech_player` is not a valid command line ({err}): {self.player!r}"
            ) from err
        if not command:
            raise CoachSettingError("`coach.speech_player` must name a program")

    @property
    def player_command(self) -> list[str]:
        return shlex.split(self.player or DEFAULT_PLAYER)


# -- audio ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Audio:
    """A WAV with its header made true (streamed WAVs often declare a bogus length)."""

    wav: bytes = field(repr=False)
    sample_rate: int
    channels: int
    sample_width: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def read_wav(data: bytes) -> Audio:
    """Check a RIFF/WAVE file and rebuild it with the sizes it really has.

    espeak-ng (and any encoder writing to a pipe) declares a length it cannot know,
    ``0x7ffff000``-ish; players differ on what they make of that, so every WAV handed to
    a player is canonical: RIFF, the original ``fmt `` chunk, one ``data`` chunk with its
    true size, whole frames only. PCM, float and extensible formats are accepted (what
    ``aplay`` plays). Raises ValueError saying what is wrong.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"not a WAV file (starts with {data[:12]!r})")
    fmt: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body_at = offset + 8
        if chunk_id == b"fmt ":
            fmt = data[body_at : body_at + size]
        elif chunk_id == b"data":
            if fmt is None or len(fmt) < 16:
                raise ValueError("WAV has no format chunk before its data")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
            width = bits // 8
            if (
                tag not in (1, 3, 0xFFFE)
                or channels < 1
                or rate < 1000
                or width not in (1, 2, 3, 4)
            ):
                raise ValueError(
                    f"unplayable WAV format: tag {tag:#x}, {channels} ch, {rate} Hz, {bits} bit"
                )
            payload = data[body_at : body_at + size]  # shorter than declared: streamed
            frames = len(payload) // (channels * width)
            if not frames:
                raise ValueError("WAV holds no audio")
            payload = payload[: frames * channels * width]
            fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"\0" * (len(fmt) & 1)
            data_chunk = (
                b"data" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)
            )
            body = b"WAVE" + fmt_chunk + data_chunk
            wav = b"RIFF" + struct.pack("<I", len(body)) + body
            return Audio(wav, rate, channels, width, frames)
        offset = body_at + size + (size & 1)  # chunks are padded to even sizes
    raise ValueError("WAV has no data chunk")


def resolve_alsa_device(name: str, cards_path: Path = PROC_CARDS) -> str:
    """The ALSA device for ``coach.speech_device`` (see :class:`SpeechSettings`)."""
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


# -- child processes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Finished:
    returncode: int | None  # None: it could not be started
    stdout: bytes
    stderr: bytes
    killed: bool = False  # by us: cancel, close, or over its time
    timed_out: bool = False
    error: str | None = None


class _Children:
    """Runs one child process at a time (espeak-ng, the player) for the player thread.

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
    ) -> _Finished:
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
            return _Finished(None, b"", b"", error=f"cannot run {command[0]}: {err.strerror}")
        _lower_priority(proc.pid)
        with self._lock:
            self._current, self._killed = proc, False
            if self.closed or generation != self.generation:
                self._killed = True
                _kill_group(proc)
        timed_out = False
        try:
            stdout, stderr = proc.communicate(data, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            try:
                stdout, stderr = proc.communicate(timeout=_REAP_S)
            except subprocess.TimeoutExpired:  # a grandchild holding the pipes: let go
                stdout, stderr = b"", b""
        finally:
            with self._lock:
                self._current = None
                killed = self._killed or timed_out
        return _Finished(proc.returncode, stdout, stderr, killed=killed, timed_out=timed_out)

    def cancel(self, *, close: bool = False) -> None:
        """Kill the running child, if any (SIGKILL: aplay stops at once), and refuse
        children for earlier generations (for any, once closed)."""
        with self._lock:
            self.generation += 1
            self.closed = self.closed or close
            proc = self._current
            if proc is not None and proc.poll() is None:
                self._killed = True
                _kill_group(proc)


_REAP_S = 2.0  # after SIGKILL, how long to wait for the pipes to close


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (it leads one: ``start_new_session``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()  # already gone, or not ours to signal as a group


def _lower_priority(pid: int) -> None:
    """Speech yields to the audio path: synthesis and playback run at nice 10 (the unit
    runs the daemon at -5), never competing with capture and DSP for the CPU."""
    with contextlib.suppress(OSError):  # it may already have exited
        # The whole group (the child leads it): a wrapper's children are lowered too.
        os.setpriority(os.PRIO_PGRP, pid, max(os.getpriority(os.PRIO_PROCESS, 0), 10))


# -- synthesis ------------------------------------------------------------------------


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


class OpenAISpeech:
    """``audio.speech.create`` on one OpenAI-compatible endpoint. Owned by one thread.

    One try, no hidden retries (``max_retries=0``): espeak-ng is the retry. The reply is
    streamed (``with_streaming_response``) so a misbehaving endpoint cannot send more
    than :data:`MAX_AUDIO_BYTES` or take longer than ``timeout_s`` in all.
    """

    backend = "openai"

    def __init__(self, settings: SpeechSettings, provider: ProviderSettings) -> None:
        self.settings = settings
        self.provider = provider
        self._client: openai.OpenAI | None = None
        self._warned_key = False

    def _prepare(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=self.provider.api_key,
                base_url=self.provider.base_url,
                timeout=self.settings.timeout_s,
                max_retries=0,
            )
        return self._client

    def synthesize(self, text: str, *, generation: int) -> Synthesis:
        """Never raises: the outcome says what happened. (``generation`` is espeak-ng's.)"""
        settings = self.settings
        started = _utcnow()
        try:
            import openai

            client = self._prepare()
        except Exception as err:  # a broken install: espeak-ng still speaks
            return self._result("failed", started, error=_describe(err))
        options: dict[str, Any] = {}
        if settings.instructions and not settings.model.startswith("tts-1"):
            options["instructions"] = settings.instructions  # tts-1 refuses them
        if settings.speed != 1.0:
            options["speed"] = settings.speed
        deadline = time.monotonic() + settings.timeout_s
        try:
            with client.audio.speech.with_streaming_response.create(
                model=settings.model,
                voice=settings.voice,
                input=text,
                response_format="wav",
                **options,
            ) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_AUDIO_BYTES:
                        raise ValueError(f"more than {MAX_AUDIO_BYTES} bytes of audio")
                    if time.monotonic() > deadline:
                        return self._result(
                            "timeout", started, error=f"no full reply in {settings.timeout_s:g} s"
                        )
            audio = read_wav(b"".join(chunks))
        except openai.RateLimitError as err:
            return self._result("rate-limited", started, error=_describe(err))
        except openai.APITimeoutError as err:
            return self._result("timeout", started, error=_describe(err))
        except openai.APIConnectionError as err:
            return self._result("connection-error", started, error=_describe(err))
        except openai.APIStatusError as err:
            if err.status_code >= 500:
                return self._result("server-error", started, error=_describe(err))
            if err.status_code in (401, 403) and not self._warned_key:
                self._warned_key = True
                log.warning(
                    "text-to-speech: %s rejected the key for %s (HTTP %d): check "
                    "OPENAI_API_KEY; speaking with espeak-ng meanwhile",
                    self.provider.base_url or "api.openai.com",
                    settings.model,
                    err.status_code,
                )
            return self._result("rejected", started, error=_describe(err))
        except (ValueError, openai.APIError) as err:
            return self._result("malformed", started, error=_describe(err))
        except Exception as err:  # anything else: still a tip espeak-ng can say
            return self._result("failed", started, error=_describe(err))
        return self._result("ok", started, audio=audio)

    def _result(self, outcome: SynthesisOutcome, started: dt.datetime, **fields: Any) -> Synthesis:
        return Synthesis(
            self.backend,
            self.settings.model,
            self.settings.voice,
            outcome,
            started,
            _utcnow(),
            **fields,
        )


class EspeakSpeech:
    """espeak-ng, offline: ``espeak-ng --stdout --stdin`` writes a 22.05 kHz WAV."""

    backend = ESPEAK

    def __init__(self, settings: SpeechSettings, program: str, children: _Children) -> None:
        self.settings = settings
        self.program = program
        self._children = children

    def synthesize(self, text: str, *, generation: int) -> Synthesis:
        """Never raises; a cancel or close kills espeak-ng (outcome "failed")."""
        settings = self.settings
        started = _utcnow()
        # The text on stdin, never as an argument: a tip may start with "-".
        command = [
            self.program,
            "--stdout",
            "--stdin",
            "-v",
            settings.espeak_voice,
            "-s",
            str(settings.espeak_wpm),
        ]
        done = self._children.run(command, text.encode(), settings.timeout_s, generation=generation)
        if done.error:
            return self._result("failed", started, error=done.error)
        if done.timed_out:
            return self._result(
                "timeout", started, error=f"espeak-ng took over {settings.timeout_s:g} s"
            )
        if done.killed:
            return self._result("failed", started, error="espeak-ng stopped: cancelled")
        if done.returncode != 0:
            return self._result(
                "failed",
                started,
                error=f"espeak-ng exited with {done.returncode}: {_last_line(done.stderr)}",
            )
        try:
            audio = read_wav(done.stdout)
        except ValueError as err:
            return self._result("malformed", started, error=f"espeak-ng: {err}")
        return self._result("ok", started, audio=audio)

    def _result(self, outcome: SynthesisOutcome, started: dt.datetime, **fields: Any) -> Synthesis:
        return Synthesis(
            self.backend,
            ESPEAK,
            self.settings.espeak_voice,
            outcome,
            started,
            _utcnow(),
            **fields,
        )


# -- the speaker ----------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class _Playback:
    device: str
    command: list[str]
    started_at: dt.datetime
    ended_at: dt.datetime
    outcome: Literal["ok", "interrupted", "failed"]
    returncode: int | None
    error: str | None = None


class Speaker:
    """Speaks the coach's tips; build, :meth:`start`, :meth:`say` from any thread, :meth:`close`.

    ``coach_settings`` supplies the OpenAI key and endpoint (its primary provider);
    without one, ``auto`` and ``openai`` speak with espeak-ng. ``tracer`` is the live coach's
    :class:`~coach.tracing.Tracer` (its store holds the outbox); None: no traces.
    """

    def __init__(
        self,
        settings: SpeechSettings,
        *,
        coach_settings: CoachSettings | None = None,
        tracer: Tracer | None = None,
        cards_path: Path = PROC_CARDS,
    ) -> None:
        self.settings = settings
        self.coach_settings = coach_settings
        self.tracer = tracer
        self.cards_path = cards_path
        self.backends: list[OpenAISpeech | EspeakSpeech] = []
        self.spoken = 0  # utterances played to the end
        self.replaced = 0  # tips replaced by a newer one before they were played
        self.failed = 0  # utterances no backend could synthesise, or the player refused
        self._children = _Children()
        self._cond = threading.Condition()
        self._pending: Utterance | None = None
        self._busy = False
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._player_error: str | None = None
        # Marks the records only the outbox carries (see the module docstring).
        self._outbox_origin = f"tts-{uuid.uuid4().hex}"

    @property
    def enabled(self) -> bool:
        """True once :meth:`start` found what it needs to speak."""
        return self._thread is not None and not self._closed

    def start(self) -> Speaker:
        """Choose the backends and start the player thread; logs why when speech stays off.

        Quick (looks programs up on PATH); ``openai`` is imported on the player thread at
        the first tip.
        """
        settings = self.settings
        if settings.mode == "off" or self._thread is not None:
            return self
        primary = self.coach_settings.primary if self.coach_settings is not None else None
        if settings.mode == "openai" and primary is None:
            log.warning(
                "text-to-speech: `coach.speech` is 'openai' but OPENAI_API_KEY is not set; "
                "speaking with espeak-ng"
            )
        backends: list[OpenAISpeech | EspeakSpeech] = []
        if settings.mode in ("auto", "openai") and primary is not None:
            backends.append(OpenAISpeech(settings, primary))
        espeak = shutil.which(settings.espeak)
        if espeak is None:
            fix = (
                "sudo apt install espeak-ng"
                if settings.espeak == ESPEAK
                else "check `coach.speech_espeak`"
            )
            if backends:
                log.warning(
                    "text-to-speech: %s not found, so no offline voice when OpenAI fails (%s)",
                    settings.espeak,
                    fix,
                )
            else:
                log.warning("text-to-speech is off: %s not found (%s)", settings.espeak, fix)
                return self
        else:
            backends.append(EspeakSpeech(settings, espeak, self._children))
        program = settings.player_command[0]
        if shutil.which(program) is None:
            fix = (
                "sudo apt install alsa-utils"
                if program == "aplay"
                else "check `coach.speech_player`"
            )
            log.warning("text-to-speech is off: the player %s was not found (%s)", program, fix)
            return self
        self.backends = backends
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()
        voices = [
            f"{settings.model} ({settings.voice})"
            if isinstance(backend, OpenAISpeech)
            else f"espeak-ng ({settings.espeak_voice})"
            for backend in backends
        ]
        log.info(
            "text-to-speech: %s, played by %s on %s",
            ", falling back to ".join(voices),
            program,
            resolve_alsa_device(settings.output_device, self.cards_path),
        )
        return self

    def say(self, text: str, *, session_id: str, ai_mode: bool = False) -> bool:
        """Speak ``text`` after what is playing now; replaces a tip still waiting.

        Returns at once: False when speech is off or there is nothing to say.
        """
        text = " ".join(text.split())[:MAX_CHARS]
        if not text:
            return False
        with self._cond:
            if self._thread is None or self._closed:
                return False
            replaced = 0
            if self._pending is not None:
                replaced = self._pending.replaced + 1
                self.replaced += 1
            self._pending = Utterance(
                text,
                session_id,
                ai_mode,
                _utcnow(),
                time.monotonic(),
                self._children.generation,
                replaced,
            )
            self._idle.clear()
            self._cond.notify()
        return True

    def cancel(self) -> None:
        """Drop the waiting tip and stop the one playing (e.g. the session ended)."""
        with self._cond:
            if self._pending is not None:
                self.replaced += 1
            self._pending = None
            self._children.cancel()
            if not self._busy:
                self._idle.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is waiting or playing (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 2.0) -> bool:
        """Stop speaking within ``timeout``: the waiting tip is dropped, a player killed.

        True when the thread stopped in time. An OpenAI request still in flight is left
        behind on its daemon thread (it ends within ``timeout_s``; nothing is played).
        """
        with self._cond:
            self._closed = True
            self._pending = None
            self._children.cancel(close=True)
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("text-to-speech: a synthesis request was still running at shutdown")
            return False
        return True

    def __enter__(self) -> Speaker:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the player thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    self._idle.set()
                    return
                utterance, self._pending = self._pending, None
                self._busy = True
            try:
                self._speak(utterance)
            except Exception:  # an optional part: never take the daemon down
                log.exception("text-to-speech failed on %r", utterance.text[:40])
            finally:
                with self._cond:
                    self._busy = False
                    if self._pending is None:
                        self._idle.set()

    def _speak(self, utterance: Utterance) -> None:
        started = _utcnow()
        waited_s = time.monotonic() - utterance.said_monotonic
        attempts: list[Synthesis] = []
        for backend in self.backends:
            attempt = backend.synthesize(utterance.text, generation=utterance.generation)
            attempts.append(attempt)
            if attempt.outcome == "ok" or self._stale(utterance):
                break
            log.info(
                "text-to-speech: %s %s (%s)%s",
                attempt.model,
                attempt.outcome,
                attempt.error,
                "; trying espeak-ng" if backend is not self.backends[-1] else "",
            )
        audio = attempts[-1].audio if attempts and attempts[-1].outcome == "ok" else None
        playback: _Playback | None = None
        outcome: UtteranceOutcome
        if self._stale(utterance):
            outcome = "cancelled"
        elif audio is None:
            outcome = "failed"
        elif self._newer_waiting():
            outcome = "superseded"
        else:
            playback = self._play(audio, utterance.generation)
            outcome = {"ok": "played", "interrupted": "interrupted", "failed": "player-failed"}[
                playback.outcome
            ]
        with self._cond:
            if outcome == "played":
                self.spoken += 1
            elif outcome == "superseded":
                self.replaced += 1
            elif outcome in ("failed", "player-failed"):
                self.failed += 1
        self._trace(utterance, started, waited_s, attempts, audio, playback, outcome)

    def _stale(self, utterance: Utterance) -> bool:
        with self._cond:
            return self._closed or not self._children.wanted(utterance.generation)

    def _newer_waiting(self) -> bool:
        with self._cond:
            return self._pending is not None

    def _play(self, audio: Audio, generation: int) -> _Playback:
        device = resolve_alsa_device(self.settings.output_device, self.cards_path)
        command = [part.replace("{device}", device) for part in self.settings.player_command]
        started = _utcnow()
        done = self._children.run(
            command, audio.wav, audio.duration_s + PLAYER_SLACK_S, generation=generation
        )
        ended = _utcnow()
        if done.returncode == 0:
            self._player_error = None
            return _Playback(device, command, started, ended, "ok", 0)
        if done.killed and not done.timed_out:
            return _Playback(device, command, started, ended, "interrupted", done.returncode)
        if done.timed_out:
            error = f"still playing {PLAYER_SLACK_S:g} s after the audio ended; killed"
        else:
            error = done.error or f"exit {done.returncode}: {_last_line(done.stderr)}"
        if error != self._player_error:  # once per distinct problem, not once per tip
            self._player_error = error
            log.warning(
                "text-to-speech: `%s` failed (%s); check `coach.speech_device` "
                "(`aplay -L` lists the devices) or `coach.speech_player`",
                shlex.join(command),
                error,
            )
        return _Playback(device, command, started, ended, "failed", done.returncode, error)

    # -- tracing -----------------------------------------------------------------------

    def _trace(
        self,
        utterance: Utterance,
        started: dt.datetime,
        waited_s: float,
        attempts: list[Synthesis],
        audio: Audio | None,
        playback: _Playback | None,
        outcome: UtteranceOutcome,
    ) -> str | None:
        tracer = self.tracer
        if tracer is None or not tracer.settings.enabled:
            return None
        live_client = tracer.sdk_client  # the running SDK, when the coach started it
        record = tts_record(
            utterance=utterance,
            started=started,
            ended=_utcnow(),
            waited_s=waited_s,
            attempts=attempts,
            audio=audio,
            playback=playback,
            outcome=outcome,
            origin=tracer.origin if live_client is not None else self._outbox_origin,
            project_name=tracer.settings.project_name,
        )
        trace_id = str(record["trace"]["id"])
        tracer.enqueue_record(record)  # logs, never raises: a full disk must not stop the voice
        if live_client is not None:
            try:
                _send_with_sdk(live_client, record)
            except Exception as err:  # the outbox still has it
                log.warning("text-to-speech: the Opik SDK refused trace %s: %s", trace_id, err)
        return trace_id


def tts_tags(attempts: Sequence[Synthesis]) -> list[str]:
    """The backends tried, in order (``gpt-4o-mini-tts``, ``espeak-ng``), then the
    family's ``live-coach`` and ``tts``: an OpenAI failure spoken by espeak-ng is found
    under both."""
    return list(dict.fromkeys([*(a.model for a in attempts), LIVE_COACH_TAG, TTS_TAG]))


def tts_record(
    *,
    utterance: Utterance,
    started: dt.datetime,
    ended: dt.datetime,
    waited_s: float,
    attempts: Sequence[Synthesis],
    audio: Audio | None,
    playback: _Playback | None,
    outcome: UtteranceOutcome,
    origin: str,
    project_name: str,
) -> dict[str, Any]:
    """The outbox form of one utterance's trace (the shape ``TraceReplayer`` replays)."""
    trace_id, root_id = uuid7(), uuid7()
    spoken_by = attempts[-1] if audio is not None and attempts else None
    metadata: dict[str, Any] = {
        "session_id": utterance.session_id,
        "ai_mode": utterance.ai_mode,
        "backend": spoken_by.backend if spoken_by else None,
        "model": spoken_by.model if spoken_by else None,
        "voice": spoken_by.voice if spoken_by else None,
        "characters": len(utterance.text),
        "duration_s": round(audio.duration_s, 3) if audio else None,
        "outcome": outcome,
        "ok": outcome == "played",
        "attempts": [
            {"backend": a.backend, "model": a.model, "outcome": a.outcome} for a in attempts
        ],
        "replaced_tips": utterance.replaced,
        "waited_s": round(waited_s, 3),  # in the slot, behind the tip before it
        "synthesis_s": round((attempts[-1].ended_at - started).total_seconds(), 3)
        if attempts
        else None,
        "device": playback.device if playback else None,
        "deployment": DEPLOYMENT,
    }
    tags = tts_tags(attempts)
    trace_input = {"input": utterance.text}
    trace_output = {
        "output": outcome,
        "duration_s": metadata["duration_s"],
        "backend": metadata["backend"],
    }
    error_info = None
    if outcome in ("failed", "player-failed"):
        error = (playback.error if playback else None) or (
            attempts[-1].error if attempts else "no synthesis backend"
        )
        error_info = {
            "exception_type": "PlayerError" if outcome == "player-failed" else "SynthesisError",
            "message": error or outcome,
            "traceback": "",
        }
    spans: list[dict[str, Any]] = [
        {
            "id": root_id,
            "trace_id": trace_id,
            "name": TTS_TRACE,
            "type": "general",
            "start_time": _iso(started),
            "end_time": _iso(ended),
            "input": trace_input,
            "output": trace_output,
            "metadata": metadata,
            "tags": tags,
        }
    ]
    for attempt in attempts:
        span: dict[str, Any] = {
            "id": uuid7(),
            "trace_id": trace_id,
            "parent_span_id": root_id,
            "name": "audio_speech_create" if attempt.backend == "openai" else ESPEAK,
            "type": "llm" if attempt.backend == "openai" else "tool",
            "start_time": _iso(attempt.started_at),
            "end_time": _iso(attempt.ended_at),
            "input": {"input": utterance.text, "voice": attempt.voice},
            "output": {"duration_s": round(attempt.audio.duration_s, 3)} if attempt.audio else None,
            "metadata": {"outcome": attempt.outcome, "backend": attempt.backend},
        }
        if attempt.backend == "openai":
            span["model"], span["provider"] = attempt.model, "openai"
        if attempt.error:
            span["error_info"] = {
                "exception_type": attempt.error.split(":", 1)[0],
                "message": attempt.error,
                "traceback": "",
            }
        spans.append(span)
    if playback is not None:
        spans.append(
            {
                "id": uuid7(),
                "trace_id": trace_id,
                "parent_span_id": root_id,
                "name": "playback",
                "type": "general",
                "start_time": _iso(playback.started_at),
                "end_time": _iso(playback.ended_at),
                "input": {"device": playback.device, "command": shlex.join(playback.command)},
                "output": {"outcome": playback.outcome, "returncode": playback.returncode},
                "metadata": {"outcome": playback.outcome},
                **(
                    {
                        "error_info": {
                            "exception_type": "PlayerError",
                            "message": playback.error,
                            "traceback": "",
                        }
                    }
                    if playback.error
                    else {}
                ),
            }
        )
    trace: dict[str, Any] = {
        "id": trace_id,
        "name": TTS_TRACE,
        "start_time": _iso(started),
        "end_time": _iso(ended),
        "input": trace_input,
        "output": trace_output,
        "metadata": metadata,
        "tags": tags,
        "thread_id": thread_id_for(utterance.session_id),
    }
    if error_info is not None:
        trace["error_info"] = error_info
    return {
        "v": RECORD_VERSION,
        "origin": origin,
        "project_name": project_name,
        "trace": trace,
        "spans": spans,
    }


def _send_with_sdk(client: opik.Opik, record: dict[str, Any]) -> None:
    """The record through the SDK's client: the same ids and times as the outbox's."""
    project = record["project_name"]
    for span in record["spans"]:
        fields = {k: v for k, v in span.items() if k not in ("start_time", "end_time")}
        client.span(
            **fields,
            start_time=dt.datetime.fromisoformat(span["start_time"]),
            end_time=dt.datetime.fromisoformat(span["end_time"]),
            project_name=project,
        )
    trace = record["trace"]
    fields = {k: v for k, v in trace.items() if k not in ("start_time", "end_time")}
    client.trace(
        **fields,
        start_time=dt.datetime.fromisoformat(trace["start_time"]),
        end_time=dt.datetime.fromisoformat(trace["end_time"]),
        project_name=project,
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:300]


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "no message"
