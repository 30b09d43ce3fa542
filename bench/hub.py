"""`make bench`, Hub part: a device's upload throughput while anonymous clients attack the Hub.

The reference Hub runs on 127.0.0.1 with its default limits. One device client posts
sessions back to back over one kept-alive connection for ``MEASURE_S`` seconds:

* unloaded;
* while 200 slow unauthenticated connections are held (100 that send headers and dribble
  a body, 100 that dribble their headers; each reconnects once the Hub ends it);
* while 4, then 64, clients post 2 MiB unauthenticated bodies back to back (the Hub
  blocks the address after its failed-token limit and holds each 429 up to 5 s; the 64
  show what many concurrent connections cost it).

Prints each throughput, its ratio to the unloaded one (the mean of a run before and one
after the attacks; the target is ≥ 80 %) and the Hub's resident memory, and writes
``out/bench_hub.json`` and ``out/bench_hub.md``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import re
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import requests

from tests.hubproc import HubProcess, SlowAttack, SlowKind
from tests.test_hub_server import session_body

OUT = Path("out")
MEASURE_S = 10.0
SETTLE_S = 3.0  # let the attack reach its steady state before measuring
# An ended slow connection is replaced after this many seconds: the anonymous half then
# makes 50 or 200 new connections a second (each answered 401), on top of the 100 held.
RECONNECT_S = (2.0, 0.5)
SLOW: list[SlowKind] = ["anonymous-body"] * 100 + ["slow-headers"] * 100
BIG_BODY = b"{" + b" " * (2 * 1024 * 1024 - 2) + b"}"
BIG_CLIENTS = (4, 64)


def device_throughput(hub: HubProcess, seconds: float) -> dict[str, float]:
    """Sessions per second one client gets; every answer must be 201."""
    failures = 0
    posted = 0
    with requests.Session() as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            body = session_body()
            response = client.post(
                f"{hub.url}/api/v1/sessions",
                json=body,
                headers=hub.headers("alice", body["session_id"]),
                timeout=30,
            )
            posted += 1
            failures += response.status_code != 201
    return {"per_second": posted / seconds, "posted": posted, "failures": failures}


def resident_mib(hub: HubProcess) -> float:
    """The Hub's VmRSS, from the pid uvicorn logs at start-up."""
    found = re.search(r"Started server process \[(\d+)\]", hub.log())
    if found is None:
        return float("nan")
    status = Path(f"/proc/{found[1]}/status").read_text()
    kib = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(kib[1]) / 1024 if kib else float("nan")


def _slow_attack(port: int, reconnect_s: float, done: EventType, ended: Queue[list[str]]) -> None:
    attack = SlowAttack(port, SLOW, dribble_s=120, reconnect_s=reconnect_s).start()
    done.wait()
    ended.put([str(outcome.status) for outcome in attack.stop()])


def slow_connections(port: int, reconnect_s: float) -> Callable[[], list[str]]:
    """The 200 slow connections, from another process (the attacker's threads must not
    take the measuring client's GIL); returns a stop() → the Hub's answers to them."""
    context = multiprocessing.get_context("fork")
    done = context.Event()
    ended: Queue[list[str]] = context.Queue()
    child = context.Process(target=_slow_attack, args=(port, reconnect_s, done, ended), daemon=True)
    child.start()

    def halt() -> list[str]:
        done.set()
        statuses = ended.get(timeout=180)
        child.join(timeout=15)
        return statuses

    return halt


