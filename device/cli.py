"""The ``fretcoach`` command line.

Every subcommand turns :class:`~dsp.errors.FretCoachError` into one line on stderr and
exit status 1 — a guitarist sees what to fix, never a traceback. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from device import coach_commands, run_command, sync_commands
from device.analyze import AnalysisSettings, analyze_reader
from device.argtypes import fraction
from device.bundled import demo_paths
from device.config import lowest_note_midi
from device.progress import ProgressBar
from device.recording import save_analysis
from device.wavread import WavReader
from dsp import Analysis, parse_scale
from dsp.errors import DeviceError, FretCoachError, StoreError
from dsp.notes import note_name
from dsp.scales import VALID_FORMS_HELP, Scale
from dsp.timing import describe_offset
from sync.store import Store

log = logging.getLogger("fretcoach")

EXIT_OK = 0
EXIT_ERROR = 1


def _version() -> str:
    try:
        return metadata.version("fretcoach-portable")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _bpm(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected beats per minute, not {text!r}") from None
    if not 20 <= value <= 400:
        raise argparse.ArgumentTypeError(f"must be between 20 and 400 bpm, not {text}")
    return value


def _lowest(text: str) -> int:
    """``--lowest``: the guitar's lowest string, A1–E2 (see device.config.lowest_note_midi)."""
    try:
        return lowest_note_midi(text, name="--lowest")
    except FretCoachError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fretcoach",
        description="FretCoach Portable — listens while you play guitar and scores "
        "pitch accuracy, scale conformity and timing stability.",
    )
    parser.add_argument("--version", action="version", version=f"fretcoach {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    analyze = commands.add_parser(
        "analyze",
        help="score a recorded performance (WAV, FLAC, …) exactly as the device would live",
        description="Stream a recording through the device's listening engine and print "
        "the notes it heard and the scores. Reads WAV (8/16/24/32-bit PCM or float), FLAC, "
        "Ogg Vorbis, MP3 and AIFF, mono or multi-channel, at 8–384 kHz (files not at 44.1 "
        "or 48 kHz are resampled to 48 kHz as they stream).",
        epilog=f"Scales: {VALID_FORMS_HELP}.",
    )
    analyze.add_argument("file", nargs="?", type=Path, help="the recording to analyse")
    analyze.add_argument(
        "--demo", action="store_true", help="analyse the bundled demo performance instead"
    )
    analyze.add_argument(
        "--scale",
        help='the scale you practised, e.g. "A minor pentatonic" or "A Minor (Pentatonic)" '
        "(default: chromatic — every note is in scale; the demo's own scale with --demo)",
    )
    analyze.add_argument(
        "--bpm", type=_bpm, help="metronome tempo; timing is then judged against its grid"
    )
    analyze.add_argument(
        "--strictness",
        type=fraction,
        default=0.5,
        help="0–1: tightens the in-tune band (±25 → ±10 cents) and timing tolerance (default 0.5)",
    )
    analyze.add_argument(
        "--sensitivity",
        type=fraction,
        default=0.5,
        help="0–1: how soft a note may be and still count (default 0.5: gate at −55 dBFS RMS)",
    )
    analyze.add_argument(
        "--channel",
        type=int,
        help="which channel to analyse, counting from 1 (default: the loudest)",
    )
    analyze.add_argument(
        "--a4", type=float, default=440.0, help="reference pitch of A4 in Hz, 415–466 (default 440)"
    )
    analyze.add_argument(
        "--lowest",
        type=_lowest,
        default=36,
        metavar="NOTE",
        help="your guitar's lowest string, A1–E2: B1 for B standard or a 7-string, A1 for "
        "drop A (default C2: notes under it are not counted)",
    )
    analyze.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    analyze.add_argument(
        "--save",
        action="store_true",
        help="also store the result as a completed session, queued for the Hub",
    )
    analyze.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="state directory for --save (default: as `sessions`)",
    )
    analyze.set_defaults(handler=cmd_analyze)
    sync_commands.add_parsers(commands)
    run_command.add_parsers(commands)
    coach_commands.add_parsers(commands)
    return parser


