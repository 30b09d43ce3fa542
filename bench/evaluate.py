"""Note-tracking accuracy per condition, ours beside plain aubio and librosa, in one run.

    python -m bench.evaluate [--split dev|test|real|all] [--conditions a,b] [--no-peers]
                             [--jobs 2] [--json out/eval.json] [--md out/eval.md]

Tune on ``--split dev``; report ``--split test`` and ``--split real`` (the 109 real notes,
each after its own room noise; also reported by halves of the instruments, so a session
that tunes on real notes can look at one half only and report the other as held out).
Every engine hears the same clips; a truth note and a detected one match when their onsets
are within ±50 ms, one to one, closest first.

Columns, per condition (one table per engine row):

* **F (P/R)** — onset F-measure, precision, recall;
* **err p50/p90** — |onset error| of matched notes, ms;
* **rep** — recall of repeated notes (same pitch re-picked);
* **names** — matched notes named the right semitone;
* **|c| p50/p90** — |cents error| of right names whose truth pitch is steady;
* **extra** — detected notes beyond the matched ones, per truth note (phantom notes);
  on the real notes also *beyond one per pluck*, which does not count a note timed more
  than 50 ms off its label as a phantom too;
* **first** — the first name the live screen shows is the right one (ours only);
* **×RT** — real-time factor: audio seconds per CPU second of that engine.

And the timing score: Spearman between each ``timing`` clip's jitter (relative to its note
spacing) and the score our engine's notes get, with the scores of the even and 5–10 ms
clips.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench import evalset  # noqa: E402
from bench.report import fmt, percentile  # noqa: E402
from dsp.scoring import Scores  # noqa: E402
from dsp.tracker import NoteEvent, NoteTracker  # noqa: E402

WINDOW_S = 0.05
REPEAT_WINDOW_S = 1.0


@dataclass(frozen=True, slots=True)
class Detected:
    onset_s: float
    midi: int
    cents: float
    first_midi: int | None = None  # what the live screen showed first (ours only)
    first_s: float | None = None  # when it was first reported, stream time (ours only)


@dataclass(frozen=True, slots=True)
class ClipResult:
    """One engine on one clip: per truth note, its match; and the totals."""

    clip: str
    condition: str
    engine: str
    truth: int
    detected: int
    errors_ms: tuple[float, ...]  # signed onset error of each matched note
    named: tuple[bool, ...]  # per matched note
    cents_err: tuple[float, ...]  # right names with a steady truth pitch
    first_right: tuple[bool, ...]  # per matched note, when the engine reports early names
    repeated: int
    repeated_found: int
    audio_s: float
    cpu_s: float
    timing_score: float | None = None  # free tempo, as `analyze` scores without --bpm
    jitter_rel: float | None = None
    jitter_ms: float = 0.0
    timing_grid: float | None = None  # against the clip's own metronome grid and phase
    offset_ms: float | None = None  # the mean signed offset to that grid
    latency_ms: tuple[float, ...] = ()  # first report less the truth onset, matched notes
    hop_us: tuple[float, ...] = ()  # per-hop wall time (ours; not written to JSON)
    hop_cpu_us: tuple[float, ...] = ()  # per-hop thread CPU time (ours; not written to JSON)


Engine = Callable[[np.ndarray, int], list[Detected]]


def ours(
    samples: np.ndarray,
    sr: int,
    hop_ns: list[int] | None = None,
    hop_cpu_ns: list[int] | None = None,
    *,
    min_midi: int | None = None,
) -> list[Detected]:
    """The device's tracker, hop by hop, live and causal; first reports kept by index.

    ``hop_ns`` collects the wall time of every ``process`` call when given, ``hop_cpu_ns``
    its thread CPU time: on a loaded machine the wall time's tail is the scheduler's (a
    hop preempted halfway), the CPU time's is the tracker's own. ``min_midi``: the lowest
    note set (a guitar tuned under C2, as ``practice.lowest_note``); None, the default.
    """
    from dsp import NoteTracker, TrackerConfig

    lowest = {} if min_midi is None else {"min_midi": min_midi}
    tracker = NoteTracker(TrackerConfig(sample_rate=sr, **lowest))
    return detected(*track(tracker, samples, hop_ns, hop_cpu_ns))


def track(
    tracker: NoteTracker,
    samples: np.ndarray,
    hop_ns: list[int] | None = None,
    hop_cpu_ns: list[int] | None = None,
) -> tuple[list[NoteEvent], dict[int, NoteEvent]]:
    """``samples`` through ``tracker`` hop by hop: its final notes in the order finished,
    and each note's first report by index (see :func:`ours` for the timings)."""
    from dsp import hops_of

    first: dict[int, NoteEvent] = {}
    finals: list[NoteEvent] = []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for hop, _ in hops_of(samples):
        c0, t0 = cpu_clock(), clock()
        events = tracker.process(hop)
        t1, c1 = clock(), cpu_clock()
        if hop_ns is not None:
            hop_ns.append(t1 - t0)
        if hop_cpu_ns is not None:
            hop_cpu_ns.append(c1 - c0)
        for e in events:
            first.setdefault(e.index, e)
            if e.is_final:
                finals.append(e)
    for e in tracker.flush():
        first.setdefault(e.index, e)
        finals.append(e)
    return finals, first


