"""The real notes' tuning half played back other ways: where phantom notes hide.

    python -m bench.realaug [--variants as-is,-15dB,...] [--limit N] [--all-clips]

The held-out half of the real notes may be read only as a whole (see
``bench.evaluate.REAL_HALVES``), so the mechanisms behind its phantom notes cannot be
studied there. This plays each clip of the *tuning* half (each after its own room noise,
as ``bench.evaluate --split real`` does) quieter, hotter and clipped, under hiss and hum,
with a tremolo, darker, thinner (a phone's high-pass) and in a louder room, and lists every
clip that gives no note at its label or more than one note. In session 8 it found a quiet
D3 re-triggered by aubio specdiff's noise at −57 dBFS and a clipped E2 split by a pitch run
at its own octave (see ``docs/tracker.md``). The held-out half is never played here.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from bench import evalset, evaluate

Variant = Callable[[np.ndarray], np.ndarray]


def _gain(db: float) -> Variant:
    return lambda x: np.clip(x * np.float32(10.0 ** (db / 20.0)), -1.0, 1.0)


def _under_note(db: float) -> Variant:
    """White noise ``db`` under the clip's level in the second after its label."""

    def add(x: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(3)
        lead = round(evalset.REAL_LEAD_S * evalset.SR)
        rms = float(np.sqrt(np.mean(np.square(x[lead : lead + evalset.SR], dtype=np.float64))))
        return x + rng.normal(0.0, rms * 10.0 ** (-db / 20.0), len(x)).astype(np.float32)

    return add


def _hum(x: np.ndarray) -> np.ndarray:
    t = np.arange(len(x)) / evalset.SR
    return x + (0.003 * (np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t))).astype(
        np.float32
    )


def _tremolo(x: np.ndarray) -> np.ndarray:
    t = np.arange(len(x)) / evalset.SR
    return x * (1.0 + 0.15 * np.sin(2 * np.pi * 4.5 * t)).astype(np.float32)


def _filtered(kind: str, hz: float) -> Variant:
    def run(x: np.ndarray) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        return sosfilt(butter(2, hz, kind, fs=evalset.SR, output="sos"), x)

    return run


def _louder_room(x: np.ndarray) -> np.ndarray:
    """The room before the pluck (the resynthesised lead-in) added again, 10 dB louder."""
    room = x[: round((evalset.REAL_LEAD_S - 0.1) * evalset.SR)]
    return x + np.resize(room, len(x)) * np.float32(10.0 ** (10.0 / 20.0) - 1.0)


VARIANTS: dict[str, Variant] = {
    "as-is": lambda x: x,
    "-15dB": _gain(-15.0),
    "-25dB": _gain(-25.0),
    "+6dB": _gain(6.0),
    "+12dB": _gain(12.0),
    "white-30dB": _under_note(30.0),
    "hum": _hum,
    "tremolo": _tremolo,
    "lowpass-2k": _filtered("low", 2000.0),
    "highpass-150": _filtered("high", 150.0),
    "room+10dB": _louder_room,
}


def variants(audio: np.ndarray, names: Sequence[str]) -> Iterator[tuple[str, np.ndarray]]:
    """``audio`` played each of the ``names`` ways (float32, same length)."""
    for name in names:
        yield name, np.asarray(VARIANTS[name](audio), dtype=np.float32)


def tuning_half() -> Iterator[evalset.EvalClip]:
    """The real notes of the tuning half (see ``bench.evaluate.real_half``)."""
    for clip in evalset.real_clips():
        if evaluate.real_half(clip.condition) == 0:
            yield clip


@dataclasses.dataclass
class Tally:
    clips: int = 0
    notes: int = 0
    matched: int = 0
    beyond_one: int = 0
    first_right: int = 0

    def line(self, name: str) -> str:
        return (
            f"{name:13s} clips {self.clips:3d}  notes {self.notes:3d}  at the label "
            f"{self.matched:3d}  more than one {self.beyond_one:2d}  first name right "
            f"{self.first_right:3d}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.realaug", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, of: {', '.join(VARIANTS)}",
    )
    parser.add_argument("--limit", type=int, default=0, help="the first N clips only")
    parser.add_argument(
        "--all-clips", action="store_true", help="list every clip, not only the odd ones"
    )
    args = parser.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if not (evalset.REAL_NOTES / "labels.csv").is_file():
        print(f"the real notes are not at {evalset.REAL_NOTES}", file=sys.stderr)
        return 1
    tallies = {name: Tally() for name in names}
    for count, clip in enumerate(tuning_half()):
        if args.limit and count >= args.limit:
            break
        truth = clip.notes[0]
        for name, audio in variants(clip.audio, names):
            found = evaluate.ours(audio, evalset.SR)
            pairs = evaluate.match(clip.notes, found)
            tally = tallies[name]
            tally.clips += 1
            tally.notes += len(found)
            tally.matched += len(pairs)
            tally.beyond_one += len(found) > 1
            if pairs:
                tally.first_right += found[pairs[0]].first_midi == truth.midi
            if args.all_clips or len(found) != 1 or not pairs:
                notes = ", ".join(
                    f"{d.onset_s:.3f} s MIDI {d.midi} (first {d.first_midi})" for d in found
                )
                print(
                    f"{name:13s} {clip.name}: label {truth.onset_s:.3f} s MIDI {truth.midi}; "
                    f"found {notes or 'nothing'}"
                )
    print()
    for name, tally in tallies.items():
        print(tally.line(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
