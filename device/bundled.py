"""Files that ship inside the package: the demo performance."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from dsp.errors import DeviceError


def demo_paths() -> tuple[Path, dict[str, Any]]:
    """The bundled demo performance and its description (scale, tempo, truth)."""
    folder = resources.files("device") / "demo"
    wav = Path(str(folder / "demo.wav"))
    meta_path = Path(str(folder / "demo.json"))
    if not wav.exists():
        raise DeviceError(
            f"the bundled demo is missing ({wav}): reinstall with `make setup` from the repo"
        )
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return wav, meta
