"""LLM providers through the official ``openai`` package, so any OpenAI-compatible
endpoint works (``OPENAI_BASE_URL``, a local server, a router).

One try per provider and no hidden retries (``max_retries=0``) with a short timeout: a
tip is worth a few seconds, not a minute. The primary (``gpt-4o-mini``) answers; on a
rate limit (429), a server error (5xx), a timeout or a connection error the optional
fallback model/endpoint is asked; when that fails too — or there is no key, or the reply
is malformed or refused — the caller uses the offline coach. A 429's ``Retry-After`` is
honoured: the primary is skipped until then.

Settings come from the environment (never from config.toml: keys are secrets):

``OPENAI_API_KEY``, ``OPENAI_BASE_URL``
    the primary's key and endpoint (no key → no primary).
``FRETCOACH_COACH_MODEL`` (``gpt-4o-mini``), ``FRETCOACH_COACH_TIMEOUT_S`` (6)
    the primary's model and per-request timeout, also used by the fallback.
``FRETCOACH_COACH_FALLBACK_MODEL``, ``_BASE_URL``, ``_API_KEY``
    the fallback; its endpoint and key default to the primary's.

``openai`` is imported on first use (a second or two on a Pi), from the coach's own
thread, never at import time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from dsp.errors import CoachSettingError

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 6.0
TEMPERATURE = 0.9
MAX_TOKENS = 100
# Without a usable Retry-After, wait this long before asking a rate-limited primary again.
DEFAULT_RETRY_AFTER_S = 20.0
MAX_RETRY_AFTER_S = 300.0

Outcome = Literal[
    "ok",
    "rate-limited",
    "server-error",
    "timeout",
    "connection-error",
    "malformed",
    "rejected",
    "skipped",
]
# The outcomes on which the next provider is asked (the family kept a fallback for these).
FALL_THROUGH: frozenset[Outcome] = frozenset(
    {"rate-limited", "server-error", "timeout", "connection-error", "skipped"}
)

ClientWrapper = Callable[["openai.OpenAI", str | None], "openai.OpenAI"]


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One endpoint and model. ``name`` is "openai" (primary) or "fallback"."""

    name: str
    model: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    temperature: float = TEMPERATURE
    max_tokens: int = MAX_TOKENS
    # The provider recorded on Opik's LLM span; None → the endpoint's host.
    trace_provider: str | None = None


