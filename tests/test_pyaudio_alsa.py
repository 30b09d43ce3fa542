"""pyaudio for real: PortAudio reads a WAV through an ALSA `file` PCM, as from an interface.

An `.asoundrc` in a temporary HOME defines a two-input "interface" whose second input
carries the demo performance (a Scarlett Solo's guitar jack is input 2). PortAudio reads
the ALSA configuration once, at start-up, so each check runs in a fresh process.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from tests.conftest import REPO

DEMO = REPO / "device" / "demo" / "demo.wav"

ASOUNDRC = """
pcm.fcfile {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{raw}"
    format "raw"
}}
pcm.fretcoach_test {{
    type plug
    slave {{ pcm "fcfile" format S16_LE rate 48000 channels 2 }}
    hint.description "FretCoach test interface"
}}
"""

PROBE = """
import json, sys
import numpy as np
from device.audio import PyAudioSource, list_input_devices
from dsp import analyze_samples, TrackerConfig, ScoringConfig, parse_scale
names = [d.name for d in list_input_devices()]
source = PyAudioSource(device="fretcoach_test", channel=2)
source.open()
hops = [source.read_hop() for _ in range(int(sys.argv[1]))]
description = source.description
source.close()
audio = np.concatenate(hops)
analysis = analyze_samples(audio, TrackerConfig(), ScoringConfig(parse_scale("A minor pentatonic")))
print(json.dumps({"names": names, "description": description, "rate": source.sample_rate,
                  "midis": [n.midi for n in analysis.notes]}))
"""


@pytest.fixture
def alsa_home(tmp_path: Path) -> Path:
    rate, mono = wavfile.read(DEMO)
    assert rate == 48000
    stereo = np.stack([np.zeros_like(mono), mono], axis=1).astype("<i2")
    raw = tmp_path / "interface.raw"
    stereo.tofile(raw)
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(raw=raw))
    return tmp_path


def run_probe(home: Path, hops: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    env.pop("ALSA_CONFIG_PATH", None)
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(hops)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pyaudio_reads_the_guitar_input_through_alsa(alsa_home: Path) -> None:
    result = run_probe(alsa_home, hops=930)
    if result.returncode != 0 and "no audio input" in result.stderr:
        pytest.skip(f"PortAudio here does not see ALSA's file PCM: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert "fretcoach_test" in data["names"]
    assert data["description"].startswith("fretcoach_test, input 2")
    assert data["rate"] == 48000
    truth = json.loads((REPO / "device/demo/demo.json").read_text())["notes"]
    expected = [n["midi"] for n in truth]
    blocks = difflib.SequenceMatcher(None, data["midis"], expected).get_matching_blocks()
    matched = sum(block.size for block in blocks)
    assert len(data["midis"]) >= len(expected) - 2
    assert matched >= len(expected) * 0.75


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