def cmd_analyze(args: argparse.Namespace) -> int:
    scale_text = args.scale
    bpm = args.bpm
    if args.demo:
        if args.file is not None:
            raise DeviceError("give either a FILE or --demo, not both")
        path, meta = demo_paths()
        scale_text = scale_text or meta.get("scale", "A minor pentatonic")
        bpm = bpm if bpm is not None else meta.get("bpm")
    elif args.file is None:
        raise DeviceError("name a recording to analyse, or use --demo for the bundled one")
    else:
        path = args.file
    scale = parse_scale(scale_text or "C chromatic")
    reader = WavReader(path, channel=args.channel)  # validates before any work
    with contextlib.ExitStack() as stack:
        # --save: a store that cannot be opened (read-only, not a folder) fails now, not
        # after an hour of audio has been analysed.
        store = stack.enter_context(Store.open(args.data_dir)) if args.save else None
        return _analyze_and_report(args, path, reader, scale, bpm, store)


def _analyze_and_report(
    args: argparse.Namespace,
    path: Path,
    reader: WavReader,
    scale: Scale,
    bpm: float | None,
    store: Store | None,
) -> int:
    """Analyse, save when ``store`` is given, print. A save that fails (a full disk, a
    store locked elsewhere) still prints the analysis first: the work is not thrown away."""
    bar = ProgressBar(f"analysing {path.name}")
    if reader.info.seconds < 20:
        bar.enabled = False
    try:
        # The reader that validated the file reads it: a file is probed (and any warning
        # about it logged) once.
        settings = AnalysisSettings(
            scale=scale,
            bpm=bpm,
            strictness=args.strictness,
            sensitivity=args.sensitivity,
            a4_hz=args.a4,
            channel=args.channel,
            lowest_midi=args.lowest,
        )
        analysis = analyze_reader(reader, settings, progress=bar)
    finally:
        bar.close()
    session_id = None
    not_saved: StoreError | None = None
    if store is not None:
        try:
            session_id = save_analysis(
                store,
                analysis,
                scale=scale,
                strictness=args.strictness,
                sensitivity=args.sensitivity,
                bpm=bpm,
                source=f"file:{path.name}",
            )
        except StoreError as err:
            not_saved = err
    if args.json:
        payload = analysis_to_json(
            analysis, scale, bpm=bpm, strictness=args.strictness, lowest_midi=args.lowest
        )
        if session_id:
            payload["session_id"] = session_id
        json.dump(payload, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_analysis(analysis, scale, path, reader, bpm=bpm))
        if session_id:
            print(f"\nSaved as session {session_id}; `fretcoach sync` uploads it to the Hub.")
    if not_saved is not None:
        sys.stdout.flush()
        raise DeviceError(
            f"the analysis above was not saved: {not_saved}; run the command again with "
            "--save to store it"
        )
    return EXIT_OK


def analysis_to_json(
    analysis: Analysis,
    scale: Scale,
    *,
    bpm: float | None,
    strictness: float,
    lowest_midi: int = 36,
) -> dict[str, Any]:
    """The stable ``analyze --json`` format (documented in the README)."""
    flats = scale.prefers_flats
    tolerance = analysis.scores.cents_tolerance
    scores = analysis.scores
    counts = scores.counts
    return {
        "audio_seconds": analysis.audio_seconds,
        "sample_rate": analysis.sample_rate,
        "notes": [
            {
                "onset_s": note.onset_s,
                "end_s": note.end_s,
                "midi": note.midi,
                "name": note_name(note.midi, flats=flats),
                "cents": note.cents,
                "freq_hz": note.freq_hz,
                "in_scale": in_scale,
                "confidence": note.confidence,
                "in_tune": abs(note.cents) <= tolerance,
                "level_db": note.level_db,
            }
            for note, in_scale in zip(analysis.notes, analysis.in_scale, strict=True)
        ],
        "scores": scores.as_dict(),
        "counts": {
            "total_notes": counts.total_notes,
            "in_scale_notes": counts.in_scale_notes,
            "out_of_scale_notes": counts.out_of_scale_notes,
            "scale_size": counts.scale_size,
            "degrees_played": counts.degrees_played,
        },
        "scale": {
            "name": scale.name,
            "hub_name": scale.hub_name,
            "hub_type": scale.hub_type,
            "notes": list(scale.note_names()),
        },
        "details": {
            "scale_coverage": scores.scale_coverage,
            "in_tune_notes": scores.in_tune_notes,
            "cents_tolerance": tolerance,
            "mean_abs_cents": scores.mean_abs_cents,
            "tempo_bpm": scores.tempo_bpm,
            "timed_intervals": scores.timed_intervals,
            "mean_offset_ms": scores.mean_offset_ms,
            "most_out_of_tune": scores.most_out_of_tune,
            "most_out_of_scale": scores.most_out_of_scale,
        },
        "settings": {
            "bpm": bpm,
            "strictness": strictness,
            "lowest_note": note_name(lowest_midi),
        },
    }


