"""A QR code as a matrix of modules, for a screen to draw: the pairing link on the OLED.

Made by the ``qrcode`` library (no home-grown encoder). At most version 3 (29×29
modules): at 2 px per module that is 58 px, which fits the 128×64 OLED's height with a
3 px quiet zone above and below.

    >>> rows = qr_matrix("https://hub.example/device?user_code=BCDF-GHJK")
    >>> len(rows) == len(rows[0]) <= 29
    True
"""

from __future__ import annotations

import qrcode
import qrcode.constants
from qrcode.exceptions import DataOverflowError

MAX_VERSION = 3
# 25 px of the 64 used by a version-2 code: the smaller, the more a phone forgives.
MODULES_AT = {1: 21, 2: 25, 3: 29}


def qr_matrix(uri: str, *, max_version: int = MAX_VERSION) -> list[list[bool]]:
    """The QR code of ``uri`` without its quiet zone: rows of modules, True = dark.

    Error correction L (7 %): a screen is not a scuffed label, and L keeps the version
    small. A URI too long for ``max_version`` (about 53 characters at version 3) raises
    ``ValueError`` naming the length; shorten the Hub's ``--public-url``.
    """
    code = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_L, border=0)
    code.add_data(uri)
    try:
        code.make(fit=True)
    except DataOverflowError as err:
        raise ValueError(f"{len(uri)} characters do not fit in any QR version") from err
    if code.version > max_version:
        raise ValueError(
            f"the link is {len(uri)} characters, too long for a version-{max_version} QR "
            f"code (it needs version {code.version}): use a shorter Hub address"
        )
    return [[bool(module) for module in row] for row in code.get_matrix()]


def terminal_qr(uri: str) -> str:
    """The QR code as text for ``fretcoach pair``: two module rows per line in half blocks,
    with a quiet zone. Light modules are drawn as blocks and dark ones as spaces, which
    reads on the usual light-on-dark terminal."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=2)
    code.add_data(uri)
    code.make(fit=True)
    matrix = code.get_matrix()
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    # Dark module → space, light → block: a light quiet zone on any terminal background.
    glyphs = {(False, False): "█", (False, True): "▀", (True, False): "▄", (True, True): " "}
    return "\n".join(
        "".join(glyphs[(top, bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(matrix[::2], matrix[1::2], strict=True)
    )
