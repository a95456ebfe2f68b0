"""/reset_user_password, step 3: the token names a live challenge issued to this client, for a
password reset, on this channel, for this address."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

import pytest

from ciam_server.domain.models import Channel, NewChallenge
from ciam_server.domain.otp import new_token
from ciam_shared import ErrorCode

from .conftest import (
    ADDRESS,
    BAD_CODE,
    BAD_TOKEN,
    CODE_TTL,
    NEW_PASSWORD,
    NO_ACCOUNT,
    OLD_PASSWORD,
    OTHER_CLIENT_ID,
    PHONE,
    START,
    TOKEN_TTL,
    TYPED_ADDRESS,
    Issued,
    World,
    refusal,
    wrong,
)


async def test_an_unknown_token_is_a_bad_token(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    refused = await refusal(world.reset(channel, Issued(token=new_token(), code=issued.code)))

    assert refused.code is BAD_TOKEN[channel]
    assert world.has_password(OLD_PASSWORD)


async def test_a_token_issued_to_another_client_is_a_bad_token(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel, application=world.other_app)

    refused = await refusal(world.reset(channel, issued, application=world.web_app))

    assert refused.code is BAD_TOKEN[channel]


async def test_a_token_issued_for_another_address_is_a_bad_token(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel, NO_ACCOUNT[channel])

    refused = await refusal(world.reset(channel, issued, to=ADDRESS[channel]))

    assert refused.code is BAD_TOKEN[channel]
    assert world.has_password(OLD_PASSWORD)


async def test_an_email_token_is_a_bad_phone_number_token(world: World) -> None:
    issued = await world.send(Channel.EMAIL)

    refused = await refusal(world.reset(Channel.SMS, issued, to=PHONE))

    assert refused.code is ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN


async def test_a_phone_number_token_is_a_bad_email_token(world: World) -> None:
    issued = await world.send(Channel.SMS)

    refused = await refusal(world.reset(Channel.EMAIL, issued))

    assert refused.code is ErrorCode.BAD_EMAIL_OTP_TOKEN


class Binding(TypedDict, total=False):
    client_id: str
    usage: str
    identifier: str


def planted(
    world: World,
    channel: Channel,
    *,
    client_id: str | None = None,
    usage: str = "reset_password",
    bound_channel: Channel | None = None,
    identifier: str | None = None,
) -> Issued:
    """A challenge stored as is: for Alice on ``channel`` unless told otherwise."""
    token, code = new_token(), "123456"
    token_hash = world.hasher.token_hash(token)
    world.store.plant_challenge(
        NewChallenge(
            client_id=client_id or world.web_app.client_id,
            usage=usage,
            channel=bound_channel or channel,
            identifier=identifier or ADDRESS[channel],
            token_hash=token_hash,
            code_hash=world.hasher.code_hash(token_hash, code),
            created_at=START,
            code_expires_at=START + CODE_TTL,
            token_expires_at=START + TOKEN_TTL,
        )
    )
    return Issued(token=token, code=code)


async def test_a_planted_challenge_bound_as_a_reset_would_bind_it_works(
    world: World, channel: Channel
) -> None:
    issued = planted(world, channel)

    await world.reset(channel, issued)

    assert world.has_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    "binding",
    [
        Binding(usage="login"),
        Binding(usage="signup"),
        Binding(client_id=OTHER_CLIENT_ID),
        Binding(identifier="mallory@example.com"),
    ],
    ids=["login", "signup", "other-client", "other-identifier"],
)
async def test_a_challenge_bound_otherwise_is_a_bad_token(
    world: World, channel: Channel, binding: Binding
) -> None:
    issued = planted(world, channel, **binding)

    refused = await refusal(world.reset(channel, issued))

    assert refused.code is BAD_TOKEN[channel]
    assert world.has_password(OLD_PASSWORD)


async def test_a_challenge_for_the_other_channel_is_a_bad_token_whatever_its_identifier(
    world: World, channel: Channel
) -> None:
    other = Channel.SMS if channel is Channel.EMAIL else Channel.EMAIL
    issued = planted(world, channel, bound_channel=other)

    refused = await refusal(world.reset(channel, issued))

    assert refused.code is BAD_TOKEN[channel]


async def test_the_address_is_matched_in_normalized_form(world: World, channel: Channel) -> None:
    issued = await world.send(channel, TYPED_ADDRESS[channel])

    await world.reset(channel, issued, to=ADDRESS[channel])

    assert world.user().credential_version == world.alice.credential_version + 1


async def test_an_expired_token_is_a_bad_token_even_with_the_right_code(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    world.clock.advance(TOKEN_TTL)

    refused = await refusal(world.reset(channel, issued))

    assert refused.code is BAD_TOKEN[channel]
    assert refused.description == "The token has expired."


async def test_a_consumed_token_is_a_bad_token(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    await world.reset(channel, issued)

    refused = await refusal(world.reset(channel, issued, password="another fine password 7"))

    assert refused.code is BAD_TOKEN[channel]
    assert world.has_password(NEW_PASSWORD)


async def test_a_retired_token_is_a_bad_token_and_the_newer_one_works(
    world: World, channel: Channel
) -> None:
    older = await world.send(channel)
    newer = await world.send(channel)

    refused = await refusal(world.reset(channel, older))

    assert refused.code is BAD_TOKEN[channel]
    await world.reset(channel, newer)
    assert world.has_password(NEW_PASSWORD)


async def test_the_token_is_checked_before_the_code(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    refused = await refusal(
        world.reset(channel, Issued(token=new_token(), code=wrong(issued.code)))
    )

    assert refused.code is BAD_TOKEN[channel]


async def test_a_token_expires_exactly_at_the_end_of_its_lifetime(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    world.clock.advance(TOKEN_TTL - timedelta(microseconds=1))
    # Still a live token; only its code has expired by now.
    assert (await refusal(world.reset(channel, issued))).code is BAD_CODE[channel]

    world.clock.advance(timedelta(microseconds=1))

    assert (await refusal(world.reset(channel, issued))).code is BAD_TOKEN[channel]
