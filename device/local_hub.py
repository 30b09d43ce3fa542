"""A reference Hub on 127.0.0.1 for the embedded demo (``fretcoach run --local-hub``).

A real server process (``python -m sync.hub_server``) with a fresh random token, so the
demo goes the whole way — store, outbox, HTTP, the Hub's database — with nothing to
configure. Stopped when the daemon stops.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests

from device.processes import stop_process
from dsp.errors import DeviceError

log = logging.getLogger(__name__)


class LocalHub:
    def __init__(self, folder: Path, *, user: str) -> None:
        self.folder = folder
        self.user = user
        self.token = secrets.token_urlsafe(24)
        self.db_path = folder / "local-hub.db"
        self.log_path = folder / "local-hub.log"
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalHub:
        self.folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "FRETCOACH_HUB_TOKENS": f"{self.token}={self.user}"}
        env.pop("DATABASE_URL", None)
        with self.log_path.open("ab") as log_file:
            command = [sys.executable, "-m", "sync.hub_server", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--db", str(self.db_path), "--log-level", "warning"]
            self._proc = subprocess.Popen(
                command,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise DeviceError(f"the local Hub did not start; see {self.log_path}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)
