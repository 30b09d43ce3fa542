"""How the coach's tips are spoken: the ``coach.speech*`` settings and their defaults, cheap
to import (device/config.py reads its defaults here)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from dsp.errors import CoachSettingError

MODES: tuple[str, ...] = ("off", "auto", "openai", "espeak")
ESPEAK = "espeak-ng"
DEFAULT_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "coral"
# The earlier Studio's voice: "coral, a little faster than normal".
DEFAULT_INSTRUCTIONS = (
    "You are a direct, encouraging guitar coach talking to a player mid-practice. "
    "Speak clearly and a little faster than normal."
)
# {device} is replaced by the resolved ALSA device; the WAV arrives on stdin.
DEFAULT_PLAYER = "aplay -q -D {device} -"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_ESPEAK_VOICE = "en-us"
DEFAULT_ESPEAK_WPM = 185  # espeak-ng's default is 175: "a little faster than normal"


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
