"""A loopback test server in its own process that prints its port when it is ready.

The OpenAI and Opik stubs share this life cycle: a :class:`~device.launcher.Launcher` for
``python -m <module> [args]`` that reads the port from the first line of output. Not a
test module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from device.launcher import LaunchedServer, Launcher
from tests.conftest import REPO


class StubProcess(LaunchedServer):
    """Subclasses set ``module`` and ``label`` and may override :meth:`arguments`.

    Restartable: :meth:`start` after :meth:`stop` passes the same :meth:`arguments`, so a
    stub that takes ``--port`` comes back on the port it had.
    """

    module = ""
    label = "stub"

    def __init__(self, *, port: int = 0) -> None:
        self.port = port
        self._server: Launcher | None = None

    def arguments(self) -> Sequence[str]:
        return ()

    def start(self) -> Self:
        self._server = Launcher(self.module, self.arguments(), label=self.label, cwd=REPO)
        self.port = self._server.start().port
        return self
