"""Device tokens: read from ``--token`` and ``FRETCOACH_HUB_TOKENS``, checked in constant time.

A token is never logged or echoed, not even in an error about a malformed one. Standard
library only, so the command line can check tokens before the web stack loads.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping, Sequence

from dsp.errors import HubError, HubServerConfigError

TOKENS_ENV = "FRETCOACH_HUB_TOKENS"


def _redacted(text: str) -> str:
    """Enough of a bad ``--token`` value to recognise it, never the whole secret."""
    token, sep, user = text.rpartition("=")
    if not sep:
        token, user = text, ""
    shown = token[:3] + "…" if len(token) > 3 else token
    return f"{shown}{sep}{user}"


def _parse_tokens(items: Sequence[str], *, source: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for item in items:
        # Split at the last "=": base64 tokens may end in "=" padding, user ids do not.
        token, sep, user = item.strip().rpartition("=")
        token, user = token.strip(), user.strip()
        if not sep or not token or not user:
            raise HubServerConfigError(
                f"{source} must look like TOKEN=USER, not {_redacted(item.strip())!r}"
            )
        if tokens.get(token, user) != user:
            raise HubServerConfigError(
                f"{source}: one token is given for two users ({tokens[token]!r} and {user!r});"
                " give each device user its own token"
            )
        tokens[token] = user
    return tokens


def parse_token_args(items: Sequence[str]) -> dict[str, str]:
    """``["tok1=alice", "tok2=bob"]`` → ``{"tok1": "alice", "tok2": "bob"}``.

    Raises :class:`HubServerConfigError` (a ``ValueError``) naming the expected form; the
    message shows only the first characters of a malformed token.
    """
    return _parse_tokens(items, source="--token")


def tokens_from_env(value: str) -> dict[str, str]:
    """``FRETCOACH_HUB_TOKENS="tok1=alice,tok2=bob"``; keeps tokens out of ``ps`` output."""
    items = [item for item in value.split(",") if item.strip()]
    return _parse_tokens(items, source=f"{TOKENS_ENV} entries")


def collect_tokens(
    token_args: Sequence[str], env_value: str | None = None, *, required: bool = True
) -> dict[str, str]:
    """``--token`` arguments plus ``FRETCOACH_HUB_TOKENS`` (read from the environment when
    ``env_value`` is None); unless ``required`` is False, refuses to return none."""
    if env_value is None:
        env_value = os.environ.get(TOKENS_ENV, "")
    tokens = tokens_from_env(env_value)
    for token, user in parse_token_args(token_args).items():
        if tokens.get(token, user) != user:
            raise HubServerConfigError(
                f"--token and {TOKENS_ENV} give one token to two users "
                f"({tokens[token]!r} and {user!r}); give each user its own token"
            )
        tokens[token] = user
    if not tokens and required:
        raise HubServerConfigError(
            f"no device tokens: pass --token TOKEN=USER or set {TOKENS_ENV}="
            "tok1=alice,tok2=bob, or add a user with `fretcoach hub add-user NAME` so "
            "devices can pair; the Hub refuses to start without one"
        )
    return tokens


def unauthorized(detail: str) -> HubError:
    return HubError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


class TokenAuth:
    """Maps bearer tokens to users in constant time; never logs or echoes a token."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        if not tokens:
            raise HubServerConfigError(
                "no device tokens: pass --token TOKEN=USER (or set "
                f"{TOKENS_ENV}=tok1=alice,tok2=bob); without one every request would be refused"
            )
        self._tokens = [(token.encode(), user) for token, user in tokens.items()]

    def find(self, presented: str) -> str | None:
        """The token's user, or None; constant time over the list."""
        candidate = presented.encode()
        user = None
        for token, owner in self._tokens:  # no early exit: every check takes the same time
            if hmac.compare_digest(token, candidate):
                user = owner
        return user

    @property
    def users(self) -> list[str]:
        return sorted({user for _, user in self._tokens})

    def user_for(self, presented: str | None) -> str:
        """The presented token's user; a 401 :class:`HubError` for a missing or unknown one."""
        if not presented:
            raise unauthorized("send Authorization: Bearer <device token>")
        candidate = presented.encode()
        user = None
        for token, owner in self._tokens:  # no early exit: every check takes the same time
            if hmac.compare_digest(token, candidate):
                user = owner
        if user is None:
            raise unauthorized(
                "unknown device token: compare the device's FRETCOACH_HUB_TOKEN with the "
                "Hub's --token list"
            )
        return user
