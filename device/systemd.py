"""sd_notify without a dependency: READY, WATCHDOG, STATUS and STOPPING to systemd.

A no-op when not started by systemd (no ``$NOTIFY_SOCKET``), so the same daemon runs on a
laptop. The watchdog is pinged only while audio frames are fresh: a stuck capture makes
systemd restart us, which is the point of ``WatchdogSec``.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._socket: socket.socket | None = None
        if self.address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            if self.address.startswith("@"):  # abstract namespace
                self.address = "\0" + self.address[1:]

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode(), self.address)
        except OSError as err:
            log.debug("sd_notify failed: %s", err)

    def ready(self, status: str = "listening") -> None:
        self.notify(f"READY=1\nSTATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def watchdog_interval_s(self) -> float | None:
        """Half of ``WatchdogSec`` (systemd's advice), or None when no watchdog is set."""
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit():
            return None
        return int(usec) / 2e6

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
