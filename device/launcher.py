"""Runs one loopback server as a ``python -m`` child: start it, wait until it is ready, stop it.

``fretcoach run --local-hub`` starts the reference Hub this way, and the tests start their
peers (the Hub, the OpenAI and Opik stubs) with the same class.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

import requests

from device.processes import stop_process
from dsp.errors import DeviceError

# The Hub usually answers in 2–4 s (FastAPI and SQLAlchemy imports); generous for a Pi or a
# loaded CI machine.
START_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 20


def free_port() -> int:
    """A port nobody listens on right now (another process could still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Launcher:
    """``python -m <module> <arguments>`` as a child process; a context manager.

    Ready means one of two things. With ``health_url``: that URL answers 200, polled until
    ``start_timeout_s``; the child's output goes to ``log_path`` (appended) or nowhere.
    Without: the child prints its port as its first line on stdout, read into :attr:`port`.
    A child that exits or stays silent is stopped and reported as a
    :class:`~dsp.errors.DeviceError` quoting the end of its log.
    """

    def __init__(
        self,
        module: str,
        arguments: Sequence[str] = (),
        *,
        label: str,
        health_url: str | None = None,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.command = [sys.executable, "-m", module, *arguments]
        self.label = label
        self.health_url = health_url
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        """Launch and wait until ready."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start the child without waiting, so several servers can boot side by side."""
        if self.health_url is None:
            self._proc = self._popen(stdout=subprocess.PIPE, stderr=None)
        elif self.log_path is None:
            self._proc = self._popen(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        else:
            with self.log_path.open("a") as log:
                self._proc = self._popen(stdout=log, stderr=subprocess.STDOUT)

    def _popen(self, *, stdout: int | IO[str], stderr: int | None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=stdout, stderr=stderr, text=True
        )

    def wait_ready(self) -> None:
        """Block until the child is ready; on failure stop it and raise :class:`DeviceError`."""
        deadline = time.monotonic() + self.start_timeout_s
        if self.health_url is None:
            self._read_port(deadline)
        else:
            self._poll_health(self.health_url, deadline)

    def _read_port(self, deadline: float) -> None:
        proc = self._proc
        line = ""
        if proc is not None and proc.stdout is not None:
            readable, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            line = proc.stdout.readline() if readable else ""
            if readable and not line:  # end of output: the child is exiting
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        if not line.strip().isdigit():
            self._fail(f"said {line!r}" if line else self._silence())
        self.port = int(line)

    def _poll_health(self, url: str, deadline: float) -> None:
        proc = self._proc
        while proc is not None and proc.poll() is None and time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet, or too busy booting to answer
            time.sleep(0.05)
        self._fail(self._silence())

    def _silence(self) -> str:
        code = self._proc.poll() if self._proc is not None else None
        return f"exited with {code}" if code is not None else f"silent for {self.start_timeout_s} s"

    def _fail(self, reason: str) -> NoReturn:
        self.stop()
        message = f"the {self.label} did not start ({reason})"
        if self.log_path is not None:
            tail = self.log_tail()
            message += f"; see {self.log_path}" + (f", which ends:\n{tail}" if tail else "")
        raise DeviceError(message)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines the child wrote to ``log_path`` ("" without one)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LaunchedServer:
    """Base of an object that owns one :class:`Launcher` as ``_server``: subclasses build
    and start it in :meth:`start`; stopping and the context manager are the same for all
    (the local Hub, and the tests' Hub and stubs)."""

    _server: Launcher | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
