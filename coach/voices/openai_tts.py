"""The OpenAI voice: ``audio.speech.create`` (``gpt-4o-mini-tts``, voice "coral" by
default) on the coach's OpenAI-compatible endpoint, one try, bounded in size and time."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from coach.providers import ProviderSettings
from coach.speech_settings import SpeechSettings
from coach.voices.base import Synthesis, describe_error, finished, utcnow
from coach.voices.wav import read_wav

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

# 24 kHz 16-bit mono is 48 kB/s: 8 MB is almost three minutes, far beyond any tip.
MAX_AUDIO_BYTES = 8 * 1024 * 1024


class OpenAIVoice:
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
        started = utcnow()
        try:
            import openai

            client = self._prepare()
        except Exception as err:  # a broken install: espeak-ng still speaks
            return finished(self, "failed", started, error=describe_error(err))
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
                        return finished(
                            self,
                            "timeout",
                            started,
                            error=f"no full reply in {settings.timeout_s:g} s",
                        )
            audio = read_wav(b"".join(chunks))
        except openai.RateLimitError as err:
            return finished(self, "rate-limited", started, error=describe_error(err))
        except openai.APITimeoutError as err:
            return finished(self, "timeout", started, error=describe_error(err))
        except openai.APIConnectionError as err:
            return finished(self, "connection-error", started, error=describe_error(err))
        except openai.APIStatusError as err:
            if err.status_code >= 500:
                return finished(self, "server-error", started, error=describe_error(err))
            if err.status_code in (401, 403) and not self._warned_key:
                self._warned_key = True
                log.warning(
                    "text-to-speech: %s rejected the key for %s (HTTP %d): check "
                    "OPENAI_API_KEY; speaking with espeak-ng meanwhile",
                    self.provider.base_url or "api.openai.com",
                    settings.model,
                    err.status_code,
                )
            return finished(self, "rejected", started, error=describe_error(err))
        except (ValueError, openai.APIError) as err:
            return finished(self, "malformed", started, error=describe_error(err))
        except Exception as err:  # anything else: still a tip espeak-ng can say
            return finished(self, "failed", started, error=describe_error(err))
        return finished(self, "ok", started, audio=audio)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def voice(self) -> str:
        return self.settings.voice
