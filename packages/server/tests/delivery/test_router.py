"""One sender for both channels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ciam_server.delivery.outbox import OutboxSender
from ciam_server.delivery.router import ChannelSender, UnavailableSender
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
    Sender,
)


class Recording:
    def __init__(self, *, fail_on_close: bool = False) -> None:
        self.codes: list[CodeMessage] = []
        self.notices: list[PasswordChangedNotice] = []
        self.no_account: list[NoAccountNotice] = []
        self.closed = 0
        self.fail_on_close = fail_on_close

    async def send_code(self, message: CodeMessage) -> None:
        self.codes.append(message)

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        self.no_account.append(notice)

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        self.notices.append(notice)

    async def aclose(self) -> None:
        self.closed += 1
        if self.fail_on_close:
            raise RuntimeError("close failed")


def code(channel: Channel) -> CodeMessage:
    return CodeMessage(channel=channel, to="someone", usage="reset_password", code="111111")


def notice(channel: Channel) -> PasswordChangedNotice:
    return PasswordChangedNotice(channel=channel, to="someone", changed_at=datetime.now(UTC))


async def test_each_message_goes_to_its_channel() -> None:
    email, sms = Recording(), Recording()
    sender: Sender = ChannelSender(email=email, sms=sms)

    await sender.send_code(code(Channel.EMAIL))
    await sender.send_code(code(Channel.SMS))
    await sender.send_password_changed(notice(Channel.SMS))
    await sender.send_password_changed(notice(Channel.EMAIL))
    await sender.send_no_account_notice(NoAccountNotice(channel=Channel.SMS, to="someone"))

    assert [m.channel for m in email.codes] == [Channel.EMAIL]
    assert [m.channel for m in sms.codes] == [Channel.SMS]
    assert [n.channel for n in email.notices] == [Channel.EMAIL]
    assert [n.channel for n in sms.notices] == [Channel.SMS]
    assert [n.channel for n in sms.no_account] == [Channel.SMS]
    assert email.no_account == []


async def test_closing_closes_both() -> None:
    email, sms = Recording(), Recording()

    await ChannelSender(email=email, sms=sms).aclose()

    assert (email.closed, sms.closed) == (1, 1)


async def test_the_second_is_closed_even_when_the_first_fails() -> None:
    email, sms = Recording(fail_on_close=True), Recording()

    with pytest.raises(RuntimeError):
        await ChannelSender(email=email, sms=sms).aclose()

    assert sms.closed == 1


async def test_one_sender_for_both_channels_is_closed_once() -> None:
    both = Recording()

    await ChannelSender(email=both, sms=both).aclose()

    assert both.closed == 1


async def test_senders_without_aclose_are_left_alone(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path / "outbox.jsonl")
    sms = Recording()

    await ChannelSender(email=outbox, sms=sms).aclose()

    assert sms.closed == 1


@pytest.mark.parametrize("channel", list(Channel))
async def test_an_unconfigured_channel_fails_delivery(channel: Channel) -> None:
    sender = ChannelSender(
        email=UnavailableSender(Channel.EMAIL), sms=UnavailableSender(Channel.SMS)
    )

    with pytest.raises(DeliveryFailedError, match=f"channel {channel.value}"):
        await sender.send_code(code(channel))
    with pytest.raises(DeliveryFailedError, match=f"channel {channel.value}"):
        await sender.send_password_changed(notice(channel))
    with pytest.raises(DeliveryFailedError, match=f"channel {channel.value}"):
        await sender.send_no_account_notice(NoAccountNotice(channel=channel, to="someone"))
