"""A loopback test server in its own process that prints its port when it is ready.

The OpenAI and Opik stubs share this life cycle: start ``python -m <module> [args]``,
read the port from its first line of output, terminate (then kill) on stop. Not a test
module.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from device.processes import stop_process
from tests.conftest import REPO


class StubProcess:
    """Subclasses set ``module`` and ``label`` and may override :meth:`arguments`."""

    module = ""
    label = "stub"

    def __init__(self, *, port: int = 0) -> None:
        self.port = port
        self._proc: subprocess.Popen[str] | None = None

    def arguments(self) -> Sequence[str]:
        return ()

    def start(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.arguments()],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the {self.label} did not start (said {line!r})")
        self.port = int(line)
        return self

    def stop(self) -> None:
        """Terminate, then kill after 5 s; safe to call twice."""
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
