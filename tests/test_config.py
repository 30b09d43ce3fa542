"""Config files and ``-o`` overrides that cannot be used: one line through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``fretcoach ARGS --data-dir tmp``, with no config file but the one a test gives."""
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args, "--data-dir", str(tmp_path / "state")],
        cwd=REPO,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        capture_output=True,
        text=True,
        timeout=30,  # a command that hangs fails the test instead of the whole run
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fretcoach: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["status", "run"])
def test_a_fifo_as_config_is_refused_not_waited_on(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    line = one_error_line(run_cli(tmp_path, command, "--config", str(fifo)))
    assert f"config file {fifo} is a FIFO (named pipe), not a regular file" in line
    assert line.endswith("point --config at a regular .toml file")


def test_a_config_that_is_not_utf8_names_the_file_and_the_fix(tmp_path: Path) -> None:
    latin1 = tmp_path / "config.toml"
    latin1.write_bytes('[practice]\nscale = "A minor"  # café\n'.encode("latin-1"))
    offset = latin1.read_bytes().index(b"\xe9")
    line = one_error_line(run_cli(tmp_path, "status", "--config", str(latin1)))
    assert f"config file {latin1} is not UTF-8 (byte {offset} is 0xe9)" in line
    assert line.endswith("save it as UTF-8")


def test_an_unknown_key_is_called_unknown_and_the_section_s_keys_listed(
    tmp_path: Path,
) -> None:
    for key in ("nokey", "key", "monkey"):
        line = one_error_line(run_cli(tmp_path, "status", "-o", f"practice.{key}=1"))
        assert "secret" not in line
        assert f"unknown setting `practice.{key}`" in line
        assert "`practice` has scale, bpm, strictness, sensitivity, metrics" in line

    line = one_error_line(run_cli(tmp_path, "status", "-o", "pratice.bpm=90"))
    assert "unknown section `pratice`" in line
    assert "sections are audio, buttons, coach, display, metronome, practice, sync" in line


@pytest.mark.parametrize(
    "dotted", ["sync.hub_token", "coach.openai_api_key", "coach.apikey", "sync.password"]
)
def test_a_secret_in_the_config_is_still_sent_to_the_environment(
    tmp_path: Path, dotted: str
) -> None:
    line = one_error_line(run_cli(tmp_path, "status", "-o", f"{dotted}=abc"))
    assert f"`{dotted}` looks like a secret" in line
    assert "secrets come from the environment only" in line
