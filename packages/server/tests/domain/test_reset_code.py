"""/reset_user_password, step 4: the code proves possession, within its lifetime, with a
bounded number of guesses per token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ciam_server.domain import send_otp
from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Channel
from ciam_shared import ErrorCode

from .conftest import (
    BAD_CODE,
    BAD_TOKEN,
    CODE_TTL,
    MAX_ATTEMPTS,
    NEW_PASSWORD,
    NO_ACCOUNT,
    OLD_PASSWORD,
    World,
    refusal,
    wrong,
)


async def test_a_wrong_code_is_a_bad_code_and_counts_an_attempt(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    refused = await refusal(world.reset(channel, issued, code=wrong(issued.code)))

    assert refused.code is BAD_CODE[channel]
    assert world.challenge(issued).attempts == 1
    assert world.has_password(OLD_PASSWORD)


async def test_each_of_the_allowed_wrong_codes_is_a_bad_code(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        refused = await refusal(world.reset(channel, issued, code=wrong(issued.code)))
        assert refused.code is BAD_CODE[channel]
        assert world.challenge(issued).attempts == attempt


async def test_after_the_allowed_wrong_codes_the_token_is_dead_even_with_the_right_code(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    for _ in range(MAX_ATTEMPTS):
        await refusal(world.reset(channel, issued, code=wrong(issued.code)))

    refused = await refusal(world.reset(channel, issued))

    assert refused.code is BAD_TOKEN[channel]
    assert world.has_password(OLD_PASSWORD)


async def test_a_right_code_does_not_use_up_an_attempt(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    for _ in range(MAX_ATTEMPTS - 1):
        await refusal(world.reset(channel, issued, code=wrong(issued.code)))

    # The right code, several times, with a password the policy refuses.
    for _ in range(3):
        refused = await refusal(world.reset(channel, issued, password="password1"))
        assert refused.code is ErrorCode.INVALID_NEW_PASSWORD
    assert world.challenge(issued).attempts == MAX_ATTEMPTS - 1

    await world.reset(channel, issued)
    assert world.has_password(NEW_PASSWORD)


async def test_an_expired_code_is_a_bad_code_while_the_token_lives(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    world.clock.advance(CODE_TTL)

    refused = await refusal(world.reset(channel, issued))

    assert refused.code is BAD_CODE[channel]
    assert refused.description == "The code has expired."
    assert world.has_password(OLD_PASSWORD)


async def test_the_code_is_accepted_until_the_end_of_its_lifetime(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    world.clock.advance(CODE_TTL - timedelta(microseconds=1))

    await world.reset(channel, issued)

    assert world.has_password(NEW_PASSWORD)


async def test_a_code_is_valid_only_with_the_token_it_was_sent_with(
    world: World, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send_otp, "new_code", iter(["111111", "222222"]).__next__)
    older = await world.send(channel)
    newer = await world.send(channel)

    refused = await refusal(world.reset(channel, newer, code=older.code))

    assert refused.code is BAD_CODE[channel]


async def test_the_code_is_checked_before_the_user_is_looked_up(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel, NO_ACCOUNT[channel])

    refused = await refusal(
        world.reset(channel, issued, to=NO_ACCOUNT[channel], code=wrong(issued.code))
    )

    assert refused.code is BAD_CODE[channel]


async def test_concurrent_guesses_check_no_more_codes_than_allowed(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)
    guesses = 4 * MAX_ATTEMPTS

    outcomes = await asyncio.gather(
        *(
            world.reset(channel, issued, code=f"{guess:06d}")
            for guess in range(guesses)
            if f"{guess:06d}" != issued.code
        ),
        return_exceptions=True,
    )

    codes = [outcome.code for outcome in outcomes if isinstance(outcome, FlowError)]
    assert len(codes) == len(outcomes)
    assert codes.count(BAD_CODE[channel]) == MAX_ATTEMPTS
    assert set(codes) == {BAD_CODE[channel], BAD_TOKEN[channel]}
    assert world.challenge(issued).attempts == MAX_ATTEMPTS


async def test_a_right_code_among_guesses_past_the_limit_is_refused_as_they_are(
    world: World, channel: Channel
) -> None:
    # Every check reads the token while it still has attempts; the right code comes last,
    # when the wrong ones have used them up: it must be told nothing more than they are.
    issued = await world.send(channel)
    guesses = [wrong(issued.code)] * (2 * MAX_ATTEMPTS) + [issued.code]

    outcomes = await asyncio.gather(
        *(world.reset(channel, issued, code=guess) for guess in guesses),
        return_exceptions=True,
    )

    last = outcomes[-1]
    assert isinstance(last, FlowError)
    assert last.code is BAD_TOKEN[channel]
    assert world.challenge(issued).attempts == MAX_ATTEMPTS
    assert world.has_password(OLD_PASSWORD)
