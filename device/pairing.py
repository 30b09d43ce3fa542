"""``fretcoach pair``: pair this device with a Hub user from a terminal (RFC 8628).

Shows the user code, the link with the code in it (and its QR code), polls the Hub until
the user approves on their phone, then saves the device token 0600 in the state
directory. The token is never printed. The screen's pairing offer uses the same pieces
(:mod:`sync.pairing`, :func:`sync.qr.qr_matrix`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dsp.errors import DeviceError
from sync.client import hub_url_problem, redact_url
from sync.pairing import (
    after_pairing,
    load_pairing,
    request_code,
    save_pairing,
    wait_for_token,
)
from sync.qr import terminal_qr
from sync.store import Store, default_data_dir

EXIT_OK = 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pair = commands.add_parser(
        "pair",
        help="pair this device with your Hub account (shows a code and a QR link)",
        description="Pair this device with a Hub user, the OAuth 2.0 device way (RFC 8628): "
        "it shows a short code and a link (also as a QR code); open the link on a phone, "
        "sign in to the Hub and approve. The device token is then saved, readable by this "
        "user only, in the state directory, and `fretcoach run` and `fretcoach sync` use "
        "it whenever FRETCOACH_HUB_TOKEN is not set. Sessions recorded before pairing "
        "upload as the approving user's.",
    )
    pair.add_argument(
        "--hub",
        metavar="URL",
        help="the Hub to pair with (default: FRETCOACH_HUB_URL, else the Hub paired before)",
    )
    pair.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    pair.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="state directory where the token is saved "
        f"(default: FRETCOACH_DATA_DIR or {default_data_dir()})",
    )
    pair.set_defaults(handler=cmd_pair)


def cmd_pair(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    url = (args.hub or os.environ.get("FRETCOACH_HUB_URL", "")).strip().rstrip("/")
    if not url:
        before = load_pairing(data_dir)
        url = before.url if before else ""
    if not url:
        raise DeviceError(
            "no Hub to pair with: pass --hub https://your-hub or set FRETCOACH_HUB_URL"
        )
    problem = hub_url_problem(url)
    if problem is not None:
        raise DeviceError(f"the Hub's address {problem}: pass its own address with --hub")
    verify: bool | str = os.environ.get("FRETCOACH_HUB_CA_BUNDLE") or True
    with Store.open(data_dir) as store:
        device_name = store.device_id()
    code = request_code(url, device_name, verify=verify)
    print(f"To pair this device, open on your phone:\n\n  {code.verification_uri_complete}\n")
    if not args.no_qr:
        print(terminal_qr(code.verification_uri_complete) + "\n")
    print(
        f"or go to {code.verification_uri} and enter the code  {code.user_code}\n"
        f"Waiting for approval (the code is valid for {code.expires_in // 60} min; "
        "Ctrl-C to stop)…",
        flush=True,
    )
    paired = wait_for_token(url, code, verify=verify)
    path = save_pairing(data_dir, paired)
    with Store.open(data_dir) as store:
        revived = after_pairing(store)
    print(
        f"paired with {redact_url(url)} as {paired.user_id}; the token is saved in {path} "
        "(readable by this user only)"
        + (f"; {revived} item(s) refused for the old token are queued again" if revived else "")
    )
    sys.stdout.flush()
    return EXIT_OK
