"""The development outbox: one JSON object a line, for codes and for password-changed notices."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ciam_server.delivery.outbox import OutboxSender
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    PasswordChangedNotice,
    Sender,
)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read(path).splitlines()]


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "mail" / "outbox.jsonl"


@pytest.fixture
def outbox(outbox_path: Path) -> Sender:
    return OutboxSender(outbox_path)


async def test_a_code_is_one_json_line(outbox: Sender, outbox_path: Path) -> None:
    before = datetime.now(UTC)

    await outbox.send_code(
        CodeMessage(
            channel=Channel.EMAIL, to="alice@example.com", usage="reset_password", code="012345"
        )
    )

    (line,) = lines(outbox_path)
    assert set(line) == {"channel", "to", "usage", "code", "sent_at"}
    assert line["channel"] == "email"
    assert line["to"] == "alice@example.com"
    assert line["usage"] == "reset_password"
    assert line["code"] == "012345"
    sent_at = datetime.fromisoformat(line["sent_at"])
    assert sent_at.tzinfo is not None
    assert before <= sent_at <= datetime.now(UTC)


async def test_each_message_is_appended_on_its_own_line(outbox: Sender, outbox_path: Path) -> None:
    await outbox.send_code(
        CodeMessage(
            channel=Channel.EMAIL, to="alice@example.com", usage="reset_password", code="111111"
        )
    )
    await outbox.send_code(
        CodeMessage(channel=Channel.SMS, to="+8613800138000", usage="reset_password", code="222222")
    )

    assert [(line["channel"], line["to"], line["code"]) for line in lines(outbox_path)] == [
        ("email", "alice@example.com", "111111"),
        ("sms", "+8613800138000", "222222"),
    ]


async def test_concurrent_messages_are_whole_lines(outbox: Sender, outbox_path: Path) -> None:
    codes = [f"{n:06d}" for n in range(200)]

    await asyncio.gather(
        *(
            outbox.send_code(
                CodeMessage(
                    channel=Channel.EMAIL, to="alice@example.com", usage="reset_password", code=code
                )
            )
            for code in codes
        )
    )

    assert sorted(line["code"] for line in lines(outbox_path)) == codes


async def test_two_senders_on_one_file_append_to_it(outbox_path: Path) -> None:
    first, second = OutboxSender(outbox_path), OutboxSender(outbox_path)

    for number, sender in enumerate([first, second, first]):
        await sender.send_code(
            CodeMessage(
                channel=Channel.EMAIL,
                to="alice@example.com",
                usage="reset_password",
                code=f"{number}" * 6,
            )
        )

    assert [line["code"] for line in lines(outbox_path)] == ["000000", "111111", "222222"]


async def test_non_ascii_addresses_are_written_as_they_are(
    outbox: Sender, outbox_path: Path
) -> None:
    address = "j\u00f6rg@m\u00fcller.example"  # "jörg@müller.example"

    await outbox.send_code(
        CodeMessage(channel=Channel.EMAIL, to=address, usage="reset_password", code="012345")
    )

    assert address in read(outbox_path)  # not escaped
    assert lines(outbox_path)[0]["to"] == address


async def test_a_password_changed_notice_has_its_usage_and_no_code(
    outbox: Sender, outbox_path: Path
) -> None:
    changed_at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    await outbox.send_password_changed(
        PasswordChangedNotice(channel=Channel.SMS, to="+8613800138000", changed_at=changed_at)
    )

    (line,) = lines(outbox_path)
    assert line == {
        "channel": "sms",
        "to": "+8613800138000",
        "usage": "password_changed",
        "sent_at": changed_at.isoformat(),
    }


async def test_an_outbox_under_a_file_raises_delivery_failed(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    outbox = OutboxSender(tmp_path / "not-a-directory" / "outbox.jsonl")

    with pytest.raises(DeliveryFailedError, match="cannot write to the outbox"):
        await outbox.send_code(
            CodeMessage(
                channel=Channel.EMAIL, to="alice@example.com", usage="reset_password", code="012345"
            )
        )


async def test_an_outbox_that_is_a_directory_raises_delivery_failed(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path)

    with pytest.raises(DeliveryFailedError):
        await outbox.send_password_changed(
            PasswordChangedNotice(
                channel=Channel.EMAIL, to="alice@example.com", changed_at=datetime.now(UTC)
            )
        )


def test_the_repr_of_a_code_message_hides_the_code() -> None:
    message = CodeMessage(
        channel=Channel.EMAIL, to="alice@example.com", usage="reset_password", code="987654"
    )

    assert "987654" not in repr(message)
    assert "alice@example.com" in repr(message)
