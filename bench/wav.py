"""`make bench`, WAV part: peak RSS of `fretcoach analyze` on a 1 GB 24-bit WAV.

24-bit cannot be memory-mapped. Read whole (scipy's ``wavfile.read``, what the analyser
did before it streamed through libsndfile) it takes several times the file in RAM, which
kills a Pi; streamed, the peak should be the same as for a short file.

The WAV (~2 h of a guitar phrase, mono, 48 kHz) is written to ``out/`` and deleted after.
Each figure is the peak RSS of its own child process. Prints a table, writes
``out/bench_wav.json``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

from device.bundled import demo_paths
from device.wavread import read_wav

OUT = Path("out")
TARGET_BYTES = 2**30
# What the analyser did before: scipy reads a 24-bit file whole (it cannot map it).
WHOLE_FILE_READ = "import sys; from scipy.io import wavfile; wavfile.read(sys.argv[1])"


def write_24bit_wav(path: Path, *, size: int = TARGET_BYTES) -> float:
    """The demo phrase repeated to ``size`` bytes of 24-bit mono; returns its seconds."""
    phrase, rate = read_wav(demo_paths()[0])
    ints = np.round(phrase * (2**23 - 1)).astype("<i4")
    packed = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()  # little-endian: low 3 bytes
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(3)
        handle.setframerate(rate)
        written = 0
        while written < size:
            handle.writeframes(packed)
            written += len(packed)
        return handle.getnframes() / rate


def peak_rss_mib(argv: list[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and wall time (s) of one child process."""
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    # RUSAGE_CHILDREN is the largest child so far: run the smaller one first.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1024, time.monotonic() - started


def main() -> None:
    OUT.mkdir(exist_ok=True)
    path = OUT / "bench-1gb-24bit.wav"
    try:
        seconds = write_24bit_wav(path)
        size_mib = path.stat().st_size / 2**20
        streamed, analyse_s = peak_rss_mib(
            [sys.executable, "-m", "device.cli", "analyze", str(path), "--json"]
        )
        whole, read_s = peak_rss_mib([sys.executable, "-c", WHOLE_FILE_READ, str(path)])
    finally:
        path.unlink(missing_ok=True)
    result = {
        "wav_mib": round(size_mib),
        "wav_hours": round(seconds / 3600, 2),
        "analyze_peak_rss_mib": round(streamed),
        "analyze_seconds": round(analyse_s, 1),
        "whole_file_read_peak_rss_mib": round(whole),
        "whole_file_read_seconds": round(read_s, 1),
    }
    (OUT / "bench_wav.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWAV streaming: a {size_mib:.0f} MiB 24-bit mono WAV ({seconds / 3600:.1f} h)")
    print(f"  peak RSS, read whole (before; scipy)     {whole:6.0f} MiB  ({read_s:.0f} s)")
    print(f"  peak RSS, fretcoach analyze (streamed)  {streamed:6.0f} MiB  ({analyse_s:.0f} s)")


if __name__ == "__main__":
    main()
