"""/reset_user_password, steps 5 to 9: the account, its status, the policy, the history, and the
one change that consumes the token and sets the password."""

from __future__ import annotations

import asyncio

import pytest

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Channel, User
from ciam_server.domain.ports import PasswordChangedNotice
from ciam_shared import ErrorCode

from .conftest import (
    ADDRESS,
    BAD_TOKEN,
    EMAIL,
    HISTORY_DEPTH,
    NEW_PASSWORD,
    NO_ACCOUNT,
    OLD_PASSWORD,
    PHONE,
    SETUP_HASHER,
    World,
    refusal,
)

BOB = {Channel.EMAIL: "bob@example.com", Channel.SMS: "+8613700137000"}


def add_bob(world: World, password: str, *, frozen: bool = False) -> User:
    """A second account, reachable at the addresses in BOB."""
    return world.add_user(
        password, email=BOB[Channel.EMAIL], phone_number=BOB[Channel.SMS], frozen=frozen
    )


async def test_a_reset_sets_the_new_password(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    await world.reset(channel, issued)

    assert world.user().password_hash != world.alice.password_hash
    assert world.user().password_hash.startswith("$argon2id$")
    assert world.has_password(NEW_PASSWORD)
    assert not world.has_password(OLD_PASSWORD)


async def test_a_reset_bumps_the_credential_version(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    await world.reset(channel, issued)

    assert world.user().credential_version == world.alice.credential_version + 1


async def test_a_reset_consumes_the_token(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    await world.reset(channel, issued)

    assert world.challenge(issued).consumed_at == world.clock()


async def test_a_reset_records_the_new_password_in_the_history(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    await world.reset(channel, issued)

    assert world.store.history[world.alice.id] == [
        world.user().password_hash,
        world.alice.password_hash,
    ]


async def test_a_reset_unlocks_every_username_of_the_user(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    await world.reset(channel, issued)

    assert world.store.unlocked == [
        f"email:{world.alice.email}",
        f"sms:{world.alice.phone_number}",
    ]


async def test_a_reset_tells_the_account_holder(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    await world.reset(channel, issued)

    assert world.sender.notices == [
        PasswordChangedNotice(channel=channel, to=ADDRESS[channel], changed_at=world.clock())
    ]


async def test_a_lost_notice_does_not_undo_the_reset(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    world.sender.fail_notices = True

    await world.reset(channel, issued)

    assert world.has_password(NEW_PASSWORD)
    assert world.challenge(issued).consumed_at is not None


async def test_the_password_is_stored_in_nfkc_form(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    fullwidth = "".join(chr(ord(char) + 0xFEE0) for char in "Zq7x!mK2")

    await world.reset(channel, issued, password=fullwidth)

    assert world.has_password("Zq7x!mK2")


async def test_a_token_can_be_used_only_once(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    await world.reset(channel, issued)

    refused = await refusal(world.reset(channel, issued, password="a third fine password"))

    assert refused.code is BAD_TOKEN[channel]
    assert world.has_password(NEW_PASSWORD)
    assert len(world.sender.notices) == 1


async def test_of_two_concurrent_resets_with_one_token_only_one_succeeds(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    outcomes = await asyncio.gather(
        world.reset(channel, issued, password="first fine password"),
        world.reset(channel, issued, password="second fine password"),
        return_exceptions=True,
    )

    refusals = [outcome for outcome in outcomes if isinstance(outcome, FlowError)]
    assert len(refusals) == 1
    assert refusals[0].code is BAD_TOKEN[channel]
    assert world.user().credential_version == world.alice.credential_version + 1
    assert len(world.sender.notices) == 1


async def test_an_address_without_an_account_is_user_not_found(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel, NO_ACCOUNT[channel])

    refused = await refusal(world.reset(channel, issued, to=NO_ACCOUNT[channel]))

    assert refused.code is ErrorCode.USER_NOT_FOUND
    assert world.sender.notices == []


async def test_a_frozen_user_is_an_abnormal_user_status(world: World, channel: Channel) -> None:
    bob = add_bob(world, OLD_PASSWORD, frozen=True)
    issued = await world.send(channel, BOB[channel])

    refused = await refusal(world.reset(channel, issued, to=BOB[channel]))

    assert refused.code is ErrorCode.ABNORMAL_USER_STATUS
    assert refused.description == "User is frozen."
    assert world.has_password(OLD_PASSWORD, bob.id)
    assert world.user(bob.id).credential_version == bob.credential_version


async def test_the_status_is_checked_before_the_policy(world: World, channel: Channel) -> None:
    add_bob(world, OLD_PASSWORD, frozen=True)
    issued = await world.send(channel, BOB[channel])

    refused = await refusal(world.reset(channel, issued, to=BOB[channel], password="short"))

    assert refused.code is ErrorCode.ABNORMAL_USER_STATUS


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "at least 8 characters"),
        ("x" * 129, "at most 128 characters"),
        ("violet\x00kettle", "control characters"),
        ("iloveyou", "too common"),
        ("alice-in-wonderland", "email address"),
        ("my 13800138000 pw", "phone number"),
    ],
)
async def test_a_weak_password_is_an_invalid_new_password_naming_the_rule(
    world: World, channel: Channel, password: str, rule: str
) -> None:
    issued = await world.send(channel)

    refused = await refusal(world.reset(channel, issued, password=password))

    assert refused.code is ErrorCode.INVALID_NEW_PASSWORD
    assert refused.description is not None
    assert rule in refused.description
    assert world.has_password(OLD_PASSWORD)


async def test_the_policy_knows_both_addresses_of_the_account_whichever_channel_is_used(
    world: World, channel: Channel
) -> None:
    issued = await world.send(channel)

    for password in (f"my {EMAIL} pw", f"my {PHONE[3:]} pw"):
        refused = await refusal(world.reset(channel, issued, password=password))
        assert refused.code is ErrorCode.INVALID_NEW_PASSWORD


async def test_a_weak_password_leaves_the_token_usable(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    await refusal(world.reset(channel, issued, password="password1"))

    await world.reset(channel, issued)

    assert world.has_password(NEW_PASSWORD)


async def test_the_current_password_is_a_recurrent_password(world: World, channel: Channel) -> None:
    issued = await world.send(channel)

    refused = await refusal(world.reset(channel, issued, password=OLD_PASSWORD))

    assert refused.code is ErrorCode.RECURRENT_PASSWORD
    assert world.user().credential_version == world.alice.credential_version


async def test_a_recurrent_password_leaves_the_token_usable(world: World, channel: Channel) -> None:
    issued = await world.send(channel)
    await refusal(world.reset(channel, issued, password=OLD_PASSWORD))

    await world.reset(channel, issued)

    assert world.has_password(NEW_PASSWORD)


async def test_the_policy_is_checked_before_the_history(world: World, channel: Channel) -> None:
    # An account made before the policy, whose current password the policy now refuses.
    add_bob(world, "password1")
    issued = await world.send(channel, BOB[channel])

    refused = await refusal(world.reset(channel, issued, to=BOB[channel], password="password1"))

    assert refused.code is ErrorCode.INVALID_NEW_PASSWORD


async def reset_to(world: World, channel: Channel, password: str) -> None:
    await world.reset(channel, await world.send(channel), password=password)


async def test_passwords_within_the_history_depth_are_recurrent(
    world: World, channel: Channel
) -> None:
    # The history holds the current password and the HISTORY_DEPTH - 1 before it.
    passwords = [OLD_PASSWORD] + [f"fine password number {n}" for n in range(1, HISTORY_DEPTH)]
    for password in passwords[1:]:
        await reset_to(world, channel, password)

    for password in passwords:
        refused = await refusal(world.reset(channel, await world.send(channel), password=password))
        assert refused.code is ErrorCode.RECURRENT_PASSWORD, password


async def test_a_password_older_than_the_history_depth_is_accepted(
    world: World, channel: Channel
) -> None:
    for n in range(1, HISTORY_DEPTH + 1):
        await reset_to(world, channel, f"fine password number {n}")

    await reset_to(world, channel, OLD_PASSWORD)

    assert world.has_password(OLD_PASSWORD)


async def test_only_history_depth_passwords_are_compared_however_long_the_history(
    world: World, channel: Channel
) -> None:
    # A history longer than the depth, as after the configured depth was lowered.
    older = [f"fine password number {n}" for n in range(1, HISTORY_DEPTH + 2)]
    world.store.history[world.alice.id] += [SETUP_HASHER.hash(password) for password in older]
    beyond_depth = older[HISTORY_DEPTH - 1]

    await reset_to(world, channel, beyond_depth)

    assert world.has_password(beyond_depth)
