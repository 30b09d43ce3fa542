"""Single guitar notes rendered once from each GM soundfont, with their truth measured.

The evaluation set (:mod:`bench.evalset`) builds its clips by placing these notes in time,
so each note's truth (where its attack begins, what pitch it sounds) is measured once, on
the note alone, before any other note, noise or effect touches it. A note is rendered by
FluidSynth (reverb and chorus off) from a MIDI file holding one key per 3 s; the bank of
one (soundfont, programme, velocity) is one FluidSynth run, cached as ``.npz``.

Truth, per note:

* **onset** — the first sample of the attack: where a 1 ms envelope first reaches 10 %
  (−20 dB) of the attack's peak, measured from the note-on.
* **cents** — the period of the note's body (0.1–0.5 s after the onset) by the minimum
  of the difference function near the expected period, as a tuner reads it. A note whose
  body glides by more than 8 cents (0.05–0.3 s vs 0.3–0.8 s) has no single pitch: its
  ``cents`` is kept for naming but flagged, and left out of cents statistics.
* A key that sounds more than 40 cents from its MIDI number, or that is not periodic
  (a muted or noisy sample), is left out of the bank.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import wavfile

SR = 48_000

#: The three GM soundfonts Debian ships (apt: fluid-soundfont-gm, timgm6mb-soundfont,
#: musescore-general-soundfont-small).
SOUNDFONTS: dict[str, Path] = {
    "fluidr3": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "timgm6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    "musescore": Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
}

#: General MIDI guitar programmes (0-based).
PROGRAMS: dict[str, int] = {
    "nylon": 24,
    "steel": 25,
    "jazz": 26,
    "clean": 27,
    "muted": 28,
    "overdrive": 29,
    "distortion": 30,
}

APT_PACKAGES = ("fluid-soundfont-gm", "timgm6mb-soundfont", "musescore-general-soundfont-small")
MIDI_LO = 36  # C2: C standard's low string
MIDI_HI = 88  # E6: the 24th fret of the high E
_SLOT_S = 3.0  # one key per slot: 2.4 s held, 0.6 s of release
_HELD_S = 2.4
NOTE_S = 2.8  # audio kept per note from its attack
_GAIN = 0.5
BANK_VERSION = 1


class RenderError(RuntimeError):
    """FluidSynth or a soundfont is missing, or a render failed."""


@dataclass(frozen=True, slots=True)
class BankNote:
    """One rendered key: audio from 5 ms before its attack, and its measured truth."""

    source: str  # "fluidr3/steel/v100"
    midi: int
    cents: float
    cents_reliable: bool
    audio: np.ndarray  # float32; the attack starts at LEAD_S
    peak: float


LEAD_S = 0.005


def unavailable(soundfont: str) -> str | None:
    """Why ``soundfont`` cannot be rendered here, or None."""
    from shutil import which

    if which("fluidsynth") is None:
        return "the fluidsynth command is missing (apt: fluidsynth)"
    path = SOUNDFONTS[soundfont]
    if not path.is_file():
        return f"{path} is missing (apt: {' '.join(APT_PACKAGES)})"
    return None


def _write_midi(path: Path, program: int, velocity: int, keys: list[int]) -> None:
    import mido

    ticks_per_beat = 480
    tempo_us = 500_000  # 120 BPM: 960 ticks per second
    per_s = ticks_per_beat * 1e6 / tempo_us
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=tempo_us, time=0))
    track.append(mido.Message("program_change", channel=0, program=program, time=0))
    now = 0
    for i, key in enumerate(keys):
        on = round((0.5 + i * _SLOT_S) * per_s)
        off = round((0.5 + i * _SLOT_S + _HELD_S) * per_s)
        track.append(mido.Message("note_on", note=key, velocity=velocity, time=on - now))
        track.append(mido.Message("note_off", note=key, velocity=0, time=off - on))
        now = off
    track.append(mido.MetaMessage("end_of_track", time=round(per_s)))
    mf = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    mf.tracks.append(track)
    mf.save(str(path))


def _render(soundfont: str, program: int, velocity: int, keys: list[int]) -> np.ndarray:
    why = unavailable(soundfont)
    if why:
        raise RenderError(why)
    with tempfile.TemporaryDirectory(prefix="notebank-") as tmp:
        mid, wav = Path(tmp) / "bank.mid", Path(tmp) / "bank.wav"
        _write_midi(mid, program, velocity, keys)
        cmd = [
            "fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-r", str(SR), "-g", str(_GAIN),
            "-O", "float", "-T", "wav", "-F", str(wav), str(SOUNDFONTS[soundfont]), str(mid),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not wav.is_file():
            raise RenderError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.strip()}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # FluidSynth's LIST chunk
            rate, x = wavfile.read(wav)
    if rate != SR:
        raise RenderError(f"fluidsynth wrote {rate} Hz, not {SR}")
    x = np.asarray(x, dtype=np.float64)
    return (x.mean(axis=1) if x.ndim == 2 else x).astype(np.float32)


def attack_start(x: np.ndarray, sr: int = SR) -> int | None:
    """Sample where the attack begins: a 1 ms envelope first at 10 % of the attack's peak."""
    ms = sr // 1000
    n = len(x) // ms
    if n < 10:
        return None
    env = np.abs(x[: n * ms]).reshape(n, ms).max(axis=1)
    first_loud = np.flatnonzero(env >= 0.02 * env.max())
    if not first_loud.size:
        return None
    f = int(first_loud[0])
    peak = env[f : f + 100].max()
    block = int(np.flatnonzero(env[: f + 100] >= 0.1 * peak)[0])
    seg = np.abs(x[block * ms : (block + 1) * ms])
    return block * ms + int(np.flatnonzero(seg >= 0.1 * peak)[0])


