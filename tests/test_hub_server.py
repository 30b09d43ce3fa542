"""The reference Hub ingest server, over real HTTP against a real subprocess.

Every scenario ends by counting what the Hub stored (``HubProcess.rows``), so
"exactly once" is checked on the database, not inferred from status codes. Two servers
are shared by the module (start-up costs seconds): one with fault injection, one as
deployed. Tests use fresh ids, and the list test uses users nobody else touches.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from device.launcher import START_TIMEOUT_S, free_port
from device.processes import stop_process
from dsp.errors import HubServerConfigError
from sync.hub.app import create_app
from sync.hub.auth import parse_token_args, tokens_from_env
from sync.hub.cli import main
from sync.hub.limits import BLOCKED_DELAY_S
from sync.hub.options import build_parser
from sync.hub.storage import HubStore, make_engine
from sync.hub.throttle import SharedFailureLimit, Throttle
from tests.conftest import REPO
from tests.hubproc import HubProcess, SlowAttack, SlowKind, fresh_tokens, slow_connection

MIB = 1024 * 1024
DROP = object()  # in a change set: remove the field


@pytest.fixture(scope="module")
def _hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Both module servers, booted side by side (each takes seconds to import)."""
    tokens = fresh_tokens("alice", "bob", "carol", "dave")
    faulty = HubProcess(tmp_path_factory.mktemp("hub"), tokens=tokens)
    # As deployed: no fault injection, tokens given with --token.
    plain = HubProcess(tmp_path_factory.mktemp("plain-hub"), enable_faults=False, tokens_via="argv")
    try:
        for proc in (faulty, plain):
            proc.launch()
        for proc in (faulty, plain):
            proc.wait_ready()
        yield faulty, plain
    finally:
        for proc in (faulty, plain):
            proc.stop()


@pytest.fixture(scope="module")
def server(_hubs: tuple[HubProcess, HubProcess]) -> HubProcess:
    """Fault injection on; users alice, bob, carol and dave."""
    return _hubs[0]


@pytest.fixture(scope="module")
def plain_server(_hubs: tuple[HubProcess, HubProcess]) -> HubProcess:
    """As deployed: no fault injection, tokens given with --token; alice and bob."""
    return _hubs[1]


