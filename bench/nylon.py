"""Single notes of guitars the tuning half never had: nylon strings, finger plucks, long decays.

    python -m bench.nylon [--ways nylon,beating,...] [--seeds 2] [--all-clips]

The real notes' held-out half has a nylon-string classical guitar, a mic'd acoustic with
room noise and a guitar whose low E has a fundamental ~30 dB under its 2nd harmonic; the
tuning half has none of these, and sampled nylon patches (the GM soundfonts' short loops)
after the tuning half's rooms gave 42 of 42 clean notes. What such a recording has that a
sample has not is built here from ``bench.pluck``'s strings, each a way of playing the six
open strings (E2 A2 D3 G3 B3 E4):

* a finger's pluck: a dark excitation with no pick click, faded in over 4–15 ms;
* two polarisations, a few cents apart and decaying at different rates, at unequal
  levels: the amplitude beats at 0.5–3 Hz at the fundamental and faster at the upper
  partials (each partial k beats at k times the rate), more deeply as the louder fades;
* sympathetic strings: other open strings excited through the bridge, rising slowly
  (time constant 0.2–0.8 s) to 20–35 dB under the note's peak, and ringing on;
* a nylon body (resonances near 95 and 190 Hz, a dark top), T60 3–6 s at the low E;
* fret and string noise: band-passed noise swishes 30–45 dB under the note;
* a mic'd steel acoustic with a strong body boom (a high-Q air mode ~100 Hz, +12–18 dB);
* a low string with a weak fundamental (~30 dB under its 2nd harmonic);
* a hard pluck's pitch glide (sharp by up to 30 cents, settling in 0.1–0.25 s);
* a rest stroke (apoyando): the finger lands on the next lower string 40–120 ms after the
  pluck, knocking and damping it 15–25 dB under the note;

each after one of the tuning half's own room leads (the resynthesised room before its
pluck), at a random level. Deterministic: the same way, string and seed give the same
samples. It lists every clip with a miss, more than one note, or a wrong name, and a
tally per way. Nothing here reads the held-out half.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from bench import evalset, evaluate, pluck

SR = evalset.SR
OPEN_STRINGS = (40, 45, 50, 55, 59, 64)  # E2 A2 D3 G3 B3 E4
LEAD_S = evalset.REAL_LEAD_S - 0.1  # the room before each pluck (the lead less its fade)
NOTE_S = 2.6  # of the note after its pluck: a real clip holds ~1.5–1.8 s of it


@dataclasses.dataclass(frozen=True)
class Take:
    """One rendered clip: the room, then one note plucked at ``onset_s``."""

    name: str
    audio: np.ndarray
    midi: int
    onset_s: float

    @property
    def truth(self) -> tuple[evalset.TruthNote, ...]:
        return (evalset.TruthNote(self.onset_s, self.midi, 0.0, False),)


@dataclasses.dataclass(frozen=True)
class Style:
    """How a way plays its string: everything the ways differ by."""

    body: pluck.BodyName = "classical"
    finger: bool = True  # a dark excitation with no pick click, faded in
    beat_hz: tuple[float, float] = (0.5, 3.0)  # the fundamental's beating, drawn in this range
    second_db: tuple[float, float] = (-6.0, -2.0)  # the other polarisation's level
    t60_low_s: tuple[float, float] = (3.0, 6.0)
    sympathetic_db: tuple[float, float] | None = (-35.0, -25.0)  # under the note's peak
    swish_db: tuple[float, float] | None = None  # fret/string noise under the note's peak
    boom_db: float = 0.0  # a high-Q air mode this much over the body (a mic'd acoustic)
    weak_fundamental: bool = False  # the fundamental ~30 dB under the 2nd harmonic
    glide_cents: float = 0.0  # the pitch starts this sharp and settles in 0.1–0.25 s
    rest_stroke: bool = False  # the finger lands on the next string 40–120 ms after
    peak_dbfs: tuple[float, float] = (-30.0, -8.0)


WAYS: dict[str, Style] = {
    "nylon": Style(),
    "beating": Style(second_db=(-1.0, 0.0), sympathetic_db=None),
    "sympathetic": Style(sympathetic_db=(-25.0, -20.0)),
    "swish": Style(swish_db=(-40.0, -30.0)),
    "quiet": Style(peak_dbfs=(-42.0, -34.0)),
    "boom": Style(body="acoustic", finger=False, boom_db=15.0, t60_low_s=(2.5, 4.0)),
    "weak-fundamental": Style(
        body="acoustic", finger=False, weak_fundamental=True, t60_low_s=(2.5, 4.0)
    ),
    "glide": Style(glide_cents=30.0),
    "rest-stroke": Style(rest_stroke=True),
}


#: A way's place here seeds its takes: a new way goes at the end, so that the takes of the
#: others stay what they were.
SEED_ORDER = (
    "beating", "boom", "nylon", "quiet", "swish", "sympathetic", "weak-fundamental",
    "glide", "rest-stroke",
)  # fmt: skip


@functools.cache
def room_leads() -> tuple[np.ndarray, ...]:
    """The tuning half's rooms (the resynthesised room before each pluck)."""
    from bench.realaug import tuning_half

    n = round(LEAD_S * SR)
    return tuple(clip.audio[:n].copy() for clip in tuning_half())


