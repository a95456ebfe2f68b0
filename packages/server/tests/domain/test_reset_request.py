"""/reset_user_password, step 2: the body holds one channel's triple and a password."""

from __future__ import annotations

import pytest

from ciam_server.domain.models import Channel
from ciam_shared import ErrorCode, ResetUserPasswordRequest

from .conftest import ADDRESS, NEW_PASSWORD, OLD_PASSWORD, Issued, World, refusal, reset_request

FIELDS = {
    Channel.EMAIL: ("email", "email_otp_token", "email_otp"),
    Channel.SMS: ("phone_number", "phone_number_otp_token", "phone_number_otp"),
}


def with_field(
    request: ResetUserPasswordRequest, field: str, value: str | None
) -> ResetUserPasswordRequest:
    """``request`` with ``field`` set to ``value``."""
    values = {name: getattr(request, name) for name in request.__struct_fields__}
    values[field] = value
    return ResetUserPasswordRequest(**values)


@pytest.fixture
async def issued(world: World, channel: Channel) -> Issued:
    return await world.send(channel)


@pytest.fixture
def complete(channel: Channel, issued: Issued) -> ResetUserPasswordRequest:
    """A request that would succeed."""
    return reset_request(
        channel, ADDRESS[channel], token=issued.token, code=issued.code, password=NEW_PASSWORD
    )


@pytest.mark.parametrize("missing", [None, ""], ids=["absent", "empty"])
async def test_the_password_is_required(
    world: World, complete: ResetUserPasswordRequest, missing: str | None
) -> None:
    refused = await refusal(
        world.reset_password(world.web_app, with_field(complete, "password", missing))
    )

    assert refused.code is ErrorCode.INVALID_REQUEST
    assert refused.description == "password is required."


@pytest.mark.parametrize("position", [0, 1, 2], ids=["address", "token", "code"])
@pytest.mark.parametrize("missing", [None, ""], ids=["absent", "empty"])
async def test_each_field_of_the_channel_triple_is_required(
    world: World,
    channel: Channel,
    complete: ResetUserPasswordRequest,
    position: int,
    missing: str | None,
) -> None:
    field = FIELDS[channel][position]

    refused = await refusal(
        world.reset_password(world.web_app, with_field(complete, field, missing))
    )

    assert refused.code is ErrorCode.INVALID_REQUEST
    assert refused.description == f"{field} is required."


async def test_both_channels_is_an_invalid_request(world: World) -> None:
    email = await world.send(Channel.EMAIL)
    sms = await world.send(Channel.SMS)
    request = ResetUserPasswordRequest(
        password=NEW_PASSWORD,
        email=ADDRESS[Channel.EMAIL],
        email_otp_token=email.token,
        email_otp=email.code,
        phone_number=ADDRESS[Channel.SMS],
        phone_number_otp_token=sms.token,
        phone_number_otp=sms.code,
    )

    refused = await refusal(world.reset_password(world.web_app, request))

    assert refused.code is ErrorCode.INVALID_REQUEST
    assert world.has_password(OLD_PASSWORD)


async def test_one_field_of_the_other_channel_is_enough_to_mix_channels(
    world: World, complete: ResetUserPasswordRequest, channel: Channel
) -> None:
    other = Channel.SMS if channel is Channel.EMAIL else Channel.EMAIL

    refused = await refusal(
        world.reset_password(world.web_app, with_field(complete, FIELDS[other][2], "123456"))
    )

    assert refused.code is ErrorCode.INVALID_REQUEST


async def test_no_channel_is_an_invalid_request(world: World) -> None:
    refused = await refusal(
        world.reset_password(world.web_app, ResetUserPasswordRequest(password=NEW_PASSWORD))
    )

    assert refused.code is ErrorCode.INVALID_REQUEST


async def test_an_empty_body_is_an_invalid_request(world: World) -> None:
    refused = await refusal(world.reset_password(world.web_app, ResetUserPasswordRequest()))

    assert refused.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize(
    ("channel", "raw", "code"),
    [
        (Channel.EMAIL, "alice@@example.com", ErrorCode.MALFORMED_EMAIL),
        (Channel.SMS, "138-BAD", ErrorCode.MALFORMED_PHONE_NUMBER),
    ],
)
async def test_a_malformed_address_is_refused(
    world: World, channel: Channel, raw: str, code: ErrorCode
) -> None:
    issued = await world.send(channel)

    refused = await refusal(world.reset(channel, issued, to=raw))

    assert refused.code is code


async def test_the_body_is_checked_before_the_token(world: World, channel: Channel) -> None:
    request = reset_request(
        channel, ADDRESS[channel], token="no-such-token", code="000000", password=""
    )

    refused = await refusal(world.reset_password(world.web_app, request))

    assert refused.code is ErrorCode.INVALID_REQUEST
