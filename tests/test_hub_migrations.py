"""The Hub's schema reaches existing databases through Alembic, rows kept (SQLite here;
PostgreSQL in ``test_hub_postgres.py``, with the same helpers).

"Today's schema" is revision 0001 without ``alembic_version``: what every Hub before
Alembic made. Rows are written as that Hub wrote them, content hash included, so the
tests also show that a device retrying an old session still gets 200, not 409.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, MetaData, Table, func, select, text

from dsp.errors import HubServerConfigError
from sync.hub import schema
from sync.hub.models import Base, SessionIn
from sync.hub.storage import HubStore, make_engine, sqlite_url
from tests.hubproc import HubProcess
from tests.test_hub_server import session_body


def legacy_hash(body: dict[str, Any]) -> str:
    """The content hash as the Hub before ``mean_offset_ms`` computed it."""
    dumped = SessionIn.model_validate(body).model_dump(mode="json")
    dumped.pop("mean_offset_ms")
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def todays_database(engine: Engine) -> None:
    """The tables a Hub before Alembic made, and no ``alembic_version``."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), schema.BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))


def insert_legacy_session(engine: Engine, body: dict[str, Any]) -> None:
    """A session row as the Hub before Alembic stored it, through the reflected table."""
    naive = engine.dialect.name == "sqlite"  # SQLite keeps UTC without a zone

    def stored(moment: datetime) -> datetime:
        return moment.astimezone(UTC).replace(tzinfo=None) if naive else moment

    session = SessionIn.model_validate(body)
    row = session.model_dump(mode="python", exclude={"mean_offset_ms", "notes"})
    row.update(
        session_id=str(session.session_id),
        start_timestamp=stored(session.start_timestamp),
        end_timestamp=stored(session.end_timestamp),
        notes=[note.model_dump() for note in session.notes or []],
        content_hash=legacy_hash(body),
        received_at=stored(datetime(2025, 3, 1, 11, 0, tzinfo=UTC)),
    )
    sessions = Table("sessions", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(sessions.insert().values(**row))


def schema_differences(engine: Engine) -> list[Any]:
    """What the migrated database and the models disagree on (Alembic's autogenerate)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_a_fresh_database_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "hub.sqlite3"))
    HubStore(engine).create_tables()
    assert schema.current(engine) == schema.head()
    assert schema_differences(engine) == []
    engine.dispose()


def test_todays_database_is_migrated_with_its_rows_and_old_retries_stay_duplicates(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "hub"
    workdir.mkdir()
    engine = make_engine(sqlite_url(workdir / "hub.sqlite3"))
    todays_database(engine)
    old = session_body("alice")
    insert_legacy_session(engine, old)
    engine.dispose()

    with HubProcess(workdir, enable_faults=False) as hub:
        again = requests.post(
            f"{hub.url}/api/v1/sessions",
            json=old,
            headers=hub.headers("alice", old["session_id"]),
            timeout=10,
        )
        assert (again.status_code, again.json()["result"]) == (200, "duplicate")
        changed = requests.post(
            f"{hub.url}/api/v1/sessions",
            json={**old, "mean_offset_ms": 8.0},
            headers=hub.headers("alice", old["session_id"]),
            timeout=10,
        )
        assert changed.status_code == 409
        bobs = requests.post(
            f"{hub.url}/api/v1/sessions",
            json=old,
            headers=hub.headers("bob", old["session_id"]),
            timeout=10,
        )
        assert bobs.status_code == 201  # the same id, another user: no clash any more
        rows = [r for r in hub.rows() if r["session_id"] == old["session_id"]]
        assert sorted(r["user_id"] for r in rows) == ["alice", "bob"]
        [kept] = [r for r in rows if r["user_id"] == "alice"]
        assert kept["content_hash"] == legacy_hash(old) and kept["mean_offset_ms"] is None
        assert json.loads(kept["notes"])[0]["midi"] == 57
        assert "migrated from 0001 to revision" in hub.log()
    engine = make_engine(sqlite_url(workdir / "hub.sqlite3"))
    assert schema.current(engine) == schema.head()
    assert schema_differences(engine) == []
    engine.dispose()


def test_a_failed_migration_leaves_todays_database_as_it_was(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "hub.sqlite3"))
    todays_database(engine)
    old = session_body("alice")
    insert_legacy_session(engine, old)
    with engine.begin() as connection:
        # A view on sessions makes renaming the copy fail, after the old table was
        # copied and dropped: the whole migration must roll back.
        connection.execute(text("CREATE VIEW finished AS SELECT * FROM sessions"))
    with pytest.raises(Exception, match="finished"):
        HubStore(engine).create_tables()
    assert schema.current(engine) is None  # not even the stamp stayed
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(text("sessions"))) == 1
        tables = {row[0] for row in connection.execute(text("SELECT name FROM sqlite_master"))}
    assert "sessions_v2" not in tables and "users" not in tables
    engine.dispose()


def test_a_table_that_is_not_a_hubs_is_refused_with_the_fix(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "hub.sqlite3"))
    todays_database(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE session_summaries"))
    with pytest.raises(HubServerConfigError, match="not session_summaries"):
        HubStore(engine).create_tables()
    engine.dispose()


def test_the_metronome_offset_is_stored_listed_and_bounded(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub", enable_faults=False) as hub:
        body = session_body("alice", mean_offset_ms=-14.5)
        headers = hub.headers("alice", body["session_id"])
        url = f"{hub.url}/api/v1/sessions"
        assert requests.post(url, json=body, headers=headers, timeout=10).status_code == 201
        listed = requests.get(url, headers=hub.headers("alice"), timeout=10).json()["sessions"]
        assert [s["mean_offset_ms"] for s in listed] == [-14.5]
        for wrong in (10_000.5, "early", float("nan")):
            bad = session_body("alice", mean_offset_ms=wrong)
            answer = requests.post(
                url,
                data=json.dumps(bad),
                headers={
                    **hub.headers("alice", bad["session_id"]),
                    "Content-Type": "application/json",
                },
                timeout=10,
            )
            assert answer.status_code == 422, wrong
            assert [d["field"] for d in answer.json()["detail"]] == ["mean_offset_ms"]
        no_offset = session_body("alice")
        sent = requests.post(
            url, json=no_offset, headers=hub.headers("alice", no_offset["session_id"]), timeout=10
        )
        assert sent.status_code == 201  # an older device's body, without the field
