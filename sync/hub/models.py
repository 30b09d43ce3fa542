"""The Hub ingest contract as code: request and answer models (pydantic) and tables (SQLAlchemy 2).

``sync/hub-api.md`` is the contract; this module is its executable form, kept next to the
columns each field fills so the two cannot drift apart unnoticed. The tables are the
Hub's ``sessions`` and ``ai_practice_plans``, the coach's ``session_summaries``, plus the
device fields and the ``content_hash`` that makes re-posting a session idempotent; and
what pairing needs: ``users``, ``devices``, ``device_codes``, ``web_sessions`` and
``rate_limits``. Their shape reaches existing databases through ``migrations/``.

Validation is strict on purpose: the device marks a 422 rejected with our message, so every
message names the field and says what a valid value looks like.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import JSON, Boolean, DateTime, Double, Index, Integer, String, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dsp.scales import Scale, parse_scale

MAX_NOTES = 20_000  # ~1.2 MB of JSON: a long session fits well inside the 2 MiB body limit
# The counts' columns are INTEGER: 32-bit on PostgreSQL, so that is the bound everywhere (a
# bigger count would pass validation and then fail the insert as a 500, which devices retry).
MAX_COUNT = 2**31 - 1
# A note more than 10 s from the click is not "early" or "late" but a different beat: at the
# slowest metronome (6 bpm) half a beat is 5 s, so ±10 s bounds every real offset.
MAX_OFFSET_MS = 10_000.0

# Numbers are JSON numbers: pydantic would also read `true` as 1.0 and "0.5" as 0.5, and
# store a sender's type mistake as a score. An integer is a number (1 → 1.0).
Unit = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
UserId = Annotated[str, Field(min_length=1, max_length=128)]
Metric = Literal["pitch", "scale", "timing"]


# --------------------------------------------------------------------------- requests


class _Strict(BaseModel):
    """Unknown fields are errors (a typo must not silently drop data); NaN/inf are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """PostgreSQL refuses NUL in text (lone surrogates are already refused by pydantic)."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character (\\u0000), which the Hub cannot store")
        return value


def _known_scale(name: str) -> Scale:
    # UnknownScaleError is a ValueError whose message lists the forms we accept.
    return parse_scale(name)


def _type_matches(scale_type: str, scale_name: str | None) -> str:
    """The Hub stores the type twice (in the name and in its own column): they must agree."""
    if scale_name is None:  # the name itself failed validation; that error is reported
        return scale_type
    expected = _known_scale(scale_name).hub_type
    if scale_type.strip().lower() != expected:
        raise ValueError(
            f"scale_type {scale_type!r} does not match scale {scale_name!r}: "
            f"send {expected!r} (the scale's Hub type)"
        )
    return expected


def _utc(value: datetime) -> datetime:
    """The same instant in UTC; a time within a day of year 1 or 9999 may not have one."""
    try:
        return value.astimezone(UTC)
    except OverflowError as err:  # pydantic reports only ValueErrors as a 422
        raise ValueError(
            f"{value.isoformat()} is outside the years 1–9999 once converted to UTC"
        ) from err


def _time_text(value: Any) -> Any:
    """A time is ISO 8601 text; pydantic also reads a number (or a string of digits) as
    seconds since 1970, so a device that sent its monotonic clock (``"start_timestamp":
    1234.5``) would be stored as 1970-01-01. Stored times (datetimes) pass."""
    if isinstance(value, bool):
        wrong = str(value).lower()
    elif isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        wrong = f"the number {value!r} (seconds since 1970 are not accepted)"
    else:
        return value
    raise ValueError(
        f"must be an ISO 8601 time with a UTC offset, e.g. 2026-01-01T10:00:00+00:00, not {wrong}"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Offsets are required (a naive time is ambiguous) and normalised to UTC, so the same
# instant written as +02:00 or Z stores, hashes and lists identically.
UtcTime = Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_utc)]


class NoteEvent(_Strict):
    """One played note, as compact as the store keeps it."""

    onset_s: StrictFloat = Field(ge=0.0, description="seconds from the session start")
    midi: StrictInt = Field(ge=0, le=127, description="nearest semitone to the pitch played")
    cents: StrictFloat = Field(ge=-100.0, le=100.0, description="deviation from `midi`")
    in_scale: StrictBool


class _SessionFields(_Strict):
    """Every posted session field except ``notes``; shared by the request and the listing."""

    session_id: UUID
    user_id: UserId
    start_timestamp: UtcTime = Field(description="ISO 8601 with a UTC offset")
    end_timestamp: UtcTime = Field(description="ISO 8601 with a UTC offset; ≥ start")
    pitch_accuracy: Unit | None = Field(description="null when the metric was disabled")
    scale_conformity: Unit | None = Field(description="null when the metric was disabled")
    timing_stability: Unit | None = Field(description="null when the metric was disabled")
    scale_chosen: str = Field(
        min_length=1, max_length=64, description='the Hub form, e.g. "A Minor (Pentatonic)"'
    )
    scale_type: str = Field(
        min_length=1, max_length=32, description='the scale\'s Hub type, e.g. "pentatonic"'
    )
    sensitivity: Unit
    strictness: Unit
    # total_notes_played comes after its parts so its validator can see them.
    correct_notes_played: Count
    bad_notes_played: Count
    total_notes_played: Count = Field(description="correct_notes_played + bad_notes_played")
    total_inscale_notes: StrictInt = Field(ge=1, le=12, description="size of the scale")
    duration_seconds: StrictFloat = Field(ge=0.0)
    ambient_light_option: str | None = Field(default=None, max_length=64)
    device_id: str = Field(min_length=1, max_length=128)
    software_version: str = Field(min_length=1, max_length=64)
    clock_synced: StrictBool
    status: Literal["completed", "interrupted"]
    bpm: StrictFloat | None = Field(default=None, gt=0.0, le=1000.0)
    enabled_metrics: list[Metric] | None = Field(default=None, max_length=3)
    mean_offset_ms: StrictFloat | None = Field(
        default=None,
        ge=-MAX_OFFSET_MS,
        le=MAX_OFFSET_MS,
        description="mean signed offset of the notes to the metronome click, in ms: negative "
        "early (rushing), positive late (dragging); null at free tempo",
    )

    @field_validator("end_timestamp")
    @classmethod
    def _end_not_before_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start_timestamp")
        if start is not None and end < start:
            raise ValueError(
                f"end_timestamp {end.isoformat()} is before start_timestamp "
                f"{start.isoformat()}: a session cannot end before it starts"
            )
        return end

    @field_validator("scale_chosen")
    @classmethod
    def _canonical_scale(cls, name: str) -> str:
        return _known_scale(name).hub_name

    @field_validator("scale_type")
    @classmethod
    def _scale_type_matches(cls, scale_type: str, info: ValidationInfo) -> str:
        return _type_matches(scale_type, info.data.get("scale_chosen"))

    @field_validator("total_notes_played")
    @classmethod
    def _counts_add_up(cls, total: int, info: ValidationInfo) -> int:
        correct = info.data.get("correct_notes_played")
        bad = info.data.get("bad_notes_played")
        if correct is not None and bad is not None and correct + bad != total:
            raise ValueError(
                f"total_notes_played ({total}) must equal correct_notes_played ({correct}) "
                f"+ bad_notes_played ({bad})"
            )
        return total

    @field_validator("total_inscale_notes")
    @classmethod
    def _scale_size_matches(cls, size: int, info: ValidationInfo) -> int:
        name = info.data.get("scale_chosen")
        if name is not None and size != _known_scale(name).size:
            raise ValueError(
                f"total_inscale_notes ({size}) must be the size of {name}: "
                f"{_known_scale(name).size}"
            )
        return size

    @field_validator("enabled_metrics")
    @classmethod
    def _no_repeats(cls, metrics: list[str] | None) -> list[str] | None:
        if metrics is not None and len(set(metrics)) != len(metrics):
            raise ValueError(f"enabled_metrics lists a metric twice: {metrics}")
        return metrics


class SessionIn(_SessionFields):
    """``POST /api/v1/sessions`` body: a finished (or interrupted) practice session."""

    notes: list[NoteEvent] | None = Field(default=None, max_length=MAX_NOTES)


class SessionOut(_SessionFields):
    """A stored session as listed: the posted fields without ``notes``, plus ``received_at``."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    received_at: AwareDatetime
    coach_summary: str | None = Field(
        default=None, description="the coach's session summary, once it has been posted"
    )


