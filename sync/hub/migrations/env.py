"""Alembic's entry point, run on the connection :func:`sync.hub.schema.upgrade` hands in.

Online only: the Hub migrates its own database at start-up, inside one transaction, so
there is no ``alembic.ini`` and no offline SQL script to keep in step.
"""

from __future__ import annotations

from alembic import context

from sync.hub.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch operations copy the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
