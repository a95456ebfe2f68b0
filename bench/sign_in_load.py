"""Load generator for sign-ins, ``POST /oauth2/token`` with the password grant, run as a process
of its own.

Each worker stands for one client with a connection of its own and signs in the next user of a
file of credentials, taken in turn, with the ``openid`` scope as the SDK asks by default. A
``503`` is sent again after the ``Retry-After`` it carries, as the SDK does for a call refused
before any work.

Throughput is counted on completions: the successes that finish inside the measuring window
(after a warm-up), divided by the window's length. After the window no new request is sent and
those in flight are awaited, so the server is idle when this process exits. The summary is one
JSON object on standard output.

    python -m bench.sign_in_load --base-url URL --authorization 'Basic ...' \
        --credentials credentials.json --concurrency 4 --warmup 5 --window 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

import httpx

from bench.reset_load import error_code
from bench.stats import summarize

SUCCESS = 200
BUSY = 503
SCOPE = "openid"


@dataclass(frozen=True)
class Credential:
    username: str
    password: str


def sign_in_form(credential: Credential) -> dict[str, str]:
    """The form body of a password sign-in."""
    return {
        "grant_type": "password",
        "username": credential.username,
        "password": credential.password,
        "scope": SCOPE,
    }


@dataclass
class Record:
    """What the workers saw."""

    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    completions: list[float] = field(default_factory=list)  # when each success finished
    latency_ms: dict[str, list[float]] = field(default_factory=dict)


async def _worker(
    client: httpx.AsyncClient, credentials: Iterator[Credential], record: Record, stop_at: float
) -> None:
    while time.monotonic() < stop_at:
        form = sign_in_form(next(credentials))
        while True:
            started = time.monotonic()
            try:
                response = await client.post("/oauth2/token", data=form)
            except httpx.TransportError as exc:
                record.statuses[type(exc).__name__] += 1
                break
            finished = time.monotonic()
            status = str(response.status_code)
            record.statuses[status] += 1
            record.latency_ms.setdefault(status, []).append((finished - started) * 1000)
            if response.status_code == SUCCESS:
                record.completions.append(finished)
                break
            record.errors[error_code(response)] += 1
            if response.status_code != BUSY:
                break
            delay = float(response.headers.get("Retry-After") or 1)
            if time.monotonic() + delay >= stop_at:
                return
            await asyncio.sleep(delay)


async def _run(arguments: argparse.Namespace, credentials: list[Credential]) -> dict[str, object]:
    record = Record()
    turns = cycle(credentials)
    headers = {"Authorization": arguments.authorization}
    async with contextlib.AsyncExitStack() as stack:
        # One client per worker, made before the clock starts, as bench.reset_load does.
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=arguments.base_url, headers=headers, timeout=arguments.timeout
                )
            )
            for _ in range(arguments.concurrency)
        ]
        window_start = time.monotonic() + arguments.warmup
        stop_at = window_start + arguments.window
        await asyncio.gather(*(_worker(client, turns, record, stop_at) for client in clients))
        drained = time.monotonic()
    in_window = [t for t in record.completions if window_start <= t <= stop_at]
    return {
        "concurrency": arguments.concurrency,
        "warmup_s": arguments.warmup,
        "window_s": arguments.window,
        "users": len(credentials),
        "successes": len(record.completions),
        "successes_in_window": len(in_window),
        "sign_ins_per_s": len(in_window) / arguments.window,
        "statuses": dict(record.statuses),
        "errors": dict(record.errors),
        "latency_ms": {
            status: summarize(values) for status, values in sorted(record.latency_ms.items())
        },
        "drain_s": drained - stop_at,
    }


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Load generator for password sign-ins.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--authorization", required=True, help="the Authorization header value")
    parser.add_argument(
        "--credentials", required=True, help="JSON list of {username, password}, taken in turn"
    )
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--warmup", type=float, default=0.0)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    return parser


def main() -> None:
    arguments = argument_parser().parse_args()
    raw = json.loads(Path(arguments.credentials).read_text())
    credentials = [Credential(username=c["username"], password=c["password"]) for c in raw]
    summary = asyncio.run(_run(arguments, credentials))
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