def _uniform(rng: np.random.Generator, span: tuple[float, float]) -> float:
    return float(rng.uniform(*span))


def _string(midi: float, style: Style, t60_low: float, rng: np.random.Generator) -> np.ndarray:
    """One polarisation of one string plucked at 0, ``NOTE_S`` long (no body yet).

    A finger's pluck is a ``hammer`` on a silent string: ``bench.pluck`` gives it a dark
    burst and no pick click.
    """
    voice = pluck.Voice(
        pick_position=float(rng.uniform(0.15, 0.3)),
        t60_low_s=t60_low,
        t60_high_s=t60_low * 0.4,
        brightness=float(rng.uniform(0.1, 0.3) if style.finger else rng.uniform(0.4, 0.7)),
        body=style.body,
    )
    kind = "hammer" if style.finger else "pluck"
    sharp = style.glide_cents / 100.0 * float(rng.uniform(0.5, 1.0)) if style.glide_cents else 0.0
    events = [pluck.StringEvent(0.0, midi + sharp, kind, float(rng.uniform(0.5, 0.9)))]
    if sharp:
        # A hard pluck stretches the string: it sounds sharp, and settles as it calms.
        glide = float(rng.uniform(0.1, 0.25))
        events.append(pluck.StringEvent(0.0, midi, "bend", glide_s=glide))
    seed = int(rng.integers(1 << 30))
    return pluck.render_line(events, NOTE_S, voice, sr=SR, seed=seed).astype(np.float64)