@dataclass(frozen=True, slots=True)
class CoachSettings:
    primary: ProviderSettings | None
    fallback: ProviderSettings | None = None

    @property
    def providers(self) -> tuple[ProviderSettings, ...]:
        return tuple(p for p in (self.primary, self.fallback) if p is not None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CoachSettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        timeout = _timeout(get("FRETCOACH_COACH_TIMEOUT_S"))
        key, base_url = get("OPENAI_API_KEY"), get("OPENAI_BASE_URL")
        primary = None
        if key:
            primary = ProviderSettings(
                "openai",
                get("FRETCOACH_COACH_MODEL") or DEFAULT_MODEL,
                key,
                base_url,
                timeout,
                trace_provider="openai",
            )
        fallback = None
        fallback_model = get("FRETCOACH_COACH_FALLBACK_MODEL")
        fallback_key = get("FRETCOACH_COACH_FALLBACK_API_KEY") or key
        if fallback_model and fallback_key:
            fallback = ProviderSettings(
                "fallback",
                fallback_model,
                fallback_key,
                get("FRETCOACH_COACH_FALLBACK_BASE_URL") or base_url,
                timeout,
            )
        elif fallback_model:
            log.warning(
                "FRETCOACH_COACH_FALLBACK_MODEL is set but there is no key for it: set "
                "FRETCOACH_COACH_FALLBACK_API_KEY (or OPENAI_API_KEY); no fallback for now"
            )
        return cls(primary, fallback)


def _timeout(text: str | None) -> float:
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 60:
        raise CoachSettingError(
            f"FRETCOACH_COACH_TIMEOUT_S must be a number of seconds from 0.5 to 60, not {text!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request to one provider, as recorded in the trace (also when it failed)."""

    provider: str
    model: str
    outcome: Outcome
    started_at: dt.datetime
    ended_at: dt.datetime
    text: str | None = None
    truncated: bool = False
    usage: dict[str, int] | None = None
    error: str | None = None
    retry_after_s: float | None = None
    trace_provider: str | None = None


class ChatProvider:
    """One OpenAI-compatible endpoint. Not thread-safe: the coach's worker owns it."""

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        wrap: ClientWrapper | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._wrap = wrap
        self._clock = clock
        self._client: openai.OpenAI | None = None
        self._blocked_until = 0.0

    def prepare(self) -> openai.OpenAI:
        """Build the client (imports ``openai``); done on first use if not before."""
        if self._client is None:
            import openai

            client = openai.OpenAI(
                api_key=self.settings.api_key,
                base_url=self.settings.base_url,
                timeout=self.settings.timeout_s,
                max_retries=0,
            )
            self._client = (
                self._wrap(client, self.settings.trace_provider) if self._wrap else client
            )
        return self._client

    def complete(self, messages: Sequence[Mapping[str, str]]) -> Attempt:
        """Ask once. Never raises: the outcome says what happened."""
        settings = self.settings
        started = _now()
        if self._clock() < self._blocked_until:
            wait = self._blocked_until - self._clock()
            return self._attempt("skipped", started, error=f"rate-limited for {wait:.0f} s more")
        import openai

        client = self.prepare()
        try:
            completion = client.chat.completions.create(
                model=settings.model,
                messages=list(messages),  # type: ignore[arg-type]
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
            )
        except openai.RateLimitError as err:
            retry_after = _retry_after(err)
            self._blocked_until = self._clock() + retry_after
            return self._attempt(
                "rate-limited", started, error=_describe(err), retry_after_s=retry_after
            )
        except openai.APITimeoutError as err:
            return self._attempt("timeout", started, error=_describe(err))
        except openai.APIConnectionError as err:
            return self._attempt("connection-error", started, error=_describe(err))
        except openai.InternalServerError as err:
            return self._attempt("server-error", started, error=_describe(err))
        except openai.APIStatusError as err:
            if err.status_code >= 500:
                return self._attempt("server-error", started, error=_describe(err))
            if err.status_code in (401, 403):
                log.warning(
                    "%s rejected the key for %s (HTTP %d): check %s",
                    settings.base_url or "api.openai.com",
                    settings.model,
                    err.status_code,
                    "OPENAI_API_KEY"
                    if settings.name == "openai"
                    else "FRETCOACH_COACH_FALLBACK_API_KEY",
                )
            return self._attempt("rejected", started, error=_describe(err))
        except (openai.APIResponseValidationError, ValueError, TypeError, KeyError) as err:
            # ValueError covers a body that is not JSON at all (json.JSONDecodeError).
            return self._attempt("malformed", started, error=_describe(err))
        return self._read(completion, started)

    def _read(self, completion: Any, started: dt.datetime) -> Attempt:
        try:
            choice = completion.choices[0]
            text = choice.message.content
            truncated = choice.finish_reason == "length"
        except (AttributeError, IndexError, TypeError, KeyError) as err:
            return self._attempt("malformed", started, error=f"unexpected reply shape: {err!r}")
        if text is not None and not isinstance(text, str):
            return self._attempt("malformed", started, error="reply content is not text")
        return self._attempt(
            "ok", started, text=text or "", truncated=truncated, usage=_usage(completion)
        )

    def _attempt(self, outcome: Outcome, started: dt.datetime, **fields: Any) -> Attempt:
        return Attempt(
            provider=self.settings.name,
            model=self.settings.model,
            outcome=outcome,
            started_at=started,
            ended_at=_now(),
            trace_provider=self.settings.trace_provider,
            **fields,
        )


class ProviderChain:
    """The primary, then the fallback on a 429/5xx/timeout/connection error."""

    def __init__(self, providers: Sequence[ChatProvider]) -> None:
        self.providers = list(providers)

    @classmethod
    def from_settings(
        cls, settings: CoachSettings, *, wrap: ClientWrapper | None = None
    ) -> ProviderChain:
        return cls([ChatProvider(p, wrap=wrap) for p in settings.providers])

    def prepare(self) -> None:
        for provider in self.providers:
            provider.prepare()

    def complete(self, messages: Sequence[Mapping[str, str]]) -> list[Attempt]:
        """Every attempt made, in order; the last is "ok" when a provider answered."""
        attempts: list[Attempt] = []
        for provider in self.providers:
            attempt = provider.complete(messages)
            attempts.append(attempt)
            if attempt.outcome not in FALL_THROUGH:
                break
            if attempt.outcome != "skipped":
                log.info(
                    "coach: %s (%s) %s: %s",
                    attempt.provider,
                    attempt.model,
                    attempt.outcome,
                    attempt.error,
                )
        return attempts


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:300]


def _retry_after(err: openai.RateLimitError) -> float:
    raw = err.response.headers.get("retry-after")
    try:
        seconds = float(raw) if raw is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER_S  # an HTTP date: rare, and a guess is good enough
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _usage(completion: Any) -> dict[str, int] | None:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return None
    counts = {
        key: value
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
        if isinstance(value := getattr(usage, key, None), int)
    }
    return counts or None
