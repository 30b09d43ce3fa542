"""Reading an HTTP answer's body with a cap on its size and on the time it takes in all.

``requests``' read timeout bounds each wait for bytes, not the answer: a server or proxy
that sends a byte every few seconds holds the caller for as long as it likes. The Hub
client (:mod:`sync.client`) and pairing (:mod:`sync.pairing`) both read through
:func:`read_capped`, on a response opened with ``stream=True``.
"""

from __future__ import annotations

import time

import requests

ANSWER_LIMIT_BYTES = 64 * 1024  # the Hub's answers are a few hundred bytes


class SlowAnswerError(Exception):
    """An answer whose body kept coming, each piece within the read timeout, for longer
    than the deadline in all."""


#: What the clients ask for: the body as sent. A proxy may still compress it
#: (``Content-Encoding: gzip``); :func:`read_capped` decodes it as ``requests`` would.
IDENTITY = {"Accept-Encoding": "identity"}


def read_capped(
    response: requests.Response,
    deadline_s: float,
    *,
    limit: int = ANSWER_LIMIT_BYTES,
    started: float | None = None,
) -> bytes:
    """At most ``limit`` bytes of the body, decoded, within ``deadline_s`` seconds of
    ``started`` (a ``time.monotonic()`` taken before the request was sent; else the call).

    ``read1`` returns whatever has arrived, so the deadline is checked as bytes come,
    however slowly; a wait for the next bytes is still bounded by the read timeout, so an
    answer is given up at most one read timeout after the deadline. The raw stream is read
    with ``decode_content``: a reverse proxy that gzips JSON (Caddy's ``encode``, nginx's
    ``gzip_types``) would otherwise hand back compressed bytes, and a receipt the Hub
    sent would be unreadable. Raises :class:`SlowAnswerError`, or urllib3's errors for a
    timeout or a broken link.
    """
    deadline = (time.monotonic() if started is None else started) + deadline_s
    data = b""
    while len(data) < limit:
        chunk = response.raw.read1(8192, decode_content=True)
        if not chunk:
            break
        data += chunk
        if time.monotonic() > deadline:
            raise SlowAnswerError(
                f"the Hub's answer was still arriving after {deadline_s:g} s (a link or "
                "proxy that slow cannot deliver it)"
            )
    return data[:limit]
