"""``make bench``: our live engine against librosa's pyin, side by side, on the same audio.

    python -m bench.tuning [--quick] [--no-peer] [--only rendered|real] [--errors]

Audio: the FluidSynth-rendered guitar set (``bench.guitarset``, cached in
``.cache/guitarset``) and the 109 real guitar notes in ``../shared/data/real-guitar-notes``
(``FRETCOACH_REAL_NOTES`` overrides the folder; skipped with a message when absent).

Ours runs live and causal: hop by hop through :class:`dsp.NoteTracker`, exactly as the
device does. The peer runs offline on the whole file: ``librosa.pyin`` (60–1400 Hz,
48 kHz, 4096-sample frames so the low E has several periods, hop 1024) for pitch and
``librosa.onset.onset_detect`` (backtracked to the preceding energy minimum, which helps
it at ±50 ms) for onsets; a peer note is the median pyin f0 of the voiced frames from one
onset to the next (at most 1 s), and onsets with no voiced frame are not notes.

Metrics, for both:

* onset F-measure at ±50 ms (``mir_eval.util.match_events``, the matcher behind
  ``mir_eval.onset.f_measure``), counted over all notes of a set;
* note-name accuracy over matched notes (the nearest semitone to the truth's pitch);
* median and p90 |cents error| over matched notes named right (rendered set only: the
  real notes' tuning is not known to the cent);
* in-tune call accuracy: is ``|cents| <= 20`` called as the truth has it (and the note
  named right);
* real-time factor: audio seconds per CPU second (``time.process_time``, one thread).
  Ours is the whole ``fretcoach analyze`` path (``device.analyze.analyze_file``: WAV
  reading, tracker, scoring); the peer's excludes reading the file.

Ours also: time of each ``NoteTracker.process`` call (p50/p99; wall clock with
``perf_counter_ns``, and this thread's CPU time, which other busy processes on the
machine do not inflate) and report latency, the first report of a note less its true
onset (stream time, p50/p90); and how often that first report already names the semitone
of the note's final report (what the live screen shows ~50 ms in; the device's
note-to-screen p95 needs it right ~95 % of the time); and the time from the onset to the
first report carrying the final name (the live screen's corrections included: the
device's note-to-screen latency less its ~25 ms of display, over every note here rather
than the one demo `bench_device` replays). Note accuracy is also broken down
by register and by the rendered clips' tags (quiet, noise/hum, overdrive).

Figures go to ``out/bench.json``, the table to stdout and, as markdown, to ``out/bench.md``.
Ours runs first, alone, so its timings are not disturbed; the peer then runs on two worker
processes (each single-threaded), which keeps the whole bench within ~10 minutes.
"""

from __future__ import annotations

import os

# One thread everywhere, before numpy (and numba, via librosa) start their pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402 — the thread settings above must come first
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench.report import fmt, percentile  # noqa: E402
from dsp import HOP_SIZE, NoteEvent, NoteTracker, TrackerConfig, hops_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "guitarset"
OUT = ROOT / "out"
REAL_NOTES = Path(
    os.environ.get("FRETCOACH_REAL_NOTES", ROOT.parent / "shared" / "data" / "real-guitar-notes")
)

WINDOW_S = 0.05
IN_TUNE_CENTS = 20.0
LOW_MAX_MIDI = 55  # G3: the low register is E2–G3
HIGH_MIN_MIDI = 67  # G4 and up: high frets on the top strings
PEER_FMIN, PEER_FMAX = 60.0, 1400.0
PEER_FRAME = 4096
PEER_HOP = 1024
PEER_MAX_NOTE_S = 1.0

TARGETS = {"onset_f": "≥ 0.96", "note_accuracy": "≥ 97 %", "rtf": "≥ 100×"}


@dataclass(frozen=True, slots=True)
class Truth:
    onset_s: float
    midi: int  # nearest semitone to the pitch played
    cents: float | None  # deviation from it; None when not known (real recordings)


@dataclass(frozen=True, slots=True)
class Item:
    """One audio file with its answers."""

    name: str
    path: Path
    source: str  # "rendered" or "real"
    scale: str
    bpm: float | None
    truth: tuple[Truth, ...]
    tags: frozenset[str]


@dataclass(frozen=True, slots=True)
class Guess:
    onset_s: float
    midi: int
    cents: float
    reported_s: float | None = None
    first_midi: int | None = None  # the first (early) report's name, ours only
    # Stream time at which a report first carried the final name (the live screen's
    # correction included), ours only: what note-to-screen latency is, less the display.
    named_at_s: float | None = None


@dataclass(slots=True)
class Run:
    """One system's output on one item."""

    notes: list[Guess]
    audio_s: float
    cpu_s: float
    hop_ns: list[int] = field(default_factory=list)  # wall clock per process() call
    hop_cpu_ns: list[int] = field(default_factory=list)  # this thread's CPU time per call


# -- the audio --------------------------------------------------------------------------


def rendered_items(*, quick: bool) -> list[Item]:
    try:
        from bench.guitarset import build_set
    except ImportError as err:
        print(f"rendered set: skipped, bench.guitarset is not available ({err})")
        return []
    try:
        clips = build_set(CACHE, quick=quick)
    except Exception as err:  # FluidSynth missing, a render failing: bench the rest
        print(f"rendered set: skipped, it could not be built: {err}")
        return []
    items = []
    for clip in clips:
        truth = tuple(
            Truth(n.onset_s, *_nearest(n.midi, n.cents)) for n in sorted(clip.notes, key=_onset)
        )
        items.append(
            Item(
                name=clip.name,
                path=Path(clip.path),
                source="rendered",
                scale=clip.scale,
                bpm=clip.bpm,
                truth=truth,
                tags=frozenset(str(t).lower() for t in clip.tags),
            )
        )
    return items


def real_items() -> list[Item]:
    labels = REAL_NOTES / "labels.csv"
    if not labels.is_file():
        print(f"real notes: skipped, {labels} not found (set FRETCOACH_REAL_NOTES)")
        return []
    items = []
    with labels.open(newline="") as f:
        for row in csv.DictReader(f):
            items.append(
                Item(
                    name=row["file"],
                    path=REAL_NOTES / row["file"],
                    source="real",
                    scale="C chromatic",
                    bpm=None,
                    truth=(Truth(float(row["onset_s"]), int(row["midi"]), None),),
                    tags=frozenset({"real", row["instrument"].lower()}),
                )
            )
    return items


def _onset(note: object) -> float:
    return float(note.onset_s)  # type: ignore[attr-defined]


def _nearest(midi: float, cents: float) -> tuple[int, float]:
    exact = midi + cents / 100.0
    nearest = round(exact)
    return nearest, (exact - nearest) * 100.0


def _read(path: Path) -> tuple[np.ndarray, int]:
    from device.wavread import read_wav

    return read_wav(path)


# -- the two systems --------------------------------------------------------------------


def run_ours(item: Item) -> Run:
    """Hop by hop through the tracker (notes, per-hop time, latency), then the whole
    ``analyze`` path once more for the real-time factor."""
    samples, rate = _read(item.path)
    tracker = NoteTracker(TrackerConfig(sample_rate=rate))
    first_report: dict[int, NoteEvent] = {}
    named_at: dict[tuple[int, int], float] = {}  # (note, midi) → stream time first reported
    finals: list[NoteEvent] = []
    hop_ns: list[int] = []
    hop_cpu_ns: list[int] = []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for hops, (hop, _valid) in enumerate(hops_of(samples), start=1):
        start, cpu_start = clock(), cpu_clock()
        events = tracker.process(hop)
        hop_ns.append(clock() - start)
        hop_cpu_ns.append(cpu_clock() - cpu_start)
        for event in events:
            first_report.setdefault(event.index, event)
            named_at.setdefault((event.index, event.midi), hops * HOP_SIZE / rate)
            if event.is_final:
                finals.append(event)
    finals.extend(e for e in tracker.flush() if e.is_final)
    notes = []
    for e in finals:
        first = first_report.get(e.index, e)
        named = named_at.get((e.index, e.midi), e.end_s)
        # A note whose first word was its final report (cut off by the end) had no early
        # report: it counts for latency, not for "early report names the final semitone".
        early_midi = None if first.is_final else first.midi
        notes.append(Guess(e.onset_s, e.midi, e.cents, first.reported_s, early_midi, named))
    cpu_s = _whole_path_cpu_s(item)
    return Run(
        notes=notes, audio_s=len(samples) / rate, cpu_s=cpu_s, hop_ns=hop_ns, hop_cpu_ns=hop_cpu_ns
    )


def _whole_path_cpu_s(item: Item) -> float:
    try:
        from device.analyze import analyze_file
    except ImportError:  # before the device package has it: the same DSP, read by scipy
        from scipy.io import wavfile

        from dsp import ScoringConfig, analyze_samples, parse_scale

        start = time.process_time()
        rate, data = wavfile.read(item.path)
        samples = data.astype(np.float32) / (32768.0 if data.dtype == np.int16 else 1.0)
        analyze_samples(
            samples,
            TrackerConfig(sample_rate=rate),
            ScoringConfig(parse_scale(item.scale), bpm=item.bpm),
        )
        return time.process_time() - start
    start = time.process_time()
    analyze_file(item.path, scale=item.scale, bpm=item.bpm)
    return time.process_time() - start


