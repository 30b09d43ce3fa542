"""pyaudio for real: PortAudio reads a WAV through an ALSA `file` PCM, as from an interface.

An `.asoundrc` in a temporary HOME defines a two-input "interface" whose second input
carries the demo performance (a Scarlett Solo's guitar jack is input 2). PortAudio reads
the ALSA configuration once, at start-up, so each check runs in a fresh process.

Interfaces that refuse a rate are made the same way: a `plug` PCM whose rate converter does
not exist can only run at its slave's own rate, so PortAudio finds that it refuses the
others, as it would on a USB interface fixed at 48 kHz.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.io import wavfile

from device.audio import choose_rate
from dsp.errors import AudioSourceError
from tests.conftest import REPO

DEMO = REPO / "device" / "demo" / "demo.wav"

ASOUNDRC = """
pcm.fcin {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{raw}"
    format "raw"
}}
pcm.fcout {{
    type file
    slave.pcm "null"
    file "{out}"
    format "raw"
}}
pcm.fcfile {{
    type asym
    capture.pcm "fcin"
    playback.pcm "fcout"
}}
pcm.fretcoach_test {{
    type plug
    slave {{ pcm "fcfile" format S16_LE rate 48000 channels 2 }}
    hint.description "FretCoach test interface"
}}
pcm.fretcoach_only48k {{
    type plug
    slave {{ pcm "fcfile" format S16_LE rate 48000 channels 2 }}
    rate_converter "fretcoach_none"
}}
pcm.fretcoach_only32k {{
    type plug
    slave {{ pcm "fcfile" format S16_LE rate 32000 channels 2 }}
    rate_converter "fretcoach_none"
}}
"""

# The source is built from the configuration as `fretcoach run` builds it, and its notes are
# tracked at the rate it opened at, as the daemon hands `source.sample_rate` to a session.
PROBE = """
import json, logging, sys
import numpy as np
from device.audio import list_input_devices
from device.config import load_config
from device.run_command import build_source
from dsp import analyze_samples, TrackerConfig, ScoringConfig, parse_scale
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
hops, overrides = int(sys.argv[1]), sys.argv[2:]
config, _ = load_config(None, ["audio.channel=2", *overrides])
names = [d.name for d in list_input_devices()]
source = build_source("device", config, fast=False)
source.open()
hops = [source.read_hop() for _ in range(hops)]
description = source.description
source.close()
audio = np.concatenate(hops)
tracking = TrackerConfig(sample_rate=source.sample_rate)
analysis = analyze_samples(audio, tracking, ScoringConfig(parse_scale("A minor pentatonic")))
print(json.dumps({"names": names, "description": description, "rate": source.sample_rate,
                  "midis": [n.midi for n in analysis.notes]}))
"""
TRUTH = json.loads((REPO / "device/demo/demo.json").read_text())["notes"]


@pytest.fixture
def alsa_home(tmp_path: Path) -> Path:
    rate, mono = wavfile.read(DEMO)
    assert rate == 48000
    stereo = np.stack([np.zeros_like(mono), mono], axis=1).astype("<i2")
    raw = tmp_path / "interface.raw"
    stereo.tofile(raw)
    out = tmp_path / "output.raw"  # what the interface's output plays
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(raw=raw, out=out))
    return tmp_path


def run_probe(home: Path, hops: int, *overrides: str) -> subprocess.CompletedProcess[str]:
    return run_script(home, PROBE, str(hops), *overrides)


def run_script(home: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh Python whose ALSA configuration is ``home``'s .asoundrc."""
    env = {**os.environ, "HOME": str(home)}
    env.pop("ALSA_CONFIG_PATH", None)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 and "no audio input" in result.stderr:
        pytest.skip(f"PortAudio here does not see ALSA's file PCM: {result.stderr[-300:]}")
    return result