def _offset_words(offset_ms: float | None) -> str:
    """'; you rush by 18 ms' — the mean signed offset to the beat, as a player acts on it."""
    return "" if offset_ms is None else f"; {describe_offset(offset_ms)}"


def _bar(value: float | None, width: int = 20) -> str:
    if value is None:
        return "·" * width + "    –"
    filled = round(value * width)
    return "█" * filled + "░" * (width - filled) + f" {value:4.0%}"


def format_analysis(
    analysis: Analysis, scale: Scale, path: Path, reader: WavReader, *, bpm: float | None
) -> str:
    info = reader.info
    flats = scale.prefers_flats
    scores = analysis.scores
    counts = scores.counts
    lines = [
        f"{path.name} — {analysis.audio_seconds:.1f} s at {info.file_rate} Hz"
        + (f" (resampled to {info.sample_rate})" if info.resampled else "")
        + ", "
        f"channel {info.channel + 1} of {info.channels}",
        f"Scale: {scale.name} ({' '.join(scale.note_names())})"
        + (f" · metronome {bpm:g} bpm" if bpm else " · free tempo")
        + f" · in tune = within ±{scores.cents_tolerance:g} cents",
        "",
    ]
    if not analysis.notes:
        lines += [
            "No notes heard. Is the guitar on this channel and loud enough? "
            "Try --channel or a higher --sensitivity.",
            "",
        ]
    else:
        lines.append("    #   onset     end  note   cents      Hz  scale  conf")
        for number, (note, in_scale) in enumerate(
            zip(analysis.notes, analysis.in_scale, strict=True), start=1
        ):
            tune_mark = " " if abs(note.cents) <= scores.cents_tolerance else "!"
            lines.append(
                f"  {number:3d}  {note.onset_s:6.2f}  {note.end_s or 0.0:6.2f}  "
                f"{note_name(note.midi, flats=flats):<4}  {note.cents:+5.1f}{tune_mark} "
                f"{note.freq_hz:7.1f}  {'yes' if in_scale else 'NO ':>5}  {note.confidence:4.2f}"
            )
        lines.append("")
    timing_note = (
        f"{scores.timed_intervals} notes timed"
        + (f", played at ~{scores.tempo_bpm:g} bpm" if scores.tempo_bpm and not bpm else "")
        + _offset_words(scores.mean_offset_ms)
        if scores.timed_intervals
        else "needs a steady run of notes (5 at free tempo, 2 with --bpm)"
    )
    lines += [
        "Scores",
        f"  Pitch accuracy    {_bar(scores.pitch_accuracy)}   "
        f"{scores.in_tune_notes} of {counts.total_notes} notes "
        f"within ±{scores.cents_tolerance:g} c",
        f"  Scale conformity  {_bar(scores.scale_conformity)}   "
        f"{counts.in_scale_notes} of {counts.total_notes} in scale; "
        f"{counts.degrees_played} of {counts.scale_size} scale notes used",
        f"  Timing stability  {_bar(scores.timing_stability)}   {timing_note}",
        "",
        f"Notes: {counts.total_notes} total, {counts.in_scale_notes} in scale, "
        f"{counts.out_of_scale_notes} out of scale (scale has {counts.scale_size} notes)",
    ]
    hints = []
    if scores.most_out_of_tune:
        hints.append(f"most often out of tune: {scores.most_out_of_tune}")
    if scores.most_out_of_scale:
        hints.append(f"most often out of scale: {scores.most_out_of_scale}")
    if hints:
        lines.append(hints[0][0].upper() + "; ".join(hints)[1:])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The daemon logs its life (sessions, reconnects) for journald; one-shot commands
    # only speak up when something is wrong.
    quiet_level = logging.INFO if args.command in ("run", "hub") else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet_level,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    try:
        return int(args.handler(args))
    except FretCoachError as err:
        print(f"fretcoach: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("fretcoach: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
