"""``practice.lowest_note`` and ``analyze --lowest``: a guitar tuned under C2 (B standard, a
7-string, drop A) is heard down to its low string, on the device, in its tuner and in
``fretcoach analyze``; a value outside A1–E2 is refused naming the key, the value and why."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.io import wavfile

from bench.pluck import StringEvent, Voice, render_line
from device.audio import WavSource
from device.config import LOWEST_NOTES, load_config, lowest_note_midi
from device.daemon import Daemon
from device.session import DspLoop, LiveSession, PracticeSettings
from dsp import HOP_SIZE, METRICS, parse_scale
from dsp.errors import ConfigError
from sync.store import Store
from tests import devicerun

SR = 48000
B1 = 35
MIDIS = [B1, B1, B1 + 2, B1 + 3, B1 + 5, B1]  # open, open, frets 2, 3 and 5, open


@pytest.fixture(scope="module")
def b1_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six plucks on a B1 string, one every 0.8 s."""
    events = [StringEvent(0.5 + 0.8 * i, m, "pluck") for i, m in enumerate(MIDIS)]
    x = render_line(events, 5.8, Voice(), seed=B1)
    x = x + np.random.default_rng(1).normal(0, 1e-4, len(x)).astype(np.float32)
    path = tmp_path_factory.mktemp("wav") / "b1.wav"
    wavfile.write(path, SR, (x * 32767).astype(np.int16))
    return path


def run_cli(*args: str, tmp_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """tests.devicerun's ``fretcoach ARGS``, with its own XDG config home when given (no
    developer's config file reaches the test)."""
    env = {} if tmp_path is None else {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    return devicerun.run_cli(*args, env=env)


def test_the_lowest_note_defaults_to_c2_and_takes_a1_to_e2() -> None:
    config, _ = load_config(None)
    assert config.practice.lowest_note == "C2"
    assert lowest_note_midi(config.practice.lowest_note) == 36
    config, _ = load_config(None, ["practice.lowest_note=B1"])
    assert lowest_note_midi(config.practice.lowest_note) == B1
    assert [lowest_note_midi(n) for n in ("a1", "Bb1", "A#1", "D2", "E2")] == [33, 34, 34, 38, 40]
    assert LOWEST_NOTES == (33, 40)


@pytest.mark.parametrize("value", ["G1", "F2", "low B", "B", "'35'"])
def test_a_lowest_note_outside_a1_to_e2_is_refused_with_the_key_and_why(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(None, [f"practice.lowest_note={value}"])
    message = str(refused.value)
    assert message.startswith("`practice.lowest_note` must be a note from A1 to E2")
    assert repr(value.strip("'")) in message
    assert "B1 B standard or a 7-string, A1 drop A" in message
    assert "mains hum" in message  # why not lower


def test_a_bad_lowest_note_is_one_line_from_the_cli(tmp_path: Path) -> None:
    result = run_cli("status", "-o", "practice.lowest_note=G1", tmp_path=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "`practice.lowest_note` must be a note from A1 to E2" in lines[0]
    assert "not 'G1'" in lines[0]


def test_status_shows_the_lowest_note_in_effect(tmp_path: Path) -> None:
    """The setting drops every note under it: `fretcoach status` must say which it is."""
    result = run_cli(
        "status", "--data-dir", str(tmp_path), "-o", "practice.lowest_note= bb1", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    practice = [line for line in result.stdout.splitlines() if line.startswith("practice:")]
    assert practice and practice[0].endswith("lowest note A#1")


def test_analyze_hears_a_low_b_string_with_lowest_b1(b1_wav: Path) -> None:
    default = json.loads(run_cli("analyze", str(b1_wav), "--json").stdout)
    assert [n["midi"] for n in default["notes"]] == [m for m in MIDIS if m >= 36]
    assert default["settings"] == {"bpm": None, "strictness": 0.5, "lowest_note": "C2"}
    result = run_cli("analyze", str(b1_wav), "--lowest", "B1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [n["name"] for n in data["notes"]] == ["B1", "B1", "C#2", "D2", "E2", "B1"]
    assert data["settings"]["lowest_note"] == "B1"


@pytest.mark.parametrize("value", ["G1", "F2", "B"])
def test_analyze_refuses_a_lowest_note_outside_a1_to_e2(b1_wav: Path, value: str) -> None:
    result = run_cli("analyze", str(b1_wav), "--lowest", value)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "--lowest" in result.stderr and "must be a note from A1 to E2" in result.stderr
    assert f"not {value!r}" in result.stderr


def test_the_device_stores_the_low_b_notes_with_lowest_note_b1(
    b1_wav: Path, tmp_path: Path
) -> None:
    for setting, expected in (("C2", [m for m in MIDIS if m >= 36]), ("B1", MIDIS)):
        config, _ = load_config(None, [f"practice.lowest_note={setting}"])
        with Store.open(tmp_path / setting) as store:
            daemon = Daemon(config, source=WavSource(b1_wav, realtime=False), store=store)
            (result,) = daemon.run()
            record = store.session(result.session_id)
            assert record is not None
            assert [n.midi for n in record.notes] == expected


def test_the_tuner_and_a_session_hear_down_to_the_lowest_note(b1_wav: Path) -> None:
    _, audio = wavfile.read(b1_wav)
    hops = (audio.astype(np.float32) / 32768.0)[: 80 * HOP_SIZE].reshape(-1, HOP_SIZE)
    for lowest, shown in ((36, None), (B1, "B1")):
        names: list[str | None] = []
        loop = DspLoop(
            SimpleNamespace(source=SimpleNamespace(sample_rate=SR)),  # type: ignore[arg-type]
            on_snapshot=lambda snap, _, names=names: names.append(snap.note_name),
            on_end_of_stream=lambda: None,
            tuner_lowest_midi=lowest,
        )
        for hop in hops:
            loop._tune(hop)
        assert names[-1] == shown
    settings = PracticeSettings(
        parse_scale("B minor"), None, 0.5, 0.5, METRICS, 440.0, lowest_midi=B1
    )
    assert LiveSession("s", settings, SR).tracker.config.min_midi == B1
