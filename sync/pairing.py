"""The device's side of pairing (RFC 8628) and where the device token is kept.

:func:`request_code` asks the Hub for a code pair; the device shows the user code and a QR
of ``verification_uri_complete`` (:func:`sync.qr.qr_matrix`); :func:`wait_for_token`
polls, honouring ``interval`` and ``slow_down``, until the user approves. The token is
saved by :func:`save_pairing` in ``hub-pairing.json`` in the state directory, mode 0600,
and :meth:`sync.client.HubSettings.from_env` uses it when ``FRETCOACH_HUB_TOKEN`` is not
set. It is never printed or logged: :class:`Paired` keeps it out of its repr.
:class:`BackgroundPairing` runs the same flow on a thread for the device's screen.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from dsp.errors import PairingError
from sync.http_read import IDENTITY, SlowAnswerError, read_capped

if TYPE_CHECKING:
    from sync.store import Store

log = logging.getLogger(__name__)

PAIRING_FILE = "hub-pairing.json"
CLIENT_ID = "fretcoach-portable"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTHORIZATION_PATH = "/oauth/device_authorization"
TOKEN_PATH = "/oauth/token"
SLOW_DOWN_STEP_S = 5  # RFC 8628 §3.5


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """The Hub's answer to :func:`request_code` (RFC 8628 §3.2)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class Paired:
    """A device token and where it works; what ``hub-pairing.json`` holds."""

    url: str
    token: str = field(repr=False)
    user_id: str
    paired_at: str


def pairing_path(data_dir: Path) -> Path:
    return data_dir / PAIRING_FILE


