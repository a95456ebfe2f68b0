"""The SMS webhook sender against a real HTTP receiver on 127.0.0.1 that checks signatures."""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ciam_server.delivery.sms_webhook import (
    SIGNATURE_HEADER,
    SmsWebhookSender,
    sign,
    verify_signature,
)
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
    Sender,
)

from .support import free_port

CODE = "731904"
SECRET = "whsec-3b7f0c1e9a5d4f2b8c6e1a0d9f7b3c5e"
PHONE = "+8613800138000"
TTL = timedelta(minutes=5)


@dataclass
class Delivery:
    body: bytes
    signature: str
    content_type: str

    @property
    def json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class Receiver:
    """What the gateway got, and how it answers: ``status`` forces a reply."""

    url: str = ""
    received: list[Delivery] = field(default_factory=list)
    refused: int = 0
    status: int | None = None


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        signature = self.headers.get(SIGNATURE_HEADER, "")
        if self.receiver.status is not None:
            status = self.receiver.status
        elif verify_signature(SECRET.encode(), signature, body):
            self.receiver.received.append(
                Delivery(
                    body=body,
                    signature=signature,
                    content_type=self.headers.get("Content-Type", ""),
                )
            )
            status = 202
        else:
            self.receiver.refused += 1
            status = 401
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    handler = type("Handler", (_Handler,), {"receiver": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def sender(receiver: Receiver) -> AsyncIterator[SmsWebhookSender]:
    sender = SmsWebhookSender(url=receiver.url, secret=SECRET, code_ttl=TTL, timeout=5)
    yield sender
    await sender.aclose()


def code_message(*, locale: str = "en") -> CodeMessage:
    return CodeMessage(
        channel=Channel.SMS, to=PHONE, usage="reset_password", code=CODE, locale=locale
    )


def secrets_absent(error: BaseException) -> None:
    seen: BaseException | None = error
    while seen is not None:
        for text in (str(seen), repr(seen)):
            assert CODE not in text
            assert SECRET not in text
        seen = seen.__cause__ or seen.__context__


async def test_a_code_is_posted_signed(receiver: Receiver, sender: SmsWebhookSender) -> None:
    as_sender: Sender = sender
    before = int(time.time())

    await as_sender.send_code(code_message())

    [delivery] = receiver.received
    assert delivery.json == {
        "to": PHONE,
        "text": (
            f"Your password reset code is {CODE}. It expires in 5 minutes. "
            "If you did not ask for it, ignore this message."
        ),
        "kind": "code",
        "locale": "en",
    }
    assert delivery.content_type == "application/json; charset=utf-8"
    timestamp = int(delivery.signature.split(",")[0].removeprefix("t="))
    assert before <= timestamp <= time.time()
    assert receiver.refused == 0


async def test_a_chinese_code_travels_as_utf8(receiver: Receiver, sender: SmsWebhookSender) -> None:
    await sender.send_code(code_message(locale="zh"))

    [delivery] = receiver.received
    assert "您的密码重置验证码是".encode() in delivery.body
    assert delivery.json["text"] == (
        f"您的密码重置验证码是 {CODE}，5 分钟内有效。如非本人操作，请忽略本短信。"
    )
    assert delivery.json["locale"] == "zh"


@pytest.mark.parametrize("locale", ["en", "zh"])
async def test_the_password_changed_notice(
    receiver: Receiver, sender: SmsWebhookSender, locale: str
) -> None:
    changed_at = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)

    await sender.send_password_changed(
        PasswordChangedNotice(channel=Channel.SMS, to=PHONE, changed_at=changed_at, locale=locale)
    )

    [delivery] = receiver.received
    assert delivery.json["kind"] == "password_changed"
    assert delivery.json["locale"] == locale
    assert delivery.json["to"] == PHONE
    assert "2025-03-04 05:06 UTC" in delivery.json["text"]


@pytest.mark.parametrize("locale", ["en", "zh"])
async def test_the_no_account_notice(
    receiver: Receiver, sender: SmsWebhookSender, locale: str
) -> None:
    await sender.send_no_account_notice(
        NoAccountNotice(channel=Channel.SMS, to=PHONE, locale=locale)
    )

    [delivery] = receiver.received
    assert delivery.json["kind"] == "no_account"
    assert delivery.json["locale"] == locale
    assert delivery.json["to"] == PHONE


async def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    async with SmsWebhookSender(
        url=receiver.url, secret=b"another secret", code_ttl=TTL, timeout=5
    ) as sender:
        with pytest.raises(DeliveryFailedError, match="HTTP 401") as failure:
            await sender.send_code(code_message())

    secrets_absent(failure.value)
    assert receiver.received == []
    assert receiver.refused == 1


async def test_a_replayed_old_request_is_refused_by_the_receiver(receiver: Receiver) -> None:
    async with SmsWebhookSender(
        url=receiver.url, secret=SECRET, code_ttl=TTL, clock=lambda: time.time() - 600
    ) as sender:
        with pytest.raises(DeliveryFailedError, match="HTTP 401"):
            await sender.send_code(code_message())

    assert receiver.received == []


async def test_a_server_error_fails_the_delivery(
    receiver: Receiver, sender: SmsWebhookSender
) -> None:
    receiver.status = 500

    with pytest.raises(DeliveryFailedError, match="HTTP 500") as failure:
        await sender.send_code(code_message())

    secrets_absent(failure.value)


async def test_a_redirect_is_not_followed(receiver: Receiver, sender: SmsWebhookSender) -> None:
    receiver.status = 307

    with pytest.raises(DeliveryFailedError, match="HTTP 307"):
        await sender.send_code(code_message())


async def test_an_unreachable_url_fails() -> None:
    url = f"http://127.0.0.1:{free_port()}/sms"
    async with SmsWebhookSender(url=url, secret=SECRET, code_ttl=TTL, timeout=5) as sender:
        with pytest.raises(DeliveryFailedError, match="unreachable: ConnectError") as failure:
            await sender.send_code(code_message())

    secrets_absent(failure.value)


async def test_a_receiver_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/sms"
    try:
        async with SmsWebhookSender(url=url, secret=SECRET, code_ttl=TTL, timeout=0.3) as sender:
            with pytest.raises(DeliveryFailedError, match="timed out") as failure:
                await sender.send_code(code_message())
    finally:
        server.close()
        await server.wait_closed()
    secrets_absent(failure.value)


async def test_a_closed_sender_fails_cleanly(receiver: Receiver) -> None:
    sender = SmsWebhookSender(url=receiver.url, secret=SECRET, code_ttl=TTL)
    await sender.aclose()

    with pytest.raises(DeliveryFailedError, match="closed"):
        await sender.send_code(code_message())


async def test_emails_are_not_its_business(sender: SmsWebhookSender) -> None:
    with pytest.raises(DeliveryFailedError, match="channel email"):
        await sender.send_code(
            CodeMessage(channel=Channel.EMAIL, to="a@example.com", usage="reset_password", code="1")
        )


async def test_the_secret_never_shows_in_its_repr(sender: SmsWebhookSender) -> None:
    assert SECRET not in repr(sender)
    assert SECRET not in str(vars(sender))


@pytest.mark.parametrize(
    "options",
    [
        {"secret": ""},
        {"url": "ftp://gateway.example.com/sms"},
        {"url": "gateway.example.com/sms"},
        {"timeout": 0},
    ],
)
def test_unusable_settings_are_refused(options: dict[str, Any]) -> None:
    settings: dict[str, Any] = {
        "url": "https://gateway.example.com/sms",
        "secret": SECRET,
        "code_ttl": TTL,
    }
    with pytest.raises(ValueError):  # noqa: PT011
        SmsWebhookSender(**(settings | options))


BODY = b'{"to":"+8613800138000","text":"hi","kind":"code","locale":"en"}'
NOW = 1_750_000_000


def test_a_signature_verifies() -> None:
    header = sign(SECRET.encode(), BODY, NOW)

    assert verify_signature(SECRET.encode(), header, BODY, now=NOW + 10)


def test_a_tampered_body_fails() -> None:
    header = sign(SECRET.encode(), BODY, NOW)

    assert not verify_signature(SECRET.encode(), header, BODY.replace(b"+86", b"+44"), now=NOW)


def test_a_wrong_secret_fails() -> None:
    header = sign(b"another secret", BODY, NOW)

    assert not verify_signature(SECRET.encode(), header, BODY, now=NOW)


def test_a_changed_timestamp_fails() -> None:
    signature = sign(SECRET.encode(), BODY, NOW).split(",")[1]

    assert not verify_signature(SECRET.encode(), f"t={NOW + 1},{signature}", BODY, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_a_stale_or_future_timestamp_fails(age: int) -> None:
    header = sign(SECRET.encode(), BODY, NOW)

    assert not verify_signature(SECRET.encode(), header, BODY, now=NOW + age)
    assert verify_signature(SECRET.encode(), header, BODY, now=NOW + age, tolerance_s=abs(age))


def test_any_of_several_signatures_may_match() -> None:
    old = sign(b"old secret", BODY, NOW).split(",")[1]
    new = sign(SECRET.encode(), BODY, NOW).split(",")[1]

    assert verify_signature(SECRET.encode(), f"t={NOW},{old},{new}", BODY, now=NOW)
    assert verify_signature(b"old secret", f"t={NOW},{old},{new}", BODY, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW}",
        "v1=00",
        f"t=,v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW}.5,v1={'0' * 64}",
        f"t=١٢٣,v1={'0' * 64}",
        f"t={NOW},v1=",
        f"t={NOW},v1=é",
    ],
)
def test_a_malformed_header_fails(header: str) -> None:
    assert not verify_signature(SECRET.encode(), header, BODY, now=NOW)


def test_the_current_time_is_the_default() -> None:
    fresh = sign(SECRET.encode(), BODY, int(time.time()))
    stale = sign(SECRET.encode(), BODY, int(time.time()) - 3600)

    assert verify_signature(SECRET.encode(), fresh, BODY)
    assert not verify_signature(SECRET.encode(), stale, BODY)