class PracticePlan(_Strict):
    """The AI-mode recommendation; its scale must exist (the earlier code never checked)."""

    scale_name: str = Field(
        min_length=1, max_length=64, description='the Hub form, e.g. "A Minor (Pentatonic)"'
    )
    scale_type: str = Field(min_length=1, max_length=32)
    focus_area: Metric
    reasoning: str = Field(max_length=4000)
    strictness: Unit
    sensitivity: Unit

    @field_validator("scale_name")
    @classmethod
    def _canonical_scale(cls, name: str) -> str:
        return _known_scale(name).hub_name

    @field_validator("scale_type")
    @classmethod
    def _scale_type_matches(cls, scale_type: str, info: ValidationInfo) -> str:
        return _type_matches(scale_type, info.data.get("scale_name"))


class PracticePlanIn(_Strict):
    """``POST /api/v1/practice-plans`` body (the Hub's ``ai_practice_plans`` row)."""

    practice_id: UUID
    user_id: UserId
    generated_at: UtcTime = Field(description="ISO 8601 with a UTC offset")
    practice_plan: PracticePlan
    executed_session_id: UUID | None = None


class SessionSummaryIn(_Strict):
    """``POST /api/v1/session-summaries`` body: the coach's words at the end of a session.

    A separate resource, not a session field: the session is queued the moment it ends,
    while the summary is written seconds later (or never, on a power cut), and a session
    body is frozen at its first upload. No foreign key either: a summary may arrive
    before its session (the session can wait for the clock to sync).
    """

    session_id: UUID
    user_id: UserId
    summary: str = Field(min_length=1, max_length=2000, description="2–3 sentences")
    source: Literal["model", "trimmed", "offline"] = Field(
        description="a model's reply, a model's reply trimmed to fit, or the offline coach"
    )
    model: str = Field(min_length=1, max_length=64, description='e.g. "gpt-4o-mini"')
    trace_id: str | None = Field(
        default=None, max_length=64, description="the Opik trace of the summary, if traced"
    )


