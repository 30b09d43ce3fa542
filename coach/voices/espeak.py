"""The offline voice: ``espeak-ng --stdout --stdin``, a 22.05 kHz WAV, run by the process
runner the player shares, so a cancelled tip stops being synthesised at once."""

from __future__ import annotations

from coach.speech_settings import ESPEAK, SpeechSettings
from coach.voices.base import RunProcess, Synthesis, finished, last_line, utcnow
from coach.voices.wav import read_wav


class EspeakVoice:
    """espeak-ng, offline: ``espeak-ng --stdout --stdin`` writes a 22.05 kHz WAV."""

    backend = ESPEAK

    def __init__(self, settings: SpeechSettings, program: str, run: RunProcess) -> None:
        self.settings = settings
        self.program = program
        self._run = run

    def synthesize(self, text: str, *, generation: int) -> Synthesis:
        """Never raises; a cancel or close kills espeak-ng (outcome "failed")."""
        settings = self.settings
        started = utcnow()
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
        done = self._run(command, text.encode(), settings.timeout_s, generation=generation)
        if done.error:
            return finished(self, "failed", started, error=done.error)
        if done.timed_out:
            return finished(
                self, "timeout", started, error=f"espeak-ng took over {settings.timeout_s:g} s"
            )
        if done.killed:
            return finished(self, "failed", started, error="espeak-ng stopped: cancelled")
        if done.returncode != 0:
            return finished(
                self,
                "failed",
                started,
                error=f"espeak-ng exited with {done.returncode}: {last_line(done.stderr)}",
            )
        try:
            audio = read_wav(done.stdout)
        except ValueError as err:
            return finished(self, "malformed", started, error=f"espeak-ng: {err}")
        return finished(self, "ok", started, audio=audio)

    @property
    def model(self) -> str:
        return ESPEAK

    @property
    def voice(self) -> str:
        return self.settings.espeak_voice
