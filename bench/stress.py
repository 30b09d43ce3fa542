"""The dev split through what a stranger's recording chain does to audio.

    python -m bench.stress [--variants as-is,trimmed,...|chain|pedals] [--conditions ...]
                           [--clips N]

The engine is measured on recordings it has never heard, made with chains it has never
met: a take trimmed at its first pluck, an interface with a DC offset, a file at 44.1 kHz,
digital silence before the room, a noise gate, USB drop-outs, clicks. Each variant is
applied to the *dev* clips (never the test split) and the notes are matched as in
``bench.evaluate`` (±50 ms, one to one), against the same clips as they are.

In session 9 this found that a take trimmed at its first pluck kept 263 of 577 notes, that
a DC offset of 0.02 lost 94 of 485, and that 2 ms drop-outs every half second and clicks
every 0.7 s added 147 and 176 phantom notes to 497 (see ``NoteTracker._unhear_room`` and
``dsp.repair``; clicks over a loud note and some drop-outs in ringing strings still pass).

``--variants pedals`` plays the same clips through effect pedals instead (``bench.pedals``:
tremolo, chorus, flanger, phaser, vibrato, compressor, fuzz, octave, wah, slapback, echo,
a gate after high gain). A delay's repeats are not notes, but one that sounds like a
re-pick cannot be told from one causally (see ``bench.pedals``): each line splits the
extra notes (found at no played note) into those at no repeat (phantoms) and those
within ±50 ms of a repeat; ``onset F`` counts both as extra, ``F w/o echoes`` neither.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import soxr

from bench import evalset, evaluate, pedals

#: (audio, truth) -> (audio, sample rate, seconds the truth moves by)
Variant = Callable[[np.ndarray, Sequence[evalset.TruthNote], int], tuple[np.ndarray, int, float]]

_DROP_EVERY_S = 0.5
_CLICK_EVERY_S = 0.7


def _as_is(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    return x, evalset.SR, 0.0


def _trimmed(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    """Cut 2 ms before the first note: no room heard before it."""
    cut = max(round((notes[0].onset_s - 0.002) * evalset.SR), 0)
    return x[cut:], evalset.SR, -cut / evalset.SR


def _offset(dc: float) -> Variant:
    def run(
        x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
    ) -> tuple[np.ndarray, int, float]:
        return np.clip(x + np.float32(dc), -1.0, 1.0), evalset.SR, 0.0

    return run


def _at_44k(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    return soxr.resample(x, evalset.SR, 44_100).astype(np.float32), 44_100, 0.0


def _silence_first(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    """One second of digital zeros before the room (a DAW's pre-roll)."""
    return np.concatenate([np.zeros(evalset.SR, np.float32), x]), evalset.SR, 1.0


def _gated(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    """A noise gate: zero wherever the 10 ms RMS is under -60 dBFS."""
    power = np.convolve(np.square(x, dtype=np.float64), np.ones(480) / 480, "same")
    return np.where(power > 1e-6, x, 0.0).astype(np.float32), evalset.SR, 0.0


def _every(x: np.ndarray, every_s: float, rng: np.random.Generator) -> Iterator[int]:
    """Samples about every ``every_s``, each up to 0.2 s late (drawn as they are taken)."""
    for t in np.arange(every_s, len(x) / evalset.SR, every_s):
        yield round((t + rng.uniform(0.0, 0.2)) * evalset.SR)


def _drop_outs(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    """2 ms of zeros every ~0.5 s (a USB interface's lost packets)."""
    x = x.copy()
    for i in _every(x, _DROP_EVERY_S, np.random.default_rng(k)):
        x[i : i + 96] = 0.0
    return x, evalset.SR, 0.0


def _clicks(
    x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
) -> tuple[np.ndarray, int, float]:
    """A one-sample click of 0.5 every ~0.7 s (a crackling cable)."""
    x = x.copy()
    rng = np.random.default_rng(k)
    for i in _every(x, _CLICK_EVERY_S, rng):
        if i < len(x):
            x[i] = np.clip(x[i] + 0.5 * rng.choice((-1.0, 1.0)), -1.0, 1.0)
    return x, evalset.SR, 0.0


def _pedal(name: str) -> Variant:
    def run(
        x: np.ndarray, notes: Sequence[evalset.TruthNote], k: int
    ) -> tuple[np.ndarray, int, float]:
        return pedals.apply(name, x, k), evalset.SR, 0.0

    return run


VARIANTS: dict[str, Variant] = {
    "as-is": _as_is,
    "trimmed": _trimmed,
    "dc+0.02": _offset(0.02),
    "dc-0.1": _offset(-0.1),
    "44.1kHz": _at_44k,
    "zeros-first": _silence_first,
    "gate-60dB": _gated,
    "drop-outs": _drop_outs,
    "clicks": _clicks,
}
#: The effect pedals, by name (``--variants pedals``; not run by default).
PEDALS: dict[str, Variant] = {name: _pedal(name) for name in pedals.PEDALS}
_GROUPS = {"chain": list(VARIANTS), "pedals": list(PEDALS)}

CONDITIONS = (
    "clean",
    "legato",
    "repeated",
    "let-ring",
    "low-E2-G3",
    "quiet-40dBFS",
    "room-bed",
    "noise-20dB",
    "sustain",
)


@dataclasses.dataclass
class Tally:
    notes: int = 0
    matched: int = 0
    found: int = 0
    named: int = 0
    at_echo: int = 0  # extra notes within ±50 ms of a delay pedal's repeat
    #: the tracker's path that started each extra note at no repeat (``--why``)
    why: dict[str, int] = dataclasses.field(default_factory=dict)

    def add(
        self,
        truth: Sequence[evalset.TruthNote],
        found: Sequence[evaluate.Detected],
        echoes: Sequence[float] = (),
        paths: dict[int, str] | None = None,
    ) -> None:
        pairs = evaluate.match(truth, found)
        self.notes += len(truth)
        self.found += len(found)
        self.matched += len(pairs)
        self.named += sum(found[j].midi == truth[i].midi for i, j in pairs.items())
        taken = set(pairs.values())
        for j, d in enumerate(found):
            if j in taken:
                continue
            if any(abs(d.onset_s - e) <= evaluate.WINDOW_S for e in echoes):
                self.at_echo += 1
            elif paths is not None:
                self.why[paths[j]] = self.why.get(paths[j], 0) + 1

    @staticmethod
    def _f(matched: int, found: int, notes: int) -> float:
        p = matched / found if found else 0.0
        r = matched / notes if notes else 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self, name: str) -> str:
        extra = self.found - self.matched
        f = self._f(self.matched, self.found, self.notes)
        text = (
            f"{name:15s} notes {self.notes:4d}  found {self.found:4d}  at a note {self.matched:4d}"
            f"  named right {self.named:4d}  onset F {f:.3f}"
            f"  extra {extra - self.at_echo:3d}"
        )
        if self.at_echo:
            f = self._f(self.matched, self.found - self.at_echo, self.notes)
            text += f"  at echoes {self.at_echo:3d}  F w/o echoes {f:.3f}"
        if self.why:
            text += (
                "  (extra started by "
                + ", ".join(
                    f"{path} {n}" for path, n in sorted(self.why.items(), key=lambda kv: -kv[1])
                )
                + ")"
            )
        return text


def play(
    clip: evalset.EvalClip, variant: Variant, k: int
) -> tuple[list[evalset.TruthNote], list[evaluate.Detected]]:
    """The clip through ``variant``: its truth (moved as the audio was) and what we found."""
    truth, found, _ = _play(clip, variant, k, why=False)
    return truth, found


def _play(
    clip: evalset.EvalClip, variant: Variant, k: int, *, why: bool
) -> tuple[list[evalset.TruthNote], list[evaluate.Detected], dict[int, str] | None]:
    """``play``, and with ``why`` the tracker's path that started each note found."""
    audio, sr, shift = variant(clip.audio, clip.notes, k)
    truth = [dataclasses.replace(n, onset_s=n.onset_s + shift) for n in clip.notes]
    if why:
        return truth, *pedals.spied(audio, sr, min_midi=clip.lowest_midi)
    return truth, evaluate.ours(audio, sr, min_midi=clip.lowest_midi), None


def _names(spec: str) -> list[str]:
    """The variants ``--variants`` names, its groups (``chain``, ``pedals``) expanded."""
    names: list[str] = []
    for v in (v for v in spec.split(",") if v):
        names.extend(_GROUPS.get(v, [v]))
    return list(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stress", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--variants",
        default="chain",
        help=f"comma-separated, of: {', '.join(VARIANTS | PEDALS)}, or the groups chain "
        "(the default: every one before the pedals) and pedals",
    )
    parser.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="dev conditions, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--clips", type=int, default=3, help="clips per condition (default 3)")
    parser.add_argument(
        "--why",
        action="store_true",
        help="name the tracker's path (level attack, novelty, flux re-pick, legato, ...) "
        "that started each extra note",
    )
    args = parser.parse_args(argv)
    names = _names(args.variants)
    every = VARIANTS | PEDALS
    unknown = [v for v in names if v not in every]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join(every)}")
    conditions = [c for c in args.conditions.split(",") if c]
    dev = evalset.conditions_of("dev")
    strangers = [c for c in conditions if c not in dev]
    if strangers:
        parser.error(f"not a dev condition: {', '.join(strangers)}; choose from {', '.join(dev)}")
    if args.clips < 1:
        parser.error("--clips must be at least 1")
    tallies = {name: Tally() for name in names}
    total = len(conditions) * args.clips
    for done, (condition, k) in enumerate(
        ((c, k) for c in conditions for k in range(args.clips)), start=1
    ):
        clip = evalset.make_clip("dev", condition, k)
        for name in names:
            truth, found, paths = _play(clip, every[name], k, why=args.why)
            echoes = pedals.echoes(name, [n.onset_s for n in truth], k) if name in PEDALS else []
            tallies[name].add(truth, found, echoes, paths)
        print(f"\r  {done}/{total} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for name, tally in tallies.items():
        print(tally.line(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