def body_pitch(x: np.ndarray, expected_midi: float, sr: int = SR) -> float | None:
    """Fractional MIDI from the difference-function minimum within ±60 cents of expected."""
    period = sr / (440.0 * 2.0 ** ((expected_midi - 69.0) / 12.0))
    lo = max(2, int(period * 2 ** (-60 / 1200)) - 2)
    hi = int(period * 2 ** (60 / 1200)) + 3
    width = len(x) - hi
    if width < 2 * hi:
        return None
    x = x.astype(np.float64)
    head = x[:width]
    e0 = float(np.dot(head, head))
    if e0 <= 0:
        return None
    diffs = []
    for lag in range(lo, hi + 1):
        seg = x[lag : lag + width]
        diffs.append(e0 + float(np.dot(seg, seg)) - 2.0 * float(np.dot(head, seg)))
    d = np.asarray(diffs) / (2.0 * e0)
    k = int(np.argmin(d))
    if not 0 < k < len(d) - 1 or d[k] > 0.2:
        return None  # not periodic near there
    a, b, c = d[k - 1 : k + 2]
    best = lo + k + 0.5 * (a - c) / (a - 2.0 * b + c)
    return 69.0 + 12.0 * math.log2(sr / best / 440.0)


def _cache_path(cache: Path, soundfont: str, program: str, velocity: int) -> Path:
    tag = hashlib.sha1(f"{BANK_VERSION}/{soundfont}/{program}/{velocity}".encode()).hexdigest()
    return cache / f"{soundfont}-{program}-v{velocity}-{tag[:8]}.npz"


def load_bank(cache: Path, soundfont: str, program: str, velocity: int) -> dict[int, BankNote]:
    """The keys of one soundfont programme at one velocity, rendered once and cached."""
    path = _cache_path(cache, soundfont, program, velocity)
    source = f"{soundfont}/{program}/v{velocity}"
    if not path.is_file():
        keys = list(range(MIDI_LO, MIDI_HI + 1))
        x = _render(soundfont, PROGRAMS[program], velocity, keys)
        notes = _measure(x, keys)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.part.npz")  # workers race
        np.savez_compressed(
            tmp,
            midi=np.array([n[0] for n in notes]),
            cents=np.array([n[1] for n in notes]),
            reliable=np.array([n[2] for n in notes]),
            audio=np.stack([n[3] for n in notes]) if notes else np.zeros((0, 1), np.float32),
        )
        tmp.replace(path)
    data = np.load(path)
    bank = {}
    for midi, cents, reliable, audio in zip(
        data["midi"], data["cents"], data["reliable"], data["audio"], strict=True
    ):
        bank[int(midi)] = BankNote(
            source, int(midi), float(cents), bool(reliable), audio, float(np.abs(audio).max())
        )
    return bank


def _measure(x: np.ndarray, keys: list[int]) -> list[tuple[int, float, bool, np.ndarray]]:
    lead = round(LEAD_S * SR)
    keep = round(NOTE_S * SR)
    notes = []
    for i, key in enumerate(keys):
        slot = x[round((0.5 + i * _SLOT_S) * SR) : round((0.5 + (i + 1) * _SLOT_S) * SR)]
        start = attack_start(slot)
        if start is None:
            continue
        audio = slot[max(start - lead, 0) : start - lead + keep]
        if start < lead:
            audio = np.concatenate((np.zeros(lead - start, np.float32), audio))
        audio = np.pad(audio, (0, keep - len(audio))).astype(np.float32)
        body = audio[lead + round(0.1 * SR) : lead + round(0.5 * SR)]
        mid = body_pitch(body, key)
        if mid is None or abs(mid - key) > 0.4:
            continue
        early = body_pitch(audio[lead + round(0.05 * SR) : lead + round(0.3 * SR)], key)
        late = body_pitch(audio[lead + round(0.3 * SR) : lead + round(0.8 * SR)], key)
        reliable = early is not None and late is not None and abs(early - late) * 100 <= 8.0
        notes.append((key, round((mid - key) * 100.0, 2), reliable, audio))
    return notes
