"""An Opik-compatible capture server on 127.0.0.1: records the JSON the real SDK posts.

Not a test module. :class:`OpikStub` runs ``python -m tests.opikstub`` in its own
process; point ``OPIK_URL_OVERRIDE`` (or ``OpikSettings.url``) at :attr:`OpikStub.url`.
Standard library only, so it starts in a fraction of a second.

Endpoints, as found in the SDK (``opik/rest_api``) and the paths it builds from the base
URL (``.../api/`` + ``v1/private/...``): ``GET is-alive/ping`` (the SDK's connection
monitor), ``POST v1/private/traces/batch`` and ``spans/batch`` (and the single-item
``POST v1/private/traces`` / ``spans``), ``PATCH`` of those (updates),
``PUT v1/private/traces/feedback-scores``, and ``GET v1/private/traces/{id}`` /
``spans/{id}`` (404 when unknown). Bodies may be gzipped, as the SDK sends them.

For ``evaluate`` (datasets and experiments), what the SDK does on that path:
``GET is-alive/ver`` (the backend's version, asked before a parallel dataset upload),
``POST v1/private/datasets/retrieve`` (a dataset by name; 404 when unknown) and ``POST
v1/private/datasets`` (create; 409 when the name is taken), ``GET v1/private/datasets/{id}``,
``.../{id}/versions`` (one version per insert, as the backend commits them) and
``.../{id}/items`` (pages, optionally of a version), ``PUT v1/private/datasets/items``
(insert) and ``POST v1/private/datasets/items/stream`` (newline-delimited JSON, after a
cursor), ``POST v1/private/experiments``, ``.../experiments/items`` and
``.../experiments/finish``, ``GET v1/private/experiments/{id}``, and the two look-ups the
SDK makes for the links it logs, ``POST v1/private/projects/retrieve`` and ``GET
v1/private/auth/workspace``. Like the backend, it answers 400 to a dataset item,
experiment or experiment item whose id is not a UUIDv7. A route named with ``--refuse``
answers 422 (a backend that cannot take it); any other route it does not know answers 404
and is logged as ``unknown``.

For ``fretcoach opik setup``, the routes of the SDK's REST client (``opik/rest_api``:
``check``, ``projects``, ``feedback_definitions``, ``prompts``,
``automation_rule_evaluators``): ``POST v1/private/auth`` (the SDK's ``auth_check``),
``POST v1/private/projects`` (create; 409 when the name is taken); ``GET``/``POST
v1/private/feedback-definitions`` (find by name, paged; create, 409 on a taken name),
``GET``/``PUT``/``DELETE .../feedback-definitions/{id}``; ``GET v1/private/prompts``,
``POST v1/private/prompts`` (a prompt and its first version), ``POST
v1/private/prompts/versions`` (a version, and the prompt when new; the commit is the one
given or 8 generated hex digits, 409 when the prompt has it already), ``POST
.../prompts/versions/retrieve`` (the latest version of a name, or the one with a commit;
404 when none), ``GET .../prompts/{id}/versions`` (newest first);
``GET``/``POST v1/private/automations/evaluators`` (find by project and name; create,
400 for a project id the stub does not know), ``GET``/``PATCH .../evaluators/{id}`` and
``POST .../evaluators/delete``. With ``--deny STATUS`` every ``v1/private`` route answers
STATUS (401 or 403: an API key without rights) and only ``is-alive`` works.

Every received item is also appended to a JSON-lines log, so a server restarted on the
same port with the same log remembers what it had (like a real backend) and a test can
count deliveries across restarts. ``GET /_captured`` returns everything received so far
(this process and, from the log, earlier ones).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.stubproc import StubProcess

_ITEM = re.compile(r"/v1/private/(traces|spans)/([0-9a-fA-F-]{36})$")
_DATASET = re.compile(r"/v1/private/datasets/([0-9a-fA-F-]{36})(/versions|/items)?$")
_EXPERIMENT = re.compile(r"/v1/private/experiments/([0-9a-fA-F-]{36})$")
_DEFINITION = re.compile(r"/v1/private/feedback-definitions/([0-9a-fA-F-]{36})$")
_PROMPT = re.compile(r"/v1/private/prompts/([0-9a-fA-F-]{36})(/versions)?$")
_RULE = re.compile(r"/v1/private/automations/evaluators/([0-9a-fA-F-]{36})$")
_RULE_TYPES = {
    "llm_as_judge",
    "trace_thread_llm_as_judge",
    "span_llm_as_judge",
    "user_defined_metric_python",
    "trace_thread_user_defined_metric_python",
    "span_user_defined_metric_python",
}
# What the stub says it is: new enough for the SDK's parallel dataset upload (2.2.8).
BACKEND_VERSION = "2.2.8"


class _State:
    def __init__(self, log_path: Path) -> None:
        self.lock = threading.Lock()
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []
        if log_path.exists():
            for line in log_path.read_text().splitlines():
                if line.strip():
                    self.events.append(json.loads(line))

    def record(self, kind: str, body: Any) -> None:
        event = {"kind": kind, "body": body, "at": time.time()}
        with self.lock:
            self.events.append(event)
            with self.log_path.open("a") as log:
                log.write(json.dumps(event) + "\n")

    def find(self, kind: str, item_id: str) -> dict[str, Any] | None:
        """The item as stored: every write for that id merged, later fields winning."""
        return self.find_by(kind, "id", item_id)

    def find_by(self, kind: str, key: str, value: Any) -> dict[str, Any] | None:
        merged: dict[str, Any] | None = None
        with self.lock:
            for event in self.events:
                if event["kind"] == kind and event["body"].get(key) == value:
                    merged = {**(merged or {}), **event["body"]}
        return merged

    def all_events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events)

    def all(self, kind: str, **where: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [
                e["body"]
                for e in self.events
                if e["kind"] == kind and all(e["body"].get(k) == v for k, v in where.items())
            ]

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every live object of a kind, each write for an id merged (later fields winning),
        in the order first created; a ``<kind>_deleted`` event removes one."""
        merged: dict[str, dict[str, Any]] = {}
        with self.lock:
            for event in self.events:
                body = event["body"]
                if event["kind"] == kind:
                    merged[body["id"]] = {**merged.get(body["id"], {}), **body}
                elif event["kind"] == f"{kind}_deleted":
                    merged.pop(body["id"], None)
        return list(merged.values())

    def object(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return next((o for o in self.objects(kind) if o["id"] == object_id), None)

    def project_names(self) -> dict[str, str]:
        """Project id → name: those created, and those named by anything received (the
        backend makes a project on first use)."""
        names = {p["name"] for p in self.objects("project")}
        with self.lock:
            names |= {
                e["body"]["project_name"]
                for e in self.events
                if isinstance(e["body"].get("project_name"), str)
            }
        return {_project_id(name): name for name in names}

    def prompt_versions(self, prompt_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return [v for v in self.objects("prompt_version") if v["prompt_id"] == prompt_id]

    def dataset_public(self, dataset: dict[str, Any]) -> dict[str, Any]:
        return {**dataset, "dataset_items_count": len(self.items(dataset["id"]))}

    def items(self, dataset_id: str, *, version_hash: str | None = None) -> list[dict[str, Any]]:
        """The dataset's items in the order first inserted (an id written again is
        updated in place, as the backend upserts), as of a version when one is named."""
        by_id: dict[str, dict[str, Any]] = {}
        for item in self.all("dataset_item", dataset_id=dataset_id):
            by_id[item["id"]] = {**by_id.get(item["id"], {}), **item}
        items = list(by_id.values())
        if version_hash:
            versions = self.all("dataset_version", dataset_id=dataset_id)
            hashes = [v["version_hash"] for v in versions]
            groups = {
                v["batch_group_id"]
                for v in versions[: hashes.index(version_hash) + 1 if version_hash in hashes else 0]
            }
            items = [item for item in items if item.get("batch_group_id") in groups]
        return items

    def versions(self, dataset_id: str) -> list[dict[str, Any]]:
        """Newest first, as the backend lists them."""
        versions = self.all("dataset_version", dataset_id=dataset_id)
        named = [
            {**version, "version_name": f"v{number}", "is_latest": number == len(versions)}
            for number, version in enumerate(versions, start=1)
        ]
        return named[::-1]


STATE: _State
REFUSED: tuple[str, ...] = ()
DENY: int | None = None
PORTAL = False  # --portal: answer every API call as a Wi-Fi captive portal would


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _uuid7() -> str:
    """A fresh UUIDv7, the id form the backend gives what it creates."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def _project_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"opik-stub/project/{name}"))


def _page(rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """A page as the backend returns one: ``page`` counts from 1."""
    page, size = max(1, int(query.get("page", 1))), int(query.get("size", 10))
    content = rows[(page - 1) * size : page * size]
    return {"content": content, "page": page, "size": len(content), "total": len(rows)}


def _named(rows: list[dict[str, Any]], name: str | None) -> list[dict[str, Any]]:
    """The backend's ``name`` filter: a case-insensitive substring."""
    if not name:
        return rows
    return [row for row in rows if name.lower() in str(row.get("name", "")).lower()]


def _not_v7(*ids: Any) -> str | None:
    """The first id that is not a UUIDv7: the backend refuses those (HTTP 400) for
    dataset items, experiments and experiment items."""
    for value in ids:
        try:
            if uuid.UUID(str(value)).version != 7:
                return str(value)
        except ValueError:
            return str(value)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw) if raw else None

    def _send(self, status: int, data: Any = None) -> None:
        body = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> str:
        path = self.path.split("?", 1)[0]
        index = path.find("/v1/private/")
        if index >= 0:
            return path[index:]
        index = path.find("/is-alive/")
        return path[index:] if index >= 0 else path

    def _refused(self, route: str, body: Any = None) -> bool:
        if not any(route.startswith(prefix) for prefix in REFUSED):
            return False
        STATE.record("refused", {"method": self.command, "route": route, "body": body})
        self._send(422, {"errors": [f"this backend does not take {route}"]})
        return True

    def _denied(self, route: str) -> bool:
        if PORTAL and route.startswith("/v1/private/"):
            page = b"<html><body><h1>Welcome! Sign in to use the Wi-Fi</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return True
        if DENY is None or not route.startswith("/v1/private/"):
            return False
        self._send(DENY, {"code": DENY, "message": "User not allowed to access workspace"})
        return True

    def _unknown(self, route: str, body: Any = None) -> None:
        STATE.record("unknown", {"method": self.command, "route": route, "body": body})
        self._send(404, {"errors": [f"no route {self.command} {route}"]})

    def _query(self) -> dict[str, str]:
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        return dict(urllib.parse.parse_qsl(query))

    def do_GET(self) -> None:
        route = self._route()
        if self._denied(route) or self._refused(route) or self._workspace_get(route):
            return
        if route == "/is-alive/ping":
            self._send(200, {})
        elif route == "/is-alive/ver":
            self._send(200, {"version": BACKEND_VERSION})
        elif route == "/_captured":
            with STATE.lock:
                self._send(200, list(STATE.events))
        elif match := _ITEM.match(route):
            kind = "trace" if match.group(1) == "traces" else "span"
            item = STATE.find(kind, match.group(2))
            if item is None:
                self._send(404, {"errors": [f"{kind} not found"]})
            else:
                self._send(200, item)
        elif match := _DATASET.match(route):
            dataset = STATE.find("dataset", match.group(1))
            if dataset is None:
                self._send(404, {"errors": ["dataset not found"]})
            elif match.group(2):
                query = self._query()
                page, size = int(query.get("page", 1)), int(query.get("size", 10))
                if match.group(2) == "/versions":
                    rows = STATE.versions(dataset["id"])
                else:
                    rows = STATE.items(dataset["id"], version_hash=query.get("version"))
                content = rows[(page - 1) * size : page * size]
                self._send(
                    200, {"content": content, "page": page, "size": size, "total": len(rows)}
                )
            else:
                self._send(200, STATE.dataset_public(dataset))
        elif route == "/v1/private/auth/workspace":
            self._send(200, {"workspace_name": "default"})
        elif match := _EXPERIMENT.match(route):
            experiment = STATE.find("experiment", match.group(1))
            if experiment is None:
                self._send(404, {"errors": ["experiment not found"]})
            else:
                self._send(200, experiment)
        else:
            self._unknown(route)

    def _workspace_get(self, route: str) -> bool:
        """The ``GET`` routes of feedback definitions, prompts and rules."""
        query = self._query()
        if route == "/v1/private/feedback-definitions":
            rows = _named(STATE.objects("feedback_definition"), query.get("name"))
            if query.get("type"):
                rows = [row for row in rows if row["type"] == query["type"]]
            self._send(200, _page(rows, query))
        elif match := _DEFINITION.match(route):
            found = STATE.object("feedback_definition", match.group(1))
            if found is None:
                self._send(404, {"errors": ["feedback definition not found"]})
            else:
                self._send(200, found)
        elif route == "/v1/private/prompts":
            prompts = _named(STATE.objects("prompt"), query.get("name"))
            rows = [{**p, "version_count": len(STATE.prompt_versions(p["id"]))} for p in prompts]
            self._send(200, _page(rows, query))
        elif match := _PROMPT.match(route):
            prompt = STATE.object("prompt", match.group(1))
            if prompt is None:
                self._send(404, {"errors": ["prompt not found"]})
            elif match.group(2):
                self._send(200, _page(STATE.prompt_versions(prompt["id"])[::-1], query))
            else:
                self._send(200, prompt)
        elif route == "/v1/private/automations/evaluators":
            rows = _named(STATE.objects("rule"), query.get("name"))
            if query.get("project_id"):
                rows = [r for r in rows if query["project_id"] in r["project_ids"]]
            self._send(200, _page([_rule_public(r) for r in rows], query))
        elif match := _RULE.match(route):
            rule = STATE.object("rule", match.group(1))
            if rule is None:
                self._send(404, {"errors": ["rule not found"]})
            else:
                self._send(200, _rule_public(rule))
        else:
            return False
        return True

    def _workspace_post(self, route: str, body: Any) -> bool:
        """The ``POST`` routes of auth, projects, feedback definitions, prompts and rules."""
        if route == "/v1/private/auth":
            self._send(204)
        elif route == "/v1/private/projects":
            if body["name"] in STATE.project_names().values():
                self._send(409, {"errors": ["a project with that name exists"]})
            else:
                STATE.record(
                    "project", {"id": _project_id(body["name"]), **body, "created_at": _now()}
                )
                self._send(201)
        elif route == "/v1/private/feedback-definitions":
            if any(d["name"] == body["name"] for d in STATE.objects("feedback_definition")):
                self._send(409, {"errors": ["a feedback definition with that name exists"]})
            else:
                STATE.record(
                    "feedback_definition",
                    {**body, "id": body.get("id") or _uuid7(), "created_at": _now()},
                )
                self._send(201)
        elif route == "/v1/private/prompts":
            if _prompt_named(body["name"], body.get("project_name")) is not None:
                self._send(409, {"errors": ["a prompt with that name exists"]})
                return True
            prompt = _new_prompt(body["name"], body.get("project_name"), body)
            if body.get("template") is not None:
                _new_version(
                    prompt,
                    {
                        k: body.get(k)
                        for k in ("template", "metadata", "type", "change_description")
                    },
                )
            self._send(201)
        elif route == "/v1/private/prompts/versions":
            prompt = _prompt_named(body["name"], body.get("project_name"))
            version = body["version"]
            if prompt is not None and version.get("commit") in {
                v["commit"] for v in STATE.prompt_versions(prompt["id"])
            }:
                self._send(409, {"errors": [f"the prompt has a version {version['commit']}"]})
                return True
            if prompt is None:
                prompt = _new_prompt(body["name"], body.get("project_name"), body)
            self._send(200, _new_version(prompt, version))
        elif route == "/v1/private/prompts/versions/retrieve":
            prompt = _prompt_named(body["name"], body.get("project_name"))
            versions = STATE.prompt_versions(prompt["id"]) if prompt is not None else []
            if body.get("commit"):
                versions = [v for v in versions if v["commit"] == body["commit"]]
            if body.get("version_number"):
                versions = [v for v in versions if v["version_number"] == body["version_number"]]
            if not versions:
                self._send(404, {"errors": ["prompt version not found"]})
            else:
                self._send(200, versions[-1])
        elif route == "/v1/private/automations/evaluators":
            rule, problem = _rule_body(body)
            if problem:
                self._send(400, {"errors": [problem]})
            else:
                STATE.record("rule", {**rule, "id": _uuid7(), "created_at": _now()})
                self._send(201)
        elif route == "/v1/private/automations/evaluators/delete":
            for rule_id in body["ids"]:
                STATE.record("rule_deleted", {"id": rule_id})
            self._send(204)
        else:
            return False
        return True

    def _datasets(self, route: str, body: Any) -> bool:
        """The dataset routes of ``POST``; False when ``route`` is none of them."""
        if route == "/v1/private/datasets/retrieve":
            dataset = STATE.find_by("dataset", "name", body["dataset_name"])
            if dataset is None:
                self._send(404, {"errors": ["dataset not found"]})
            else:
                self._send(200, STATE.dataset_public(dataset))
        elif route == "/v1/private/datasets":
            if STATE.find_by("dataset", "name", body["name"]) is not None:
                self._send(409, {"errors": ["a dataset with that name exists"]})
                return True
            dataset = {
                **{k: v for k, v in body.items() if v is not None},
                "id": body.get("id") or _uuid7(),
                "created_at": _now(),
            }
            STATE.record("dataset", dataset)
            self._send(201)
        elif route == "/v1/private/datasets/items/stream":
            dataset = STATE.find_by("dataset", "name", body["dataset_name"])
            if dataset is None:
                self._send(404, {"errors": ["dataset not found"]})
                return True
            items = STATE.items(dataset["id"], version_hash=body.get("dataset_version"))
            after = body.get("last_retrieved_id")
            if after is not None:
                ids = [item["id"] for item in items]
                items = items[ids.index(after) + 1 :] if after in ids else []
            limit = body.get("steam_limit") or len(items)
            lines = b"".join(json.dumps(item).encode() + b"\n" for item in items[:limit])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(lines)))
            self.end_headers()
            self.wfile.write(lines)
        else:
            return False
        return True

    def _experiments(self, route: str, body: Any) -> bool:
        """The experiment routes of ``POST``; False when ``route`` is none of them."""
        if route == "/v1/private/experiments":
            if bad := _not_v7(body.get("id")):
                self._send(400, {"errors": [f"experiment id {bad} is not a UUID v7"]})
                return True
            dataset = STATE.find_by("dataset", "name", body["dataset_name"])
            if dataset is None:
                self._send(404, {"errors": [f"no dataset {body['dataset_name']!r}"]})
                return True
            STATE.record(
                "experiment",
                {
                    **{k: v for k, v in body.items() if v is not None},
                    "dataset_id": dataset["id"],
                    "created_at": _now(),
                },
            )
            self._send(201)
        elif route == "/v1/private/experiments/items":
            for item in body["experiment_items"]:
                if bad := _not_v7(item["id"], item["experiment_id"], item["dataset_item_id"]):
                    self._send(400, {"errors": [f"experiment item id {bad} is not a UUID v7"]})
                    return True
            for item in body["experiment_items"]:
                STATE.record("experiment_item", item)
            self._send(204)
        elif route == "/v1/private/experiments/finish":
            for experiment_id in body["ids"]:
                STATE.record("experiment_finished", {"id": experiment_id, "at": _now()})
            self._send(204)
        else:
            return False
        return True

    def do_POST(self) -> None:
        route, body = self._route(), self._body()
        if self._denied(route) or self._refused(route, body):
            return
        if self._workspace_post(route, body):
            return
        if self._datasets(route, body) or self._experiments(route, body):
            return
        if route == "/v1/private/projects/retrieve":
            # A project exists once made or once something names it, as the backend makes
            # them on use.
            if body["name"] in STATE.project_names().values():
                self._send(200, {"id": _project_id(body["name"]), "name": body["name"]})
            else:
                self._send(404, {"errors": [f"no project {body['name']!r}"]})
            return
        if route == "/v1/private/traces/batch":
            for trace in body["traces"]:
                STATE.record("trace", trace)
        elif route == "/v1/private/spans/batch":
            for span in body["spans"]:
                STATE.record("span", span)
        elif route == "/v1/private/traces":
            STATE.record("trace", body)
        elif route == "/v1/private/spans":
            STATE.record("span", body)
        else:
            STATE.record("unknown", {"method": "POST", "route": route, "body": body})
        self._send(204)

    def do_PATCH(self) -> None:
        route, body = self._route(), self._body()
        if self._denied(route):
            return
        if match := _RULE.match(route):
            if STATE.object("rule", match.group(1)) is None:
                self._send(404, {"errors": ["rule not found"]})
                return
            rule, problem = _rule_body(body)
            if problem:
                self._send(400, {"errors": [problem]})
                return
            STATE.record("rule", {**rule, "id": match.group(1), "last_updated_at": _now()})
            self._send(204)
            return
        STATE.record("update", {"route": route, "body": body})
        self._send(204)

    def do_DELETE(self) -> None:
        route = self._route()
        if self._denied(route):
            return
        if (match := _DEFINITION.match(route)) and STATE.object(
            "feedback_definition", match.group(1)
        ):
            STATE.record("feedback_definition_deleted", {"id": match.group(1)})
            self._send(204)
        else:
            self._unknown(route)

    def do_PUT(self) -> None:
        route, body = self._route(), self._body()
        if self._denied(route) or self._refused(route, body):
            return
        if match := _DEFINITION.match(route):
            if STATE.object("feedback_definition", match.group(1)) is None:
                self._send(404, {"errors": ["feedback definition not found"]})
                return
            STATE.record(
                "feedback_definition",
                {**body, "id": match.group(1), "last_updated_at": _now()},
            )
            self._send(204)
            return
        if route == "/v1/private/traces/feedback-scores":
            for score in body["scores"]:
                STATE.record("feedback", score)
        elif route == "/v1/private/datasets/items":
            self._insert_items(body)
            return
        else:
            STATE.record("unknown", {"method": "PUT", "route": route, "body": body})
        self._send(204)

    def _insert_items(self, body: dict[str, Any]) -> None:
        name = body.get("dataset_name")
        dataset = STATE.find_by("dataset", "name", name) if name else None
        if dataset is None and body.get("dataset_id"):
            dataset = STATE.find("dataset", body["dataset_id"])
        if dataset is None:
            self._send(404, {"errors": [f"no dataset {name!r}"]})
            return
        if bad := _not_v7(*(item["id"] for item in body["items"] if item.get("id"))):
            self._send(400, {"errors": [f"dataset_item id {bad} is not a UUID v7"]})
            return
        group = body.get("batch_group_id") or _uuid7()
        for item in body["items"]:
            STATE.record(
                "dataset_item",
                {
                    **{k: v for k, v in item.items() if v is not None},
                    "id": item.get("id") or _uuid7(),
                    "dataset_id": dataset["id"],
                    "batch_group_id": group,
                    "created_at": _now(),
                },
            )
        # One version per insert (batch group), as the backend commits them.
        if STATE.find_by("dataset_version", "batch_group_id", group) is None:
            items = STATE.items(dataset["id"])
            STATE.record(
                "dataset_version",
                {
                    "id": _uuid7(),
                    "dataset_id": dataset["id"],
                    "batch_group_id": group,
                    "version_hash": uuid.uuid4().hex,
                    "items_total": len(items),
                    "items_added": len(body["items"]),
                    "created_at": _now(),
                },
            )
        self._send(204)


