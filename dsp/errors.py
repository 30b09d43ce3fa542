"""Every exception FretCoach raises on purpose, in one tree (the shape of gpiozero's ``exc.py``).

One root, one branch per package, mixed with the builtin a caller would expect
(``UnknownScaleError`` is also a ``ValueError``), so ``except FretCoachError`` catches
everything we raise on purpose and anything else is a bug worth a traceback. The tree
lives in ``dsp`` because ``dsp`` is the one package every other may import; each class's
message, written where it is raised, names the resource and the fix.
"""

from __future__ import annotations


class FretCoachError(Exception):
    """Root of every error FretCoach raises on purpose; the message says what to do."""


# --------------------------------------------------------------------------- dsp


class DspError(FretCoachError):
    """A problem with signal-processing input or settings."""


class UnknownScaleError(DspError, ValueError):
    """A scale name we cannot parse; the message lists the forms we accept."""


class UnknownNoteError(DspError, ValueError):
    """A note or root name we cannot parse."""


class InvalidSettingError(DspError, ValueError):
    """A DSP setting outside its allowed range."""


# --------------------------------------------------------------------------- device


class DeviceError(FretCoachError):
    """A problem with the device's inputs, files or configuration."""


class AudioFileError(DeviceError, ValueError):
    """A WAV file we cannot read; the message names the file and the fix."""


class AudioSourceError(DeviceError):
    """The audio input cannot be opened or has gone away; the message says what to do."""


class ConfigError(DeviceError, ValueError):
    """A configuration value or file that cannot be used; the message names the key."""


class ButtonsError(DeviceError):
    """Buttons cannot be opened or are misconfigured; the message names the fix."""


# --------------------------------------------------------------------------- display


class DisplayError(FretCoachError):
    """The OLED cannot be opened or stopped answering; the message names the fix."""


# --------------------------------------------------------------------------- coach


class CoachError(FretCoachError):
    """A problem with the live coach that a person can act on (the coach fails softly)."""


class CoachSettingError(CoachError, ValueError):
    """A coach setting outside its allowed values; the message names them."""


class RecommendationError(CoachError, ValueError):
    """A recommendation that cannot be used; the message says what is wrong with it."""


class EvalDatasetError(CoachError, ValueError):
    """An evaluation dataset that cannot be read; the message names the file and item."""


class OpikSetupError(CoachError):
    """The Opik workspace cannot be set up or checked; the message names the URL and the fix."""


# --------------------------------------------------------------------------- sync


class SyncError(FretCoachError):
    """A problem storing or syncing sessions."""


class StoreError(SyncError, OSError):
    """The session store cannot be opened or written; the message names the fix."""


class StoreFullError(StoreError):
    """The disk holding the store is full. Nothing stored so far is lost."""


class HubConfigError(SyncError, ValueError):
    """The Hub URL, token or CA bundle setting is missing or wrong."""


class HubNotPairedError(HubConfigError):
    """A Hub address is set but the device holds no token for it: pair it."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class PairingError(SyncError):
    """Pairing with the Hub did not finish (declined, expired, unreachable); says what to do."""


class HubServerConfigError(SyncError, ValueError):
    """The reference Hub cannot start as configured; the message says what to pass instead."""


class HubError(SyncError):
    """A Hub answer other than success, rendered as ``{"error": …, "detail": …}``."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str | list[dict[str, str]],
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers
