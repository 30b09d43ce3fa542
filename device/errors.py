"""Errors of the device layer: audio input and files, configuration."""

from __future__ import annotations

from dsp.errors import FretCoachError


class DeviceError(FretCoachError):
    """A problem with the device's inputs, files or configuration."""


class AudioFileError(DeviceError, ValueError):
    """A WAV file we cannot read; the message names the file and the fix."""