def detected(finals: Sequence[NoteEvent], first: dict[int, NoteEvent]) -> list[Detected]:
    """The final notes as the scorer reads them, each with its first report's name."""
    return [
        Detected(e.onset_s, e.midi, e.cents, first[e.index].midi, first[e.index].reported_s)
        for e in finals
    ]


def _peer(name: str) -> Engine:
    from bench import peers

    fn = peers.PEERS[name]

    def run(samples: np.ndarray, sr: int) -> list[Detected]:
        return [Detected(n.onset_s, n.midi, n.cents) for n in fn(samples, sr)]

    return run


def engines(with_peers: bool) -> dict[str, Engine]:
    found: dict[str, Engine] = {"ours": ours}
    if with_peers:
        from bench import peers

        found.update({name: _peer(name) for name in peers.PEERS})
    return found


def match(truth: Sequence[evalset.TruthNote], found: Sequence[Detected]) -> dict[int, int]:
    """Truth index -> detected index: one to one within ±50 ms, closest pairs first."""
    pairs = sorted(
        (abs(d.onset_s - t.onset_s), i, j)
        for i, t in enumerate(truth)
        for j, d in enumerate(found)
        if abs(d.onset_s - t.onset_s) <= WINDOW_S
    )
    taken_t: dict[int, int] = {}
    taken_d: set[int] = set()
    for _, i, j in pairs:
        if i not in taken_t and j not in taken_d:
            taken_t[i] = j
            taken_d.add(j)
    return taken_t


def score_clip(clip: evalset.EvalClip, engine: str, run: Engine) -> ClipResult:
    hop_ns: list[int] = []
    hop_cpu_ns: list[int] = []
    start = time.process_time()
    if run is ours:
        found = ours(clip.audio, evalset.SR, hop_ns, hop_cpu_ns, min_midi=clip.lowest_midi)
    else:
        found = run(clip.audio, evalset.SR)
    cpu = time.process_time() - start
    pairs = match(clip.notes, found)
    errors, named, cents, first, latency = [], [], [], [], []
    repeated = found_repeated = 0
    for i, t in enumerate(clip.notes):
        if t.repeated:
            repeated += 1
            found_repeated += i in pairs
        if i not in pairs:
            continue
        d = found[pairs[i]]
        errors.append(round(1000.0 * (d.onset_s - t.onset_s), 2))
        right = d.midi == t.midi
        named.append(right)
        if right and t.cents_reliable:
            cents.append(round(d.cents - t.cents, 2))
        if d.first_midi is not None:
            first.append(d.first_midi == t.midi)
        if d.first_s is not None:
            latency.append(round(1000.0 * (d.first_s - t.onset_s), 1))
    timing = jitter_rel = grid = offset = None
    if clip.condition in ("timing", "off-grid") and engine == "ours":
        timing = _timing_score(found).timing_stability
        on_grid = _timing_score(found, bpm=clip.bpm, origin_s=clip.beat_origin_s)
        grid, offset = on_grid.timing_stability, on_grid.mean_offset_ms
        jitter_rel = clip.jitter_ms / 1000.0 / clip.spacing_s if clip.spacing_s else None
    return ClipResult(
        clip.name, clip.condition, engine, len(clip.notes), len(found), tuple(errors),
        tuple(named), tuple(cents), tuple(first), repeated, found_repeated,
        len(clip.audio) / evalset.SR, cpu, timing, jitter_rel, clip.jitter_ms, grid, offset,
        tuple(latency), tuple(n / 1000.0 for n in hop_ns),
        tuple(n / 1000.0 for n in hop_cpu_ns),
    )  # fmt: skip


