"""Reading a small text file a user names (an eval dataset, a workspace spec) safely."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# A dataset or workspace file is a few KiB; a bigger one is the wrong file.
MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024


def read_text_file(path: Path, what: str, error: type[Exception]) -> str:
    """A small UTF-8 file's text, or ``error`` naming ``what`` and the fix.

    Only a regular file of at most :data:`MAX_TEXT_FILE_BYTES`: opening a FIFO blocks
    until a writer comes and /dev/zero never ends (it ate memory until the machine
    swapped), and a binary file's decoding error was a traceback.
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{what} {path} is not a regular file (a directory, pipe or device)")
        with path.open("rb") as handle:
            data = handle.read(MAX_TEXT_FILE_BYTES + 1)
    except OSError as err:
        raise error(f"cannot read {what} {path}: {err.strerror or err}") from err
    if len(data) > MAX_TEXT_FILE_BYTES:
        raise error(f"{what} {path} is over {MAX_TEXT_FILE_BYTES // 2**20} MiB: the wrong file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{what} {path} is not UTF-8 text (byte {err.start}): the wrong file?") from err