def probed(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_reads_the_demo(data: dict[str, Any]) -> None:
    """The notes heard are the demo's own: right pitch, so the right rate reached the tracker."""
    expected = [n["midi"] for n in TRUTH]
    heard = data["midis"]
    blocks = difflib.SequenceMatcher(None, heard, expected).get_matching_blocks()
    matched = sum(block.size for block in blocks)
    assert len(heard) >= len(expected) - 2
    assert matched >= len(expected) * 0.75, (heard, expected)


def test_pyaudio_reads_the_guitar_input_through_alsa(alsa_home: Path) -> None:
    data = probed(run_probe(alsa_home, 930, "audio.device='fretcoach_test'"))
    assert "fretcoach_test" in data["names"]
    assert data["description"] == "fretcoach_test, input 2 of 2, 48000 Hz, with output"
    assert data["rate"] == 48000
    assert_reads_the_demo(data)


def test_a_configured_44100_opens_the_interface_at_44100(alsa_home: Path) -> None:
    # 1000 hops at 44.1 kHz: the whole 20 s performance, resampled by ALSA as by a Scarlett.
    result = run_probe(alsa_home, 1000, "audio.device='fretcoach_test'", "audio.sample_rate=44100")
    data = probed(result)
    assert data["rate"] == 44100
    assert data["description"] == "fretcoach_test, input 2 of 2, 44100 Hz, with output"
    assert "refuses" not in result.stderr
    assert_reads_the_demo(data)


def test_a_refused_rate_falls_back_to_the_other_with_a_warning(alsa_home: Path) -> None:
    result = run_probe(
        alsa_home, 930, "audio.device='fretcoach_only48k'", "audio.sample_rate=44100"
    )
    data = probed(result)
    assert data["rate"] == 48000
    assert data["description"] == (
        "fretcoach_only48k, input 2 of 2, 48000 Hz (44100 Hz refused), with output"
    )
    assert (
        "WARNING device.audio: fretcoach_only48k refuses audio.sample_rate = 44100 (it accepts "
        "48000 Hz): listening at 48000 Hz instead; set audio.sample_rate = 48000 to open it "
        "as configured"
    ) in result.stderr
    assert_reads_the_demo(data)


def test_an_interface_that_takes_neither_rate_names_the_fix(alsa_home: Path) -> None:
    result = run_probe(alsa_home, 1, "audio.device='fretcoach_only32k'")
    assert result.returncode != 0
    assert "AudioSourceError: fretcoach_only32k accepts neither 44100 nor 48000 Hz" in (
        result.stderr
    )
    assert "choose another interface with audio.device" in result.stderr


def test_the_rate_decision_prefers_the_setting_then_the_other_supported_rate() -> None:
    assert choose_rate("Solo", 44100, (44100, 48000), own_rate=48000) == 44100
    assert choose_rate("Solo", 48000, (44100, 48000), own_rate=44100) == 48000
    assert choose_rate("Solo", 44100, (48000,), own_rate=48000) == 48000
    assert choose_rate("Solo", 48000, (44100,), own_rate=44100) == 44100
    with pytest.raises(AudioSourceError, match=r"its own rate is 32000 Hz"):
        choose_rate("Solo", 48000, (), own_rate=32000)


def test_a_missing_interface_names_the_fix(alsa_home: Path) -> None:
    env = {**os.environ, "HOME": str(alsa_home)}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from device.audio import PyAudioSource\n"
            "PyAudioSource(device='Scarlett Solo USB').open()",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "no audio input matches audio.device='Scarlett Solo USB'" in result.stderr
    assert "fretcoach_test" in result.stderr  # lists what is there instead


# The interface opened both ways: the metronome's clicks, and a speech clip mixed under
# them, go out through the same stream that brings the guitar in.
CLICK_PROBE = """
import json, sys
import numpy as np
from device.config import load_config
from device.run_command import build_source
from dsp.metronome import ClickSchedule
config, _ = load_config(None, ["audio.channel=2", "audio.device='fretcoach_test'"])
source = build_source("device", config, fast=False)
source.open()
mix = source.mix
mix.volume = 0.5
mix.start_clicks(ClickSchedule(source.sample_rate, 120.0, 4800, beats_per_bar=3, count_in=3))
t = np.arange(source.sample_rate * 3) / source.sample_rate
done = mix.play((0.3 * np.sin(2 * np.pi * 300.0 * t)).astype(np.float32))
for _ in range(int(4.5 * source.sample_rate / 512)):
    source.read_hop()
print(json.dumps({"active": mix.active, "round_trip_s": source.round_trip_s,
                  "speech_done": done.is_set(), "read": source.samples_read}))
source.close()
"""


def test_the_metronome_and_speech_play_through_the_interface_output(alsa_home: Path) -> None:
    data = probed(run_script(alsa_home, CLICK_PROBE))
    assert data["active"] and data["speech_done"]
    assert 0.0 < data["round_trip_s"] < 1.0
    out = np.fromfile(alsa_home / "output.raw", dtype="<i2").reshape(-1, 2)
    assert np.array_equal(out[:, 0], out[:, 1])  # the same mix on both channels
    played = out[:, 0].astype(np.float64) / 32768.0
    # The output began with two hops of silence written ahead of the first read, so the
    # mix's sample n is the file's sample n + 1024.
    lead = 1024
    rate = 48000

    def band(x: np.ndarray, hz: float) -> np.ndarray:
        """Magnitude at ``hz`` in 10 ms frames: the click tone, or the speech."""
        frame = 480
        frames = x[: len(x) // frame * frame].reshape(-1, frame)
        basis = np.exp(-2j * np.pi * hz * np.arange(frame) / rate)
        return np.abs(frames @ basis) / frame

    clicks = band(played, 2400.0)
    onsets = [i for i in range(1, len(clicks)) if clicks[i] > 0.05 and clicks[i - 1] <= 0.05]
    expected = [(lead + 4800 + k * 24000) // 480 for k in range(len(onsets))]
    assert len(onsets) >= 8, onsets
    assert all(abs(a - b) <= 1 for a, b in zip(onsets, expected, strict=True)), onsets
    peaks = [clicks[i : i + 3].max() for i in onsets]
    # Count-in of three beats, then bars of three: beat 1 of each is the loud one.
    accents = [k for k, p in enumerate(peaks) if p > 0.8 * max(peaks)]
    assert accents == [k for k in range(len(peaks)) if k % 3 == 0], peaks
    # Speech (300 Hz) is there, and ducked under every click.
    speech = band(played, 300.0)
    between = [speech[i - 10] for i in onsets[1:5]]
    under = [speech[i + 1] for i in onsets[1:5]]
    assert min(between) > 0.05
    assert max(u / b for u, b in zip(under, between, strict=True)) < 0.2