def _timing_score(
    found: Sequence[Detected], *, bpm: float | None = None, origin_s: float | None = None
) -> Scores:
    """The notes found, scored as ``analyze`` would (free tempo), or against a metronome."""
    from dsp import NoteEvent, Scorer, ScoringConfig, parse_scale

    config = ScoringConfig(parse_scale("C chromatic"), bpm=bpm, beat_origin_s=origin_s)
    scorer = Scorer(config)
    for k, d in enumerate(found):
        scorer.add(NoteEvent(k, d.onset_s, d.onset_s + 0.1, d.midi, d.cents, 0.0, 1.0, -20.0,
                             d.onset_s + 0.05))  # fmt: skip
    return scorer.session()


def _job(args: tuple[str, str, bool, tuple[int, int] | None]) -> list[ClipResult]:
    split, condition, with_peers, beyond = args
    runs = engines(with_peers)
    results = []
    source = (
        evalset.real_clips()
        if split == "real"
        else evalset.clips(split, [condition], beyond=beyond)
    )
    for clip in source:
        for name, run in runs.items():
            results.append(score_clip(clip, name, run))
    return results


# -- tables ----------------------------------------------------------------------------------


def summarise(results: Sequence[ClipResult]) -> dict[str, float | int | None]:
    truth = sum(r.truth for r in results)
    detected = sum(r.detected for r in results)
    matched = sum(len(r.errors_ms) for r in results)
    errors = [abs(e) for r in results for e in r.errors_ms]
    named = [n for r in results for n in r.named]
    cents = [abs(c) for r in results for c in r.cents_err]
    first = [f for r in results for f in r.first_right]
    repeated = sum(r.repeated for r in results)
    p = matched / detected if detected else 0.0
    rc = matched / truth if truth else 0.0
    cpu = sum(r.cpu_s for r in results)
    latency = [v for r in results for v in r.latency_ms]
    hops = [v for r in results for v in r.hop_us]
    hops_cpu = [v for r in results for v in r.hop_cpu_us]
    return {
        "truth": truth,
        "f": 2 * p * rc / (p + rc) if p + rc else 0.0,
        "p": p,
        "r": rc,
        "err_p50_ms": percentile(errors, 50),
        "err_p90_ms": percentile(errors, 90),
        "late_30ms": sum(1 for r in results for e in r.errors_ms if e > 30) / matched
        if matched
        else None,
        "repeated_recall": sum(r.repeated_found for r in results) / repeated if repeated else None,
        "names": sum(named) / len(named) if named else None,
        "cents_p50": percentile(cents, 50),
        "cents_p90": percentile(cents, 90),
        "extra_per_pluck": (detected - matched) / truth if truth else None,
        # Notes beyond as many as were played, per note played: unlike ``extra``, a note
        # found but timed off the label (a pick's touch labelled, the pluck heard ~60 ms
        # later) is not counted as a phantom too.
        "beyond_per_pluck": sum(max(r.detected - r.truth, 0) for r in results) / truth
        if truth
        else None,
        "clips_beyond": sum(r.detected > r.truth for r in results),
        "first_right": sum(first) / len(first) if first else None,
        "rtf": sum(r.audio_s for r in results) / cpu if cpu > 0 else None,
        "latency_p50_ms": percentile(latency, 50),
        "latency_p90_ms": percentile(latency, 90),
        "hop_p50_us": percentile(hops, 50),
        "hop_p99_us": percentile(hops, 99),
        "hop_cpu_p50_us": percentile(hops_cpu, 50),
        "hop_cpu_p99_us": percentile(hops_cpu, 99),
    }


