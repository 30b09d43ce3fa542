"""Number formatting shared by every benchmark's tables, so a figure reads the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float, digits: int | None = None) -> float | None:
    """The q-th percentile, rounded to ``digits`` when given; None for no values."""
    if not len(values):
        return None
    value = float(np.percentile(values, q))
    return value if digits is None else round(value, digits)


def fmt(value: float | None, kind: str) -> str:
    """One table cell: ``pct`` (fraction as %), ``f`` (3 decimals), ``ms``, ``x`` (× real
    time), anything else 2 decimals; a dash for no value."""
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "f":
        return f"{value:.3f}"
    if kind == "ms":
        return f"{value:.1f}"
    if kind == "x":
        return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"
    return f"{value:.2f}"