def run_peer(item: Item) -> Run:
    import librosa

    samples, rate = _read(item.path)
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0, voiced, _ = librosa.pyin(
            samples,
            fmin=PEER_FMIN,
            fmax=PEER_FMAX,
            sr=rate,
            frame_length=PEER_FRAME,
            hop_length=PEER_HOP,
        )
        onsets = librosa.onset.onset_detect(
            y=samples, sr=rate, hop_length=512, backtrack=True, units="time"
        )
    times = librosa.times_like(f0, sr=rate, hop_length=PEER_HOP)
    notes = []
    ends = [*onsets[1:], np.inf]
    for onset, end in zip(onsets, ends, strict=True):
        end = min(end, onset + PEER_MAX_NOTE_S)
        pick = voiced & (times >= onset) & (times < end) & np.isfinite(f0)
        if not pick.any():
            continue
        exact = 69.0 + 12.0 * np.log2(float(np.median(f0[pick])) / 440.0)
        midi = round(exact)
        notes.append(Guess(float(onset), midi, (exact - midi) * 100.0))
    cpu_s = time.process_time() - start
    return Run(notes=notes, audio_s=len(samples) / rate, cpu_s=cpu_s)


# -- scoring ----------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """Counts over any subset of items or notes."""

    refs: int = 0
    guesses: int = 0
    matched: int = 0
    named: int = 0
    cents_errors: list[float] = field(default_factory=list)
    calls: int = 0
    calls_right: int = 0
    latencies: list[float] = field(default_factory=list)
    early: int = 0  # matched notes with an early report ...
    early_named: int = 0  # ... that named the final report's semitone
    name_latencies: list[float] = field(default_factory=list)  # onset → final name reported

    def figures(self) -> dict[str, float | int | None]:
        precision = self.matched / self.guesses if self.guesses else None
        recall = self.matched / self.refs if self.refs else None
        onset_f = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else None
        )
        return {
            "notes": self.refs,
            "guesses": self.guesses,
            "matched": self.matched,
            "onset_precision": _round(precision, 4),
            "onset_recall": _round(recall, 4),
            "onset_f": _round(onset_f, 4),
            "note_accuracy": _round(self.named / self.matched if self.matched else None, 4),
            "cents_median": percentile(self.cents_errors, 50, 2),
            "cents_p90": percentile(self.cents_errors, 90, 2),
            "in_tune_call_accuracy": _round(
                self.calls_right / self.calls if self.calls else None, 4
            ),
            "latency_p50_ms": percentile([1000 * x for x in self.latencies], 50, 1),
            "latency_p90_ms": percentile([1000 * x for x in self.latencies], 90, 1),
            "early_names_final": _round(self.early_named / self.early if self.early else None, 4),
            "name_latency_p50_ms": percentile([1000 * x for x in self.name_latencies], 50, 1),
            "name_latency_p95_ms": percentile([1000 * x for x in self.name_latencies], 95, 1),
        }


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


NoteFilter = Callable[[Truth], bool]


def tally(
    pairs: Iterable[tuple[Item, Run]], *, note_filter: NoteFilter | None = None
) -> tuple[Tally, list[str]]:
    """Match guesses to the truth (±50 ms, one to one) and count; also list the misses."""
    import mir_eval

    t = Tally()
    errors: list[str] = []
    for item, run in pairs:
        refs = np.array([n.onset_s for n in item.truth])
        ests = np.array([g.onset_s for g in run.notes])
        matches = (
            mir_eval.util.match_events(refs, ests, WINDOW_S) if len(refs) and len(ests) else []
        )
        if note_filter is None:
            t.refs += len(refs)
            t.guesses += len(ests)
        matched_refs = set()
        for ri, ei in matches:
            truth, guess = item.truth[ri], run.notes[ei]
            if note_filter is not None and not note_filter(truth):
                continue
            matched_refs.add(ri)
            t.matched += 1
            named = guess.midi == truth.midi
            t.named += named
            if not named:
                errors.append(
                    f"{item.name}: {truth.onset_s:.3f}s truth {_name(truth.midi)} "
                    f"read {_name(guess.midi)}{guess.cents:+.0f}"
                )
            if guess.reported_s is not None:
                t.latencies.append(guess.reported_s - truth.onset_s)
            if guess.first_midi is not None:
                t.early += 1
                t.early_named += guess.first_midi == guess.midi
            if guess.named_at_s is not None:
                t.name_latencies.append(guess.named_at_s - truth.onset_s)
            if truth.cents is not None:
                if named:
                    t.cents_errors.append(abs(guess.cents - truth.cents))
                t.calls += 1
                truth_in = abs(truth.cents) <= IN_TUNE_CENTS
                guess_in = abs(guess.cents) <= IN_TUNE_CENTS
                t.calls_right += named and truth_in == guess_in
        if note_filter is None:
            for ri, truth in enumerate(item.truth):
                if ri not in matched_refs:
                    errors.append(f"{item.name}: {truth.onset_s:.3f}s {_name(truth.midi)} missed")
            matched_ests = {ei for _, ei in matches}
            for ei, guess in enumerate(run.notes):
                if ei not in matched_ests:
                    errors.append(
                        f"{item.name}: {guess.onset_s:.3f}s extra {_name(guess.midi)}"
                        f"{guess.cents:+.0f}"
                    )
    return t, errors


