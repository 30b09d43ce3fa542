"""The exception tree every FretCoach package shares.

One root, one branch per subsystem, mixed with the builtin a caller would expect
(``UnknownScaleError`` is also a ``ValueError``), so ``except FretCoachError`` catches
everything we raise on purpose and anything else is a bug worth a traceback.
"""

from __future__ import annotations


class FretCoachError(Exception):
    """Root of every error FretCoach raises on purpose; the message says what to do."""


class DspError(FretCoachError):
    """A problem with signal-processing input or settings."""


class UnknownScaleError(DspError, ValueError):
    """A scale name we cannot parse; the message lists the forms we accept."""


class UnknownNoteError(DspError, ValueError):
    """A note or root name we cannot parse."""


class InvalidSettingError(DspError, ValueError):
    """A DSP setting outside its allowed range."""
