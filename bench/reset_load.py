"""Load generator for ``POST /reset_user_password``, run as a process of its own.

Every reset needs a live token and its code, so requests cannot be replayed: each worker takes
the next prepared ``(email, otp_token, code)`` from a file and sends it with a fresh password.
A ``503`` is retried with the same code after the ``Retry-After`` it carries (the code stays
valid), as the SDK does, when ``--retry-busy`` is given. With ``--peer`` it drives the
benchmark's peer instead (:mod:`bench.peer.app`): ``POST /auth/reset-password`` with the token
alone, fastapi-users' reset.

Throughput is counted on completions: the successes that finish inside the measuring window
(after a warm-up), divided by the window's length. After the window no new request is sent and
those in flight are awaited, so the server is idle when this process exits. The summary is one
JSON object on standard output.

    python -m bench.reset_load --base-url URL --authorization 'Basic ...' --pairs pairs.json \
        --concurrency 8 --warmup 8 --window 40
    python -m bench.reset_load --peer --base-url URL --pairs pairs.json --concurrency 8 ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.stats import summarize

SUCCESS = 200
BUSY = 503


@dataclass(frozen=True)
class Pair:
    email: str
    token: str
    code: str


@dataclass
class Record:
    """What the workers saw."""

    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    completions: list[float] = field(default_factory=list)  # when each success finished
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    busy_with_retry_after: int = 0
    pairs_used: int = 0
    ran_out: bool = False


def _password() -> str:
    """A new password no dictionary holds, fresh for each reset."""
    return f"Bench-{secrets.token_hex(8)}"


def error_code(response: httpx.Response) -> str:
    """The error code of an answer: the server's ``error``, fastapi-users' ``detail``, or the
    status for an answer that is not JSON (a crash's plain-text ``500``)."""
    try:
        answer = response.json()
    except ValueError:
        return f"status {response.status_code}"
    return str(answer.get("error") or answer.get("detail") or "?")


def _request(pair: Pair, password: str, *, peer: bool) -> tuple[str, dict[str, str]]:
    """The path and body of a reset: the server's, or with ``peer`` fastapi-users'."""
    if peer:
        return "/auth/reset-password", {"token": pair.token, "password": password}
    return "/reset_user_password", {
        "email": pair.email,
        "email_otp_token": pair.token,
        "email_otp": pair.code,
        "password": password,
    }


async def _worker(
    client: httpx.AsyncClient,
    pairs: list[Pair],
    record: Record,
    *,
    stop_at: float,
    retry_busy: bool,
    peer: bool,
) -> None:
    while time.monotonic() < stop_at:
        if not pairs:
            record.ran_out = True
            return
        pair = pairs.pop()
        record.pairs_used += 1
        path, body = _request(pair, _password(), peer=peer)
        while True:
            started = time.monotonic()
            try:
                response = await client.post(path, json=body)
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
            retry_after = response.headers.get("Retry-After")
            if retry_after is not None:
                record.busy_with_retry_after += 1
            if not retry_busy:
                break
            delay = float(retry_after or 1)
            if time.monotonic() + delay >= stop_at:
                return
            await asyncio.sleep(delay)


async def _run(arguments: argparse.Namespace, pairs: list[Pair]) -> dict[str, object]:
    pairs = pairs[::-1]  # workers pop from the end: the file's order is kept
    record = Record()
    headers = {"Authorization": arguments.authorization} if arguments.authorization else {}
    async with contextlib.AsyncExitStack() as stack:
        # Each worker stands for one client, with a connection of its own: one client shared by
        # hundreds of workers spends seconds in its own connection pool when they all send at
        # once, which the latencies would then count. The clients are made before the clock
        # starts (each loads the TLS certificates, tens of milliseconds).
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=arguments.base_url, headers=headers, timeout=arguments.timeout
                )
            )
            for _ in range(arguments.concurrency)
        ]
        began = time.monotonic()
        window_start = began + arguments.warmup
        stop_at = window_start + arguments.window
        await asyncio.gather(
            *(
                _worker(
                    client,
                    pairs,
                    record,
                    stop_at=stop_at,
                    retry_busy=arguments.retry_busy,
                    peer=arguments.peer,
                )
                for client in clients
            )
        )
        drained = time.monotonic()
    in_window = [t for t in record.completions if window_start <= t <= stop_at]
    return {
        "concurrency": arguments.concurrency,
        "warmup_s": arguments.warmup,
        "window_s": arguments.window,
        "successes": len(record.completions),
        "successes_in_window": len(in_window),
        "resets_per_s": len(in_window) / arguments.window,
        "statuses": dict(record.statuses),
        "errors": dict(record.errors),
        "busy_with_retry_after": record.busy_with_retry_after,
        "latency_ms": {
            status: summarize(values) for status, values in sorted(record.latency_ms.items())
        },
        "pairs_used": record.pairs_used,
        "ran_out_of_pairs": record.ran_out,
        "drain_s": drained - stop_at,
    }


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Load generator for /reset_user_password.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--authorization", help="the Authorization header value (the server's)")
    parser.add_argument("--pairs", required=True, help="JSON list of {email, token, code}")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--warmup", type=float, default=0.0)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--retry-busy", action="store_true")
    parser.add_argument("--peer", action="store_true", help="fastapi-users' reset (bench.peer)")
    parser.add_argument("--timeout", type=float, default=120.0)
    return parser


def main() -> None:
    arguments = argument_parser().parse_args()
    raw = json.loads(Path(arguments.pairs).read_text())
    pairs = [Pair(email=p["email"], token=p["token"], code=p["code"]) for p in raw]
    summary = asyncio.run(_run(arguments, pairs))
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
