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

Every received item is also appended to a JSON-lines log, so a server restarted on the
same port with the same log remembers what it had (like a real backend) and a test can
count deliveries across restarts. ``GET /_captured`` returns everything received so far
(this process and, from the log, earlier ones).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.stubproc import StubProcess

_ITEM = re.compile(r"/v1/private/(traces|spans)/([0-9a-fA-F-]{36})$")


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
        merged: dict[str, Any] | None = None
        with self.lock:
            for event in self.events:
                if event["kind"] == kind and event["body"].get("id") == item_id:
                    merged = {**(merged or {}), **event["body"]}
        return merged


STATE: _State


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
        return "/is-alive/ping" if path.endswith("/is-alive/ping") else path

    def do_GET(self) -> None:
        route = self._route()
        if route == "/is-alive/ping":
            self._send(200, {})
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
        else:
            self._send(404, {"errors": [f"no route {route}"]})

    def do_POST(self) -> None:
        route, body = self._route(), self._body()
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
        STATE.record("update", {"route": route, "body": body})
        self._send(204)

    def do_PUT(self) -> None:
        route, body = self._route(), self._body()
        if route == "/v1/private/traces/feedback-scores":
            for score in body["scores"]:
                STATE.record("feedback", score)
        else:
            STATE.record("unknown", {"method": "PUT", "route": route, "body": body})
        self._send(204)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    global STATE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    STATE = _State(args.log)
    server = _Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class OpikStub(StubProcess):
    """The capture server in a subprocess; restartable on the same port and log."""

    module = "tests.opikstub"
    label = "Opik stub"

    def __init__(self, log_path: Path, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.log_path = log_path

    @property
    def url(self) -> str:
        """The value for ``OPIK_URL_OVERRIDE``, as the SDK expects it (ends in ``/api/``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def arguments(self) -> list[str]:
        return ["--port", str(self.port), "--log", str(self.log_path)]

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
