"""Ids scoped per user, the metronome offset, and the tables pairing needs.

* ``sessions``, ``ai_practice_plans`` and ``session_summaries`` are keyed by
  ``(user_id, id)``: one user's id never collides with another's. Each table is copied
  into its new shape and the copy renamed, keeping every row (SQLite cannot change a
  primary key in place, and one way for both databases is one way to test).
* ``sessions.mean_offset_ms``: null for every session stored before it existed.
* ``users``, ``devices``, ``device_codes`` (RFC 8628 pairing in flight), ``web_sessions``
  (signed-in browsers) and ``rate_limits``: in the database, so several Hub workers or
  hosts share them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from sync.hub.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def _session_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("start_timestamp", UTCDateTime, nullable=False),
        sa.Column("end_timestamp", UTCDateTime, nullable=False),
        sa.Column("pitch_accuracy", sa.Double),
        sa.Column("scale_conformity", sa.Double),
        sa.Column("timing_stability", sa.Double),
        sa.Column("scale_chosen", sa.String(64), nullable=False),
        sa.Column("scale_type", sa.String(32), nullable=False),
        sa.Column("sensitivity", sa.Double, nullable=False),
        sa.Column("strictness", sa.Double, nullable=False),
        sa.Column("total_notes_played", sa.Integer, nullable=False),
        sa.Column("correct_notes_played", sa.Integer, nullable=False),
        sa.Column("bad_notes_played", sa.Integer, nullable=False),
        sa.Column("total_inscale_notes", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Double, nullable=False),
        sa.Column("ambient_light_option", sa.String(64)),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("software_version", sa.String(64), nullable=False),
        sa.Column("clock_synced", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bpm", sa.Double),
        sa.Column("enabled_metrics", JSONDoc),
        sa.Column("notes", JSONDoc),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("mean_offset_ms", sa.Double),
    ]


def _plan_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("practice_id", sa.String(36), nullable=False),
        sa.Column("generated_at", UTCDateTime, nullable=False),
        sa.Column("practice_plan", JSONDoc, nullable=False),
        sa.Column("executed_session_id", sa.String(36)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    ]


def _summary_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("trace_id", sa.String(64)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    ]


def _rekey(
    table: str,
    columns: list[sa.Column[object]],
    key: str,
    *,
    old_indexes: tuple[str, ...],
    copied: tuple[str, ...] | None = None,
) -> None:
    """Copy ``table`` into a new table keyed by ``(user_id, key)``, then take its name."""
    new = f"{table}_v2"
    op.create_table(new, *columns, sa.PrimaryKeyConstraint("user_id", key, name=f"pk_{table}"))
    names = [c.name for c in columns if copied is None or c.name in copied]
    listed = ", ".join(names)
    op.execute(f"INSERT INTO {new} ({listed}) SELECT {listed} FROM {table}")
    for index in old_indexes:
        op.drop_index(index, table_name=table)
    op.drop_table(table)
    op.rename_table(new, table)


def upgrade() -> None:
    session_columns = _session_columns()
    _rekey(
        "sessions",
        session_columns,
        "session_id",
        old_indexes=("ix_sessions_user_start",),
        copied=tuple(c.name for c in session_columns if c.name != "mean_offset_ms"),
    )
    op.create_index("ix_sessions_user_start", "sessions", ["user_id", "start_timestamp"])
    _rekey(
        "ai_practice_plans",
        _plan_columns(),
        "practice_id",
        old_indexes=("ix_ai_practice_plans_user_id",),
    )
    _rekey(
        "session_summaries",
        _summary_columns(),
        "session_id",
        old_indexes=("ix_session_summaries_user_id",),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("device_ref", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("device_name", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_index("ix_devices_user_id", "devices", ["user_id"])
    op.create_table(
        "device_codes",
        sa.Column("device_code_hash", sa.String(64), primary_key=True),
        sa.Column("user_code", sa.String(16), nullable=False, unique=True),
        sa.Column("device_name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(128)),
        sa.Column("interval_s", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("last_poll_at", UTCDateTime),
    )
    op.create_index("ix_device_codes_expires_at", "device_codes", ["expires_at"])
    op.create_table(
        "web_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "ids scoped per user cannot be merged back into one key space: restore a backup"
    )
