"""Stopping (and deprioritising) child processes we started: the local Hub and the tests'
loopback servers politely, speech's synthesiser and player at once, with all they started."""

from __future__ import annotations

import contextlib
import os
import signal
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


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (it leads one: ``start_new_session``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()  # already gone, or not ours to signal as a group


def lower_priority(pid: int) -> None:
    """Speech yields to the audio path: synthesis and playback run at nice 10 (the unit
    runs the daemon at -5), never competing with capture and DSP for the CPU."""
    with contextlib.suppress(OSError):  # it may already have exited
        # The whole group (the child leads it): a wrapper's children are lowered too.
        os.setpriority(os.PRIO_PGRP, pid, max(os.getpriority(os.PRIO_PROCESS, 0), 10))
