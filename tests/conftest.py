"""Fixtures and builders every test file shares (the shape of gpiozero's ``tests/conftest.py``).

The peers are real processes on 127.0.0.1: ``llm`` is the OpenAI-compatible stub,
``opik_stub`` the Opik capture endpoint, ``hub`` a fresh reference Hub. The builders
(:func:`session_start`, :func:`metric_snapshot`) make the values that cross packages with
sensible defaults, so a test names only what it is about. Import ``REPO`` and the builders
with ``from tests.conftest import …``; pytest hands out the fixtures by name.

The stub modules are imported inside the fixtures: they import ``REPO`` from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from coach.tips import MetricSnapshot
from sync.records import SessionStart

if TYPE_CHECKING:
    from tests.hubproc import HubProcess
    from tests.llmstub import LLMStub
    from tests.opikstub import OpikStub

REPO = Path(__file__).resolve().parents[1]
"""The checkout's root: the working directory of every process a test starts."""


@pytest.fixture
def llm() -> Iterator[LLMStub]:
    """The OpenAI-compatible stub on loopback, fresh for each test."""
    from tests.llmstub import LLMStub

    with LLMStub() as stub:
        yield stub


@pytest.fixture
def opik_stub(tmp_path: Path) -> Iterator[OpikStub]:
    """The Opik capture endpoint on loopback; what it received is in its log file."""
    from tests.opikstub import OpikStub

    with OpikStub(tmp_path / "opik-received.jsonl") as stub:
        yield stub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A fresh Hub server (own database, own tokens, fault injection on) for one test."""
    from tests.hubproc import HubProcess

    with HubProcess(tmp_path / "hub") as server:
        yield server


def session_start(
    session_id: str | None = None,
    *,
    user: str = "alice",
    scale_chosen: str = "A Minor (Pentatonic)",
    scale_type: str = "pentatonic",
    total_inscale_notes: int = 5,
    bpm: float | None = 90.0,
    start_wall: float = 1_800_000_000.0,
    start_monotonic: float = 100.0,
    boot_id: str = "boot-test",
    clock_synced: bool = True,
) -> SessionStart:
    """A session's opening record as the daemon writes it; a new UUID unless one is given."""
    return SessionStart(
        session_id=session_id or str(uuid.uuid4()),
        user_id=user,
        device_id="fcp-test",
        software_version="0.1.0",
        scale_chosen=scale_chosen,
        scale_type=scale_type,
        total_inscale_notes=total_inscale_notes,
        sensitivity=0.5,
        strictness=0.5,
        bpm=bpm,
        enabled_metrics=("pitch", "scale", "timing"),
        start_wall=start_wall,
        start_monotonic=start_monotonic,
        boot_id=boot_id,
        clock_synced=clock_synced,
    )


def metric_snapshot(
    pitch: float | None = 0.953,
    scale: float | None = None,
    timing: float | None = 0.21,
    *,
    metrics: tuple[str, ...] = ("pitch", "timing"),
    scale_name: str = "A minor pentatonic",
    bpm: float | None = 92,
    notes: int = 24,
    out_of_tune: str | None = "F#",
    out_of_scale: str | None = None,
) -> MetricSnapshot:
    """What the live coach sees of a session: weak timing, good pitch, unless told otherwise."""
    return MetricSnapshot(
        metrics=metrics,
        pitch=pitch,
        scale=scale,
        timing=timing,
        scale_name=scale_name,
        bpm=bpm,
        notes=notes,
        most_out_of_tune=out_of_tune,
        most_out_of_scale=out_of_scale,
    )