def request_code(
    hub_url: str, device_name: str, *, verify: bool | str = True, timeout_s: float = 10.0
) -> DeviceCode:
    """Start pairing: POST the device authorization request."""
    answer = _post(
        hub_url + AUTHORIZATION_PATH,
        {"client_id": CLIENT_ID, "device_name": device_name},
        verify=verify,
        timeout_s=timeout_s,
    )
    if answer.status_code != 200:
        raise _not_started(hub_url, answer)
    try:
        data = answer.json()
        return DeviceCode(
            device_code=str(data["device_code"]),
            user_code=str(data["user_code"]),
            verification_uri=str(data["verification_uri"]),
            verification_uri_complete=str(
                data.get("verification_uri_complete") or data["verification_uri"]
            ),
            expires_in=int(data["expires_in"]),
            interval=int(data.get("interval", 5)),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise PairingError(
            f"{hub_url} does not speak RFC 8628 pairing (bad answer: {err}): check "
            "FRETCOACH_HUB_URL"
        ) from err


def wait_for_token(
    hub_url: str,
    code: DeviceCode,
    *,
    verify: bool | str = True,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    on_wait: Callable[[float], None] | None = None,
) -> Paired:
    """Poll the token endpoint until the user decides; the token, or :class:`PairingError`.

    Waits ``interval`` seconds between polls and 5 s more after each ``slow_down``, as
    RFC 8628 §3.5 says; a network error or 5xx is waited out like ``authorization_pending``
    until the code expires. ``on_wait(seconds_left)`` is called before each wait.
    """
    interval = max(1, code.interval)
    deadline = monotonic() + code.expires_in
    while True:
        left = deadline - monotonic()
        if left <= 0:
            raise PairingError(
                "the code expired before it was approved: run `fretcoach pair` again"
            )
        if on_wait is not None:
            on_wait(left)
        sleep(min(interval, left))
        try:
            answer = _post(
                hub_url + TOKEN_PATH,
                {
                    "grant_type": DEVICE_CODE_GRANT,
                    "device_code": code.device_code,
                    "client_id": CLIENT_ID,
                },
                verify=verify,
                timeout_s=timeout_s,
            )
        except PairingError:
            continue  # the Wi-Fi dropped for a moment: the code is still good
        if answer.status_code == 200:
            try:
                data = answer.json()
                token, user = str(data["access_token"]), str(data["user_id"])
            except (ValueError, KeyError, TypeError) as err:
                raise PairingError(f"the Hub's token answer is malformed ({err})") from err
            return Paired(url=hub_url, token=token, user_id=user, paired_at=_now())
        if answer.status_code >= 500 or answer.status_code == 429:
            continue
        if 300 <= answer.status_code < 400:
            continue  # a captive portal came up meanwhile: the code is still good
        error = _oauth_error(answer)
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP_S
            continue
        if error == "access_denied":
            raise PairingError("pairing was declined at the Hub: run `fretcoach pair` to try again")
        if error == "expired_token":
            raise PairingError(
                "the code expired before it was approved: run `fretcoach pair` again"
            )
        raise PairingError(f"the Hub refused pairing: {_oauth_reason(answer)}")


def save_pairing(data_dir: Path, paired: Paired) -> Path:
    """Write ``hub-pairing.json`` 0600 (created so; never world-readable for a moment)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = pairing_path(data_dir)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    text = json.dumps(
        {
            "url": paired.url,
            "token": paired.token,
            "user_id": paired.user_id,
            "paired_at": paired.paired_at,
        }
    )
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)  # O_CREAT's mode is only used for a new file
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def load_pairing(data_dir: Path) -> Paired | None:
    """The saved pairing, or None when the device has never been paired.

    An unreadable or damaged file is a :class:`PairingError` naming it (and the fix), not
    a silent fall-back to no token: the queue would otherwise wait without saying why.
    """
    path = pairing_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise PairingError(
            f"the state directory {data_dir} is not a directory: set FRETCOACH_DATA_DIR (or "
            "--data-dir) to a writable folder"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise PairingError(f"cannot read {path} ({err}): run `fretcoach pair` again") from err
    try:
        data = json.loads(text)
        return Paired(
            url=str(data["url"]),
            token=str(data["token"]),
            user_id=str(data["user_id"]),
            paired_at=str(data.get("paired_at", "")),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise PairingError(f"{path} is damaged: run `fretcoach pair` again") from err


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class _Answer:
    """What pairing reads of an HTTP answer: its status, text and two headers."""

    status_code: int
    text: str
    location: str | None = None
    retry_after: str | None = None

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not (nested too deep to read included:
        a 64 KiB answer of ``[[[…`` was a RecursionError traceback)."""
        try:
            return json.loads(self.text)
        except RecursionError as err:
            raise ValueError("the answer nests too deep to read") from err


def _post(url: str, form: dict[str, str], *, verify: bool | str, timeout_s: float) -> _Answer:
    """POST ``form``; redirects are not followed (a captive portal's is reported, and a
    POST redirected would become a GET of someone's page), and the answer must arrive
    within ``timeout_s`` in all, not just each byte of it (:mod:`sync.http_read`)."""
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # no credentials
    started = time.monotonic()
    try:
        response = requests.post(
            url,
            data=form,
            timeout=(timeout_s, timeout_s),
            verify=verify,
            headers={"Accept": "application/json", **IDENTITY},
            allow_redirects=False,
            stream=True,
        )
        with response:
            data = read_capped(response, timeout_s, started=started)
    except SlowAnswerError as err:
        raise PairingError(f"cannot pair through {where}: {err}") from err
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as err:
        raise PairingError(f"cannot reach the Hub at {where}: {type(err).__name__}") from err
    return _Answer(
        response.status_code,
        data.decode(response.encoding or "utf-8", errors="replace"),
        response.headers.get("Location"),
        response.headers.get("Retry-After"),
    )


def _not_started(hub_url: str, answer: _Answer) -> PairingError:
    """Why the Hub did not hand out a code, with the fix for the answers a wrong address,
    a captive portal or a busy Hub give."""
    status = answer.status_code
    if 300 <= status < 400:
        return PairingError(
            f"{hub_url} redirects to {answer.location or 'somewhere else'} — on a Wi-Fi "
            "with a sign-in page, sign in first; if the Hub moved, pass its new address "
            "with --hub"
        )
    if status in (404, 405):
        return PairingError(
            f"{hub_url} has no pairing ({AUTHORIZATION_PATH} answered HTTP {status}): pass "
            "the Hub's own address with --hub (where /healthz answers, e.g. "
            "http://hub.local:8787)"
        )
    if status == 429:
        wait = f"{answer.retry_after} s" if (answer.retry_after or "").isdigit() else "a minute"
        return PairingError(
            f"the Hub has had too many pairing attempts from this address "
            f"({_oauth_reason(answer)}): wait {wait}, then run `fretcoach pair` again"
        )
    if status >= 500:
        return PairingError(
            f"the Hub failed to start pairing ({_oauth_reason(answer)}): run `fretcoach "
            "pair` again in a minute"
        )
    return PairingError(f"the Hub refused to start pairing: {_oauth_reason(answer)}")


def _oauth_error(answer: _Answer) -> str:
    try:
        return str(answer.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def _oauth_reason(answer: _Answer) -> str:
    try:
        data = answer.json()
        text = data.get("error_description") or data.get("detail") or data.get("error")
    except (ValueError, AttributeError):
        text = answer.text.strip()[:200]
    return f"HTTP {answer.status_code}: {text or 'no details'}"


# --------------------------------------------------------------------------- on the device


@dataclass(frozen=True, slots=True)
class PairingState:
    """Where a :class:`BackgroundPairing` is, for a screen to draw.

    ``phase``: ``starting`` (asking the Hub for a code), ``waiting`` (show ``user_code``
    and a QR of ``verification_uri_complete``), ``paired`` (``message`` names the user),
    ``failed`` (``message`` is one line saying what to do).
    """

    phase: str
    user_code: str | None = None
    verification_uri: str | None = None
    verification_uri_complete: str | None = None
    message: str = ""


class BackgroundPairing:
    """The whole pairing flow on a thread, so a screen can show :attr:`state` meanwhile.

    On success the token is saved in ``data_dir`` and ``on_paired(paired)`` is called
    from the thread: the place to call :func:`after_pairing` (lifts the queue's pause) and
    ``worker.client.use_token(paired.token)`` then ``worker.wake()`` (the running sync
    worker sends with the new token at once). :meth:`cancel` stops polling within a
    second.
    """

    def __init__(
        self,
        hub_url: str,
        data_dir: Path,
        device_name: str,
        *,
        verify: bool | str = True,
        on_paired: Callable[[Paired], None] | None = None,
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.data_dir = data_dir
        self.device_name = device_name
        self.verify = verify
        self.on_paired = on_paired
        self._state = PairingState("starting")
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pairing", daemon=True)

    @property
    def state(self) -> PairingState:
        return self._state

    def start(self) -> BackgroundPairing:
        self._thread.start()
        return self

    def cancel(self, *, wait_s: float = 5.0) -> None:
        self._cancelled.set()
        if self._thread.is_alive():
            self._thread.join(timeout=wait_s)

    def _sleep(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            raise PairingError("pairing cancelled")

    def _run(self) -> None:
        try:
            code = request_code(self.hub_url, self.device_name, verify=self.verify)
            self._state = PairingState(
                "waiting",
                user_code=code.user_code,
                verification_uri=code.verification_uri,
                verification_uri_complete=code.verification_uri_complete,
            )
            paired = wait_for_token(self.hub_url, code, verify=self.verify, sleep=self._sleep)
            save_pairing(self.data_dir, paired)
            if self.on_paired is not None:
                self.on_paired(paired)
        except PairingError as err:
            self._state = PairingState("failed", message=str(err))
            return
        except Exception as err:  # a screen must learn the flow ended; the log has the rest
            log.exception("pairing failed")
            self._state = PairingState("failed", message=f"pairing failed: {err}")
            return
        self._state = PairingState("paired", message=f"paired as {paired.user_id}")


def after_pairing(store: Store) -> int:
    """What a new pairing fixes in the store: the queue's pause is lifted, and items an
    older device rejected for a refused token are queued again (returns how many)."""
    store.resume_hub()
    return store.retry_refused_token()
