"""Who a device token belongs to: a static ``--token`` (scripts, tests) or a paired device.

Static tokens are checked in memory first; a paired device's token is looked up by its
sha256 in the database, off the event loop, so revoking a device takes effect at once on
every worker. A revoked token gets 401 like an unknown one, with a detail that says to
pair the device again. A database that cannot answer is a 503, never a 401: the device
must not be told to re-pair because the Hub is busy.
"""

from __future__ import annotations

import logging

from anyio import to_thread
from sqlalchemy.exc import OperationalError

from dsp.errors import HubError
from sync.hub.auth import TokenAuth, unauthorized
from sync.hub.pairing import Pairing

log = logging.getLogger(__name__)


class Identity:
    """``await identity.resolve(token)`` → the user id, or a 401 :class:`HubError`."""

    def __init__(self, static: TokenAuth | None, pairing: Pairing) -> None:
        self.static = static
        self.pairing = pairing

    async def resolve(self, presented: str | None) -> str:
        if not presented:
            raise unauthorized("send Authorization: Bearer <device token>")
        if self.static is not None:
            user = self.static.find(presented)
            if user is not None:
                return user
        try:
            user, revoked = await to_thread.run_sync(self.pairing.device_user, presented)
        except OperationalError as err:  # the database is down or locked: not the token
            log.warning("cannot check a device token: %s", getattr(err, "orig", err))
            raise HubError(
                503,
                "unavailable",
                "the Hub database is busy or down; retry later",
                headers={"Retry-After": "5"},
            ) from err
        if user is None:
            raise unauthorized(
                "unknown device token: pair the device again (`fretcoach pair`), or compare "
                "its FRETCOACH_HUB_TOKEN with the Hub's --token list"
            )
        if revoked:
            raise unauthorized(
                "this device was revoked by its user: pair it again with `fretcoach pair`"
            )
        return user