@pytest.fixture(autouse=True)
def _no_faults_left_over(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").clear_faults()


def session_body(user: str = "alice", **changes: Any) -> dict[str, Any]:
    """A valid session as the device posts it; ``changes`` override (``DROP`` removes)."""
    body: dict[str, Any] = {
        "session_id": str(uuid.uuid4()),
        "user_id": user,
        "start_timestamp": "2025-03-01T10:00:00+00:00",
        "end_timestamp": "2025-03-01T10:05:00+00:00",
        "pitch_accuracy": 0.91,
        "scale_conformity": 0.875,
        "timing_stability": 0.6,
        "scale_chosen": "A Minor (Pentatonic)",
        "scale_type": "pentatonic",
        "sensitivity": 0.5,
        "strictness": 0.5,
        "total_notes_played": 3,
        "correct_notes_played": 2,
        "bad_notes_played": 1,
        "total_inscale_notes": 5,
        "duration_seconds": 300.0,
        "ambient_light_option": None,
        "device_id": "portable-0001",
        "software_version": "0.1.0",
        "clock_synced": True,
        "status": "completed",
        "bpm": 90,
        "enabled_metrics": ["pitch", "scale", "timing"],
        "notes": [
            {"onset_s": 0.5, "midi": 57, "cents": -3.5, "in_scale": True},
            {"onset_s": 1.0, "midi": 60, "cents": 12.0, "in_scale": True},
            {"onset_s": 1.5, "midi": 59, "cents": 0.0, "in_scale": False},
        ],
    }
    for key, value in changes.items():
        if value is DROP:
            del body[key]
        else:
            body[key] = value
    return body


def plan_body(user: str = "alice", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "practice_id": str(uuid.uuid4()),
        "user_id": user,
        "generated_at": "2025-03-01T09:59:00Z",
        "practice_plan": {
            "scale_name": "E Blues",
            "scale_type": "blues",
            "focus_area": "timing",
            "reasoning": "Timing is the weakest area; blues shuffles reward counting.",
            "strictness": 0.4,
            "sensitivity": 0.6,
        },
        "executed_session_id": None,
    }
    body.update(changes)
    return body


def post(
    proc: HubProcess,
    body: dict[str, Any],
    *,
    user: str | None = None,
    key: str | None = None,
    path: str = "/api/v1/sessions",
    timeout: float | tuple[float, float] = 10.0,
) -> requests.Response:
    """POST as the body's user, with the body's id as Idempotency-Key unless overridden."""
    record_id = body.get("session_id") or body.get("practice_id")
    headers = proc.headers(user or body["user_id"], key or record_id)
    return requests.post(f"{proc.url}{path}", json=body, headers=headers, timeout=timeout)


def stored(proc: HubProcess, session_id: str) -> list[dict[str, Any]]:
    return [row for row in proc.rows() if row["session_id"] == session_id]


def wait_for_row(proc: HubProcess, session_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not stored(proc, session_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} never reached the Hub's database")
        time.sleep(0.05)


def fields(response: requests.Response) -> list[str]:
    payload = response.json()
    assert payload["error"] == "invalid", payload
    return [item["field"] for item in payload["detail"]]


# --------------------------------------------------------------------------- basics


def test_healthz_needs_no_token(server: HubProcess) -> None:
    response = requests.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_documents_the_contract(server: HubProcess) -> None:
    spec = requests.get(f"{server.url}/openapi.json", timeout=5).json()
    assert {"/api/v1/sessions", "/api/v1/practice-plans", "/healthz"} <= set(spec["paths"])
    pairing = {"/oauth/device_authorization", "/oauth/token", "/account/approve", "/device"}
    assert pairing <= set(spec["paths"])
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/sessions"])
    assert "SessionIn" in spec["components"]["schemas"]
    assert "/_faults" not in spec["paths"]


def test_healthz_answers_head_as_uptime_monitors_send_it(server: HubProcess) -> None:
    head = requests.head(f"{server.url}/healthz", timeout=5)
    assert head.status_code == 200
    assert requests.get(f"{server.url}/healthz", timeout=5).json() == {"status": "ok"}
    spec = requests.get(f"{server.url}/openapi.json", timeout=5).json()
    assert set(spec["paths"]["/healthz"]) == {"get"}  # one operationId per operation


# --------------------------------------------------------------------------- idempotency


def test_created_then_identical_repost_is_a_duplicate(server: HubProcess) -> None:
    body = session_body()
    first = post(server, body)
    again = post(server, body)
    assert (first.status_code, first.json()) == (
        201,
        {"session_id": body["session_id"], "result": "created"},
    )
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    [row] = stored(server, body["session_id"])
    assert row["user_id"] == "alice" and row["status"] == "completed"
    assert row["scale_chosen"] == "A Minor (Pentatonic)" and row["total_inscale_notes"] == 5
    assert len(row["content_hash"]) == 64


def test_same_facts_spelled_differently_are_the_same_content(server: HubProcess) -> None:
    body = session_body(
        start_timestamp="2025-03-01T12:00:00+02:00",
        end_timestamp="2025-03-01T12:05:00+02:00",
        scale_chosen="a minor pentatonic",
        bpm=DROP,
    )
    assert post(server, body).status_code == 201
    respelled = {
        **body,
        "start_timestamp": "2025-03-01T10:00:00Z",
        "end_timestamp": "2025-03-01T10:05:00Z",
        "scale_chosen": "A Minor (Pentatonic)",
        "bpm": None,
    }
    assert post(server, respelled).status_code == 200
    [row] = stored(server, body["session_id"])
    assert row["scale_chosen"] == "A Minor (Pentatonic)"
    assert row["start_timestamp"].startswith("2025-03-01 10:00:00")  # stored as UTC


def test_changed_content_under_the_same_id_is_a_conflict(server: HubProcess) -> None:
    body = session_body()
    assert post(server, body).status_code == 201
    response = post(server, {**body, "pitch_accuracy": 0.5})
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert body["session_id"] in response.json()["detail"]
    [row] = stored(server, body["session_id"])
    assert row["pitch_accuracy"] == pytest.approx(0.91)  # the first version stays


def test_concurrent_identical_posts_store_one_row(server: HubProcess) -> None:
    body = session_body()
    start = threading.Barrier(8)

    def race(_: int) -> int:
        start.wait()
        return post(server, body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(race, range(8)))
    assert statuses == [200] * 7 + [201]
    assert len(stored(server, body["session_id"])) == 1


def test_null_metrics_are_accepted(server: HubProcess) -> None:
    body = session_body(
        pitch_accuracy=None, scale_conformity=None, timing_stability=None, enabled_metrics=[]
    )
    assert post(server, body).status_code == 201
    [row] = stored(server, body["session_id"])
    assert (row["pitch_accuracy"], row["scale_conformity"], row["timing_stability"]) == (
        None,
        None,
        None,
    )


def test_a_session_with_the_most_notes_fits_under_the_size_limit(server: HubProcess) -> None:
    # Full float precision, as json.dumps writes it: about 90 bytes a note.
    note = {
        "onset_s": 12345.678901234567,
        "midi": 127,
        "cents": -49.99999999999999,
        "in_scale": False,
    }
    total = 20_000
    body = session_body(
        notes=[note] * total,
        total_notes_played=total,
        correct_notes_played=total,
        bad_notes_played=0,
    )
    assert len(json.dumps(body)) > 1.6 * MIB  # close to the limit, yet under it
    assert post(server, body).status_code == 201
    too_many = session_body(notes=[note] * (total + 1))
    assert "notes" in fields(post(server, too_many))


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-real-token", "Basic YWxpY2U6c2VjcmV0"],
    ids=["missing", "unknown", "not-bearer"],
)
def test_bad_or_missing_token_is_401(server: HubProcess, authorization: str | None) -> None:
    body = session_body()
    headers = {"Idempotency-Key": body["session_id"]}
    if authorization:
        headers["Authorization"] = authorization
    response = requests.post(
        f"{server.url}/api/v1/sessions", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stored(server, body["session_id"]) == []


def test_authentication_comes_before_validation(server: HubProcess) -> None:
    body = session_body(pitch_accuracy=7)
    headers = {"Authorization": "Bearer wrong", "Idempotency-Key": body["session_id"]}
    response = requests.post(
        f"{server.url}/api/v1/sessions", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 401


def test_the_user_comes_from_the_token_never_from_the_body(server: HubProcess) -> None:
    """A session recorded under another id (the default "guitarist", before pairing) is
    stored as the token's user's instead of being refused for ever with 403."""
    body = session_body(user="guitarist")
    response = post(server, body, user="bob")
    assert (response.status_code, response.json()["result"]) == (201, "created")
    [row] = stored(server, body["session_id"])
    assert row["user_id"] == "bob"
    assert post(server, body, user="bob").json()["result"] == "duplicate"


def test_ids_are_scoped_per_user_and_a_409_leaks_nothing(server: HubProcess) -> None:
    """B cannot take A's session id, post a summary onto A's session, or learn that an id
    exists: B's rows live beside A's, and each user's own retries stay duplicates."""
    mine = session_body("alice")
    theirs = session_body("bob", session_id=mine["session_id"], pitch_accuracy=0.1)
    assert post(server, theirs).status_code == 201  # bob first: no claim on the id
    assert post(server, mine).status_code == 201  # alice is not told 409
    rows = {row["user_id"]: row for row in stored(server, mine["session_id"])}
    assert set(rows) == {"alice", "bob"} and rows["alice"]["pitch_accuracy"] == 0.91
    path = "/api/v1/session-summaries"
    bobs = summary_body(mine["session_id"], "bob", summary="Bob's words.")
    assert post(server, bobs, path=path).status_code == 201
    alices = post(server, summary_body(mine["session_id"], "alice"), path=path)
    assert (alices.status_code, alices.json()["result"]) == (201, "created")
    plan = plan_body("alice")
    assert (
        post(
            server, plan_body("bob", practice_id=plan["practice_id"]), path="/api/v1/practice-plans"
        ).status_code
        == 201
    )
    assert post(server, plan, path="/api/v1/practice-plans").status_code == 201


# --------------------------------------------------------------------------- limits


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_2_mib_is_413(server: HubProcess, framing: str) -> None:
    body = session_body()
    head = f'{{"session_id": "{body["session_id"]}", "padding": "'.encode()
    size = 2 * MIB + 1024
    # requests sends a generator with Transfer-Encoding: chunked
    data = head + b"x" * size + b'"}' if framing == "content-length" else _chunks(size)
    headers = {**server.headers("alice", body["session_id"]), "Content-Type": "application/json"}
    response = requests.post(
        f"{server.url}/api/v1/sessions", data=data, headers=headers, timeout=10
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert response.request.headers.get("Transfer-Encoding") == (
        "chunked" if framing == "chunked" else None
    )
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"session_id": "not-a-uuid"}, "session_id"),
        ({"pitch_accuracy": 1.5}, "pitch_accuracy"),
        ({"scale_chosen": "A minor pentatonc"}, "scale_chosen"),
        ({"total_notes_played": 4}, "total_notes_played"),
        ({"end_timestamp": "2025-03-01T09:59:59+00:00"}, "end_timestamp"),
        ({"start_timestamp": "2025-03-01T10:00:00"}, "start_timestamp"),
        ({"scale_type": "blues"}, "scale_type"),
        ({"total_inscale_notes": 7}, "total_inscale_notes"),
        ({"status": "paused"}, "status"),
        ({"clock_synced": DROP}, "clock_synced"),
        ({"ambient_lite": "dim"}, "ambient_lite"),
        ({"enabled_metrics": ["pitch", "pitch"]}, "enabled_metrics"),
        ({"notes": [{"onset_s": 0.1, "midi": 200, "cents": 0, "in_scale": True}]}, "notes.0.midi"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value),
)
def test_invalid_session_is_422_naming_the_field(
    server: HubProcess, changes: dict[str, Any], field: str
) -> None:
    body = session_body(**changes)
    response = post(server, body)
    assert response.status_code == 422
    assert field in fields(response)
    assert all(item["message"] for item in response.json()["detail"])
    assert stored(server, body["session_id"]) == []


# What pydantic's lax mode read as something else: a number as seconds since 1970, `true`
# as 1.0, a string of digits as a number. Each was stored as if the sender meant it.
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_timestamp": 1234.5}, "start_timestamp"),  # a monotonic clock, sent as is
        ({"start_timestamp": "1740823200"}, "start_timestamp"),
        ({"end_timestamp": 1740823500}, "end_timestamp"),
        ({"end_timestamp": True}, "end_timestamp"),  # was "not the number True"
        ({"pitch_accuracy": True}, "pitch_accuracy"),
        ({"sensitivity": "0.5"}, "sensitivity"),
        ({"duration_seconds": "300"}, "duration_seconds"),
        ({"bpm": True}, "bpm"),
        ({"mean_offset_ms": "-4.1"}, "mean_offset_ms"),
        (
            {"notes": [{"onset_s": "0.1", "midi": 60, "cents": 0, "in_scale": True}]},
            "notes.0.onset_s",
        ),
        (
            {"notes": [{"onset_s": 0.1, "midi": 60, "cents": False, "in_scale": True}]},
            "notes.0.cents",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value),
)
def test_a_value_of_the_wrong_json_type_is_422_not_converted(
    server: HubProcess, changes: dict[str, Any], field: str
) -> None:
    body = session_body(**changes)
    response = post(server, body)
    assert response.status_code == 422, response.text
    assert field in fields(response)
    if "timestamp" in field:
        assert "ISO 8601" in str(response.json()["detail"])
        assert "the number True" not in str(response.json()["detail"])
    assert stored(server, body["session_id"]) == []


