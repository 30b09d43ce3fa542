"""Running the device in tests: `fretcoach run` as a process, and a display that records.

Not a test module. The subprocess gets this environment without keys or backends unless
the test passes its own (a developer's ``OPENAI_API_KEY`` must not reach the real OpenAI
from a test), an empty config file and its own state directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.conftest import REPO


def offline_env() -> dict[str, str]:
    """This environment without keys or backends: the offline coach, no tracing."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPIK_", "FRETCOACH_"))
    }


def run_device(
    args: Sequence[str],
    *,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 180.0,
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """``fretcoach run --json ARGS``; returns the finished sessions and the process.

    Fails the test (with its stderr) when the run does not exit 0."""
    # An empty config file and an explicit state directory: neither the developer's
    # ~/.config/fretcoach nor an installed /etc/fretcoach (or its store) can leak in.
    config = state_dir.with_name(state_dir.name + "-config.toml")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "run", "--json", "--config", str(config)]
        + ["--data-dir", str(state_dir), *args],
        cwd=REPO,
        env={**offline_env(), **(env or {}), "FRETCOACH_DATA_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sessions: list[dict[str, Any]] = json.loads(result.stdout)
    return sessions, result


def recording_display(frames: list[Any], *, max_fps: float = 60) -> Any:
    """A display worker on luma's dummy device that appends every state it draws."""
    from display.device import DisplayWorker, open_display

    return DisplayWorker(
        lambda: open_display("dummy"), max_fps=max_fps, on_frame=lambda s, _t: frames.append(s)
    )