def _polarisations(midi: int, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Two polarisations detuned for a beat of ``style.beat_hz`` at the fundamental, the
    second quieter and decaying faster (or slower) than the first."""
    f0 = pluck.midi_to_hz(midi)
    beat = _uniform(rng, style.beat_hz)
    cents = 1200.0 * np.log2((f0 + beat) / f0)
    t60 = _uniform(rng, style.t60_low_s)
    first = _string(midi + cents / 200.0, style, t60, rng)
    second = _string(midi - cents / 200.0, style, t60 * float(rng.uniform(0.6, 1.3)), rng)
    level = 10.0 ** (_uniform(rng, style.second_db) / 20.0)
    return first + level * second * (np.max(np.abs(first)) / max(np.max(np.abs(second)), 1e-9))


def _sympathetic(midi: int, style: Style, peak: float, rng: np.random.Generator) -> np.ndarray:
    """Two or three other open strings, excited through the bridge: each rises slowly
    (1 − e^(−t/τ), τ 0.2–0.8 s) to its level under the note's peak, and rings on."""
    out = np.zeros(round(NOTE_S * SR))
    if style.sympathetic_db is None:
        return out
    others = [m for m in OPEN_STRINGS if m != midi]
    t = np.arange(len(out)) / SR
    for other in rng.choice(others, size=int(rng.integers(2, 4)), replace=False):
        ring = _string(float(other), dataclasses.replace(style, finger=True), 5.0, rng)
        ring *= 1.0 - np.exp(-t / float(rng.uniform(0.2, 0.8)))
        level = peak * 10.0 ** (_uniform(rng, style.sympathetic_db) / 20.0)
        out += ring * (level / max(float(np.max(np.abs(ring))), 1e-12))
    return out


def _swishes(n: int, style: Style, peak: float, rng: np.random.Generator) -> np.ndarray:
    """Fret and string noise: 1–3 swishes (a finger sliding on a wound string), 60–200 ms of
    noise band-passed around 1–4 kHz, rising and falling, from 0.3 s after the pluck on."""
    out = np.zeros(n)
    if style.swish_db is None:
        return out
    for _ in range(int(rng.integers(1, 4))):
        length = round(float(rng.uniform(0.06, 0.2)) * SR)
        at = int(rng.integers(round(0.3 * SR), n - length))
        centre = float(rng.uniform(1000.0, 4000.0))
        sos = butter(2, (centre / 1.5, centre * 1.5), "bandpass", fs=SR, output="sos")
        noise = sosfilt(sos, rng.standard_normal(length)) * np.hanning(length)
        level = peak * 10.0 ** (_uniform(rng, style.swish_db) / 20.0)
        out[at : at + length] += noise * (level / max(float(np.max(np.abs(noise))), 1e-12))
    return out


def _rest_stroke(midi: int, n: int, peak: float, rng: np.random.Generator) -> np.ndarray:
    """The plucking finger coming to rest on the next lower string (apoyando) 40–120 ms
    after the pluck: that string knocked and damped at once, 15–25 dB under the note."""
    out = np.zeros(n)
    lower = [m for m in OPEN_STRINGS if m < midi] or [OPEN_STRINGS[0]]
    other = float(lower[-1])
    at = round(float(rng.uniform(0.04, 0.12)) * SR)
    voice = pluck.Voice(t60_low_s=0.08, t60_high_s=0.04, brightness=0.3, body="classical")
    event = pluck.StringEvent(0.0, other, "hammer", 0.6)
    knock = pluck.render_line([event], 0.3, voice, sr=SR, seed=int(rng.integers(1 << 30)))
    knock = knock[: n - at].astype(np.float64)
    level = peak * 10.0 ** (float(rng.uniform(-25.0, -15.0)) / 20.0)
    out[at : at + len(knock)] = knock * (level / max(float(np.max(np.abs(knock))), 1e-12))
    return out


def _boom(x: np.ndarray, db: float, rng: np.random.Generator) -> np.ndarray:
    """A mic close to the sound hole: the air mode (~100 Hz) as a high-Q peak ``db`` up."""
    hz, q = float(rng.uniform(90.0, 115.0)), float(rng.uniform(6.0, 12.0))
    a = 10.0 ** (db / 40.0)
    w = 2.0 * np.pi * hz / SR
    alpha = np.sin(w) / (2.0 * q)
    b = [1.0 + alpha * a, -2.0 * np.cos(w), 1.0 - alpha * a]
    den = [1.0 + alpha / a, -2.0 * np.cos(w), 1.0 - alpha / a]
    return lfilter(b, den, x)


def _weaken_fundamental(x: np.ndarray, midi: int) -> np.ndarray:
    """A steep high-pass (8th order) between the fundamental and the 2nd harmonic: the
    fundamental ends ~30 dB under where it was, the 2nd harmonic ~3 dB."""
    f0 = pluck.midi_to_hz(midi)
    sos = butter(8, 1.55 * f0, "highpass", fs=SR, output="sos")
    return sosfilt(sos, x)


def _finger_fade(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A finger's soft, slow attack: the note fades in over 4–15 ms (a raised cosine)."""
    n = round(float(rng.uniform(0.004, 0.015)) * SR)
    y = x.copy()
    y[:n] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    return y


def render(way: str, midi: int, seed: int, rooms: Sequence[np.ndarray] | None = None) -> Take:
    """The open string ``midi`` played ``way`` (see ``WAYS``), after one of ``rooms``
    (by default the tuning half's: see ``room_leads``)."""
    style = WAYS[way]
    rng = np.random.default_rng([seed, midi, SEED_ORDER.index(way)])
    note = _polarisations(midi, style, rng)
    if style.boom_db:
        note = _boom(note, style.boom_db, rng)
    if style.weak_fundamental:
        note = _weaken_fundamental(note, midi)
    peak = float(np.max(np.abs(note)))
    note = note + _sympathetic(midi, style, peak, rng) + _swishes(len(note), style, peak, rng)
    if style.rest_stroke:
        note = note + _rest_stroke(midi, len(note), peak, rng)
    if style.finger:
        note = _finger_fade(note, rng)
    note *= 10.0 ** (_uniform(rng, style.peak_dbfs) / 20.0) / max(peak, 1e-12)
    leads = room_leads() if rooms is None else rooms
    lead = leads[int(rng.integers(len(leads)))]
    room = np.resize(lead, len(lead) + len(note)).astype(np.float64)
    room *= 10.0 ** (float(rng.uniform(-6.0, 6.0)) / 20.0)  # recorded at another level
    room[len(lead) :] += note
    audio = np.clip(room, -1.0, 1.0).astype(np.float32)
    return Take(f"{way}/{midi}/{seed}", audio, midi, len(lead) / SR)


def takes(ways: Sequence[str], seeds: Sequence[int]) -> Iterator[Take]:
    """Every open string played each of ``ways`` with each of ``seeds``."""
    for way in ways:
        for seed in seeds:
            for midi in OPEN_STRINGS:
                yield render(way, midi, seed)


@dataclasses.dataclass
class Tally:
    """One way's counts over its clips."""

    clips: int = 0
    notes: int = 0
    matched: int = 0
    beyond: int = 0  # clips with more than one note
    named: int = 0
    first_right: int = 0

    def add(self, take: Take, found: Sequence[evaluate.Detected]) -> bool:
        """Count one clip; True when it is clean (one note, at its label, named right)."""
        pairs = evaluate.match(take.truth, found)
        self.clips += 1
        self.notes += len(found)
        self.matched += len(pairs)
        self.beyond += len(found) > 1
        named = sum(found[j].midi == take.midi for j in pairs.values())
        first = sum(found[j].first_midi == take.midi for j in pairs.values())
        self.named += named
        self.first_right += first
        return len(found) == 1 and len(pairs) == 1 and named == first == 1

    @property
    def extra_per_pluck(self) -> float:
        return (self.notes - self.matched) / max(self.clips, 1)

    def line(self, name: str) -> str:
        return (
            f"{name:17s} clips {self.clips:3d}  notes {self.notes:3d}  at the label "
            f"{self.matched:3d}  more than one {self.beyond:2d}  extra/pluck "
            f"{self.extra_per_pluck:.2f}  named {self.named:3d}  first right {self.first_right:3d}"
        )


Engine = Callable[[np.ndarray, int], list[evaluate.Detected]]


def run(
    ways: Sequence[str], seeds: Sequence[int], *, engine: Engine = evaluate.ours,
    show: Callable[[str], None] | None = print, all_clips: bool = False,
) -> dict[str, Tally]:  # fmt: skip
    """Track every take; print the odd ones (or all) through ``show``; a tally per way."""
    tallies = {way: Tally() for way in ways}
    for take in takes(ways, seeds):
        found = engine(take.audio, SR)
        clean = tallies[take.name.split("/")[0]].add(take, found)
        if show is not None and (all_clips or not clean):
            notes = ", ".join(f"{d.onset_s:.3f} s {d.midi} (first {d.first_midi})" for d in found)
            show(f"{take.name:24s} label {take.onset_s:.3f} s {take.midi}; {notes or 'nothing'}")
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nylon", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--ways", default=",".join(WAYS), help=f"of: {', '.join(WAYS)}")
    parser.add_argument("--seeds", default="0:2", help="first:count (default 0:2)")
    parser.add_argument("--all-clips", action="store_true")
    args = parser.parse_args(argv)
    ways = [w for w in args.ways.split(",") if w]
    if unknown := [w for w in ways if w not in WAYS]:
        parser.error(f"unknown way {', '.join(unknown)}")
    if not (evalset.REAL_NOTES / "labels.csv").is_file():
        print(f"the real notes (their rooms) are not at {evalset.REAL_NOTES}", file=sys.stderr)
        return 1
    first, count = (int(v) for v in args.seeds.split(":"))
    tallies = run(ways, range(first, first + count), all_clips=args.all_clips)
    print()
    for way, tally in tallies.items():
        print(tally.line(way))
    total = Tally(
        *(sum(getattr(t, f.name) for t in tallies.values()) for f in dataclasses.fields(Tally))
    )
    print(total.line("all"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
