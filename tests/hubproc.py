"""The reference Hub as a real process on 127.0.0.1, for tests that sync over HTTP.

Not a test module: import :class:`HubProcess`; the ``hub`` fixture in ``tests/conftest.py``
starts one per test.

Each server gets a fresh SQLite file and fresh random tokens, runs with fault injection on
(unless asked otherwise), and writes its log to a file so a test can check what it says
— and what it must never say (tokens). :meth:`HubProcess.rows` reads the database
directly, so exactly-once is asserted on what the Hub stored, not on what it answered.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests

from device.launcher import START_TIMEOUT_S, LaunchedServer, Launcher, free_port
from tests.conftest import REPO

TABLES = ("sessions", "ai_practice_plans", "session_summaries", "devices", "device_codes")


class HubProcess(LaunchedServer):
    """``python -m sync.hub`` in a subprocess (a :class:`~device.launcher.Launcher`).

    A context manager. ``tokens`` maps token → user (default: fresh random tokens for
    ``alice`` and ``bob``). They reach the server through ``FRETCOACH_HUB_TOKENS`` unless
    ``tokens_via="argv"``, which exercises ``--token``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        tokens: Mapping[str, str] | None = None,
        enable_faults: bool = True,
        tokens_via: Literal["env", "argv"] = "env",
        extra_args: Sequence[str] = (),
        start_timeout_s: float = START_TIMEOUT_S,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.workdir / "hub.sqlite3"
        self.log_path = self.workdir / "hub.log"
        self.tokens = dict(tokens) if tokens is not None else fresh_tokens("alice", "bob")
        self.enable_faults = enable_faults
        self.tokens_via = tokens_via
        self.extra_args = list(extra_args)
        self.start_timeout_s = start_timeout_s
        self.users = dict(users or {})  # user → password, added before the server starts
        self.port = 0
        self.url = ""
        self._server: Launcher | None = None

    # ---------------------------------------------------------------- life cycle

    def start(self) -> HubProcess:
        """Launch and wait until ``/healthz`` answers; raises with the server's output if not."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start the process without waiting, so several servers can boot side by side."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if self.users:
            add_users(self.db_path, self.users)
        args = ["--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db_path)]
        args += self.extra_args
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
        env["PYTHONUNBUFFERED"] = "1"  # the log file must be current when a test reads it
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        pairs = [f"{token}={user}" for token, user in self.tokens.items()]
        if self.tokens_via == "argv":
            env.pop("FRETCOACH_HUB_TOKENS", None)
            for pair in pairs:
                args += ["--token", pair]
        else:
            env["FRETCOACH_HUB_TOKENS"] = ",".join(pairs)
        if self.enable_faults:
            args.append("--enable-fault-injection")
        self._server = Launcher(
            "sync.hub",
            args,
            label="Hub server",
            health_url=f"{self.url}/healthz",
            log_path=self.log_path,
            env=env,
            cwd=REPO,
            start_timeout_s=self.start_timeout_s,
        )
        self._server.launch()

    def wait_ready(self) -> None:
        """Poll ``/healthz``; on failure stop the server and raise with the end of its log."""
        if self._server is None:
            raise RuntimeError("HubProcess.wait_ready() before launch()")
        self._server.wait_ready()

    # ---------------------------------------------------------------- helpers

    def token_for(self, user: str) -> str:
        for token, owner in self.tokens.items():
            if owner == user:
                return token
        raise KeyError(f"no token for user {user!r}; this Hub knows {sorted(self.tokens.values())}")

    def headers(self, user: str, idempotency_key: str | None = None) -> dict[str, str]:
        """``Authorization`` for ``user``, plus ``Idempotency-Key`` when given."""
        headers = {"Authorization": f"Bearer {self.token_for(user)}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def faults(self, steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Queue fault steps for the next ``POST /api/v1/*`` requests; returns what is pending."""
        response = requests.post(f"{self.url}/_faults", json=list(steps), timeout=5)
        response.raise_for_status()
        return list(response.json()["pending"])

    def pending_faults(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_faults", timeout=5)
        response.raise_for_status()
        return list(response.json()["pending"])

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_faults", timeout=5).raise_for_status()

    def rows(self, table: str = "sessions") -> list[dict[str, Any]]:
        """Every stored row of ``sessions`` (or ``ai_practice_plans``), read with sqlite3."""
        if table not in TABLES:
            raise ValueError(f"table must be one of {TABLES}, not {table!r}")
        uri = f"file:{self.db_path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid")]

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def add_users(db_path: Path, users: Mapping[str, str]) -> None:
    """Users (and their passwords) in a Hub database, as `fretcoach hub add-user` makes them."""
    from sync.hub.accounts import Accounts
    from sync.hub.storage import HubStore, make_engine, sqlite_url

    store = HubStore(make_engine(sqlite_url(db_path)))
    try:
        store.create_tables()
        for user, password in users.items():
            Accounts(store.engine).add_user(user, password)
    finally:
        store.close()


