"""``fretcoach coach eval``: score the coach over the shipped dataset of metric snapshots."""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

from coach.eval import DEFAULT_DATASET, evaluate_coach, format_table, load_dataset
from coach.feedback import TipGenerator
from coach.providers import CoachSettings
from coach.tracing import OpikSettings
from device.argtypes import fraction
from dsp.errors import CoachSettingError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BELOW_MIN = 1
# A fixed seed: the offline coach varies its wording with its rng, and two runs of the
# same code over the same dataset should print the same table.
EVAL_SEED = 2024


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fretcoach coach eval``. Another ``coach`` subcommand belongs in the same group:
    build the group once and call :func:`add_eval_parser` on it."""
    coach = commands.add_parser(
        "coach",
        help="the live coach's tools",
        description="Tools for the live coach; `fretcoach coach eval --help` scores its tips.",
    )
    coach_commands = coach.add_subparsers(dest="coach_command", metavar="COACH_COMMAND")
    coach_commands.required = True
    add_eval_parser(coach_commands)


def add_eval_parser(coach_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = coach_commands.add_parser(
        "eval",
        help="score the coach's tips over a dataset of metric snapshots",
        description="Ask the coach for one tip per snapshot in the dataset and score each "
        "tip: at most 30 words, names the weakest metric, contains a concrete fix, quotes "
        "no percentage that contradicts the input. Uses the model when OPENAI_API_KEY is "
        "set, else the offline coach; logs an Opik experiment when OPIK_URL_OVERRIDE or "
        "OPIK_API_KEY is set. Exit status 1 when an average is below --min-score.",
    )
    evaluate.add_argument(
        "--dataset",
        type=Path,
        default=DEFAULT_DATASET,
        help=f"dataset JSON (default: the shipped {DEFAULT_DATASET.name})",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument(
        "--min-score",
        type=fraction,
        default=0.0,
        metavar="X",
        help="fail (exit 1) when any metric's average is below X, 0–1 (default 0)",
    )
    evaluate.set_defaults(handler=cmd_coach_eval)


def cmd_coach_eval(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.dataset)
    generator = TipGenerator(CoachSettings.from_env(), rng=random.Random(EVAL_SEED))
    try:
        opik_settings: OpikSettings | None = OpikSettings.from_env()
    except CoachSettingError as err:  # Opik is optional here: score anyway
        log.warning("coach eval: no Opik experiment: %s", err)
        opik_settings = None
    report = evaluate_coach(dataset, generator, opik_settings=opik_settings)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(report))
    below = report.below(args.min_score)
    if below:
        shown = ", ".join(f"{name} {avg:.2f}" for name, avg in below.items())
        print(f"fretcoach: below --min-score {args.min_score:g}: {shown}", file=sys.stderr)
        return EXIT_BELOW_MIN
    return EXIT_OK