#: The real notes split by instrument (MD5 of its name, even or odd): tuning on the real
#: notes may look at the first half only; the second is reported as held out.
REAL_HALVES = ("tuning half (MD5 of the instrument even)", "held-out half (odd)")


def real_half(instrument: str) -> int:
    """0 for the tuning half (MD5 of the instrument's name even), 1 for the held-out."""
    import hashlib

    return int(hashlib.md5(instrument.encode()).hexdigest(), 16) % 2


def real_halves(results: Sequence[ClipResult]) -> tuple[list[ClipResult], list[ClipResult]]:
    halves: tuple[list[ClipResult], list[ClipResult]] = ([], [])
    for r in results:
        halves[real_half(r.condition)].append(r)
    return halves


def table(title: str, rows: dict[str, dict[str, float | int | None]]) -> str:
    lines = [
        f"#### {title}",
        "",
        "| engine | notes | onset F (P / R) | err p50 / p90 ms | rep | names | "
        "\\|c\\| p50 / p90 | extra | first | ×RT |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, s in rows.items():
        lines.append(
            f"| {engine} | {s['truth']} | {fmt(s['f'], 'f')} ({fmt(s['p'], 'f')} / "
            f"{fmt(s['r'], 'f')}) | {fmt(s['err_p50_ms'], 'ms')} / {fmt(s['err_p90_ms'], 'ms')}"
            f" | {fmt(s['repeated_recall'], 'pct')} | {fmt(s['names'], 'pct')} | "
            f"{fmt(s['cents_p50'], 'ms')} / {fmt(s['cents_p90'], 'ms')} | "
            f"{fmt(s['extra_per_pluck'], 'num')} | {fmt(s['first_right'], 'pct')} | "
            f"{fmt(s['rtf'], 'x')} |"
        )
    return "\n".join(lines) + "\n"


def timing_report(results: Sequence[ClipResult]) -> dict[str, object]:
    """The timing score on our notes: how it ranks the ``timing`` clips by their jitter
    (relative to the note spacing), free and against each clip's metronome, and what the
    ``off-grid`` clips (a third of the notes 10–80 ms off) score."""
    from scipy.stats import spearmanr

    timed = [r for r in results if r.condition == "timing" and r.timing_score is not None]
    off = [r for r in results if r.condition == "off-grid" and r.timing_grid is not None]
    if len(timed) < 3:
        return {}
    report: dict[str, object] = {"clips": len(timed)}
    for key, field in (("free", "timing_score"), ("metronome", "timing_grid")):
        pairs = [(r.jitter_rel, getattr(r, field)) for r in timed if getattr(r, field) is not None]
        even = [s for r, (_, s) in zip(timed, pairs, strict=False) if r.jitter_ms < 1.0]
        human = [s for r, (_, s) in zip(timed, pairs, strict=False) if 4.0 <= r.jitter_ms <= 11.0]
        rho = spearmanr([j for j, _ in pairs], [s for _, s in pairs]).statistic
        report[key] = {
            "spearman": round(float(rho), 3),
            "even_min": min(even) if even else None,
            "human_5_10ms_min": min(human) if human else None,
        }
    report["off_grid"] = {
        "free_mean": round(float(np.mean([r.timing_score for r in off])), 3) if off else None,
        "metronome_mean": round(float(np.mean([r.timing_grid for r in off])), 3) if off else None,
    }
    report["points"] = [
        (round(r.jitter_ms, 1), round(r.jitter_rel or 0, 3), r.timing_score, r.timing_grid,
         r.offset_ms)
        for r in timed
    ]  # fmt: skip
    return report


def _timing_line(split: str, t: dict) -> str:
    cells = []
    for key in ("free", "metronome"):
        v = t[key]
        cells.append(
            f"{key}: Spearman {v['spearman']}, even ≥ {fmt(v['even_min'], 'num')}, "
            f"5–10 ms ≥ {fmt(v['human_5_10ms_min'], 'num')}"
        )
    o = t["off_grid"]
    return (
        f"Timing score ({split}, {t['clips']} timing clips): "
        + "; ".join(cells)
        + f"; off-grid clips (a third 10–80 ms off) score {fmt(o['free_mean'], 'num')} free, "
        f"{fmt(o['metronome_mean'], 'num')} on the metronome\n"
    )


_PEERS_SHORT = {
    "aubio hfc+yinfast": "hfc",
    "aubio specdiff+yinfast": "specdiff",
    "librosa pyin+onset_detect": "pyin",
}


def summary(report: dict, split: str) -> str:
    """One row per condition: ours beside each peer (the README's table)."""
    per = report[split]
    peers = [e for e in next(iter(per.values())) if e != "ours"]
    short = "/".join(_PEERS_SHORT.get(e, e) for e in peers)
    lines = [
        f"| condition | notes | onset F: ours ({short}) | onset err p90 ms: ours ({short}) | "
        f"repeated found: ours ({short}) | names: ours ({short}) | \\|c\\| p90 | extra per "
        "pluck | first name |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for condition, rows in per.items():
        if condition == "timing_score":
            continue
        o = rows["ours"]

        def both(key: str, kind: str, rows: dict = rows) -> str:
            theirs = "/".join(fmt(rows[e][key], kind) for e in peers)
            return (
                f"{fmt(rows['ours'][key], kind)} ({theirs})"
                if peers
                else fmt(rows["ours"][key], kind)
            )

        lines.append(
            f"| {condition} | {o['truth']} | {both('f', 'f')} | {both('err_p90_ms', 'ms')} | "
            f"{both('repeated_recall', 'pct')} | {both('names', 'pct')} | "
            f"{fmt(o['cents_p90'], 'ms')} | {fmt(o['extra_per_pluck'], 'num')} | "
            f"{fmt(o['first_right'], 'pct')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.evaluate", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--split", default="test", choices=("dev", "test", "real", "all"),
        help="dev: tune on it; test: report it; real: the 109 real notes; all: test + real",
    )  # fmt: skip
    ap.add_argument("--conditions", default="", help="comma-separated (default: all)")
    ap.add_argument(
        "--beyond", default=None, metavar="SKIP:COUNT",
        help="with --split dev: COUNT more dev clips per condition, SKIP past the split's own "
        "(seeds no tuning has met, to check a change on)",
    )  # fmt: skip
    ap.add_argument("--no-peers", action="store_true", help="ours only (quick tuning loop)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--json", type=Path, default=None, help="write every figure and clip here")
    ap.add_argument("--md", type=Path, default=None, help="write the tables here as markdown")
    ap.add_argument(
        "--summary", type=Path, default=None, metavar="JSON",
        help="print the README's one-row-per-condition tables from a saved --json, and exit",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.summary:
        report = json.loads(args.summary.read_text())["report"]
        for split in report:
            print(f"{split}:\n\n{summary(report, split)}")
        return 0
    splits = ["test", "real"] if args.split == "all" else [args.split]
    beyond = None
    if args.beyond is not None:
        if args.split != "dev":
            ap.error("--beyond widens the dev split only: add --split dev")
        try:
            skip, count = (int(v) for v in args.beyond.split(":"))
        except ValueError:
            ap.error(f"--beyond takes SKIP:COUNT, two whole numbers, not {args.beyond!r}")
        if skip < 0 or count < 1:
            ap.error(f"--beyond {args.beyond}: SKIP must be ≥ 0 and COUNT ≥ 1")
        beyond = (skip, count)
        for c in [c for c in args.conditions.split(",") if c] or evalset.conditions_of("dev"):
            own = evalset.CLIPS_PER_CONDITION.get(c, evalset.DEFAULT_CLIPS)
            if own + skip + count > evalset.MAX_SEEDS:
                ap.error(
                    f"--beyond {args.beyond}: {c} has dev seeds beyond its own up to "
                    f"SKIP + COUNT = {evalset.MAX_SEEDS - own}"
                )
    asked = [c for c in args.conditions.split(",") if c]
    known = evalset.conditions_of("dev")
    unknown = set(asked) - set(known)
    if unknown:
        ap.error(f"unknown condition(s): {', '.join(sorted(unknown))}")
    jobs = [
        (split, c, not args.no_peers, beyond)
        for split in splits
        for c in (
            ["real"]
            if split == "real"
            else [c for c in asked or known if c in evalset.conditions_of(split)]
        )
    ]
    results: list[ClipResult] = []
    t0 = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for k, got in enumerate(pool.map(_job, jobs), 1):
            results.extend(got)
            print(f"\r[{k}/{len(jobs)}] {time.monotonic() - t0:5.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    report: dict[str, object] = {}
    md = []
    for split in splits:
        mine = [r for r in results if r.clip.startswith(split + "/")]
        groups = sorted({r.condition for r in mine}) if split != "real" else ["real notes"]
        names = list(dict.fromkeys(r.engine for r in mine))
        overall = {e: summarise([r for r in mine if r.engine == e]) for e in names}
        md.append(table(f"{split}: all conditions", overall))
        if "ours" in overall:
            o = overall["ours"]
            md.append(
                f"Ours, live ({split}): first report {fmt(o['latency_p50_ms'], 'ms')} / "
                f"{fmt(o['latency_p90_ms'], 'ms')} ms after the onset (p50 / p90); "
                f"per hop {fmt(o['hop_p50_us'], 'ms')} / {fmt(o['hop_p99_us'], 'ms')} µs "
                "(p50 / p99, wall, while the peers run on the other core), "
                f"{fmt(o['hop_cpu_p50_us'], 'ms')} / {fmt(o['hop_cpu_p99_us'], 'ms')} µs "
                "of thread CPU\n"
            )
            if split == "real":
                for half, rows in enumerate(real_halves([r for r in mine if r.engine == "ours"])):
                    h = summarise(rows)
                    md.append(
                        f"Ours, real notes, {REAL_HALVES[half]} ({len(rows)} plucks): onset F "
                        f"{fmt(h['f'], 'f')}, names {fmt(h['names'], 'pct')}, extra "
                        f"{fmt(h['extra_per_pluck'], 'num')}, beyond one per pluck "
                        f"{fmt(h['beyond_per_pluck'], 'num')}, first "
                        f"{fmt(h['first_right'], 'pct')}\n"
                    )
                clips = sum(r.engine == "ours" for r in mine)
                md.append(
                    f"Ours, real notes: notes beyond one per pluck "
                    f"{fmt(o['beyond_per_pluck'], 'num')} ({o['clips_beyond']} of {clips} "
                    "clips give more than one); *extra* also counts a note timed more than "
                    "50 ms off its label, as a phantom and a miss\n"
                )
        per: dict[str, object] = {"all": overall}
        if split != "real":
            for g in groups:
                rows = {e: summarise([r for r in mine if r.engine == e and r.condition == g])
                        for e in names}  # fmt: skip
                per[g] = rows
                md.append(table(f"{split}: {g}", rows))
            timing = timing_report(mine)
            per["timing_score"] = timing
            if timing:
                md.append(_timing_line(split, timing))
        report[split] = per
    text = "\n".join(md)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        clips = [{**asdict(r), "hop_us": None, "hop_cpu_us": None} for r in results]
        args.json.write_text(json.dumps({"report": report, "clips": clips}, indent=1))
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