def fresh_tokens(*users: str) -> dict[str, str]:
    """Random tokens, one per user, prefixed with the user's name for readable failures."""
    return {f"{user}-{secrets.token_urlsafe(18)}": user for user in users}


# ---------------------------------------------------------------- slow clients

SlowKind = Literal["anonymous-body", "slow-headers", "token-slow-body"]


@dataclass(frozen=True)
class SlowOutcome:
    """How one slow connection ended: the status the Hub answered (None: closed without
    one), and whether the Hub ended it before the client had finished dribbling."""

    kind: SlowKind
    status: int | None
    cut_off: bool


def _slow_head(kind: SlowKind, token: str) -> bytes:
    head = "POST /api/v1/sessions HTTP/1.1\r\nHost: hub\r\n"
    if kind == "slow-headers":
        return head.encode()  # the rest of the headers, one byte at a time, never ending
    if kind == "token-slow-body":
        head += f"Authorization: Bearer {token}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
    return head.encode()


def slow_connection(
    port: int,
    kind: SlowKind,
    *,
    token: str = "",
    dribble_s: float = 30.0,
    interval_s: float = 0.2,
    stop: threading.Event | None = None,
) -> SlowOutcome:
    """One slowloris connection: send headers (or part of them), then one byte per
    ``interval_s`` for up to ``dribble_s``, reading whatever the Hub answers meanwhile."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + dribble_s
    received = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(interval_s)
        try:
            sock.sendall(_slow_head(kind, token))
        except OSError:
            closed = True
        pad = b"X-Pad: " if kind == "slow-headers" else b"{"
        while not closed and time.monotonic() < deadline and not stop.is_set():
            try:  # read first: an answer must not be lost to a reset after our next byte
                chunk = sock.recv(4096)
                if not chunk:
                    closed = True
                    break
                received += chunk
                continue
            except TimeoutError:
                pass
            except OSError:
                closed = True
                break
            try:
                sock.sendall(pad[:1])
                pad = pad[1:] or b"a"
            except OSError:
                closed = True
    status = None
    if received.startswith(b"HTTP/1.1 "):
        status = int(received[9:12])
    return SlowOutcome(kind=kind, status=status, cut_off=closed)


@dataclass
class SlowAttack:
    """``count`` slow connections held against a Hub from threads until :meth:`stop`.

    Each slot opens a connection of its kind and dribbles; when the Hub ends it, the slot
    waits ``reconnect_s`` and opens another, so the attack stays at ``count`` for as long
    as it runs. :attr:`outcomes` collects how every connection ended.
    """

    port: int
    kinds: Sequence[SlowKind]
    token: str = ""
    dribble_s: float = 30.0
    reconnect_s: float = 0.5
    outcomes: list[SlowOutcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._slot, args=(kind,), daemon=True) for kind in self.kinds
        ]

    def start(self) -> SlowAttack:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[SlowOutcome]:
        """Stop every slot and return the outcomes of the connections the Hub ended."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.dribble_s + 15)
        with self._lock:
            return list(self.outcomes)

    def _slot(self, kind: SlowKind) -> None:
        while not self._stop.is_set():
            try:
                outcome = slow_connection(
                    self.port, kind, token=self.token, dribble_s=self.dribble_s, stop=self._stop
                )
            except OSError:
                outcome = SlowOutcome(kind=kind, status=None, cut_off=True)  # refused
            if self._stop.is_set() and not outcome.cut_off:
                return  # we stopped it, not the Hub
            with self._lock:
                self.outcomes.append(outcome)
            self._stop.wait(self.reconnect_s)