def _name(midi: int) -> str:
    from dsp import note_name

    return note_name(midi)


def _has(item: Item, *words: str) -> bool:
    return any(word in tag for tag in item.tags for word in words)


GROUPS: dict[str, tuple[Callable[[Item], bool], NoteFilter | None]] = {
    "low register (≤ G3)": (lambda i: i.source == "rendered", lambda n: n.midi <= LOW_MAX_MIDI),
    "mid (G#3–F#4)": (
        lambda i: i.source == "rendered",
        lambda n: LOW_MAX_MIDI < n.midi < HIGH_MIN_MIDI,
    ),
    "high (≥ G4)": (lambda i: i.source == "rendered", lambda n: n.midi >= HIGH_MIN_MIDI),
    "quiet (−30 dBFS)": (
        lambda i: i.source == "rendered" and _has(i, "quiet", "-30"),
        None,
    ),
    "noise / hum": (lambda i: i.source == "rendered" and _has(i, "noise", "hum"), None),
    "overdrive": (lambda i: i.source == "rendered" and _has(i, "overdrive", "distortion"), None),
}


def summarize(items: list[Item], runs: dict[str, list[Run]]) -> dict[str, object]:
    report: dict[str, object] = {"sets": {}, "groups": {}, "systems": list(runs)}
    for source in ("rendered", "real"):
        chosen = [k for k, item in enumerate(items) if item.source == source]
        if not chosen:
            continue
        entry: dict[str, object] = {
            "files": len(chosen),
            "audio_s": round(sum(runs["ours"][k].audio_s for k in chosen), 1),
        }
        for system, system_runs in runs.items():
            t, errors = tally((items[k], system_runs[k]) for k in chosen)
            figures = t.figures()
            cpu = sum(system_runs[k].cpu_s for k in chosen)
            audio = sum(system_runs[k].audio_s for k in chosen)
            figures["rtf"] = round(audio / cpu, 1) if cpu > 0 else None
            for key, attr in (("hop", "hop_ns"), ("hop_cpu", "hop_cpu_ns")):
                us = [ns / 1000 for k in chosen for ns in getattr(system_runs[k], attr)]
                figures[f"{key}_p50_us"] = percentile(us, 50, 1)
                figures[f"{key}_p99_us"] = percentile(us, 99, 1)
                figures[f"{key}_max_us"] = round(max(us), 1) if us else None
            figures["errors"] = errors
            entry[system] = figures
        report["sets"][source] = entry
    for group, (item_filter, note_filter) in GROUPS.items():
        chosen = [k for k, item in enumerate(items) if item_filter(item)]
        if not chosen:
            continue
        entry = {}
        for system, system_runs in runs.items():
            t, _ = tally(((items[k], system_runs[k]) for k in chosen), note_filter=note_filter)
            figures = t.figures()
            if note_filter is not None:  # onset figures need every note of a file
                for key in ("guesses", "onset_precision", "onset_recall", "onset_f"):
                    figures.pop(key)
            entry[system] = figures
        report["groups"][group] = entry
    return report


# -- the table --------------------------------------------------------------------------


