"""A reference Hub on 127.0.0.1 for the embedded demo (``fretcoach run --local-hub``).

A real server process (``python -m sync.hub``) with a fresh random token, so the demo goes
the whole way — store, outbox, HTTP, the Hub's database — with nothing to configure.
Stopped when the daemon stops.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from device.launcher import LaunchedServer, Launcher, free_port


class LocalHub(LaunchedServer):
    """The local Hub's address, token and files; a context manager around its process."""

    def __init__(self, folder: Path, *, user: str) -> None:
        self.folder = folder
        self.user = user
        self.token = secrets.token_urlsafe(24)
        self.db_path = folder / "local-hub.db"
        self.log_path = folder / "local-hub.log"
        self.url = ""
        self._server: Launcher | None = None

    def start(self) -> LocalHub:
        self.folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "FRETCOACH_HUB_TOKENS": f"{self.token}={self.user}"}
        env.pop("DATABASE_URL", None)
        arguments = ["--host", "127.0.0.1", "--port", str(port), "--db", str(self.db_path)]
        self._server = Launcher(
            "sync.hub",
            [*arguments, "--log-level", "warning"],
            label="local Hub",
            health_url=f"{self.url}/healthz",
            log_path=self.log_path,
            env=env,
        )
        self._server.start()
        return self
