"""The coach's branch of the FretCoach exception tree.

The coach is an optional part: providers, Opik and the network fail softly inside it
(a tip always comes, from the offline coach if need be). Only settings a person must fix
are raised, and they read like every other FretCoach configuration error.
"""

from __future__ import annotations

from dsp.errors import FretCoachError


class CoachError(FretCoachError):
    """A problem with the live coach that a person can act on."""


class CoachSettingError(CoachError, ValueError):
    """A coach setting outside its allowed values; the message names them."""