def _prompt_named(name: str, project_name: str | None) -> dict[str, Any] | None:
    """The prompt of that name in the project (or one in no project, the legacy case)."""
    for prompt in STATE.objects("prompt"):
        if prompt["name"] == name and prompt.get("project_name") in (project_name, None):
            return prompt
    return None


def _new_prompt(name: str, project_name: str | None, body: dict[str, Any]) -> dict[str, Any]:
    prompt = {
        "id": _uuid7(),
        "name": name,
        "project_name": project_name,
        "project_id": _project_id(project_name) if project_name else None,
        "description": body.get("description"),
        "template_structure": body.get("template_structure") or "text",
        "tags": body.get("tags"),
        "created_at": _now(),
    }
    STATE.record("prompt", prompt)
    return prompt


def _new_version(prompt: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """Record a version of ``prompt`` (the given commit, or 8 new hex digits) and return it
    as the backend's ``PromptVersionDetail``."""
    number = len(STATE.prompt_versions(prompt["id"])) + 1
    template = version["template"]
    detail = {
        **{k: v for k, v in version.items() if v is not None},
        "id": _uuid7(),
        "prompt_id": prompt["id"],
        "commit": version.get("commit") or uuid.uuid4().hex[:8],
        "version_number": f"v{number}",
        "type": version.get("type") or "mustache",
        "template_structure": prompt["template_structure"],
        "variables": sorted(set(re.findall(r"{{\s*([\w.]+)\s*}}", template))),
        "created_at": _now(),
    }
    STATE.record("prompt_version", detail)
    return detail


def _rule_body(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A rule as written (create or update), or why the backend would refuse it."""
    projects = STATE.project_names()
    project_ids = list(body.get("project_ids") or [])
    if body.get("project_id") and body["project_id"] not in project_ids:
        project_ids.insert(0, body["project_id"])
    code = body.get("code") or {}
    if body.get("type") not in _RULE_TYPES:
        return {}, f"unknown rule type {body.get('type')!r}"
    if not project_ids or any(p not in projects for p in project_ids):
        return {}, f"unknown project ids {project_ids}"
    if not 0 <= float(body.get("sampling_rate", 1.0)) <= 1:
        return {}, "sampling_rate must be between 0 and 1"
    if body["type"].endswith("llm_as_judge") and not (
        code.get("model", {}).get("name") and code.get("messages") and code.get("schema")
    ):
        return {}, "an LLM judge needs a model, messages and a schema"
    return {
        **{k: v for k, v in body.items() if v is not None and k != "project_id"},
        "project_ids": project_ids,
    }, None


def _rule_public(rule: dict[str, Any]) -> dict[str, Any]:
    """A stored rule as ``AutomationRuleEvaluatorPublic``: its projects by id and name."""
    projects = STATE.project_names()
    refs = sorted(
        ({"project_id": p, "project_name": projects.get(p, "?")} for p in rule["project_ids"]),
        key=lambda ref: ref["project_name"],
    )
    public = {k: v for k, v in rule.items() if k != "project_ids"}
    return {
        **public,
        "project_id": refs[0]["project_id"],
        "project_name": refs[0]["project_name"],
        "projects": refs,
        "trigger_scope": rule.get("trigger_scope", "production"),
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    global STATE, REFUSED, DENY, PORTAL
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument(
        "--refuse",
        action="append",
        default=[],
        metavar="ROUTE",
        help="answer 422 to routes starting with this, e.g. /v1/private/experiments",
    )
    parser.add_argument(
        "--deny",
        type=int,
        metavar="STATUS",
        help="answer STATUS (401, 403) to every v1/private route: a key without rights",
    )
    parser.add_argument(
        "--portal",
        action="store_true",
        help="answer every v1/private route 200 with an HTML page, as a captive portal",
    )
    args = parser.parse_args(argv)
    PORTAL = args.portal
    REFUSED = tuple(args.refuse)
    DENY = args.deny
    STATE = _State(args.log)
    server = _Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class OpikStub(StubProcess):
    """The capture server in a subprocess; restartable on the same port and log."""

    module = "tests.opikstub"
    label = "Opik stub"

    def __init__(
        self,
        log_path: Path,
        *,
        port: int = 0,
        refuse: Sequence[str] = (),
        deny: int | None = None,
        portal: bool = False,
    ) -> None:
        super().__init__(port=port)
        self.log_path = log_path
        self.refuse = tuple(refuse)
        self.deny = deny
        self.portal = portal

    @property
    def url(self) -> str:
        """The value for ``OPIK_URL_OVERRIDE``, as the SDK expects it (ends in ``/api/``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def arguments(self) -> list[str]:
        refuse = [arg for route in self.refuse for arg in ("--refuse", route)]
        deny = ["--deny", str(self.deny)] if self.deny is not None else []
        portal = ["--portal"] if self.portal else []
        return ["--port", str(self.port), "--log", str(self.log_path), *refuse, *deny, *portal]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every item received (from the log, so also while stopped), optionally one kind."""
        if not self.log_path.exists():
            return []
        events = [json.loads(line) for line in self.log_path.read_text().splitlines() if line]
        return [e["body"] for e in events if kind is None or e["kind"] == kind]

    def traces(self) -> list[dict[str, Any]]:
        return self.events("trace")

    def spans(self) -> list[dict[str, Any]]:
        return self.events("span")

    def feedback(self) -> list[dict[str, Any]]:
        return self.events("feedback")

    def datasets(self) -> list[dict[str, Any]]:
        return self.events("dataset")

    def dataset_items(self) -> list[dict[str, Any]]:
        return self.events("dataset_item")

    def experiments(self) -> list[dict[str, Any]]:
        return self.events("experiment")

    def experiment_items(self) -> list[dict[str, Any]]:
        return self.events("experiment_item")

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """The live objects of a kind (``feedback_definition``, ``prompt``,
        ``prompt_version``, ``rule``, ``project``) as the stub holds them now."""
        merged: dict[str, dict[str, Any]] = {}
        for event in self._log_events():
            body = event["body"]
            if event["kind"] == kind:
                merged[body["id"]] = {**merged.get(body["id"], {}), **body}
            elif event["kind"] == f"{kind}_deleted":
                merged.pop(body["id"], None)
        return list(merged.values())

    def _log_events(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def wait_for(self, kind: str, count: int, *, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` items of ``kind`` arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.events(kind)
            if len(items) >= count:
                return items
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(items)} {kind}(s) arrived, wanted {count}: {items!r}"[:2000]
                )
            time.sleep(0.05)


if __name__ == "__main__":
    main()
