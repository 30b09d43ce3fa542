"""The README and ``--help`` against the code (the shape of sqlite-utils' ``tests/test_docs.py``).

Every command and option the parser builds must say what it does, every command must be
in the README, and every configuration key must be in the README's settings table — so a
new command or setting cannot land undocumented.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from device.cli import build_parser
from device.config import Config
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """Every command under ``parser`` as (words, its parser, the help its parent lists)."""
    found = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            words = (*path, name)
            found.append((words, sub, helps.get(name)))
            found.extend(_commands(sub, words))
    return found


COMMANDS = _commands(build_parser())


def test_the_parser_has_the_public_commands() -> None:
    names = {" ".join(words) for words, _, _ in COMMANDS}
    public = {"analyze", "run", "sessions", "sync", "hub", "hub serve", "devices", "status"}
    assert public <= names


@pytest.mark.parametrize(
    ("words", "parser", "listed_help"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS]
)
def test_every_command_has_help_a_description_and_a_readme_entry(
    words: tuple[str, ...], parser: argparse.ArgumentParser, listed_help: str | None
) -> None:
    command = "fretcoach " + " ".join(words)
    assert listed_help, f"`{command}` has no help= line in its parent's command list"
    assert parser.description, f"`{command} --help` has no description="
    assert command in README, f"`{command}` is missing from README.md"


@pytest.mark.parametrize(
    ("words", "parser"), [(w, p) for w, p, _ in COMMANDS], ids=[" ".join(c[0]) for c in COMMANDS]
)
def test_every_option_says_what_it_does(
    words: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue  # a hidden, deprecated alias
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"`fretcoach {' '.join(words)}` option {name} has no help"


DEFAULTS = Config()
SETTINGS = [
    f"{section.name}.{key.name}"
    for section in fields(DEFAULTS)
    for key in fields(getattr(DEFAULTS, section.name))
]


def test_there_are_settings_to_check() -> None:
    assert len(SETTINGS) > 20 and "audio.device" in SETTINGS


@pytest.mark.parametrize("key", SETTINGS)
def test_every_setting_is_in_the_readme(key: str) -> None:
    assert f"`{key}`" in README, f"setting {key} is missing from README.md's settings table"
