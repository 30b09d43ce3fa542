"""The schema before Alembic: sessions, plans and summaries keyed by their ids alone.

A database made by an older Hub has exactly these tables and no ``alembic_version``;
:func:`sync.hub.schema.upgrade` stamps it at this revision and carries on from here.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from sync.hub.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
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
    )
    op.create_index("ix_sessions_user_start", "sessions", ["user_id", "start_timestamp"])
    op.create_table(
        "ai_practice_plans",
        sa.Column("practice_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("generated_at", UTCDateTime, nullable=False),
        sa.Column("practice_plan", JSONDoc, nullable=False),
        sa.Column("executed_session_id", sa.String(36)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_ai_practice_plans_user_id", "ai_practice_plans", ["user_id"])
    op.create_table(
        "session_summaries",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("trace_id", sa.String(64)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_session_summaries_user_id", "session_summaries", ["user_id"])


def downgrade() -> None:
    for table in ("session_summaries", "ai_practice_plans", "sessions"):
        op.drop_table(table)
