"""Pairing a device with a user: the OAuth 2.0 Device Authorization Grant (RFC 8628).

The device asks for a code pair (:meth:`Pairing.start`), shows the short ``user_code``
and polls (:meth:`Pairing.poll`) while the user signs in on a phone and approves the
code (:meth:`Pairing.decide`). Then one poll returns a device token bound to that user,
once. Everything lives in the database (``device_codes``, ``devices``), so any worker or
host can answer any step. Secrets are stored as sha256: a leaked database holds no usable
device code or token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync.hub.accounts import sha256_hex
from sync.hub.models import DeviceCodeRow, DeviceRow

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 §6.1: no vowels (no words), no look-alikes; 20⁸ ≈ 2.6·10¹⁰ codes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
CODE_LIFETIME_S = 600  # ten minutes to find the phone, sign in and approve
DEFAULT_INTERVAL_S = 5  # RFC 8628 §3.2's default polling interval
SLOW_DOWN_STEP_S = 5  # §3.5: each slow_down adds 5 s to the interval
# Network jitter can bring two polls a device sent `interval` apart a little closer.
POLL_TOLERANCE_S = 0.2
TOKEN_PREFIX = "fch_"  # recognisable in a leak report; the rest is 256 random bits


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """RFC 8628 §3.2 without the URIs (the route knows the Hub's address)."""

    device_code: str = field(repr=False)
    user_code: str  # shown grouped, "BCDF-GHJK"
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    user_id: str
    device_ref: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A paired device as its user sees it in the list."""

    device_ref: str
    device_name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A user code waiting for a decision: what the approval page shows."""

    user_code: str
    device_name: str
    expires_at: datetime


class TokenRequestError(Exception):
    """A token request that gets no token: ``error`` is the RFC 6749/8628 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def normalise_user_code(text: str) -> str:
    """``"bcdf-ghjk"``, ``"BCDF GHJK"`` → ``"BCDFGHJK"``: people type codes loosely."""
    return "".join(ch for ch in text.upper() if ch.isalnum())[: USER_CODE_LENGTH * 2]


def grouped(user_code: str) -> str:
    half = len(user_code) // 2
    return f"{user_code[:half]}-{user_code[half:]}"


class Pairing:
    """Device codes, their decisions, and the device tokens they turn into."""

    def __init__(self, engine: Engine, *, interval_s: int = DEFAULT_INTERVAL_S) -> None:
        self.engine = engine
        self.interval_s = interval_s

    # -- the device's side ---------------------------------------------------------------

    def start(self, device_name: str, *, now: datetime | None = None) -> DeviceAuthorization:
        now = now or datetime.now(UTC)
        device_code = secrets.token_urlsafe(32)
        with Session(self.engine) as db:
            # Codes expired a day ago are of no use to anyone, even for an error message.
            db.execute(delete(DeviceCodeRow).where(DeviceCodeRow.expires_at < now - timedelta(1)))
            for _ in range(5):  # a clash on the user code is ~1 in 10⁹ per pending code
                user_code = "".join(
                    secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH)
                )
                db.add(
                    DeviceCodeRow(
                        device_code_hash=sha256_hex(device_code),
                        user_code=user_code,
                        device_name=device_name,
                        status="pending",
                        interval_s=self.interval_s,
                        created_at=now,
                        expires_at=now + timedelta(seconds=CODE_LIFETIME_S),
                    )
                )
                try:
                    db.commit()
                    break
                except IntegrityError:
                    db.rollback()
            else:
                raise RuntimeError("could not find a free user code in 5 tries")
        return DeviceAuthorization(
            device_code, grouped(user_code), CODE_LIFETIME_S, self.interval_s
        )

    def poll(self, device_code: str, *, now: datetime | None = None) -> IssuedToken:
        """The token once approved; else :class:`TokenRequestError` with the RFC's error."""
        now = now or datetime.now(UTC)
        codes = DeviceCodeRow
        key = sha256_hex(device_code)
        with Session(self.engine) as db:
            row = db.scalar(select(codes).where(codes.device_code_hash == key).with_for_update())
            if row is None or row.status == "issued":
                raise TokenRequestError(
                    "invalid_grant", "unknown or already used device_code: start pairing again"
                )
            if now >= row.expires_at:
                raise TokenRequestError("expired_token", "the code expired: start pairing again")
            last, row.last_poll_at = row.last_poll_at, now
            if (
                last is not None
                and (now - last).total_seconds() < row.interval_s - POLL_TOLERANCE_S
            ):
                row.interval_s += SLOW_DOWN_STEP_S
                db.commit()
                raise TokenRequestError(
                    "slow_down", f"poll at most every {row.interval_s} s from now on"
                )
            status, user_id = row.status, row.user_id
            db.commit()
            if status == "pending":
                raise TokenRequestError("authorization_pending", "waiting for the user to approve")
            if status == "denied" or user_id is None:
                raise TokenRequestError("access_denied", "the user declined this device")
            # Conditional, so two racing polls cannot both take a token.
            won = db.execute(
                update(codes)
                .where(codes.device_code_hash == key, codes.status == "approved")
                .values(status="issued")
            ).rowcount
            if won != 1:
                db.rollback()
                raise TokenRequestError("invalid_grant", "this device_code was already used")
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            device = DeviceRow(
                device_ref=secrets.token_hex(8),
                token_hash=sha256_hex(token),
                user_id=user_id,
                device_name=row.device_name,
                created_at=now,
            )
            db.add(device)
            db.commit()
            return IssuedToken(token, user_id, device.device_ref)

    # -- the user's side -----------------------------------------------------------------

    def pending(self, user_code: str, *, now: datetime | None = None) -> PendingCode | None:
        """The pending, unexpired code the user typed, or None (unknown, decided, expired)."""
        now = now or datetime.now(UTC)
        code = normalise_user_code(user_code)
        with Session(self.engine) as db:
            row = db.scalar(
                select(DeviceCodeRow).where(
                    DeviceCodeRow.user_code == code,
                    DeviceCodeRow.status == "pending",
                    DeviceCodeRow.expires_at > now,
                )
            )
            return PendingCode(grouped(code), row.device_name, row.expires_at) if row else None

    def decide(self, user_code: str, user_id: str, *, approve: bool) -> bool:
        """Approve (bind to ``user_id``) or deny a pending code; False if there is none."""
        code = normalise_user_code(user_code)
        now = datetime.now(UTC)
        with Session(self.engine) as db:
            changed = db.execute(
                update(DeviceCodeRow)
                .where(
                    DeviceCodeRow.user_code == code,
                    DeviceCodeRow.status == "pending",
                    DeviceCodeRow.expires_at > now,
                )
                .values(status="approved" if approve else "denied", user_id=user_id)
            ).rowcount
            db.commit()
        return changed == 1

    # -- paired devices ------------------------------------------------------------------

    def device_user(self, token: str) -> tuple[str | None, bool]:
        """(the token's user, whether it was revoked); (None, False) for an unknown token."""
        with Session(self.engine) as db:
            row = db.execute(
                select(DeviceRow.user_id, DeviceRow.revoked_at).where(
                    DeviceRow.token_hash == sha256_hex(token)
                )
            ).first()
        if row is None:
            return None, False
        return row.user_id, row.revoked_at is not None

    def devices_of(self, user_id: str) -> list[DeviceInfo]:
        with Session(self.engine) as db:
            rows = db.scalars(
                select(DeviceRow)
                .where(DeviceRow.user_id == user_id)
                .order_by(DeviceRow.created_at.desc(), DeviceRow.device_ref)
            )
            return [
                DeviceInfo(r.device_ref, r.device_name, r.created_at, r.revoked_at) for r in rows
            ]

    def revoke(self, user_id: str, device_ref: str) -> bool:
        """Revoke one of the user's devices; False if it is not theirs or already revoked."""
        with Session(self.engine) as db:
            changed = db.execute(
                update(DeviceRow)
                .where(
                    DeviceRow.user_id == user_id,
                    DeviceRow.device_ref == device_ref,
                    DeviceRow.revoked_at.is_(None),
                )
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
            db.commit()
        return changed == 1
