"""The send limits checked together with storing a challenge: the application's daily quota,
the interval, the daily limit and the failures per address, and their order."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ciam_server.domain.models import Channel, NewChallenge, Refusal, RefusalReason
from ciam_server.store import SqlStore

from .support import NOW, add, at, attempts, find_challenge, limits

OTHER_EMAIL = "bob@example.com"
PHONE = "+8613800138000"


def _refusal(reason: RefusalReason, retry_after: int) -> Refusal:
    return Refusal(reason=reason, retry_after=retry_after)


async def _with_attempts(store: SqlStore, challenge: NewChallenge, count: int) -> None:
    """Store ``challenge`` (no limits) and count ``count`` code checks against it."""
    stored = await add(store, challenge)
    for _ in range(count):
        assert await store.reserve_attempt(stored, attempts(1000), NOW)


# The application's daily quota


async def test_quota_reached_waits_for_the_challenge_that_makes_room(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    for hours, email in [(22, "a@x.org"), (20, "b@x.org"), (10, "c@x.org"), (1, "d@x.org")]:
        await add(store, at(new_challenge, NOW - timedelta(hours=hours), identifier=email))

    # Four in the window, quota three: the two oldest must leave; the second of them decides.
    refusal = await store.add_challenge(at(new_challenge, NOW), limits(app_daily_quota=3))

    assert refusal == _refusal(RefusalReason.APP_QUOTA, 4 * 3600)


async def test_quota_not_reached(store: SqlStore, new_challenge: NewChallenge) -> None:
    await add(store, at(new_challenge, NOW - timedelta(hours=24), identifier="old@x.org"))
    await add(store, at(new_challenge, NOW - timedelta(hours=2), identifier="a@x.org"))
    await add(store, at(new_challenge, NOW - timedelta(hours=1), identifier="b@x.org"))

    # The one created exactly 24 hours ago has left the window.
    result = await store.add_challenge(at(new_challenge, NOW), limits(app_daily_quota=3))

    assert isinstance(result, int)


async def test_quota_counts_only_this_application_and_channel(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    earlier = NOW - timedelta(hours=1)
    await add(store, at(new_challenge, earlier, client_id="other-app"))
    await add(store, at(new_challenge, earlier, channel=Channel.SMS, identifier=PHONE))
    await add(store, at(new_challenge, earlier, usage="sign_in", identifier=OTHER_EMAIL))
    quota = limits(app_daily_quota=2)

    # Its other usage counts; the other application and the other channel do not.
    assert isinstance(await store.add_challenge(at(new_challenge, NOW), quota), int)
    assert await store.add_challenge(at(new_challenge, NOW), quota) == _refusal(
        RefusalReason.APP_QUOTA, 23 * 3600
    )
    assert isinstance(
        await store.add_challenge(at(new_challenge, NOW, client_id="other-app"), quota), int
    )
    sms = at(new_challenge, NOW, channel=Channel.SMS, identifier=PHONE)
    assert isinstance(await store.add_challenge(sms, quota), int)


async def test_quota_none_is_no_quota(store: SqlStore, new_challenge: NewChallenge) -> None:
    for number in range(5):
        await add(store, at(new_challenge, NOW - timedelta(minutes=number + 1)))

    assert isinstance(await store.add_challenge(at(new_challenge, NOW), limits()), int)


async def test_quota_zero_refuses_every_code_for_a_whole_day(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    refusal = await store.add_challenge(at(new_challenge, NOW), limits(app_daily_quota=0))

    assert refusal == _refusal(RefusalReason.APP_QUOTA, 24 * 3600)


# The interval


async def test_interval_reached_waits_for_the_newest_challenge(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    await add(store, at(new_challenge, NOW - timedelta(seconds=25)))
    await add(store, at(new_challenge, NOW - timedelta(seconds=10)))

    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30))
    )

    assert refusal == _refusal(RefusalReason.INTERVAL, 20)


@pytest.mark.parametrize(
    ("age", "retry_after"),
    [
        (timedelta(seconds=10, milliseconds=250), 20),  # 19.75 s rounds up
        (timedelta(seconds=29, milliseconds=500), 1),  # 0.5 s rounds up
        (timedelta(seconds=29, microseconds=999_999), 1),  # at least 1
        (timedelta(0), 30),
    ],
)
async def test_interval_retry_after_is_rounded_up(
    store: SqlStore, new_challenge: NewChallenge, age: timedelta, retry_after: int
) -> None:
    await add(store, at(new_challenge, NOW - age))

    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30))
    )

    assert refusal == _refusal(RefusalReason.INTERVAL, retry_after)


async def test_interval_passed(store: SqlStore, new_challenge: NewChallenge) -> None:
    await add(store, at(new_challenge, NOW - timedelta(seconds=30)))

    result = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30))
    )

    assert isinstance(result, int)


async def test_interval_counts_every_application_and_usage_of_the_address(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    await add(store, at(new_challenge, NOW - timedelta(seconds=5), client_id="other-app"))
    await add(store, at(new_challenge, NOW - timedelta(seconds=15), usage="sign_in"))

    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30))
    )

    assert refusal == _refusal(RefusalReason.INTERVAL, 25)


async def test_interval_ignores_other_identifiers_and_the_other_channel(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    await add(store, at(new_challenge, NOW - timedelta(seconds=5), identifier=OTHER_EMAIL))
    await add(store, at(new_challenge, NOW - timedelta(seconds=5), channel=Channel.SMS))

    result = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30))
    )

    assert isinstance(result, int)


async def test_a_retired_challenge_still_counts(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    undelivered = await add(store, at(new_challenge, NOW - timedelta(seconds=10)))
    await store.retire_challenge(undelivered.id, NOW)

    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30))
    )

    assert refusal == _refusal(RefusalReason.INTERVAL, 20)


# The daily limit


async def test_daily_limit_reached_waits_for_the_challenge_that_makes_room(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    await add(store, at(new_challenge, NOW - timedelta(hours=23)))
    await add(store, at(new_challenge, NOW - timedelta(hours=12), client_id="other-app"))
    await add(store, at(new_challenge, NOW - timedelta(hours=1), usage="sign_in"))

    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(interval=timedelta(seconds=30), daily_limit=2)
    )

    # Three in the window, limit two: the two oldest must leave, the one 12 hours old last.
    assert refusal == _refusal(RefusalReason.DAILY_LIMIT, 12 * 3600)


async def test_daily_limit_not_reached(store: SqlStore, new_challenge: NewChallenge) -> None:
    await add(store, at(new_challenge, NOW - timedelta(hours=24)))
    await add(store, at(new_challenge, NOW - timedelta(hours=23, minutes=59, seconds=59)))
    await add(store, at(new_challenge, NOW - timedelta(hours=1)))

    result = await store.add_challenge(at(new_challenge, NOW), limits(daily_limit=3))

    assert isinstance(result, int)
    refusal = await store.add_challenge(at(new_challenge, NOW), limits(daily_limit=3))
    assert refusal == _refusal(RefusalReason.DAILY_LIMIT, 1)


async def test_daily_limit_ignores_other_identifiers_and_the_other_channel(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    for _ in range(3):
        await add(store, at(new_challenge, NOW - timedelta(hours=1), identifier=OTHER_EMAIL))
        await add(store, at(new_challenge, NOW - timedelta(hours=1), channel=Channel.SMS))

    result = await store.add_challenge(at(new_challenge, NOW), limits(daily_limit=1))

    assert isinstance(result, int)


# The failures


async def test_failures_reached_waits_until_enough_have_left_the_window(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    window = timedelta(hours=1)
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=70)), 9)  # outside
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=50)), 1)
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=40)), 0)
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=30), usage="x"), 3)
    await _with_attempts(
        store, at(new_challenge, NOW - timedelta(minutes=10), client_id="other-app"), 2
    )

    # Six failures, limit five: the one 50 minutes old leaving is not enough (five remain);
    # the one 30 minutes old decides.
    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(failure_limit=5, failure_window=window)
    )

    assert refusal == _refusal(RefusalReason.FAILURES, 30 * 60)


async def test_failures_refuse_at_the_limit(store: SqlStore, new_challenge: NewChallenge) -> None:
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=50)), 2)
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=20)), 3)

    refusal = await store.add_challenge(
        at(new_challenge, NOW), limits(failure_limit=5, failure_window=timedelta(hours=1))
    )

    assert refusal == _refusal(RefusalReason.FAILURES, 10 * 60)


async def test_failures_below_the_limit(store: SqlStore, new_challenge: NewChallenge) -> None:
    await _with_attempts(store, at(new_challenge, NOW - timedelta(hours=1)), 5)  # left
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=20)), 4)

    result = await store.add_challenge(
        at(new_challenge, NOW), limits(failure_limit=5, failure_window=timedelta(hours=1))
    )

    assert isinstance(result, int)


async def test_failures_ignore_other_identifiers_and_the_other_channel(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    earlier = NOW - timedelta(minutes=5)
    await _with_attempts(store, at(new_challenge, earlier, identifier=OTHER_EMAIL), 5)
    await _with_attempts(store, at(new_challenge, earlier, channel=Channel.SMS), 5)

    result = await store.add_challenge(
        at(new_challenge, NOW), limits(failure_limit=5, failure_window=timedelta(hours=1))
    )

    assert isinstance(result, int)


# All of them


async def _reach_every_limit(store: SqlStore, new_challenge: NewChallenge) -> None:
    """Ten minutes ago, two codes to the address, with five failures between them; and
    another code from the same application to another address an hour ago."""
    await add(store, at(new_challenge, NOW - timedelta(hours=1), identifier=OTHER_EMAIL))
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=20)), 2)
    await _with_attempts(store, at(new_challenge, NOW - timedelta(minutes=10)), 3)


@pytest.mark.parametrize(
    ("turned_off", "expected"),
    [
        ([], _refusal(RefusalReason.APP_QUOTA, 23 * 3600)),
        (["app_daily_quota"], _refusal(RefusalReason.INTERVAL, 20 * 60)),
        (["app_daily_quota", "interval"], _refusal(RefusalReason.DAILY_LIMIT, 23 * 3600 + 2400)),
        (
            ["app_daily_quota", "interval", "daily_limit"],
            _refusal(RefusalReason.FAILURES, 40 * 60),
        ),
        (["app_daily_quota", "interval", "daily_limit", "failure_limit"], None),
    ],
)
async def test_limits_are_checked_in_order_and_zero_turns_one_off(
    store: SqlStore,
    new_challenge: NewChallenge,
    turned_off: list[str],
    expected: Refusal | None,
) -> None:
    await _reach_every_limit(store, new_challenge)
    every_limit = limits(
        app_daily_quota=3,
        interval=timedelta(minutes=30),
        daily_limit=2,
        failure_limit=5,
        failure_window=timedelta(minutes=60),
    )
    off = limits()  # None for the quota, zero for the others

    result = await store.add_challenge(
        at(new_challenge, NOW),
        replace(every_limit, **{name: getattr(off, name) for name in turned_off}),
    )

    if expected is None:
        assert isinstance(result, int)
    else:
        assert result == expected


# What a send writes


async def test_a_refused_send_stores_nothing_and_retires_nothing(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    live = await add(store, at(new_challenge, NOW - timedelta(seconds=10)))
    refused = at(new_challenge, NOW)

    result = await store.add_challenge(refused, limits(interval=timedelta(seconds=30)))

    assert isinstance(result, Refusal)
    assert await find_challenge(store, refused.token_hash) is None
    assert await find_challenge(store, live.token_hash) == live
    assert await store.reserve_attempt(live, attempts(5), NOW)


async def test_an_accepted_send_returns_the_id_and_retires_the_live_challenge(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    older = await add(store, at(new_challenge, NOW - timedelta(minutes=5)))
    newer = at(new_challenge, NOW)

    result = await store.add_challenge(newer, limits(interval=timedelta(seconds=30)))

    stored = await find_challenge(store, newer.token_hash)
    assert stored is not None
    assert result == stored.id
    retired = await find_challenge(store, older.token_hash)
    assert retired is not None
    assert retired.retired_at == NOW
