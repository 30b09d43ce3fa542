"""Alembic migrations of the Hub's database; :func:`sync.hub.schema.upgrade` runs them."""
