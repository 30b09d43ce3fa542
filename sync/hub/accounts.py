"""People who sign in to the Hub: users with argon2id password hashes, and browser sessions.

A sign-in makes a random session id (kept in an HttpOnly, SameSite=Strict cookie; the
database keeps only its sha256) and a CSRF token that every state-changing request must
echo in ``X-CSRF-Token`` (or the form's ``csrf_token``). Passwords are hashed by
argon2-cffi with its default (RFC 9106 low-memory) parameters, and a hash made with older
parameters is replaced at the next sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dsp.errors import HubServerConfigError
from sync.hub.models import UserRow, WebSessionRow

SESSION_COOKIE = "fretcoach_hub_session"
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_CHARS = 8
USER_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so "no such user" takes as long as
# "wrong password" and the timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_new_user(user_id: str, password: str) -> None:
    """Refuse a user id or password a person should not pick, naming the rule."""
    if not 1 <= len(user_id) <= 128 or not set(user_id) <= USER_ID_CHARS:
        raise HubServerConfigError(
            f"user id {user_id[:40]!r} must be 1–128 of a–z, 0–9, '.', '_', '-' or '@'"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise HubServerConfigError(
            f"the password must have at least {MIN_PASSWORD_CHARS} characters"
        )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A browser session: whose it is and the CSRF token its forms must carry."""

    user_id: str
    csrf_token: str = field(repr=False)


class Accounts:
    """Users and their browser sessions, in the Hub's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_user(self, user_id: str, password: str) -> None:
        """Create a user (``fretcoach hub add-user``); refuses an existing one."""
        check_new_user(user_id, password)
        row = UserRow(
            user_id=user_id, password_hash=_hasher.hash(password), created_at=datetime.now(UTC)
        )
        with Session(self.engine) as db:
            db.add(row)
            try:
                db.commit()
            except IntegrityError as err:
                raise HubServerConfigError(f"user {user_id!r} already exists") from err

    def set_password(self, user_id: str, password: str) -> None:
        check_new_user(user_id, password)
        with Session(self.engine) as db:
            changed = db.execute(
                update(UserRow)
                .where(UserRow.user_id == user_id)
                .values(password_hash=_hasher.hash(password))
            ).rowcount
            db.commit()
        if not changed:
            raise HubServerConfigError(f"no user {user_id!r}: add it with `fretcoach hub add-user`")

    def user_count(self) -> int:
        with Session(self.engine) as db:
            return int(db.scalar(select(func.count()).select_from(UserRow)) or 0)

    def verify(self, user_id: str, password: str) -> bool:
        """True for the right password; the same work whether or not the user exists."""
        with Session(self.engine) as db:
            stored = db.scalar(select(UserRow.password_hash).where(UserRow.user_id == user_id))
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if _hasher.check_needs_rehash(stored):
            with Session(self.engine) as db:
                db.execute(
                    update(UserRow)
                    .where(UserRow.user_id == user_id)
                    .values(password_hash=_hasher.hash(password))
                )
                db.commit()
        return True

    def sign_in(self, user_id: str) -> tuple[str, SignedIn]:
        """A new browser session for a verified user: (cookie value, what it grants)."""
        cookie = secrets.token_urlsafe(32)
        signed_in = SignedIn(user_id=user_id, csrf_token=secrets.token_urlsafe(24))
        now = datetime.now(UTC)
        with Session(self.engine) as db:
            db.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            db.add(
                WebSessionRow(
                    session_hash=sha256_hex(cookie),
                    user_id=user_id,
                    csrf_token=signed_in.csrf_token,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
            db.commit()
        return cookie, signed_in

    def session(self, cookie: str | None) -> SignedIn | None:
        """Who this cookie signs in, if it is current."""
        if not cookie:
            return None
        with Session(self.engine) as db:
            row = db.scalar(
                select(WebSessionRow).where(
                    WebSessionRow.session_hash == sha256_hex(cookie),
                    WebSessionRow.expires_at > datetime.now(UTC),
                )
            )
            return SignedIn(row.user_id, row.csrf_token) if row else None

    def sign_out(self, cookie: str | None) -> None:
        if cookie:
            with Session(self.engine) as db:
                db.execute(
                    delete(WebSessionRow).where(WebSessionRow.session_hash == sha256_hex(cookie))
                )
                db.commit()


def csrf_ok(signed_in: SignedIn, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(signed_in.csrf_token, presented or "")
