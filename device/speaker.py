"""Speaks the coach's tips, one at a time and latest first: a one-place slot, a player
thread that synthesises (OpenAI, else espeak-ng) and plays each, and a trace per tip."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from coach.providers import CoachSettings
from coach.speech_settings import ESPEAK, SpeechSettings
from coach.voices.base import Synthesis, Voice, utcnow
from coach.voices.espeak import EspeakVoice
from coach.voices.openai_tts import OpenAIVoice
from coach.voices.wav import Audio
from device.output import MixPlayer, OutputMix
from device.playback import PROC_CARDS, ChildProcesses, Playback, Player
from device.speech_trace import record_utterance
from device.utterance import Utterance, UtteranceOutcome

if TYPE_CHECKING:
    from coach.tracing import Tracer

log = logging.getLogger(__name__)

# A tip is at most ~30 words; this only bounds a runaway reply (the API takes 4096).
MAX_CHARS = 600


class Speaker:
    """Speaks the coach's tips; build, :meth:`start`, :meth:`say` from any thread, :meth:`close`.

    ``coach_settings`` supplies the OpenAI key and endpoint (its primary provider);
    without one, ``auto`` and ``openai`` speak with espeak-ng. ``tracer`` is the live coach's
    :class:`~coach.tracing.Tracer` (its store holds the outbox); None: no traces. ``mix``
    is the interface's output when it is ours (``audio.output``): speech is then mixed into
    it under the metronome, and played by ``aplay`` only while the interface is closed.
    """

    def __init__(
        self,
        settings: SpeechSettings,
        *,
        coach_settings: CoachSettings | None = None,
        tracer: Tracer | None = None,
        cards_path: Path = PROC_CARDS,
        mix: OutputMix | None = None,
    ) -> None:
        self.settings = settings
        self.coach_settings = coach_settings
        self.tracer = tracer
        self.voices: list[Voice] = []
        self.spoken = 0  # utterances played to the end
        self.replaced = 0  # tips replaced by a newer one before they were played
        self.failed = 0  # utterances no backend could synthesise, or the player refused
        self._children = ChildProcesses()
        # With the interface's output ours (the metronome), speech is mixed into it.
        player = Player(settings, self._children, cards_path=cards_path)
        self.player: Player | MixPlayer = (
            MixPlayer(mix, self._children, player) if mix is not None else player
        )
        self._cond = threading.Condition()
        self._pending: Utterance | None = None
        self._busy = False
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """True once :meth:`start` found what it needs to speak."""
        return self._thread is not None and not self._closed

    def start(self) -> Speaker:
        """Choose the voices and start the player thread; logs why when speech stays off.

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
        voices: list[Voice] = []
        if settings.mode in ("auto", "openai") and primary is not None:
            voices.append(OpenAIVoice(settings, primary))
        espeak = shutil.which(settings.espeak)
        if espeak is None:
            fix = (
                "sudo apt install espeak-ng"
                if settings.espeak == ESPEAK
                else "check `coach.speech_espeak`"
            )
            if voices:
                log.warning(
                    "text-to-speech: %s not found, so no offline voice when OpenAI fails (%s)",
                    settings.espeak,
                    fix,
                )
            else:
                log.warning("text-to-speech is off: %s not found (%s)", settings.espeak, fix)
                return self
        else:
            voices.append(EspeakVoice(settings, espeak, self._children.run))
        program = self.player.program
        if isinstance(self.player, Player) and shutil.which(program) is None:
            fix = (
                "sudo apt install alsa-utils"
                if program == "aplay"
                else "check `coach.speech_player`"
            )
            log.warning("text-to-speech is off: the player %s was not found (%s)", program, fix)
            return self
        self.voices = voices
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()
        log.info(
            "text-to-speech: %s, played by %s on %s",
            ", falling back to ".join(f"{voice.model} ({voice.voice})" for voice in voices),
            program,
            self.player.device(),
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
                utcnow(),
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
        started = utcnow()
        waited_s = time.monotonic() - utterance.said_monotonic
        attempts: list[Synthesis] = []
        for voice in self.voices:
            attempt = voice.synthesize(utterance.text, generation=utterance.generation)
            attempts.append(attempt)
            if attempt.outcome == "ok" or self._stale(utterance):
                break
            log.info(
                "text-to-speech: %s %s (%s)%s",
                attempt.model,
                attempt.outcome,
                attempt.error,
                "; trying espeak-ng" if voice is not self.voices[-1] else "",
            )
        audio = attempts[-1].audio if attempts and attempts[-1].outcome == "ok" else None
        playback: Playback | None = None
        outcome: UtteranceOutcome
        if self._stale(utterance):
            outcome = "cancelled"
        elif audio is None:
            outcome = "failed"
        elif self._newer_waiting():
            outcome = "superseded"
        else:
            playback = self.player.play(audio, utterance.generation)
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

    def _trace(
        self,
        utterance: Utterance,
        started: dt.datetime,
        waited_s: float,
        attempts: list[Synthesis],
        audio: Audio | None,
        playback: Playback | None,
        outcome: UtteranceOutcome,
    ) -> None:
        if self.tracer is None:
            return
        # Logs, never raises: a full disk or a refusing Opik must not stop the voice.
        record_utterance(
            self.tracer,
            utterance=utterance,
            started=started,
            waited_s=waited_s,
            attempts=attempts,
            audio=audio,
            playback=playback,
            outcome=outcome,
        )