def table_rows(report: dict[str, object]) -> tuple[list[str], list[list[str]]]:
    """One row per metric, one column per (set, system), then the target for ours."""
    sets: dict[str, dict] = report["sets"]  # type: ignore[assignment]
    groups: dict[str, dict] = report["groups"]  # type: ignore[assignment]
    systems: list[str] = report["systems"]  # type: ignore[assignment]
    columns = [(source, system) for source in sets for system in systems]
    label = {"rendered": "rendered", "real": "real notes"}
    header = ["metric", *(f"{s} ({label[src]})" for src, s in columns), "target (ours, rendered)"]

    def one(key: str, kind: str) -> Callable[[dict], str]:
        return lambda fig: fmt(fig.get(key), kind)

    def two(a: str, b: str) -> Callable[[dict], str]:
        return lambda fig: "—" if fig.get(a) is None else f"{fig[a]} / {fig[b]}"

    def row(name: str, get: Callable[[dict], str], target: str = "") -> list[str]:
        return [name, *(get(sets[src].get(s, {})) for src, s in columns), target]

    rows = [
        [
            "notes (files)",
            *(f"{sets[src][s]['notes']} ({sets[src]['files']})" for src, s in columns),
            "",
        ],
        row("onset F (±50 ms)", one("onset_f", "f"), TARGETS["onset_f"]),
        row("note-name accuracy", one("note_accuracy", "pct"), TARGETS["note_accuracy"]),
        row("cents error (abs) median / p90", two("cents_median", "cents_p90"), "≤ 1.5 / ≤ 6"),
        row("in-tune call (±20 c)", one("in_tune_call_accuracy", "pct")),
        row("real-time factor", one("rtf", "x"), TARGETS["rtf"]),
        row("per-hop µs p50 / p99 (wall)", two("hop_p50_us", "hop_p99_us"), "p99 ≤ 500"),
        row("per-hop µs p50 / p99 (CPU)", two("hop_cpu_p50_us", "hop_cpu_p99_us")),
        row("report latency ms p50 / p90", two("latency_p50_ms", "latency_p90_ms"), "≤ 60"),
        row("early report names the final semitone", one("early_names_final", "pct"), "≥ 95 %"),
        row(
            "onset → final name reported ms p50 / p95",
            two("name_latency_p50_ms", "name_latency_p95_ms"),
            "p95 ≤ 55 (+~25 to the OLED)",
        ),
    ]
    for group, entry in groups.items():
        cells = ["—"] * len(columns)
        for k, (src, s) in enumerate(columns):
            if src == "rendered" and s in entry and entry[s]["matched"]:
                cells[k] = f"{fmt(entry[s]['note_accuracy'], 'pct')} ({entry[s]['matched']})"
        target = "as the rest" if group.startswith("low") else ""
        rows.append([f"  accuracy: {group}", *cells, target])
    return header, rows


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c or " " for c in r) + " |" for r in rows]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tuning", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="the quick rendered set")
    parser.add_argument("--no-peer", action="store_true", help="skip librosa pyin (fast)")
    parser.add_argument("--only", choices=("rendered", "real"), help="one set only")
    parser.add_argument("--errors", action="store_true", help="list every miss and misread")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the peer")
    parser.add_argument("--out", type=Path, default=OUT, help="where bench.json/.md go")
    args = parser.parse_args(argv)

    items: list[Item] = []
    if args.only in (None, "rendered"):
        items += rendered_items(quick=args.quick)
    if args.only in (None, "real"):
        items += real_items()
    if not items:
        print("nothing to benchmark", file=sys.stderr)
        return 1
    audio_min = 0.0
    started = time.monotonic()
    runs: dict[str, list[Run]] = {"ours": [run_ours(item) for item in items]}
    audio_min = sum(r.audio_s for r in runs["ours"]) / 60
    took = time.monotonic() - started
    print(f"ours: {len(items)} files, {audio_min:.1f} min of audio, {took:.0f} s")
    if not args.no_peer:
        started = time.monotonic()
        with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            runs["pyin"] = list(pool.map(run_peer, items, chunksize=1))
        print(f"pyin: {time.monotonic() - started:.0f} s")

    report = summarize(items, runs)
    report["settings"] = {
        "window_s": WINDOW_S,
        "in_tune_cents": IN_TUNE_CENTS,
        "hop_size": HOP_SIZE,
        "peer": {
            "fmin": PEER_FMIN,
            "fmax": PEER_FMAX,
            "frame_length": PEER_FRAME,
            "hop_length": PEER_HOP,
            "onset_backtrack": True,
        },
    }
    header, rows = table_rows(report)
    print()
    print(plain_table(header, rows))
    if args.errors:
        for source, entry in report["sets"].items():  # type: ignore[union-attr]
            for error in entry["ours"]["errors"]:
                print(f"  [{source}] {error}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (args.out / "bench.md").write_text(markdown_table(header, rows) + "\n")
    print(f"\nwrote {args.out / 'bench.json'} and {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
