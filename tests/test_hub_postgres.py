"""The reference Hub on PostgreSQL (``DATABASE_URL``), against a throwaway cluster on loopback.

Skipped, with the reason, where PostgreSQL's server binaries are not installed (CI installs
the `postgresql` package through `make test`).
"""

from __future__ import annotations

import concurrent.futures
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from device.launcher import Launcher, free_port
from tests.conftest import REPO
from tests.test_hub_server import session_body


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: use the `postgres` account when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user for initdb")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed (apt: postgresql)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip: psycopg[binary])")
    # Not under pytest's tmp dir: that is private to root, and initdb runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="fretcoach-pg-"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir()
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(data, "postgres")
    port = free_port()
    made = subprocess.run(
        [*prefix, str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{made.stderr}")
    server = subprocess.Popen(
        [*prefix, str(pg_bin / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data)]
        + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
                ) as conn:
                    conn.execute("CREATE DATABASE hub")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/hub"
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(base, ignore_errors=True)


PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def pg_hub(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Hub as it scales out: 4 uvicorn workers on one PostgreSQL database, a static
    token for alice and a user bob who pairs devices."""
    from sync.hub.accounts import Accounts
    from sync.hub.storage import HubStore, make_engine

    store = HubStore(make_engine(postgres_url))
    store.create_tables()
    Accounts(store.engine).add_user("bob", PASSWORD)
    store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": postgres_url, "FRETCOACH_HUB_TOKENS": "pgtok=alice"}
    with Launcher(
        "sync.hub",
        ["--host", "127.0.0.1", "--port", str(port), "--workers", "4", "--pairing-interval", "1"],
        label="Hub on PostgreSQL",
        health_url=f"{url}/healthz",
        log_path=tmp_path_factory.mktemp("pghub") / "hub.log",
        env=env,
        cwd=REPO,
    ):
        yield url


def post(url: str, body: dict, key: str | None = None) -> requests.Response:
    headers = {"Authorization": "Bearer pgtok", "Idempotency-Key": key or body["session_id"]}
    return requests.post(f"{url}/api/v1/sessions", json=body, headers=headers, timeout=10)


def test_sessions_are_stored_once_on_postgres(pg_hub: str) -> None:
    body = session_body()
    first = post(pg_hub, body)
    assert first.status_code == 201, first.text
    again = post(pg_hub, body)
    assert again.status_code == 200
    assert again.json()["result"] == "duplicate"
    changed = post(pg_hub, {**body, "duration_seconds": body["duration_seconds"] + 1})
    assert changed.status_code == 409
    listed = requests.get(
        f"{pg_hub}/api/v1/sessions",
        params={"user_id": "alice"},
        headers={"Authorization": "Bearer pgtok"},
        timeout=10,
    ).json()["sessions"]
    assert [s["session_id"] for s in listed].count(body["session_id"]) == 1


def test_concurrent_identical_posts_make_one_row_on_postgres(pg_hub: str) -> None:
    body = session_body()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: post(pg_hub, body), range(8)))
    assert codes.count(201) == 1
    assert codes.count(200) == 7


def _fresh_database(postgres_url: str, name: str) -> str:
    import psycopg

    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def test_todays_schema_is_migrated_with_its_rows_on_postgres(postgres_url: str) -> None:
    from sqlalchemy import select

    from sync.hub import schema
    from sync.hub.models import SessionIn
    from sync.hub.storage import HubStore, content_hash, make_engine
    from tests.test_hub_migrations import (
        insert_legacy_session,
        legacy_hash,
        schema_differences,
        todays_database,
    )

    engine = make_engine(_fresh_database(postgres_url, "legacy"))
    try:
        todays_database(engine)
        old = session_body("alice")
        insert_legacy_session(engine, old)
        store = HubStore(engine)
        store.create_tables()
        assert schema.current(engine) == schema.head()
        assert schema_differences(engine) == []
        from sync.hub.models import SessionRow

        with engine.connect() as connection:
            [row] = connection.execute(select(SessionRow.user_id, SessionRow.content_hash)).all()
        assert tuple(row) == ("alice", legacy_hash(old))
        assert content_hash(SessionIn.model_validate(old)) == legacy_hash(old)
        assert store.add_session(SessionIn.model_validate(old)) == "duplicate"
        bobs = SessionIn.model_validate({**old, "user_id": "bob"})
        assert store.add_session(bobs) == "created"  # the same id, another user
        store.create_tables()  # at head: nothing to do, nothing lost
        assert len(store.sessions_of("alice", limit=10)) == 1
    finally:
        engine.dispose()


def test_a_device_pairs_across_four_workers_on_postgres(pg_hub: str) -> None:
    """Each request may land on another worker: the code, the approval, the sign-in
    session and the token all live in PostgreSQL, so the flow holds together."""
    grant = requests.post(
        f"{pg_hub}/oauth/device_authorization",
        data={"client_id": "fretcoach-portable", "device_name": "fcp-pg"},
        timeout=10,
    ).json()
    browser = requests.Session()
    signed = browser.post(
        f"{pg_hub}/account/sign-in", data={"user_id": "bob", "password": PASSWORD}, timeout=10
    )
    csrf = signed.json()["csrf_token"]
    for _ in range(4):  # the cookie works on every worker
        assert browser.get(f"{pg_hub}/account/devices", timeout=10).status_code == 200
    approved = browser.post(
        f"{pg_hub}/account/approve",
        data={"user_code": grant["user_code"]},
        headers={"X-CSRF-Token": csrf},
        timeout=10,
    )
    assert approved.json() == {"result": "approved"}
    token = requests.post(
        f"{pg_hub}/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": grant["device_code"],
            "client_id": "fretcoach-portable",
        },
        timeout=10,
    ).json()["access_token"]
    body = session_body("guitarist")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": body["session_id"]}
    url = f"{pg_hub}/api/v1/sessions"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = sorted(
            r.status_code
            for r in pool.map(
                lambda _: requests.post(url, json=body, headers=headers, timeout=10), range(8)
            )
        )
    assert codes == [200] * 7 + [201]
    listed = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert [s["user_id"] for s in listed["sessions"]] == ["bob"]


def test_failed_tokens_are_counted_once_across_four_workers_on_postgres(pg_hub: str) -> None:
    """The failed-token limit lives in PostgreSQL: 4 workers answer at most 20 (the
    default --auth-failures) plus one 401 for each worker that has not yet heard of the
    block, never 20 each. A valid token is still served. (Run last: it blocks 127.0.0.1's
    forged tokens for the rest of the window.)"""
    answers: list[int] = []
    for _ in range(40):  # each on a new connection, which any worker may take
        status = requests.post(
            f"{pg_hub}/api/v1/sessions",
            json={},
            headers={"Authorization": "Bearer forged"},
            timeout=30,
        ).status_code
        answers.append(status)
        if status == 429:
            break
    assert answers[-1] == 429, answers
    assert 20 <= answers.count(401) <= 23, answers
    body = session_body()
    assert post(pg_hub, body).status_code == 201
