"""The systemd unit, and sd_notify from the real daemon to a real notify socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

UNIT = REPO / "systemd" / "fretcoach.service"


def test_unit_has_what_the_device_needs() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "User=fretcoach",
        "SupplementaryGroups=audio i2c gpio spi",
        "StateDirectory=fretcoach",
        "EnvironmentFile=-/etc/fretcoach/env",
        "ExecStart=/opt/fretcoach/.venv/bin/fretcoach run",
    ):
        assert line in text
    # /dev/snd, /dev/i2c-* and /dev/gpiochip* must stay reachable.
    assert "PrivateDevices=yes" not in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    # verify insists that ExecStart exists; point it at a binary that does.
    unit = tmp_path / "fretcoach.service"
    unit.write_text(UNIT.read_text().replace("/opt/fretcoach/.venv/bin/fretcoach", "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "fretcoach.service" not in result.stderr, result.stderr


def test_daemon_notifies_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(30)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": address,
            "WATCHDOG_USEC": "400000",
            "FRETCOACH_DATA_DIR": str(tmp_path / "state"),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "device.cli",
                "run",
                "--source",
                "demo",
                "--display",
                "none",
                "--buttons",
                "none",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        messages: list[str] = []
        try:
            while not any("STOPPING=1" in m for m in messages):
                messages.append(server.recv(4096).decode())
        finally:
            proc.wait(timeout=30)
    assert messages[0].startswith("READY=1")
    assert "STATUS=listening on file demo.wav" in messages[0]
    assert sum(m == "WATCHDOG=1" for m in messages) >= 5  # every 0.2 s for ~10 s
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


INSTALL = REPO / "systemd" / "install.sh"


def rehearse_write_env_file(path: Path) -> subprocess.CompletedProcess[str]:
    """``write_env_file`` from install.sh alone: sourcing the script installs nothing."""
    # Checked first so that an install.sh without the function is never sourced (as
    # root, that would install for real).
    assert "\nwrite_env_file() {" in INSTALL.read_text()
    # ``$0`` must not be the script: install.sh tells "sourced" from "run" by comparing
    # BASH_SOURCE[0] with $0, and with the script as $0 it ran the whole install (as
    # root: pip, apt, systemctl; 8 s, and over the 30 s timeout on a loaded machine).
    result = subprocess.run(
        [
            "bash",
            "-c",
            'source "$1" && set -euo pipefail && write_env_file "$2"',
            "rehearse-write-env-file",
            INSTALL,
            path,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "installed:" not in result.stdout  # the function alone, never the install
    return result


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")


@needs_root
def test_install_makes_an_existing_env_file_root_0600_and_keeps_its_secrets(
    tmp_path: Path,
) -> None:
    env = tmp_path / "env"
    env.write_text("FRETCOACH_HUB_TOKEN=secret\n")
    env.chmod(0o644)
    os.chown(env, 65534, 65534)  # nobody: e.g. copied over from another machine
    result = rehearse_write_env_file(env)
    assert result.returncode == 0, result.stderr
    info = env.stat()
    assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (0o600, 0, 0)
    assert env.read_text() == "FRETCOACH_HUB_TOKEN=secret\n"


@needs_root
def test_install_creates_a_missing_env_file_root_0600(tmp_path: Path) -> None:
    env = tmp_path / "env"
    result = rehearse_write_env_file(env)
    assert result.returncode == 0, result.stderr
    assert env.stat().st_mode & 0o777 == 0o600
    assert "# FRETCOACH_HUB_TOKEN=" in env.read_text()


def test_install_writes_the_env_file_through_write_env_file() -> None:
    assert "\nwrite_env_file /etc/fretcoach/env\n" in INSTALL.read_text()
