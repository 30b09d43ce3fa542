"""Errors of the store and the Hub sync."""

from __future__ import annotations

from dsp.errors import FretCoachError


class SyncError(FretCoachError):
    """A problem storing or syncing sessions."""


class StoreError(SyncError, OSError):
    """The session store cannot be opened or written; the message names the fix."""


class StoreFullError(StoreError):
    """The disk holding the store is full. Nothing stored so far is lost."""


class HubConfigError(SyncError, ValueError):
    """The Hub URL, token or CA bundle setting is missing or wrong."""
