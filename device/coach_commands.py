"""``fretcoach coach eval``: score the coach over the shipped dataset of metric snapshots;
``fretcoach opik setup``: make an Opik workspace ready for the device's traces."""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

from coach.eval import DEFAULT_DATASET, evaluate_coach, format_table, load_dataset
from coach.feedback import TipGenerator
from coach.opik_setup import Mode, run_setup, summary
from coach.providers import CoachSettings
from coach.tracing import OpikSettings
from coach.workspace import DEFAULT_SPEC, load_spec
from device.argtypes import fraction
from dsp.errors import CoachSettingError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BELOW_MIN = 1
EXIT_DRIFT = 1
# A fixed seed: the offline coach varies its wording with its rng, and two runs of the
# same code over the same dataset should print the same table.
EVAL_SEED = 2024


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fretcoach coach eval`` and ``fretcoach opik setup``. Another ``coach``
    subcommand belongs in the same group: build the group once and call
    :func:`add_eval_parser` on it."""
    coach = commands.add_parser(
        "coach",
        help="the live coach's tools",
        description="Tools for the live coach; `fretcoach coach eval --help` scores its tips.",
    )
    coach_commands = coach.add_subparsers(dest="coach_command", metavar="COACH_COMMAND")
    coach_commands.required = True
    add_eval_parser(coach_commands)
    add_opik_parsers(commands)


def add_opik_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fretcoach opik setup``."""
    group = commands.add_parser(
        "opik",
        help="set up the Opik workspace the device traces to",
        description="Tools for the Opik workspace; `fretcoach opik setup --help` makes it "
        "ready for the device.",
    )
    opik_commands = group.add_subparsers(dest="opik_command", metavar="OPIK_COMMAND")
    opik_commands.required = True
    setup = opik_commands.add_parser(
        "setup",
        help="create or update the feedback definitions, prompts, rules and dataset",
        description="Make the configured Opik workspace and project (OPIK_URL_OVERRIDE or "
        "OPIK_API_KEY, OPIK_WORKSPACE, OPIK_PROJECT_NAME) match the repo: the feedback "
        "definitions the traces use, the coach's prompts in the prompt library, the "
        "LLM-as-judge online evaluation rules of coach/opik_workspace.toml and the "
        "`coach eval` dataset. Only what is missing or different is written; a second run "
        "changes nothing.",
    )
    mode = setup.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be created or updated; change nothing",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 naming each item that differs from the repo",
    )
    setup.add_argument(
        "--spec",
        type=Path,
        default=DEFAULT_SPEC,
        help=f"the workspace file (default: the shipped {DEFAULT_SPEC.name})",
    )
    setup.set_defaults(handler=cmd_opik_setup)


def cmd_opik_setup(args: argparse.Namespace) -> int:
    settings = OpikSettings.from_env()
    spec = load_spec(args.spec)
    mode: Mode = "check" if args.check else "dry-run" if args.dry_run else "apply"
    report = run_setup(settings, spec, mode=mode, say=lambda line: print(line, flush=True))
    print(summary(report, settings))
    if mode == "check" and not report.in_step:
        return EXIT_DRIFT
    return EXIT_DRIFT if report.count("conflict") else EXIT_OK


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