def test_an_integer_is_still_a_number_and_stores_as_the_same_content(server: HubProcess) -> None:
    """``1`` and ``1.0`` are one JSON number: a device that sends either is a duplicate."""
    body = session_body(pitch_accuracy=1.0, duration_seconds=300.0)
    assert post(server, body).status_code == 201
    again = post(server, {**body, "pitch_accuracy": 1, "duration_seconds": 300})
    assert again.status_code == 200, again.text
    assert again.json()["result"] == "duplicate"


def test_unknown_scale_message_lists_the_valid_forms(server: HubProcess) -> None:
    response = post(server, session_body(scale_chosen="A minor pentatonc"))
    [error] = response.json()["detail"]
    assert "A minor pentatonc" in error["message"] and "minor pentatonic" in error["message"]


@pytest.mark.parametrize("key", [None, "b5a8f3d2-0000-4000-8000-000000000000", "nonsense"])
def test_idempotency_key_must_equal_the_session_id(server: HubProcess, key: str | None) -> None:
    body = session_body()
    headers = {"Authorization": f"Bearer {server.token_for('alice')}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = requests.post(
        f"{server.url}/api/v1/sessions", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 422
    assert fields(response) == ["Idempotency-Key"]
    assert stored(server, body["session_id"]) == []


@pytest.mark.parametrize(
    ("repeat", "key"),
    [
        (', "pitch_accuracy": 0.1}', "pitch_accuracy"),  # the second value used to win
        ('], "notes": []}', "notes"),  # …and an empty list replaced the notes
    ],
    ids=["a-score", "the-notes"],
)
def test_a_key_twice_in_one_object_is_422_not_the_last_value(
    server: HubProcess, repeat: str, key: str
) -> None:
    body = session_body()
    text = json.dumps(body)
    text = text[: -len("]}")] + repeat if key == "notes" else text[:-1] + repeat
    headers = {**server.headers("alice", body["session_id"]), "Content-Type": "application/json"}
    response = requests.post(
        f"{server.url}/api/v1/sessions", data=text.encode(), headers=headers, timeout=10
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["field"] == "body" and f"the key '{key}' appears twice" in error["message"]
    assert stored(server, body["session_id"]) == []
    assert post(server, body).status_code == 201  # the same session, each key once


def test_malformed_json_is_422_on_the_body(server: HubProcess) -> None:
    headers = {**server.headers("alice", str(uuid.uuid4())), "Content-Type": "application/json"}
    response = requests.post(
        f"{server.url}/api/v1/sessions", data=b'{"session_id": ', headers=headers, timeout=10
    )
    assert response.status_code == 422
    assert fields(response) == ["body"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"session_id": "\xff\xfe"}', "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (b'{"session_id": ' + b"1" * 5000 + b"}", "number too long"),
    ],
    ids=["not-utf8", "nested-too-deep", "5000-digit-number"],
)
def test_a_body_json_cannot_read_is_422_naming_why(
    server: HubProcess, data: bytes, words: str
) -> None:
    """FastAPI's own answer to these was a bare 400 "There was an error parsing the body"."""
    headers = {**server.headers("alice", str(uuid.uuid4())), "Content-Type": "application/json"}
    response = requests.post(
        f"{server.url}/api/v1/sessions", data=data, headers=headers, timeout=10
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == "body" and words in error["message"]
    assert response.json()["error"] == "invalid"


def test_a_body_not_labelled_json_is_told_which_header_to_send(server: HubProcess) -> None:
    body = session_body()
    headers = {**server.headers("alice", body["session_id"]), "Content-Type": "text/plain"}
    response = requests.post(
        f"{server.url}/api/v1/sessions", data=json.dumps(body), headers=headers, timeout=10
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == "body"
    assert "Content-Type: application/json" in error["message"]
    assert "text/plain" in error["message"]
    assert stored(server, body["session_id"]) == []


# --------------------------------------------------------------------------- listing


def test_list_returns_the_token_users_sessions_only(server: HubProcess) -> None:
    older = session_body("carol")
    newer = session_body(
        "carol",
        start_timestamp="2025-03-02T10:00:00+00:00",
        end_timestamp="2025-03-02T10:05:00+00:00",
    )
    other = session_body("dave")
    for body in (older, newer, other):
        assert post(server, body).status_code == 201
    url = f"{server.url}/api/v1/sessions"
    response = requests.get(
        url, params={"user_id": "carol"}, headers=server.headers("carol"), timeout=10
    )
    assert response.status_code == 200
    listed = response.json()["sessions"]
    assert [s["session_id"] for s in listed] == [newer["session_id"], older["session_id"]]
    assert "notes" not in listed[0] and listed[0]["received_at"]
    assert listed[0]["scale_chosen"] == "A Minor (Pentatonic)"

    someone_else = requests.get(
        url, params={"user_id": "dave"}, headers=server.headers("carol"), timeout=10
    )
    assert someone_else.status_code == 403
    assert requests.get(url, params={"user_id": "carol"}, timeout=10).status_code == 401
    # user_id is optional: the token says whose sessions to list.
    implied = requests.get(url, headers=server.headers("carol"), timeout=10).json()["sessions"]
    assert [s["session_id"] for s in implied] == [newer["session_id"], older["session_id"]]


# --------------------------------------------------------------------------- practice plans


def plan_rows(proc: HubProcess, practice_id: str) -> list[dict[str, Any]]:
    return [r for r in proc.rows("ai_practice_plans") if r["practice_id"] == practice_id]


def test_practice_plans_are_stored_exactly_once(server: HubProcess) -> None:
    path = "/api/v1/practice-plans"
    body = plan_body()
    first = post(server, body, path=path)
    assert (first.status_code, first.json()["result"]) == (201, "created")
    assert post(server, body, path=path).json()["result"] == "duplicate"
    reasoned = {**body, "practice_plan": {**body["practice_plan"], "reasoning": "other"}}
    assert post(server, reasoned, path=path).status_code == 409
    [row] = plan_rows(server, body["practice_id"])
    assert row["user_id"] == "alice" and row["executed_session_id"] is None
    assert json.loads(row["practice_plan"])["scale_name"] == "E Blues"


def test_a_plan_learns_once_which_session_ran_it(server: HubProcess) -> None:
    path = "/api/v1/practice-plans"
    body = plan_body()
    assert post(server, body, path=path).status_code == 201
    ran = {**body, "executed_session_id": str(uuid.uuid4())}
    updated = post(server, ran, path=path)
    assert (updated.status_code, updated.json()["result"]) == (200, "updated")
    assert post(server, ran, path=path).json()["result"] == "duplicate"
    assert post(server, body, path=path).json()["result"] == "duplicate"  # a late retry
    another = {**body, "executed_session_id": str(uuid.uuid4())}
    assert post(server, another, path=path).status_code == 409
    [row] = plan_rows(server, body["practice_id"])
    assert row["executed_session_id"] == ran["executed_session_id"]


def test_practice_plan_checks_scale_user_and_key(server: HubProcess) -> None:
    path = "/api/v1/practice-plans"
    bad_scale = plan_body()
    bad_scale["practice_plan"] = {**bad_scale["practice_plan"], "scale_name": "H major"}
    assert "practice_plan.scale_name" in fields(post(server, bad_scale, path=path))
    mismatched = post(server, plan_body(), key=str(uuid.uuid4()), path=path)
    assert fields(mismatched) == ["Idempotency-Key"]


# --------------------------------------------------------------------------- summaries


def summary_body(session_id: str, user: str = "alice", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "session_id": session_id,
        "user_id": user,
        "summary": "Pitch held at 91% all session. Timing drifted late; count the beat aloud.",
        "source": "model",
        "model": "gpt-4o-mini",
        "trace_id": "0193c1f0-0000-7000-8000-000000000001",
    }
    body.update(changes)
    return body


def test_a_session_summary_is_stored_once_and_listed_with_its_session(
    server: HubProcess,
) -> None:
    path = "/api/v1/session-summaries"
    session = session_body("carol")
    summary = summary_body(session["session_id"], "carol")
    # The summary may come first: the session can be waiting for the clock to sync.
    first = post(server, summary, path=path)
    assert (first.status_code, first.json()["result"]) == (201, "created")
    again = post(server, summary, path=path)
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    changed = post(server, {**summary, "summary": "Something else."}, path=path)
    assert changed.status_code == 409
    assert "already has a different summary" in changed.json()["detail"]
    assert post(server, session).status_code == 201
    [row] = [
        r for r in server.rows("session_summaries") if r["session_id"] == session["session_id"]
    ]
    assert row["summary"] == summary["summary"] and row["source"] == "model"
    listed = requests.get(
        f"{server.url}/api/v1/sessions",
        params={"user_id": "carol"},
        headers=server.headers("carol"),
        timeout=10,
    ).json()["sessions"]
    by_id = {s["session_id"]: s for s in listed}
    assert by_id[session["session_id"]]["coach_summary"] == summary["summary"]


def test_a_session_summary_checks_its_fields_user_and_key(server: HubProcess) -> None:
    path = "/api/v1/session-summaries"
    session_id = str(uuid.uuid4())
    assert fields(post(server, summary_body(session_id, source="guess"), path=path)) == ["source"]
    assert fields(post(server, summary_body(session_id, summary=""), path=path)) == ["summary"]
    assert fields(post(server, summary_body(session_id, extra=1), path=path)) == ["extra"]
    mismatched = post(server, summary_body(session_id), key=str(uuid.uuid4()), path=path)
    assert fields(mismatched) == ["Idempotency-Key"]
    assert not [r for r in server.rows("session_summaries") if r["session_id"] == session_id]


# --------------------------------------------------------------------------- faults


def test_503_stores_nothing_and_the_retry_is_created(server: HubProcess) -> None:
    server.faults([{"status": 503}])
    body = session_body()
    failed = post(server, body)
    assert (failed.status_code, failed.json()["error"]) == (503, "unavailable")
    assert stored(server, body["session_id"]) == []
    assert post(server, body).status_code == 201
    assert len(stored(server, body["session_id"])) == 1


def test_429_carries_retry_after(server: HubProcess) -> None:
    server.faults([{"status": 429, "retry_after": 1}])
    body = session_body()
    response = post(server, body)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert stored(server, body["session_id"]) == []


def test_slow_answer_times_out_the_client_and_the_retry_is_a_duplicate(
    server: HubProcess,
) -> None:
    server.faults([{"delay_before_s": 1.0}])
    body = session_body()
    with pytest.raises(requests.ReadTimeout):
        post(server, body, timeout=(5.0, 0.3))  # connect freely, give up reading
    wait_for_row(server, body["session_id"])  # handled normally once the delay is over
    assert post(server, body).status_code == 200
    assert len(stored(server, body["session_id"])) == 1


def test_answer_lost_after_commit_makes_no_duplicate(server: HubProcess) -> None:
    server.faults([{"commit_then_delay_s": 1.0}])
    body = session_body()
    with pytest.raises(requests.ReadTimeout):
        post(server, body, timeout=(5.0, 0.3))  # connect freely, give up reading
    wait_for_row(server, body["session_id"])
    retry = post(server, body)
    assert (retry.status_code, retry.json()["result"]) == (200, "duplicate")
    assert len(stored(server, body["session_id"])) == 1


def test_500_after_commit_makes_no_duplicate(server: HubProcess) -> None:
    server.faults([{"commit_then_status": 500}])
    body = session_body()
    assert post(server, body).status_code == 500
    assert len(stored(server, body["session_id"])) == 1
    assert post(server, body).status_code == 200
    assert len(stored(server, body["session_id"])) == 1


def test_fault_steps_apply_in_order_to_api_posts_only(server: HubProcess) -> None:
    assert server.faults([{"status": 503}, {"status": 429, "retry_after": 2}]) == [
        {"status": 503},
        {"status": 429, "retry_after": 2},
    ]
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    listing = requests.get(
        f"{server.url}/api/v1/sessions",
        params={"user_id": "bob"},
        headers=server.headers("bob"),
        timeout=10,
    )
    assert listing.status_code == 200
    assert len(server.pending_faults()) == 2
    body = session_body("bob")
    assert [post(server, body).status_code for _ in range(3)] == [503, 429, 201]
    assert server.pending_faults() == []


def test_delete_clears_the_fault_plan(server: HubProcess) -> None:
    server.faults([{"status": 503}, {"commit_then_status": 502}])
    assert requests.delete(f"{server.url}/_faults", timeout=5).json() == {"pending": []}
    assert post(server, session_body()).status_code == 201


def test_an_unknown_fault_step_is_422(server: HubProcess) -> None:
    response = requests.post(f"{server.url}/_faults", json=[{"explode": True}], timeout=5)
    assert response.status_code == 422
    assert server.pending_faults() == []


def test_a_slow_answer_blocks_no_one(server: HubProcess) -> None:
    server.faults([{"delay_before_s": 1.0}])
    slow, quick = session_body(), session_body()
    finished: list[str] = []

    def send(body: dict[str, Any]) -> None:
        post(server, body, timeout=30)
        finished.append(body["session_id"])

    slow_thread = threading.Thread(target=send, args=(slow,))
    slow_thread.start()
    deadline = time.monotonic() + 10
    while server.pending_faults():  # wait until the slow request has taken its step
        assert time.monotonic() < deadline, "the slow request never reached the Hub"
        time.sleep(0.01)
    send(quick)
    slow_thread.join()
    assert finished == [quick["session_id"], slow["session_id"]]


# --------------------------------------------------------------------------- process, logs


def test_fault_injection_is_off_unless_asked(plain_server: HubProcess) -> None:
    url = f"{plain_server.url}/_faults"
    assert requests.post(url, json=[{"status": 503}], timeout=5).status_code == 404
    body = session_body()
    assert post(plain_server, body).status_code == 201  # its --token arguments work
    assert len(stored(plain_server, body["session_id"])) == 1


def test_tokens_never_reach_the_log(plain_server: HubProcess) -> None:
    forged = "forged-" + uuid.uuid4().hex
    body = session_body()
    post(plain_server, body)  # 201
    post(plain_server, body, user="bob")  # 201, stored as bob's
    post(plain_server, session_body(pitch_accuracy=2))  # 422
    requests.post(
        f"{plain_server.url}/api/v1/sessions",
        json=body,
        headers={"Authorization": f"Bearer {forged}", "Idempotency-Key": body["session_id"]},
        timeout=5,
    )  # 401
    deadline = time.monotonic() + 5
    while '/api/v1/sessions HTTP/1.1" 401' not in plain_server.log():
        assert time.monotonic() < deadline, plain_server.log()
        time.sleep(0.05)
    log = plain_server.log()
    assert "session" in log and "alice" in log
    for token in [*plain_server.tokens, forged]:
        assert token not in log


def test_the_server_refuses_to_start_without_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FRETCOACH_HUB_TOKENS", raising=False)
    assert main(build_parser().parse_args(["--db", str(tmp_path / "hub.sqlite3")])) == 2
    assert "--token TOKEN=USER" in capsys.readouterr().err
    assert not (tmp_path / "hub.sqlite3").exists()


def test_a_malformed_token_argument_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FRETCOACH_HUB_TOKENS", raising=False)
    secret = "s3cr3t-" + uuid.uuid4().hex
    argv = ["--db", str(tmp_path / "hub.sqlite3"), "--token", secret]
    assert main(build_parser().parse_args(argv)) == 2
    err = capsys.readouterr().err
    assert "--token must look like TOKEN=USER" in err and secret not in err


def test_an_older_sessions_table_is_refused_with_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "old-hub.sqlite3"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE sessions (session_id TEXT PRIMARY KEY, user_id TEXT)")
    with pytest.raises(HubServerConfigError, match=r"lacks column.*device_id.*ALTER TABLE"):
        create_app(database_url=f"sqlite:///{db}", tokens={"tok": "alice"})


# --------------------------------------------------------------------------- token parsing


def test_parse_token_args() -> None:
    assert parse_token_args(["tok1=alice", " tok2 = bob ", "YWJj==carol"]) == {
        "tok1": "alice",
        "tok2": "bob",
        "YWJj=": "carol",  # split at the last "=", so base64 padding stays in the token
    }
    assert tokens_from_env("tok1=alice, tok2=bob,") == {"tok1": "alice", "tok2": "bob"}


@pytest.mark.parametrize("item", ["just-a-token", "=alice", "tok=", ""])
def test_parse_token_args_names_the_expected_form(item: str) -> None:
    with pytest.raises(ValueError, match="--token must look like TOKEN=USER, not"):
        parse_token_args([item])


def test_one_token_for_two_users_is_refused() -> None:
    with pytest.raises(HubServerConfigError, match="two users"):
        parse_token_args(["tok=alice", "tok=bob"])


# --------------------------------------------------------------------------- the open internet


def test_an_unauthenticated_body_is_refused_before_it_is_read(server: HubProcess) -> None:
    # The body is announced and never sent: a Hub that read it first would wait for ever.
    head = (
        "POST /api/v1/sessions HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer forged\r\n"
        "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(4096)
        while answer.count(b"}") < 1:
            more = sock.recv(4096)
            assert more, answer
            answer += more
        assert sock.recv(4096) == b""  # closed: the body is never read
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"connection: close" in answer.lower()
    assert b'"error":"unauthorized"' in answer


@pytest.mark.parametrize("count", [2**63, 2**31])
def test_a_count_the_database_cannot_hold_is_422(server: HubProcess, count: int) -> None:
    body = session_body(total_notes_played=count, correct_notes_played=count, bad_notes_played=0)
    response = post(server, body)
    assert response.status_code == 422, response.text
    assert fields(response) == ["correct_notes_played", "total_notes_played"]
    assert stored(server, body["session_id"]) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start_timestamp", "0001-01-01T00:30:00+01:00"),  # before year 1 in UTC
        ("end_timestamp", "9999-12-31T23:30:00-01:00"),  # after year 9999 in UTC
    ],
)
def test_a_time_that_overflows_in_utc_is_422(server: HubProcess, field: str, value: str) -> None:
    body = session_body(**{field: value})
    response = post(server, body)
    assert response.status_code == 422, response.text
    assert fields(response)[0] == field
    assert "years 1–9999" in response.json()["detail"][0]["message"]


def test_text_with_a_nul_character_is_422(server: HubProcess) -> None:
    body = session_body(device_id="portable\x000001")
    response = post(server, body)
    assert response.status_code == 422, response.text
    assert fields(response) == ["device_id"]


def test_docs_need_no_cdn(server: HubProcess) -> None:
    for path in ("/docs", "/redoc"):
        page = requests.get(f"{server.url}{path}", timeout=5)
        # Off (404), or, if ever served, without a script from another host.
        assert page.status_code == 404 or "cdn." not in page.text, path
    assert requests.get(f"{server.url}/openapi.json", timeout=5).status_code == 200


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_one_line(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--port", port])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        f"--port: must be a port number, 1–65535 (or 0 for any free one), not {port!r}"
    )
    assert "Traceback" not in "".join(err)


def test_an_address_it_cannot_listen_on_or_a_database_it_cannot_open_is_one_line(
    tmp_path: Path,
) -> None:
    """A port in use, a mistyped host, a --db that is some other file, a database server
    that is down (its password never shown): one line on stderr and exit 1, before uvicorn
    starts (it would only log the error and exit 3)."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("not a database " * 100)
    cases = {
        "busy port": (["--port", str(port)], {}, f"cannot listen on 127.0.0.1:{port}"),
        "bad host": (["--host", "999.1.1.1", "--port", "0"], {}, "--host '999.1.1.1' is not"),
        "not a database": (
            ["--port", "0", "--db", str(not_a_db)],
            {},
            "is not a SQLite database the Hub can use",
        ),
        "database mute": (  # takes the connection, never answers: no hang
            ["--port", "0"],
            {"DATABASE_URL": f"postgresql+psycopg://hub:s3cret@127.0.0.1:{port}/hub"},
            "cannot open the database postgresql+psycopg://hub:***@127.0.0.1",
        ),
        "database down": (
            ["--port", "0"],
            {"DATABASE_URL": f"postgresql+psycopg://hub:s3cret@127.0.0.1:{free_port()}/hub"},
            "cannot open the database postgresql+psycopg://hub:***@127.0.0.1",
        ),
    }
    try:
        for name, (args, env, message) in cases.items():
            result = subprocess.run(
                [sys.executable, "-m", "sync.hub", "--token", "tok=alice", *args],
                cwd=REPO,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 1, (name, result.stdout[-500:], result.stderr)
            assert message in result.stderr, (name, result.stderr)
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, name
            assert "s3cret" not in result.stderr + result.stdout, name
    finally:
        busy.close()


def test_port_zero_means_any_free_port() -> None:
    assert build_parser().parse_args(["--port", "0"]).port == 0


GUARD_S = 1.0  # the guarded Hub's header and body timeouts
SLOW_UNAUTHENTICATED: list[SlowKind] = ["anonymous-body"] * 100 + ["slow-headers"] * 100


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A Hub with one-second header and body timeouts and no limit on failed tokens (the
    slow attack comes from 127.0.0.1 too, and must meet the timeouts), as deployed otherwise."""
    limits = ["--header-timeout", str(GUARD_S), "--body-timeout", str(GUARD_S)]
    limits += ["--auth-failures", "0"]
    with HubProcess(
        tmp_path_factory.mktemp("guarded-hub"), enable_faults=False, extra_args=limits
    ) as proc:
        yield proc


def test_slow_connections_are_cut_off_while_a_device_still_syncs(guarded: HubProcess) -> None:
    """200 slow unauthenticated connections (and 10 slow ones with a token) are each ended
    by the Hub — 401 at once without a token, 408 once headers or a body are late — while a
    device's every post succeeds. The throughput figure is ``bench/hub.py``'s."""
    attack = SlowAttack(
        guarded.port,
        [*SLOW_UNAUTHENTICATED, *["token-slow-body"] * 10],
        token=guarded.token_for("alice"),
        dribble_s=30 * GUARD_S,  # far past the timeouts: the Hub, not the client, ends them
    ).start()
    try:
        time.sleep(2 * GUARD_S)  # let every slot connect and meet a timeout at least once
        answers = [post(guarded, session_body()).status_code for _ in range(40)]
    finally:
        outcomes = attack.stop()
    assert answers == [201] * 40
    expected = {"anonymous-body": 401, "slow-headers": 408, "token-slow-body": 408}
    seen = {kind: {(o.status, o.cut_off) for o in outcomes if o.kind == kind} for kind in expected}
    assert seen == {kind: {(status, True)} for kind, status in expected.items()}, seen


# --------------------------------------------------------------------------- failed tokens

FAILURES = 3  # the strict Hub's --auth-failures
WINDOW_S = 1.0  # and its --auth-failure-window


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A Hub that blocks an address after 3 failed tokens within a second."""
    limits = ["--auth-failures", str(FAILURES), "--auth-failure-window", str(WINDOW_S)]
    with HubProcess(
        tmp_path_factory.mktemp("strict-hub"), enable_faults=False, extra_args=limits
    ) as proc:
        yield proc


def forged_post(hub: HubProcess) -> requests.Response:
    body = session_body()
    headers = {"Authorization": "Bearer forged", "Idempotency-Key": body["session_id"]}
    return requests.post(f"{hub.url}/api/v1/sessions", json=body, headers=headers, timeout=10)


def test_an_address_with_too_many_failed_tokens_gets_429_until_the_window_passes(
    strict: HubProcess,
) -> None:
    anonymous = requests.get(f"{strict.url}/api/v1/sessions", timeout=10)
    assert anonymous.status_code == 401  # no token at all is a failure too
    assert [forged_post(strict).status_code for _ in range(FAILURES - 1)] == [401] * (FAILURES - 1)
    blocked = forged_post(strict)
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "rate_limited"
    assert 1 <= int(blocked.headers["Retry-After"]) <= WINDOW_S + 1
    assert blocked.headers["Connection"] == "close"

    deadline = time.monotonic() + 10 * WINDOW_S
    while (status := forged_post(strict).status_code) == 429:
        assert time.monotonic() < deadline, "still blocked long after the window"
        time.sleep(0.1)
    assert status == 401
    assert "too many requests without a valid token" in strict.log()


def test_zero_auth_failures_never_blocks(guarded: HubProcess) -> None:
    answers = {forged_post(guarded).status_code for _ in range(25)}  # over the default 20
    assert answers == {401}


def test_the_failure_limit_is_one_count_in_the_database_for_every_worker(tmp_path: Path) -> None:
    """Two workers' limits on one database: failures through either count together, and
    each refuses a blocked address until the window that began at its first failure ends."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    HubStore(engine).create_tables()
    now = [datetime(2026, 12, 7, 12, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    def later(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    one, two = (SharedFailureLimit(Throttle(engine), 3, 10.0, clock=clock) for _ in range(2))
    assert [one.hit("a"), two.hit("a")] == [False, False]
    later(11.0)  # both have left the window
    assert [one.hit("a"), two.hit("a"), one.hit("b")] == [False, False, False]
    assert one.blocked("a") == two.blocked("a") == 0.0
    later(1.0)
    assert two.hit("a") is True  # the third within the window, whichever worker counts it
    assert two.blocked("a") == 9.0 and two.blocked("b") == 0.0
    assert one.blocked("a") == 0.0  # one has not heard of it yet…
    assert one.hit("a") is True  # …until it counts a failure from that address
    assert one.blocked("a") == 9.0
    later(8.5)
    assert one.blocked("a") == two.blocked("a") == 0.5
    later(0.5)
    assert one.blocked("a") == two.blocked("a") == 0.0
    assert one.hit("a") is False  # a fresh count after the block
    engine.dispose()


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A Hub that blocks an address for 30 s after 2 failed tokens."""
    limits = ["--auth-failures", "2", "--auth-failure-window", "30"]
    with HubProcess(
        tmp_path_factory.mktemp("patient-hub"), enable_faults=False, extra_args=limits
    ) as proc:
        yield proc


def test_a_blocked_address_waits_for_its_429_while_a_valid_token_does_not(
    patient: HubProcess,
) -> None:
    """A flood that ignores Retry-After is held, not answered at once: each blocked request
    waits up to 5 s for its 429. Meanwhile a valid token from the same address is served
    as usual, and does not lift the block."""
    assert [forged_post(patient).status_code for _ in range(2)] == [401, 401]
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        held = pool.submit(forged_post, patient)
        body = session_body()
        assert post(patient, body).status_code == 201
        assert not held.done()  # the device's answer came while the flood's is still held
        blocked = held.result(timeout=30)
        waited_s = time.monotonic() - started
    assert blocked.status_code == 429
    assert waited_s >= BLOCKED_DELAY_S - 0.5
    assert 20 <= int(blocked.headers["Retry-After"]) <= 26  # 30 s less the hold
    assert blocked.headers["Connection"] == "close"
    assert len(stored(patient, body["session_id"])) == 1
    assert forged_post(patient).status_code == 429  # the valid token unblocked no one


def test_sigterm_exits_with_a_request_hanging(tmp_path: Path) -> None:
    """One unfinished request does not keep the Hub from exiting: it waits its
    --shutdown-timeout, cancels the request and shuts down in order."""
    tokens = fresh_tokens("alice")
    port = free_port()
    argv = [sys.executable, "-m", "sync.hub", "--port", str(port), "--db", str(tmp_path / "h.db")]
    argv += ["--body-timeout", "600", "--shutdown-timeout", "1"]
    env = {**os.environ, "FRETCOACH_HUB_TOKENS": ",".join(f"{t}={u}" for t, u in tokens.items())}
    with (tmp_path / "hub.log").open("w") as log:
        hub = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert hub.poll() is None and time.monotonic() < deadline, (
                tmp_path / "hub.log"
            ).read_text()
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        hanging = threading.Thread(
            target=slow_connection,
            args=(port, "token-slow-body"),
            kwargs={"token": next(iter(tokens)), "dribble_s": 60},
            daemon=True,
        )
        hanging.start()
        time.sleep(0.5)  # the request is in (its body half sent) when the signal comes
        hub.terminate()
        try:
            code = hub.wait(timeout=30)  # far past --shutdown-timeout; the old Hub never exits
        except subprocess.TimeoutExpired:
            pytest.fail("the Hub is still running 30 s after SIGTERM with one request hanging")
        assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it is done
        log = (tmp_path / "hub.log").read_text()
        assert "timeout graceful shutdown exceeded" in log and "Finished server process" in log
    finally:
        stop_process(hub)
