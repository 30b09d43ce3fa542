"""The wheel the Pi installs (``make install``) holds every package of the house.

``pyproject.toml`` lists the packages by name; a new subpackage left off that list
imports fine from the checkout (tests, ``make run``) and fails only on the Pi, after
``pip install``, with ``ModuleNotFoundError``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("dsp", "display", "coach", "sync", "device")


def test_every_package_of_the_rooms_is_in_the_wheel() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for room in ROOMS
        for init in (ROOT / room).rglob("__init__.py")
        if ".venv" not in init.parts
    }
    assert "dsp.tracking" in on_disk
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
