"""The Hub API client: one ``requests.Session``, timeouts, TLS on, and a verdict per answer.

The verdict is all the outbox worker needs: *sent* (201, or 200 for a duplicate — the
Hub already had it, e.g. our earlier response was lost), *retry* (the network or the
Hub's load: connection errors, timeouts, 408/425/429/5xx, with ``Retry-After`` when the
Hub gave one; and 404/405, which say the URL holds no Hub API, not that the item is bad),
*pause* (401/403: the device's token is refused, so the queue waits for a
re-pair), or *rejected* (any other 4xx: sending the same bytes again cannot help).

*Sent* needs the Hub's own receipt: a JSON body naming the item's id and a result. A
portable device meets captive portals and proxies that answer 200 with a login page, or
redirect there; taking those for the Hub would mark sessions synced that never arrived.
Such answers, redirects and any other 2xx are *retry*. An answer is read up to 64 KiB
(the Hub's are a few hundred bytes) and within the read timeout in all, so a rogue server
or a crawling proxy can neither fill the Pi's memory nor hold the sync for hours.
The token is sent as a header and appears in no log line, exception message or repr.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import json
import math
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

from dsp.errors import HubConfigError, HubNotPairedError, PairingError
from sync.http_read import ANSWER_LIMIT_BYTES, IDENTITY, SlowAnswerError, read_capped
from sync.pairing import Paired, load_pairing
from sync.store import default_data_dir

# 4xx answers that are the network's or the Hub's load, not the item's; every 5xx is too.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# The answer to a POST of an item the contract never gives: no Hub API at this address
# (a URL with a wrong path, another server, a proxy's misroute). No item is at fault.
NO_API_STATUSES = frozenset({404, 405})
# RFC 6585's "Network Authentication Required": what a standards-minded captive portal says.
PORTAL_STATUS = 511
RECEIPT_RESULTS = frozenset({"created", "duplicate", "updated"})
SESSIONS_PATH = "/api/v1/sessions"
PLANS_PATH = "/api/v1/practice-plans"
SUMMARIES_PATH = "/api/v1/session-summaries"


def hub_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a Hub's address ("must be …", to follow the name it
    came by: FRETCOACH_HUB_URL, --hub), or None. Paths are appended to it, so it may have
    no ?query or #fragment ("…?x=1/api/v1/sessions" reaches no Hub); a port out of range
    or a broken [IPv6] host would only fail later, as a traceback or "Failed to parse"."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port  # parsing it is the check: 99999, "80a" or "[::1" raise
    except ValueError:
        return (
            "must have a port from 1 to 65535 and an IPv6 host in closed [brackets] "
            f"(such as http://[::1]:8787), not {shown!r}"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http(s) URL such as https://hub.example.com, not {shown!r}"
    if port == 0:
        return f"must have a port from 1 to 65535, not {shown!r}"
    if parts.query or parts.fragment:
        return (
            "must be the Hub's address without a ?query or #fragment, such as "
            f"https://hub.example.com, not {shown!r}"
        )
    return None


@dataclass(frozen=True, slots=True)
class HubSettings:
    url: str
    token: str = field(repr=False)
    ca_bundle: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        problem = hub_url_problem(self.url)
        if problem is not None:
            raise HubConfigError(f"FRETCOACH_HUB_URL {problem}")
        if not self.token:
            raise HubConfigError("FRETCOACH_HUB_TOKEN is empty: set it to this device's token")
        if self.ca_bundle is not None and not os.path.exists(self.ca_bundle):
            raise HubConfigError(
                f"FRETCOACH_HUB_CA_BUNDLE points to {self.ca_bundle}, which does not exist"
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, data_dir: Path | None = None
    ) -> HubSettings | None:
        """Settings from the environment and the pairing, or None when no Hub is configured.

        ``FRETCOACH_HUB_TOKEN`` wins; without it, the token ``fretcoach pair`` saved in
        ``data_dir`` (default: the store's directory) is used, and its Hub address too
        when ``FRETCOACH_HUB_URL`` is not set.
        """
        env = os.environ if environ is None else environ
        url = env.get("FRETCOACH_HUB_URL", "").strip()
        token = env.get("FRETCOACH_HUB_TOKEN", "").strip()
        if not token:
            paired = _saved_pairing(env, data_dir)
            if paired is not None and (not url or url.rstrip("/") == paired.url.rstrip("/")):
                url, token = url or paired.url, paired.token
        if not url:
            return None
        if not token:
            raise HubNotPairedError(
                "FRETCOACH_HUB_URL is set but this device is not paired with that Hub: run "
                "`fretcoach pair` (or set FRETCOACH_HUB_TOKEN to a device token)",
                url.rstrip("/"),
            )
        return cls(
            url=url.rstrip("/"),
            token=token,
            ca_bundle=env.get("FRETCOACH_HUB_CA_BUNDLE") or None,
            connect_timeout_s=_seconds(env, "FRETCOACH_HUB_CONNECT_TIMEOUT", 5.0),
            read_timeout_s=_seconds(env, "FRETCOACH_HUB_READ_TIMEOUT", 15.0),
        )

    @property
    def shown_url(self) -> str:
        """The URL for people and logs: any user:password in it is replaced by ``***``."""
        return redact_url(self.url)


def _saved_pairing(env: Mapping[str, str], data_dir: Path | None) -> Paired | None:
    folder = data_dir
    if folder is None:
        explicit = env.get("FRETCOACH_DATA_DIR")
        folder = Path(explicit).expanduser() if explicit else default_data_dir()
    try:
        return load_pairing(folder)
    except PairingError as err:
        raise HubConfigError(str(err)) from err


# A timeout longer than this is a typo (or minutes meant as seconds), and the outbox
# worker would sit that long on one request.
MAX_TIMEOUT_S = 600.0


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_TIMEOUT_S:  # also refuses nan and inf
        raise HubConfigError(
            f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}, "
            f"not {text!r}"
        )
    return value


def redact_url(url: str) -> str:
    """``url`` with any credentials in it replaced: ``https://***@host/…``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a broken [IPv6] host: no parts to rebuild, only the credentials
        return url if "@" not in url else "***@" + url.rpartition("@")[2]
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


class Verdict(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"
    # 401/403: the token, not the item, is wrong (never paired, revoked, mistyped). Every
    # item would fail alike, so the queue waits for a re-pair instead of rejecting them.
    PAUSE = "pause"


AUTH_STATUSES = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class PostResult:
    verdict: Verdict
    status: int | None
    reason: str
    retry_after_s: float | None = None
    # Something other than the Hub answered: a captive portal's page or redirect, a proxy.
    not_the_hub: bool = False


class HubClient:
    """Posts JSON to the Hub. Thread-confined: one per worker thread."""

    def __init__(self, settings: HubSettings, *, user_agent: str = "fretcoach-portable") -> None:
        self.settings = settings
        self._http = requests.Session()
        self._http.headers.update(
            {
                "Authorization": f"Bearer {settings.token}",
                "Content-Type": "application/json",
                "User-Agent": user_agent,
                **IDENTITY,
            }
        )
        # Verification stays on; a private CA is a bundle path, never verify=False.
        self._http.verify = settings.ca_bundle or True

    def close(self) -> None:
        self._http.close()

    def use_token(self, token: str) -> None:
        """Send ``token`` from the next request on (a new pairing while the daemon runs;
        then :meth:`sync.worker.SyncWorker.wake` retries the paused queue at once)."""
        self.settings = dataclasses.replace(self.settings, token=token)
        self._http.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: str, *, idempotency_key: str) -> PostResult:
        started = time.monotonic()
        try:
            response = self._http.post(
                self.settings.url + path,
                data=body.encode(),
                headers={"Idempotency-Key": idempotency_key},
                timeout=(self.settings.connect_timeout_s, self.settings.read_timeout_s),
                allow_redirects=False,  # a POST redirected becomes a GET of someone's page
                stream=True,
            )
            with response:
                text = _read_capped(response, self.settings.read_timeout_s, started)
        except requests.exceptions.SSLError as err:
            if "WRONG_VERSION_NUMBER" in str(err):  # a plain-HTTP server answered the hello
                return PostResult(
                    Verdict.RETRY,
                    None,
                    f"{self.settings.shown_url} does not speak https (TLS): use http:// in "
                    "FRETCOACH_HUB_URL, or serve the Hub behind a TLS proxy",
                )
            return PostResult(Verdict.RETRY, None, f"TLS verification failed: {_short(err)}")
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
            return PostResult(Verdict.RETRY, None, "the Hub did not answer in time")
        except SlowAnswerError as err:
            return PostResult(Verdict.RETRY, None, f"{err}; kept queued for the next try")
        except requests.exceptions.ConnectionError as err:
            return PostResult(Verdict.RETRY, None, f"cannot reach the Hub: {_short(err)}")
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as err:
            return PostResult(Verdict.RETRY, None, f"request failed: {_short(err)}")
        result = classify(
            response.status_code,
            text,
            response.headers.get("Retry-After"),
            expect_id=idempotency_key,
            location=response.headers.get("Location"),
        )
        # A summary's route is optional (the worker declines those); the others are not.
        if result.status in NO_API_STATUSES and path != SUMMARIES_PATH:
            return dataclasses.replace(
                result,
                verdict=Verdict.RETRY,
                reason=f"HTTP {result.status} from {redact_url(self.settings.url + path)}: "
                "no FretCoach Hub API there, so nothing was rejected — set "
                "FRETCOACH_HUB_URL to the Hub's own address (where /healthz answers, "
                "e.g. http://hub.local:8787)",
            )
        return result


def _read_capped(response: requests.Response, deadline_s: float, started: float) -> str:
    """The answer's text: at most 64 KiB of it, within ``deadline_s`` of ``started``
    (:mod:`sync.http_read`)."""
    data = read_capped(response, deadline_s, limit=ANSWER_LIMIT_BYTES, started=started)
    return data.decode(response.encoding or "utf-8", errors="replace")


def classify(
    status: int,
    text: str,
    retry_after: str | None,
    *,
    expect_id: str | None = None,
    location: str | None = None,
) -> PostResult:
    """The verdict on one answer; ``expect_id`` is the id the Hub's receipt must name."""
    if 300 <= status < 400:
        where = redact_url(location) if location else "somewhere"
        return PostResult(
            Verdict.RETRY,
            status,
            f"HTTP {status}: the Hub URL redirects to {where} — on a Wi-Fi with a sign-in "
            "page, sign in first; if the Hub moved, set FRETCOACH_HUB_URL to its new address",
            not_the_hub=True,
        )
    if 200 <= status < 300:
        if status in (200, 201) and _is_receipt(text, expect_id):
            return PostResult(
                Verdict.SENT, status, "created" if status == 201 else "already on the Hub"
            )
        return PostResult(
            Verdict.RETRY,
            status,
            f"HTTP {status} without the Hub's receipt ({_detail(text)[:80]!r}): a captive "
            "portal or proxy answered instead of the Hub? Check FRETCOACH_HUB_URL and the "
            "network",
            not_the_hub=True,
        )
    reason = f"HTTP {status}: {_detail(text)}"
    if status == PORTAL_STATUS:
        return PostResult(
            Verdict.RETRY,
            status,
            f"HTTP {status}: the network asks you to sign in (a Wi-Fi captive portal) — "
            "sign in on its page first",
            parse_retry_after(retry_after),
            not_the_hub=True,
        )
    if status in AUTH_STATUSES:
        return PostResult(Verdict.PAUSE, status, reason)
    if status in RETRYABLE_STATUSES or status >= 500:
        wait_s = parse_retry_after(retry_after)
        if wait_s is not None:
            reason += f" (the Hub asks to wait {math.ceil(wait_s):d} s before trying again)"
        return PostResult(Verdict.RETRY, status, reason, wait_s)
    return PostResult(Verdict.REJECTED, status, reason)


def _is_receipt(text: str, expect_id: str | None) -> bool:
    """Whether ``text`` is the Hub's JSON receipt (``{"session_id": …, "result": "created"}``)
    for ``expect_id``."""
    try:
        body = json.loads(text)
    except ValueError:
        return False
    if not isinstance(body, dict) or body.get("result") not in RECEIPT_RESULTS:
        return False
    if expect_id is None:
        return True
    named = body.get("session_id", body.get("practice_id"))
    try:
        return uuid.UUID(str(named)) == uuid.UUID(expect_id)
    except ValueError:
        return str(named) == expect_id


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _detail(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200] or "no details"
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error", body))
        if isinstance(detail, list):
            parts = [
                f"{d.get('field', '?')}: {d.get('message', '')}" if isinstance(d, dict) else str(d)
                for d in detail
            ]
            return "; ".join(parts)[:300]
        return str(detail)[:300]
    return str(body)[:300]


def _short(err: Exception) -> str:
    text = str(err)
    return text if len(text) <= 160 else text[:157] + "..."
