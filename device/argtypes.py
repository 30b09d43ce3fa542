"""Argument types shared by the ``fretcoach`` subcommands."""

from __future__ import annotations

import argparse


def fraction(text: str) -> float:
    """A number from 0 to 1 (strictness, sensitivity, a minimum score)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, not {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


#: SQLite's largest integer: a ``--limit`` beyond it means "all" and is read as this
#: (past it the store's query failed with a traceback, "datatype mismatch").
_LARGEST = 2**63 - 1


def count(text: str) -> int:
    """A whole number of at least 1 (``--limit``): 0 and -1 listed every session, silently."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return min(value, _LARGEST)
