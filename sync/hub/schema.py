"""The Hub's schema reaches every database through Alembic migrations, never drop-and-create.

:func:`upgrade` runs at start-up: a fresh database gets every revision; one made by a Hub
before Alembic (the three tables of revision ``0001``, no ``alembic_version``) is checked,
stamped ``0001`` and carried forward with its rows; one at head is left alone. All of it
in one transaction, so a failed step leaves the database as it was. Several workers
starting at once on PostgreSQL take turns on an advisory lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from dsp.errors import HubServerConfigError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
# The columns of each table as Hubs before Alembic made them (revision 0001).
BASELINE_COLUMNS: dict[str, list[str]] = {
    "sessions": [
        "session_id",
        "user_id",
        "start_timestamp",
        "end_timestamp",
        "pitch_accuracy",
        "scale_conformity",
        "timing_stability",
        "scale_chosen",
        "scale_type",
        "sensitivity",
        "strictness",
        "total_notes_played",
        "correct_notes_played",
        "bad_notes_played",
        "total_inscale_notes",
        "duration_seconds",
        "ambient_light_option",
        "device_id",
        "software_version",
        "clock_synced",
        "status",
        "bpm",
        "enabled_metrics",
        "notes",
        "content_hash",
        "received_at",
    ],
    "ai_practice_plans": [
        "practice_id",
        "user_id",
        "generated_at",
        "practice_plan",
        "executed_session_id",
        "content_hash",
        "plan_hash",
        "received_at",
    ],
    "session_summaries": [
        "session_id",
        "user_id",
        "summary",
        "source",
        "model",
        "trace_id",
        "content_hash",
        "received_at",
    ],
}
_PG_LOCK = 0x46434855  # any constant the Hub's migrations alone use: "FCHU"


def _quiet_alembic() -> None:
    """Alembic logs a line per plugin on import and per step: the Hub logs one line."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(connection: Connection | None = None) -> Config:
    _quiet_alembic()
    from alembic.config import Config  # imported late: see _quiet_alembic

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this Hub knows."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations under {MIGRATIONS}")
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision; None for a database Alembic has never touched."""
    _quiet_alembic()
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to :func:`head`; refuses a table that is not a Hub's."""
    _quiet_alembic()
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction unless one is open: open it, so a
            # failed step rolls back whole (and a second worker waits for the first).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        before = MigrationContext.configure(connection).get_current_revision()
        config = alembic_config(connection)
        if before is None and _has_hub_tables(connection):
            _check_baseline(connection)
            command.stamp(config, BASELINE)
            before = BASELINE
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
        connection.commit()
    if after != before:
        log.info("Hub database migrated from %s to revision %s", before or "empty", after)


def _has_hub_tables(connection: Connection) -> bool:
    return bool(set(inspect(connection).get_table_names()) & set(BASELINE_COLUMNS))


def _check_baseline(connection: Connection) -> None:
    """A pre-Alembic database must hold revision 0001's tables whole, or we stop here:
    migrating a table we do not recognise would fail half-way, or worse, not fail."""
    database = inspect(connection)
    tables = set(database.get_table_names())
    for table, columns in BASELINE_COLUMNS.items():
        if table not in tables:
            raise HubServerConfigError(
                f"this database has some Hub tables but not {table}: point the server at the "
                "database it made, or at a fresh one"
            )
        present = {column["name"] for column in database.get_columns(table)}
        missing = [name for name in columns if name not in present]
        if missing:
            raise HubServerConfigError(
                f"table {table} in this database lacks column(s) {', '.join(missing)}: "
                f"add them (ALTER TABLE {table} ADD COLUMN …, see revision {BASELINE} in "
                "sync/hub/migrations) or point the server at a fresh database"
            )
