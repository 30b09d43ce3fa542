"""Stopping a helper process we started (the local Hub, and the tests' loopback servers)."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> None:
    """SIGTERM, then SIGKILL after 5 s; fine to call on a process that already ended."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
