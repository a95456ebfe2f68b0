"""/otp/send: who may ask, what is delivered, and what is stored (hashes only)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from ciam_server.domain.models import Channel
from ciam_shared import ErrorCode, OtpSendRequest, OtpSendResponse

from .conftest import (
    ADDRESS,
    CODE_TTL,
    MOBILE_CLIENT_ID,
    NO_ACCOUNT,
    SPA_CLIENT_ID,
    START,
    TOKEN_TTL,
    TYPED_ADDRESS,
    World,
    refusal,
    send_request,
)


async def test_a_public_app_not_enabled_for_sending_is_unauthorized(
    world: World, channel: Channel
) -> None:
    mobile_app = world.store.applications[MOBILE_CLIENT_ID]

    refused = await refusal(world.send_otp(mobile_app, send_request(channel, ADDRESS[channel])))

    assert refused.code is ErrorCode.UNAUTHORIZED_CLIENT
    assert world.sender.codes == []
    assert world.store.challenges == {}


async def test_a_public_app_enabled_for_sending_may_send(world: World, channel: Channel) -> None:
    spa_app = world.store.applications[SPA_CLIENT_ID]

    await world.send(channel, application=spa_app)

    (challenge,) = world.store.challenges.values()
    assert challenge.client_id == SPA_CLIENT_ID


@pytest.mark.parametrize("usage", ["login", "signup", "update_userinfo", "reset", ""])
async def test_a_usage_other_than_reset_password_is_an_invalid_request(
    world: World, usage: str
) -> None:
    refused = await refusal(
        world.send_otp(
            world.web_app, send_request(Channel.EMAIL, ADDRESS[Channel.EMAIL], usage=usage)
        )
    )

    assert refused.code is ErrorCode.INVALID_REQUEST
    assert refused.description is not None
    assert "usage" in refused.description
    assert world.sender.codes == []


async def test_the_default_usage_login_is_an_invalid_request(world: World) -> None:
    refused = await refusal(
        world.send_otp(world.web_app, OtpSendRequest(email=ADDRESS[Channel.EMAIL]))
    )

    assert refused.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize(
    "request_body",
    [
        OtpSendRequest(
            usage="reset_password", email="alice@example.com", phone_number="+8613800138000"
        ),
        OtpSendRequest(usage="reset_password"),
        OtpSendRequest(usage="reset_password", email=""),
        OtpSendRequest(usage="reset_password", phone_number=""),
    ],
    ids=["both-channels", "no-channel", "empty-email", "empty-phone-number"],
)
async def test_exactly_one_non_empty_channel_is_required(
    world: World, request_body: OtpSendRequest
) -> None:
    refused = await refusal(world.send_otp(world.web_app, request_body))

    assert refused.code is ErrorCode.INVALID_REQUEST
    assert world.sender.codes == []
    assert world.store.challenges == {}


@pytest.mark.parametrize(
    ("channel", "raw", "code"),
    [
        (Channel.EMAIL, "alice@", ErrorCode.MALFORMED_EMAIL),
        (Channel.EMAIL, "not an address", ErrorCode.MALFORMED_EMAIL),
        (Channel.SMS, "12345", ErrorCode.MALFORMED_PHONE_NUMBER),
        (Channel.SMS, "+86 call me", ErrorCode.MALFORMED_PHONE_NUMBER),
    ],
)
async def test_a_malformed_address_is_refused(
    world: World, channel: Channel, raw: str, code: ErrorCode
) -> None:
    refused = await refusal(world.send_otp(world.web_app, send_request(channel, raw)))

    assert refused.code is code
    assert world.sender.codes == []
    assert world.store.challenges == {}


async def test_the_response_holds_the_token_and_its_lifetime(
    world: World, channel: Channel
) -> None:
    response = await world.send_otp(world.web_app, send_request(channel, ADDRESS[channel]))

    assert isinstance(response, OtpSendResponse)
    assert len(response.otp_token) >= 43
    assert response.expires_in == int(TOKEN_TTL.total_seconds()) == 600


async def test_the_code_is_sent_to_the_normalized_address(world: World, channel: Channel) -> None:
    await world.send_otp(world.web_app, send_request(channel, TYPED_ADDRESS[channel]))

    (message,) = world.sender.codes
    assert message.channel is channel
    assert message.to == ADDRESS[channel]
    assert message.usage == "reset_password"
    assert len(message.code) == 6
    assert message.code.isdigit()


async def test_the_challenge_is_bound_to_client_usage_channel_and_address(
    world: World, channel: Channel
) -> None:
    await world.send(channel, TYPED_ADDRESS[channel])

    (challenge,) = world.store.challenges.values()
    assert challenge.client_id == world.web_app.client_id
    assert challenge.usage == "reset_password"
    assert challenge.channel is channel
    assert challenge.identifier == ADDRESS[channel]


async def test_the_challenge_has_the_two_lifetimes(world: World, channel: Channel) -> None:
    await world.send(channel)

    (challenge,) = world.store.challenges.values()
    assert challenge.created_at == START
    assert challenge.code_expires_at == START + CODE_TTL
    assert challenge.token_expires_at == START + TOKEN_TTL
    assert challenge.attempts == 0
    assert challenge.consumed_at is None
    assert challenge.retired_at is None


async def test_only_keyed_hashes_of_the_token_and_code_are_stored(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    (challenge,) = world.store.challenges.values()
    token_hash = world.hasher.token_hash(issued.token)
    assert challenge.token_hash == token_hash
    assert challenge.code_hash == world.hasher.code_hash(token_hash, issued.code)
    for field in fields(challenge):
        value = getattr(challenge, field.name)
        if isinstance(value, str):
            assert issued.token not in value, field.name
            assert issued.code not in value, field.name


async def test_each_send_issues_a_new_token_and_code(world: World, channel: Channel) -> None:
    tokens = {(await world.send(channel)).token for _ in range(5)}

    assert len(tokens) == 5
    assert len({message.code for message in world.sender.codes}) > 1


async def test_sending_again_retires_the_earlier_challenge(world: World, channel: Channel) -> None:
    first = await world.send(channel)
    world.clock.advance(CODE_TTL / 10)

    second = await world.send(channel)

    assert world.challenge(first).retired_at == world.clock()
    assert world.challenge(second).retired_at is None


async def test_sending_to_another_address_retires_nothing(world: World, channel: Channel) -> None:
    first = await world.send(channel)

    await world.send(channel, NO_ACCOUNT[channel])

    assert world.challenge(first).retired_at is None


async def test_sending_on_the_other_channel_retires_nothing(world: World) -> None:
    by_email = await world.send(Channel.EMAIL)

    await world.send(Channel.SMS)

    assert world.challenge(by_email).retired_at is None


async def test_a_failed_delivery_is_temporarily_unavailable_and_its_challenge_dead(
    world: World, channel: Channel
) -> None:
    world.sender.fail_codes = True

    refused = await refusal(world.send_otp(world.web_app, send_request(channel, ADDRESS[channel])))

    assert refused.code is ErrorCode.TEMPORARILY_UNAVAILABLE
    assert refused.retry_after is not None
    assert refused.retry_after > 0
    (stored,) = world.store.challenges.values()
    assert stored.retired_at is not None  # a code nobody received can never be used


async def test_an_address_without_an_account_gets_a_code_all_the_same(
    world: World, channel: Channel
) -> None:
    with_account = await world.send_otp(world.web_app, send_request(channel, ADDRESS[channel]))
    without_account = await world.send_otp(
        world.web_app, send_request(channel, NO_ACCOUNT[channel])
    )

    assert [message.to for message in world.sender.codes] == [ADDRESS[channel], NO_ACCOUNT[channel]]
    assert type(without_account) is type(with_account)
    assert without_account.expires_in == with_account.expires_in
    assert len(without_account.otp_token) == len(with_account.otp_token)
    assert len(world.store.challenges) == 2


async def test_a_code_for_an_idn_address_goes_to_that_domain(world: World) -> None:
    # stra\u00dfe.de (xn--strae-oqa.de) and strasse.de are different domains, owned by different
    # people: a code meant for the first must not be mailed to the second.
    await world.send(Channel.EMAIL, "someone@xn--strae-oqa.de")

    (message,) = world.sender.codes
    assert message.to != "someone@strasse.de"
    assert message.to == "someone@stra\N{LATIN SMALL LETTER SHARP S}e.de"