# --------------------------------------------------------------------------- answers


class IngestResult(BaseModel):
    """201 ``created`` or 200 ``duplicate`` (the same id with the same content)."""

    session_id: UUID
    result: Literal["created", "duplicate"]


class PlanIngestResult(BaseModel):
    """201 ``created``; 200 ``duplicate``, or ``updated`` (``executed_session_id`` filled in)."""

    practice_id: UUID
    result: Literal["created", "duplicate", "updated"]


class SummaryIngestResult(BaseModel):
    """201 ``created`` or 200 ``duplicate`` (the same summary again)."""

    session_id: UUID
    result: Literal["created", "duplicate"]


class SessionList(BaseModel):
    sessions: list[SessionOut]


class FieldError(BaseModel):
    field: str = Field(description='dotted location, e.g. "notes.3.midi"; "body" for the JSON')
    message: str


class InvalidAnswer(BaseModel):
    error: Literal["invalid"]
    detail: list[FieldError]


class ErrorAnswer(BaseModel):
    error: str = Field(description='"conflict", "unauthorized", "forbidden", "too_large", …')
    detail: str | None = None


# --------------------------------------------------------------------------- tables


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL (timestamptz) and SQLite (text) alike.

    SQLite has no time zones: SQLAlchemy would store an aware datetime's wall-clock
    digits and read them back naive, so we store UTC and re-attach UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the Hub stores UTC; attach a time zone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class SessionRow(Base):
    """The Hub's ``sessions`` columns, plus device fields, ``notes`` and ``content_hash``.

    Keyed by ``(user_id, session_id)``: ids are scoped per user, so another user's id never
    collides with one's own, and a 409 never tells anyone that someone else has an id.
    """

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_start", "user_id", "start_timestamp"),)

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    start_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    end_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    pitch_accuracy: Mapped[float | None] = mapped_column(Double)
    scale_conformity: Mapped[float | None] = mapped_column(Double)
    timing_stability: Mapped[float | None] = mapped_column(Double)
    scale_chosen: Mapped[str] = mapped_column(String(64))
    scale_type: Mapped[str] = mapped_column(String(32))
    sensitivity: Mapped[float] = mapped_column(Double)
    strictness: Mapped[float] = mapped_column(Double)
    total_notes_played: Mapped[int] = mapped_column(Integer)
    correct_notes_played: Mapped[int] = mapped_column(Integer)
    bad_notes_played: Mapped[int] = mapped_column(Integer)
    total_inscale_notes: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column(Double)
    ambient_light_option: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    software_version: Mapped[str] = mapped_column(String(64))
    clock_synced: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    bpm: Mapped[float | None] = mapped_column(Double)
    enabled_metrics: Mapped[list[str] | None] = mapped_column(JSONDoc)
    notes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDoc)
    content_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mean_offset_ms: Mapped[float | None] = mapped_column(Double)


class PracticePlanRow(Base):
    """The Hub's ``ai_practice_plans`` columns, plus hashes and ``received_at``.

    ``plan_hash`` hashes the body with ``executed_session_id`` null: it tells "the same
    plan, now executed" (accepted once) from "a different plan under the same id" (409).
    """

    __tablename__ = "ai_practice_plans"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    practice_plan: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    executed_session_id: Mapped[str | None] = mapped_column(String(36))
    content_hash: Mapped[str] = mapped_column(String(64))
    plan_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionSummaryRow(Base):
    """The coach's end-of-session summary, keyed by the session it is about."""

    __tablename__ = "session_summaries"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    summary: Mapped[str] = mapped_column(String(2000))
    source: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    trace_id: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserRow(Base):
    """A person who signs in to the Hub to approve devices; the password only as a hash."""

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeviceRow(Base):
    """A paired device: its token (as a sha256, never in clear), its user, its state.

    ``device_ref`` is the public handle the user lists and revokes it by; the token itself
    is shown once, to the device, at the end of pairing.
    """

    __tablename__ = "devices"

    device_ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    device_name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceCodeRow(Base):
    """One RFC 8628 device authorization in flight, shared by every Hub worker.

    ``status`` is ``pending`` until the user approves (``approved``, with ``user_id``) or
    denies (``denied``); ``issued`` once the device has fetched its token. ``interval_s``
    grows by 5 s at each ``slow_down``; ``last_poll_at`` is when the device last asked.
    """

    __tablename__ = "device_codes"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    device_name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(128))
    interval_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSessionRow(Base):
    """A signed-in browser: the cookie's sha256, its user, its CSRF token, its expiry."""

    __tablename__ = "web_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RateLimitRow(Base):
    """A fixed-window counter per key (``sign-in:203.0.113.7``), in the database so every
    worker and host counts the same attempts."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)
