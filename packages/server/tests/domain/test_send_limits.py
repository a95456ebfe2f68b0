"""Limits on sending codes, per address and per application, and what unknown addresses get."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Channel
from ciam_server.domain.send_otp import OtpSettings, SendOtp, UnknownAccountDelivery
from ciam_shared import ErrorCode

from .conftest import (
    ADDRESS,
    NO_ACCOUNT,
    World,
    refusal,
    send_request,
    wrong,
)

RATE_LIMITED = {
    Channel.EMAIL: ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED,
    Channel.SMS: ErrorCode.SMS_RATE_LIMIT_EXCEEDED,
}
NO_QUOTA = {
    Channel.EMAIL: ErrorCode.INSUFFICIENT_EMAIL_QUOTA,
    Channel.SMS: ErrorCode.INSUFFICIENT_SMS_QUOTA,
}


def with_settings(world: World, **changes: object) -> SendOtp:
    settings: OtpSettings = dataclasses.replace(world.send_otp.settings, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(world.send_otp, settings=settings)


async def test_a_second_code_within_the_interval_is_refused_with_retry_after(
    world: World, channel: Channel
) -> None:
    send = with_settings(world, send_interval=timedelta(seconds=30))
    await send(world.web_app, send_request(channel, ADDRESS[channel]))
    world.clock.advance(timedelta(seconds=12))

    refused = await refusal(send(world.web_app, send_request(channel, ADDRESS[channel])))

    assert refused.code is RATE_LIMITED[channel]
    assert refused.retry_after == 18
    assert len(world.sender.codes) == 1  # nothing more was sent
    world.clock.advance(timedelta(seconds=18))
    await send(world.web_app, send_request(channel, ADDRESS[channel]))


async def test_the_daily_limit_counts_codes_to_the_address(world: World, channel: Channel) -> None:
    send = with_settings(world, daily_limit=3)
    for _ in range(3):
        await send(world.web_app, send_request(channel, ADDRESS[channel]))
        world.clock.advance(timedelta(hours=1))

    refused = await refusal(send(world.web_app, send_request(channel, ADDRESS[channel])))

    assert refused.code is RATE_LIMITED[channel]
    assert refused.retry_after == 21 * 3600  # when the first of the three leaves the 24 h
    await send(world.web_app, send_request(channel, NO_ACCOUNT[channel]))  # another address


async def test_the_application_quota_is_insufficient_quota(world: World, channel: Channel) -> None:
    quota = {"email_daily_quota" if channel is Channel.EMAIL else "sms_daily_quota": 1}
    application = dataclasses.replace(world.web_app, **quota)  # type: ignore[arg-type]
    await world.send_otp(application, send_request(channel, ADDRESS[channel]))

    refused = await refusal(world.send_otp(application, send_request(channel, NO_ACCOUNT[channel])))

    assert refused.code is NO_QUOTA[channel]
    assert refused.retry_after == 24 * 3600


async def test_wrong_codes_across_tokens_stop_new_codes_and_resets(
    world: World, channel: Channel
) -> None:
    send = with_settings(world, failure_limit=3)
    limited = dataclasses.replace(world, send_otp=send)
    reset = dataclasses.replace(world.reset_password, settings=send.settings)
    limited = dataclasses.replace(limited, reset_password=reset)
    first = await limited.send(channel)
    for _ in range(2):
        await refusal(limited.reset(channel, first, code=wrong(first.code)))
    second = await limited.send(channel)  # a new code does not reset the count
    await refusal(limited.reset(channel, second, code=wrong(second.code)))

    refused_reset = await refusal(limited.reset(channel, second))
    refused_send = await refusal(send(world.web_app, send_request(channel, ADDRESS[channel])))

    assert refused_reset.code is RATE_LIMITED[channel]
    assert refused_send.code is RATE_LIMITED[channel]
    assert refused_reset.retry_after == 3600
    world.clock.advance(timedelta(hours=1, seconds=1))
    third = await limited.send(channel)
    await limited.reset(channel, third)


@pytest.mark.parametrize(
    ("delivery", "codes", "notices"),
    [
        (UnknownAccountDelivery.CODE, 1, 0),
        (UnknownAccountDelivery.NOTICE, 0, 1),
        (UnknownAccountDelivery.NONE, 0, 0),
    ],
)
async def test_what_an_address_without_an_account_receives_is_a_setting(
    world: World, channel: Channel, delivery: UnknownAccountDelivery, codes: int, notices: int
) -> None:
    send = with_settings(world, unknown_account_delivery=delivery)

    unknown = await send(world.web_app, send_request(channel, NO_ACCOUNT[channel]))
    known = await send(world.web_app, send_request(channel, ADDRESS[channel]))
    await asyncio.sleep(0.01)  # with "none", delivery runs after the answer

    assert [m.to for m in world.sender.codes] == [NO_ACCOUNT[channel]] * codes + [ADDRESS[channel]]
    assert [n.to for n in world.sender.no_account_notices] == [NO_ACCOUNT[channel]] * notices
    assert unknown.expires_in == known.expires_in  # the same answer either way
    assert len(world.store.challenges) == 2  # and the same work


async def test_a_refused_send_stores_nothing(world: World, channel: Channel) -> None:
    send = with_settings(world, send_interval=timedelta(seconds=30))
    await send(world.web_app, send_request(channel, ADDRESS[channel]))

    with pytest.raises(FlowError):
        await send(world.web_app, send_request(channel, ADDRESS[channel]))

    assert len(world.store.challenges) == 1
    assert all(c.retired_at is None for c in world.store.challenges.values())


async def test_with_nothing_for_unknown_addresses_a_failed_delivery_retires_the_challenge(
    world: World, channel: Channel
) -> None:
    send = with_settings(world, unknown_account_delivery=UnknownAccountDelivery.NONE)
    world.sender.fail_codes = True

    await send(world.web_app, send_request(channel, ADDRESS[channel]))  # answered at once
    await asyncio.sleep(0.01)

    (stored,) = world.store.challenges.values()
    assert stored.retired_at is not None
