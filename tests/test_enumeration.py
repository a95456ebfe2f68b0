"""``/otp/send`` for a reset tells nobody whether an address has an account, or a frozen one:
same status, same body shape, same headers, same time.

The answers are compared on the server's test kit (docs/testing.md), a server of each test's
own; the times on a server process and on the app in this process."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from ciam_server.app import create_app
from ciam_server.delivery.outbox import OutboxSender
from ciam_server.domain.send_otp import UnknownAccountDelivery
from ciam_server.testing import (
    CiamTestServer,
    CodeMessage,
    NoAccountNotice,
    RegisteredApplication,
)

from .conftest import App, Server, unique_email
from .server_support import (
    in_process_settings,
    prepare_database,
    run_async,
)

# Headers whose values differ from one response to the next whatever the address.
VARYING_VALUES = {"date", "x-request-id"}
WARM_UP = 10
ROUNDS = 200
MAX_MEDIAN_GAP = 0.005  # seconds


@dataclass(frozen=True)
class Addresses:
    existing: str
    unknown: str
    frozen: str

    def kinds(self) -> dict[str, str]:
        return {"existing": self.existing, "unknown": self.unknown, "frozen": self.frozen}


def _addresses(server: Server) -> Addresses:
    existing = server.create_user()
    frozen = server.create_user()
    server.cli("users", "freeze", "--email", frozen.email)
    return Addresses(existing=existing.email, unknown=unique_email("nobody"), frozen=frozen.email)


def _kit_addresses(server: CiamTestServer) -> Addresses:
    existing = server.create_user()
    frozen = server.create_user()
    server.freeze_user(frozen.email)
    return Addresses(existing=existing.email, unknown=unique_email("nobody"), frozen=frozen.email)


def _sender(
    http: httpx.Client, base_url: str, app: App | RegisteredApplication
) -> Callable[[str], httpx.Response]:
    auth = httpx.BasicAuth(app.client_id, app.client_secret or "")

    def send(email: str) -> httpx.Response:
        return http.post(
            f"{base_url}/otp/send",
            json={"usage": "reset_password", "email": email},
            auth=auth,
        )

    return send


def _assert_same_answers(responses: dict[str, httpx.Response]) -> None:
    statuses = {kind: response.status_code for kind, response in responses.items()}
    assert set(statuses.values()) == {200}, statuses

    bodies = {kind: response.json() for kind, response in responses.items()}
    assert len({tuple(sorted(body)) for body in bodies.values()}) == 1, bodies
    assert len({body["expires_in"] for body in bodies.values()}) == 1, bodies
    assert len({len(body["otp_token"]) for body in bodies.values()}) == 1, bodies

    names = {kind: sorted(response.headers.keys()) for kind, response in responses.items()}
    assert len({tuple(n) for n in names.values()}) == 1, names
    for name in names["existing"]:
        if name in VARYING_VALUES:
            continue
        values = {kind: response.headers[name] for kind, response in responses.items()}
        assert len(set(values.values())) == 1, (name, values)


def test_the_same_answer_for_an_account_no_account_and_a_frozen_one(
    ciam_test_server: CiamTestServer, kit_web_app: RegisteredApplication
) -> None:
    """Over a real socket (the kit's uvicorn), with every header the server sends."""
    addresses = _kit_addresses(ciam_test_server)
    with httpx.Client() as http:
        send = _sender(http, ciam_test_server.base_url, kit_web_app)
        responses = {kind: send(address) for kind, address in addresses.kinds().items()}
    _assert_same_answers(responses)
    # The default delivery: every address gets a code.
    for address in addresses.kinds().values():
        sent = ciam_test_server.outbox.sent_to(address)
        assert [type(m) for m in sent] == [CodeMessage], sent
        assert [m.usage for m in sent if isinstance(m, CodeMessage)] == ["reset_password"]


@pytest.mark.sqlite_only  # the same store work for every kind, on either engine: one suffices
def test_the_same_time_for_an_account_no_account_and_a_frozen_one(
    server: Server, web_app: App
) -> None:
    """Medians of 200 sends each, made in turn so that any drift of the machine's load falls on
    all three alike."""
    addresses = _addresses(server)
    kinds = addresses.kinds()
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    with httpx.Client() as http:
        send = _sender(http, server.base_url, web_app)
        for _ in range(WARM_UP):
            for address in kinds.values():
                assert send(address).status_code == 200
        for _ in range(ROUNDS):
            for kind, address in kinds.items():
                started = time.perf_counter()
                response = send(address)
                timings[kind].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text

    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    report = ", ".join(f"{kind} {median * 1000:.2f} ms" for kind, median in medians.items())
    print(f"median /otp/send time: {report}")
    gap = max(medians.values()) - min(medians.values())
    assert gap <= MAX_MEDIAN_GAP, f"medians differ by {gap * 1000:.2f} ms: {report}"


@pytest.mark.parametrize(
    "delivery",
    [
        pytest.param(kind, marks=pytest.mark.ciam_settings(unknown_account_delivery=kind))
        for kind in ("notice", "none")
    ],
)
def test_other_deliveries_to_unknown_addresses_answer_the_same(
    ciam_test_server: CiamTestServer, kit_web_app: RegisteredApplication, delivery: str
) -> None:
    """With ``notice`` an unknown address is told it has no account; with ``none`` it gets
    nothing. The caller cannot tell either from the answer."""
    addresses = _kit_addresses(ciam_test_server)
    with ciam_test_server.http_client() as http:
        send = _sender(http, "", kit_web_app)
        responses = {kind: send(address) for kind, address in addresses.kinds().items()}
    _assert_same_answers(responses)

    for address in (addresses.existing, addresses.frozen):
        code = ciam_test_server.last_code(address)
        assert code.usage == "reset_password"
        assert code.code.isdigit()
        assert len(ciam_test_server.outbox.sent_to(address)) == 1
    unknown = ciam_test_server.outbox.sent_to(addresses.unknown)
    if delivery == "notice":
        assert len(unknown) == 1
        assert isinstance(unknown[0], NoAccountNotice)
    else:
        assert unknown == []
    assert len(ciam_test_server.outbox.messages) == (3 if delivery == "notice" else 2)


MAILBOX_DELAY = 0.05  # seconds: an SMTP server or SMS gateway is slower than the dev outbox


@pytest.mark.parametrize("delivery", ["code", "notice", "none"])
def test_a_slow_mailbox_does_not_reveal_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delivery: str
) -> None:
    """Real delivery takes time (an SMTP exchange, an SMS gateway call), which the dev outbox
    hides. With a delivery of 50 ms, an address with an account must still not be told apart by
    how long the answer takes, whatever an unknown address is sent: the fastest answers of each
    kind may differ by less than half the delivery time.

    The app runs in this process and the fastest of 15 answers of each kind are compared: a busy
    machine only ever adds time, so the minimum is what the server itself costs."""
    original = OutboxSender._write

    async def slow_write(self: OutboxSender, record: dict[str, str]) -> None:
        await asyncio.sleep(MAILBOX_DELAY)
        await original(self, record)

    monkeypatch.setattr(OutboxSender, "_write", slow_write)
    settings = in_process_settings(
        tmp_path, monkeypatch, unknown_account_delivery=UnknownAccountDelivery(delivery)
    )
    existing, unknown = "kim@example.com", "nobody@example.com"
    secret = "slow-mailbox-secret"
    run_async(prepare_database(settings, "slow-app", secret, {existing: "Quokka-Lantern-7"}))
    timings: dict[str, list[float]] = {existing: [], unknown: []}
    with TestClient(create_app(settings)) as http:
        for round_ in range(16):
            for email in (existing, unknown) if round_ % 2 else (unknown, existing):
                started = time.perf_counter()
                response = http.post(
                    "/otp/send",
                    json={"usage": "reset_password", "email": email},
                    auth=("slow-app", secret),
                )
                if round_:  # the first round warms up
                    timings[email].append(time.perf_counter() - started)
                assert response.status_code == 200, response.text

    fastest = {email: min(values) for email, values in timings.items()}
    gap = abs(fastest[existing] - fastest[unknown])
    assert gap < MAILBOX_DELAY / 2, (
        f"an unknown address is answered {gap * 1000:.1f} ms sooner or later than one with an "
        f"account (delivery {delivery}; fastest answers: account "
        f"{fastest[existing] * 1000:.1f} ms, none {fastest[unknown] * 1000:.1f} ms)"
    )