def _big_bodies(port: int, clients: int, done: EventType, total: Queue[int]) -> None:
    stop = threading.Event()
    attempts = [0] * clients

    def blast(slot: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                attempts[slot] += 1
                # The Hub may close on us after its 401, mid-body: that is the point.
                with contextlib.suppress(requests.RequestException):
                    session.post(
                        f"http://127.0.0.1:{port}/api/v1/sessions",
                        data=BIG_BODY,
                        headers={"Content-Type": "application/json"},
                        timeout=10,
                    )

    threads = [threading.Thread(target=blast, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    done.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    total.put(sum(attempts))


def big_bodies(port: int, clients: int) -> Callable[[], int]:
    """``clients`` threads in another process posting 2 MiB without a token; returns a
    stop() → how many posts they attempted."""
    context = multiprocessing.get_context("fork")
    done = context.Event()
    total: Queue[int] = context.Queue()
    child = context.Process(target=_big_bodies, args=(port, clients, done, total), daemon=True)
    child.start()

    def halt() -> int:
        done.set()
        attempts = total.get(timeout=60)
        child.join(timeout=15)
        return attempts

    return halt


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="fc-bench-hub-") as tmp,
        HubProcess(Path(tmp), enable_faults=False) as hub,
    ):
        device_throughput(hub, 1.0)  # warm up
        print(f"hub: a device posting alone for {MEASURE_S:g} s …", flush=True)
        alone = device_throughput(hub, MEASURE_S)
        rss_alone = resident_mib(hub)

        slows = []
        ended: list[str] = []
        for reconnect_s in RECONNECT_S:
            print(f"hub: … with 200 slow connections (reconnecting after {reconnect_s:g} s) …")
            halt_slow = slow_connections(hub.port, reconnect_s)
            time.sleep(SETTLE_S)
            slows.append(device_throughput(hub, MEASURE_S))
            rss_slow = resident_mib(hub)
            ended += halt_slow()

        bigs = []
        for clients in BIG_CLIENTS:
            print(f"hub: … while {clients} clients post 2 MiB bodies without a token …", flush=True)
            halt = big_bodies(hub.port, clients)
            time.sleep(1.0)
            big = device_throughput(hub, MEASURE_S)
            rss_big = resident_mib(hub)
            bigs.append({**big, "clients": clients, "attempts": halt()})
        # Unloaded again at the end: the machine's load drifts, and each ratio is against
        # the mean of both unloaded runs (both printed).
        print(f"hub: a device posting alone again for {MEASURE_S:g} s …", flush=True)
        time.sleep(SETTLE_S)
        alone_after = device_throughput(hub, MEASURE_S)
    unloaded = (alone["per_second"] + alone_after["per_second"]) / 2
    statuses = sorted(set(ended))
    results = {
        "alone": alone,
        "alone_after": alone_after,
        "slow_connections": [
            {**slow, "reconnect_s": reconnect_s}
            for slow, reconnect_s in zip(slows, RECONNECT_S, strict=True)
        ],
        "slow_ended_by_hub": {"count": len(ended), "statuses": statuses},
        "big_bodies": bigs,
        "rss_mib": {"alone": rss_alone, "slow": rss_slow, "big": rss_big},
    }
    (OUT / "bench_hub.json").write_text(json.dumps(results, indent=2))
    failures = sum(run["failures"] for run in [alone, alone_after, *slows, *bigs])
    rows = [
        (
            "hub: device sessions/s, alone (before / after the attacks)",
            f"{alone['per_second']:.0f} / {alone_after['per_second']:.0f}",
        ),
        *[
            (
                f"hub: … with 200 slow unauthenticated connections, each replaced "
                f"{reconnect_s:g} s after the Hub ends it",
                f"{slow['per_second']:.0f} ({slow['per_second'] / unloaded:.0%})",
            )
            for slow, reconnect_s in zip(slows, RECONNECT_S, strict=True)
        ],
        *[
            (
                f"hub: … with {big['clients']} clients posting 2 MiB without a token, back to "
                f"back (posts they made)",
                f"{big['per_second']:.0f} ({big['per_second'] / unloaded:.0%}; {big['attempts']})",
            )
            for big in bigs
        ],
        (
            "hub: slow connections the Hub ended (answers)",
            f"{len(ended)} ({', '.join(statuses)})",
        ),
        (
            "hub: resident memory alone / slow / 2 MiB attack",
            f"{rss_alone:.0f} / {rss_slow:.0f} / {rss_big:.0f} MiB",
        ),
        ("hub: device posts that failed", f"{failures}"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    md = ["| Hub under attack | figure |", "|---|---|"] + [f"| {n} | {v} |" for n, v in rows]
    (OUT / "bench_hub.md").write_text("\n".join(md) + "\n")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
