"""A caller who cannot prove possession of the code can never make the server run argon2."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ciam_server.domain.clients import ClientCredentials, authenticate_client
from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Channel
from ciam_server.domain.otp import new_token
from ciam_shared import ErrorCode

from .conftest import (
    ADDRESS,
    BAD_CODE,
    BAD_TOKEN,
    CODE_TTL,
    MAX_ATTEMPTS,
    NEW_PASSWORD,
    NO_ACCOUNT,
    TOKEN_TTL,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    Issued,
    World,
    reset_request,
    wrong,
)

Attack = Callable[[World, Channel, Issued], Awaitable[None]]


async def authenticated_reset(
    world: World, credentials: ClientCredentials, channel: Channel, issued: Issued
) -> None:
    """Client authentication, then the reset, as the API runs them."""
    application = await authenticate_client(world.store, credentials)
    await world.reset_password(
        application,
        reset_request(
            channel, ADDRESS[channel], token=issued.token, code=issued.code, password=NEW_PASSWORD
        ),
    )


async def unknown_client(world: World, channel: Channel, issued: Issued) -> None:
    credentials = ClientCredentials(header_client_id="no-such-app", header_client_secret="x")
    await authenticated_reset(world, credentials, channel, issued)


async def wrong_client_secret(world: World, channel: Channel, issued: Issued) -> None:
    credentials = ClientCredentials(header_client_id=WEB_CLIENT_ID, header_client_secret="wrong")
    await authenticated_reset(world, credentials, channel, issued)


async def missing_code(world: World, channel: Channel, issued: Issued) -> None:
    await world.reset(channel, issued, code="")


async def wrong_token(world: World, channel: Channel, issued: Issued) -> None:
    await world.reset(channel, Issued(token=new_token(), code=issued.code))


async def token_of_another_client(world: World, channel: Channel, issued: Issued) -> None:
    await world.reset(channel, issued, application=world.other_app)


async def expired_token(world: World, channel: Channel, issued: Issued) -> None:
    world.clock.advance(TOKEN_TTL)
    await world.reset(channel, issued)


async def wrong_code(world: World, channel: Channel, issued: Issued) -> None:
    await world.reset(channel, issued, code=wrong(issued.code))


async def expired_code(world: World, channel: Channel, issued: Issued) -> None:
    world.clock.advance(CODE_TTL)
    await world.reset(channel, issued)


async def right_code_after_too_many_wrong_ones(
    world: World, channel: Channel, issued: Issued
) -> None:
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(FlowError):
            await world.reset(channel, issued, code=wrong(issued.code))
    await world.reset(channel, issued)


INVALID_CLIENT = dict.fromkeys(Channel, ErrorCode.INVALID_CLIENT)
INVALID_REQUEST = dict.fromkeys(Channel, ErrorCode.INVALID_REQUEST)


@pytest.mark.parametrize(
    ("attack", "refused_with"),
    [
        (unknown_client, INVALID_CLIENT),
        (wrong_client_secret, INVALID_CLIENT),
        (missing_code, INVALID_REQUEST),
        (wrong_token, BAD_TOKEN),
        (token_of_another_client, BAD_TOKEN),
        (expired_token, BAD_TOKEN),
        (wrong_code, BAD_CODE),
        (expired_code, BAD_CODE),
        (right_code_after_too_many_wrong_ones, BAD_TOKEN),
    ],
)
async def test_no_argon2_work_before_the_code_is_proven(
    world: World, channel: Channel, attack: Attack, refused_with: dict[Channel, ErrorCode]
) -> None:
    issued = await world.send(channel)

    with pytest.raises(FlowError) as caught:
        await attack(world, channel, issued)

    assert caught.value.code is refused_with[channel]
    assert world.hashing.argon2_calls == 0


async def test_no_argon2_work_for_an_address_without_an_account(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel, NO_ACCOUNT[channel])

    with pytest.raises(FlowError, match="user_not_found"):
        await world.reset(channel, issued, to=NO_ACCOUNT[channel])

    assert world.hashing.argon2_calls == 0


async def test_no_argon2_work_for_a_password_the_policy_refuses(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    with pytest.raises(FlowError, match="invalid_new_password"):
        await world.reset(channel, issued, password="password1")

    assert world.hashing.argon2_calls == 0


async def test_a_successful_reset_does_run_argon2(world: World, channel: Channel) -> None:
    # The counter sees the work of a reset: the zeros above are not the counter's blindness.
    issued = await world.send(channel)

    await authenticated_reset(
        world,
        ClientCredentials(header_client_id=WEB_CLIENT_ID, header_client_secret=WEB_CLIENT_SECRET),
        channel,
        issued,
    )

    assert world.hashing.verify_calls == 1  # the one password in Alice's history
    assert world.hashing.hash_calls == 1


def room_for_one_reset(world: World) -> int:
    """Shrink the pool's room to one reset's calls; their number."""
    calls = 1 + world.reset_password.history_depth
    world.hashing.queue_limit = calls - world.hashing.pool_size
    return calls


@pytest.mark.parametrize("channel", list(Channel))
async def test_a_proven_reset_finding_the_room_booked_is_busy_and_keeps_its_code(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    in_progress = world.hashing.book(room_for_one_reset(world))  # another reset holds it

    with pytest.raises(FlowError) as refused:
        world.reset_password.ensure_room()
    assert refused.value.code is ErrorCode.TEMPORARILY_UNAVAILABLE
    with pytest.raises(FlowError) as refused:
        await world.reset(channel, issued)  # past step 0: refused when it books
    assert refused.value.code is ErrorCode.TEMPORARILY_UNAVAILABLE
    assert refused.value.retry_after == 1
    assert world.challenge(issued).attempts == 0  # the right code gave its attempt back
    assert world.hashing.argon2_calls == 0

    in_progress.release()
    world.reset_password.ensure_room()
    await world.reset(channel, issued)  # the same code and token, once there is room
    assert world.has_password(NEW_PASSWORD)
    assert world.hashing.has_room(room_for_one_reset(world))  # its booking was released


@pytest.mark.parametrize("channel", list(Channel))
async def test_wrong_codes_neither_need_nor_hold_room(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    calls = room_for_one_reset(world)
    in_progress = world.hashing.book(calls)

    with pytest.raises(FlowError) as refused:
        await world.reset(channel, issued, code=wrong(issued.code))
    assert refused.value.code is BAD_CODE[channel]  # not busy: a wrong code costs no argon2
    in_progress.release()
    assert world.hashing.has_room(calls)
