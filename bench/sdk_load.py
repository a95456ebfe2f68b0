"""SDK calls per second against raw httpx posting the same requests, in a process of its own.

Both send ``POST /otp/send`` to the same server, each call to an address of its own (the server
allows one code per address per interval): the SDK through ``CiamClient.send_otp`` /
``AsyncCiamClient.send_otp``; raw httpx by posting the very bytes the SDK sends (checked before
measuring) with the same headers, a fresh ``Idempotency-Key`` per call included, and reading
``otp_token`` from the answer. Sync calls are made one after another; async calls by
``--concurrency`` tasks sharing one client. Raw and SDK rounds alternate so that drift on a noisy
machine hits both alike. The summary is one JSON object on standard output.

    python -m bench.sdk_load --base-url URL --client-id ID --client-secret S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from itertools import count

import httpx
import msgspec

from ciam_client import AsyncCiamClient, CiamClient

SUCCESS = 200
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Target:
    base_url: str
    client_id: str
    client_secret: str
    headers: dict[str, str]
    """The headers the SDK sends, but for the per-call Idempotency-Key."""


SDK_HEADERS = ("Accept", "Content-Type", "User-Agent", "Authorization")
CHECK_EMAIL = "same-request-check@example.com"


def _addresses(prefix: str) -> Iterator[str]:
    for number in count():
        yield f"{prefix}-{number}@example.com"


def _raw_body(email: str) -> bytes:
    return _encoder.encode({"usage": "reset_password", "email": email})


def _target(base_url: str, client_id: str, client_secret: str) -> Target:
    """The server and the headers to send, taken from a request the SDK made, whose body the
    raw calls' body must equal byte for byte."""
    seen: list[httpx.Request] = []
    with (
        httpx.Client(event_hooks={"request": [seen.append]}) as http,
        CiamClient(
            base_url=base_url, client_id=client_id, client_secret=client_secret, http_client=http
        ) as ciam,
    ):
        ciam.send_otp(email=CHECK_EMAIL)
    sent = seen[0]
    if sent.content != _raw_body(CHECK_EMAIL):
        raise SystemExit(f"the raw body differs from the SDK's: {sent.content!r}")
    if "Idempotency-Key" not in sent.headers:
        raise SystemExit("the SDK sent no Idempotency-Key")
    return Target(
        base_url=base_url,
        client_id=client_id,
        client_secret=client_secret,
        headers={name: sent.headers[name] for name in SDK_HEADERS},
    )


def _sync_round(target: Target, use_sdk: bool, seconds: float, emails: Iterator[str]) -> int:
    calls = 0
    stop_at = time.monotonic() + seconds
    if use_sdk:
        with CiamClient(
            base_url=target.base_url,
            client_id=target.client_id,
            client_secret=target.client_secret,
        ) as ciam:
            while time.monotonic() < stop_at:
                ciam.send_otp(email=next(emails))
                calls += 1
        return calls
    url = target.base_url + "/otp/send"
    with httpx.Client() as http:
        while time.monotonic() < stop_at:
            headers = target.headers | {"Idempotency-Key": str(uuid.uuid4())}
            response = http.post(url, content=_raw_body(next(emails)), headers=headers)
            if response.status_code != SUCCESS:
                raise SystemExit(f"raw call answered {response.status_code}: {response.text}")
            response.json()["otp_token"]
            calls += 1
    return calls


async def _async_round(
    target: Target, use_sdk: bool, seconds: float, emails: Iterator[str], concurrency: int
) -> int:
    calls = 0
    stop_at = time.monotonic() + seconds

    async def loop(call: Callable[[str], Awaitable[object]]) -> None:
        nonlocal calls
        while time.monotonic() < stop_at:
            await call(next(emails))
            calls += 1

    if use_sdk:
        async with AsyncCiamClient(
            base_url=target.base_url,
            client_id=target.client_id,
            client_secret=target.client_secret,
        ) as ciam:

            async def sdk_call(email: str) -> object:
                return await ciam.send_otp(email=email)

            await asyncio.gather(*(loop(sdk_call) for _ in range(concurrency)))
        return calls
    url = target.base_url + "/otp/send"
    async with httpx.AsyncClient() as http:

        async def raw_call(email: str) -> object:
            headers = target.headers | {"Idempotency-Key": str(uuid.uuid4())}
            response = await http.post(url, content=_raw_body(email), headers=headers)
            if response.status_code != SUCCESS:
                raise SystemExit(f"raw call answered {response.status_code}: {response.text}")
            return response.json()["otp_token"]

        await asyncio.gather(*(loop(raw_call) for _ in range(concurrency)))
    return calls


def _measure(
    run_round: Callable[[bool, float], int], rounds: int, seconds: float
) -> dict[str, object]:
    run_round(True, 1.0)  # warm both paths up
    run_round(False, 1.0)
    totals = {"sdk": 0, "raw": 0}
    per_round: list[dict[str, float]] = []
    for number in range(rounds):
        order = (False, True) if number % 2 == 0 else (True, False)
        rates: dict[str, float] = {}
        for use_sdk in order:
            name = "sdk" if use_sdk else "raw"
            calls = run_round(use_sdk, seconds)
            totals[name] += calls
            rates[name] = calls / seconds
        per_round.append(rates)
    sdk_rate = totals["sdk"] / (rounds * seconds)
    raw_rate = totals["raw"] / (rounds * seconds)
    return {
        "sdk_calls_per_s": sdk_rate,
        "raw_calls_per_s": raw_rate,
        "ratio": sdk_rate / raw_rate,
        "rounds": per_round,
        "round_ratios": [rates["sdk"] / rates["raw"] for rates in per_round],
    }


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="SDK calls per second against raw httpx.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prefix", default="sdk")
    return parser


def main() -> None:
    arguments = argument_parser().parse_args()
    target = _target(arguments.base_url, arguments.client_id, arguments.client_secret)
    emails = _addresses(arguments.prefix)

    def sync_round(use_sdk: bool, seconds: float) -> int:
        return _sync_round(target, use_sdk, seconds, emails)

    def async_round(use_sdk: bool, seconds: float) -> int:
        return asyncio.run(_async_round(target, use_sdk, seconds, emails, arguments.concurrency))

    summary = {
        "sync": _measure(sync_round, arguments.rounds, arguments.seconds),
        "async": _measure(async_round, arguments.rounds, arguments.seconds)
        | {"concurrency": arguments.concurrency},
    }
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
