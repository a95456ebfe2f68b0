"""Pruning: exactly the rows that can no longer matter go, in bounded batches, and every limit,
count and ``Retry-After`` reads the same after a prune as before it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.domain.models import (
    AuditAction,
    AuditEvent,
    Channel,
    NewChallenge,
    Refusal,
    RefusalReason,
    SendLimits,
)
from ciam_server.store import SqlStore, create_engine, upgrade
from ciam_server.store.prune import TASK_NAME, PruneCounts, Retention, prune, pruning
from ciam_server.store.tables import (
    AuditEventRow,
    IdempotencyKeyRow,
    OtpChallengeRow,
    RefreshTokenRow,
    SignInFailureRow,
)

from .support import EMAIL, NO_LIMITS, NOW, add, at, attempts, limits

YEAR = timedelta(days=365)


def retention_for(send_limits: SendLimits, audit_events: timedelta = YEAR) -> Retention:
    return Retention(
        send_interval=send_limits.interval,
        failure_window=send_limits.failure_window,
        sign_in_failure_window=timedelta(minutes=15),
        audit_events=audit_events,
    )


DEFAULT_RETENTION = Retention(
    send_interval=timedelta(seconds=30),
    failure_window=timedelta(hours=1),
    sign_in_failure_window=timedelta(minutes=15),
    audit_events=YEAR,
)


async def _challenge(
    store: SqlStore,
    template: NewChallenge,
    created_at: datetime,
    *,
    wrong_codes: int = 0,
    **changes: Any,
) -> str:
    """Store a challenge created at ``created_at`` (its token valid for 10 minutes) with
    ``wrong_codes`` code checks counted on it; its token hash."""
    challenge = at(template, created_at, **changes)
    stored = await add(store, challenge)
    for _ in range(wrong_codes):
        assert await store.reserve_attempt(stored, attempts(1000), NOW)
    return challenge.token_hash


async def _long_lived_challenge(
    store: SqlStore, template: NewChallenge, created_at: datetime, token_ttl: timedelta
) -> str:
    """Store a challenge whose token lives ``token_ttl``; its token hash."""
    challenge = replace(at(template, created_at), token_expires_at=created_at + token_ttl)
    await add(store, challenge)
    return challenge.token_hash


async def _column(engine: AsyncEngine, column: Any) -> set[Any]:
    async with engine.connect() as connection:
        return set((await connection.execute(select(column))).scalars())


def _event(at: datetime) -> AuditEvent:
    return AuditEvent(
        at=at,
        action=AuditAction.CODE_SENT,
        client_id="web-app",
        channel=Channel.EMAIL,
        identifier=EMAIL,
        request_id=f"request-{at.isoformat()}",
    )


async def test_prune_deletes_exactly_the_rows_that_can_no_longer_matter(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    cutoff = NOW - DEFAULT_RETENTION.challenges  # 24 hours: the longest window here
    old = [await _challenge(store, new_challenge, cutoff - timedelta(hours=h)) for h in (1, 5, 9)]
    kept = {
        await _challenge(store, new_challenge, cutoff),  # exactly at the cutoff
        await _challenge(store, new_challenge, cutoff + timedelta(minutes=1)),
        await _challenge(store, new_challenge, NOW - timedelta(minutes=5)),  # token still valid
        # Older than every window, but its token has not expired yet.
        await _long_lived_challenge(
            store, new_challenge, cutoff - timedelta(hours=3), timedelta(days=2)
        ),
    }
    for key, expires_at in [
        ("expired", NOW - timedelta(hours=1)),
        ("expiring-now", NOW),
        ("live", NOW + timedelta(seconds=1)),
    ]:
        claim = await store.claim_idempotency_key(
            client_id="web-app",
            key=key,
            endpoint="POST /otp/send",
            fingerprint="ab",
            now=NOW - timedelta(days=2),
            expires_at=expires_at,
        )
        assert claim.outcome.value == "claimed"
    audit_cutoff = NOW - YEAR
    for at_ in [audit_cutoff - timedelta(days=30), audit_cutoff - timedelta(seconds=1)]:
        await store.record_audit_event(_event(at_))
    for at_ in [audit_cutoff, NOW - timedelta(days=1)]:
        await store.record_audit_event(_event(at_))

    counts = await prune(engine, now=NOW, retention=DEFAULT_RETENTION, batch_size=2)

    assert counts == PruneCounts(
        challenges=3, idempotency_keys=2, refresh_tokens=0, sign_in_failures=0, audit_events=2
    )
    assert await _column(engine, OtpChallengeRow.token_hash) == kept
    assert await _column(engine, IdempotencyKeyRow.key) == {"live"}
    assert await _column(engine, AuditEventRow.at) == {audit_cutoff, NOW - timedelta(days=1)}
    assert set(old).isdisjoint(await _column(engine, OtpChallengeRow.token_hash))
    # Nothing is left to delete.
    again = await prune(engine, now=NOW, retention=DEFAULT_RETENTION)
    assert again == PruneCounts(
        challenges=0, idempotency_keys=0, refresh_tokens=0, sign_in_failures=0, audit_events=0
    )


async def test_expired_refresh_tokens_and_stale_sign_in_failures_go(
    engine: AsyncEngine, store: SqlStore
) -> None:
    user = await store.create_user(
        email=EMAIL, phone_number=None, password_hash="hash-0", now=NOW - YEAR
    )
    window = DEFAULT_RETENTION.sign_in_failure_window
    async with engine.begin() as connection:
        await connection.execute(
            insert(RefreshTokenRow),
            [
                {
                    "token_hash": name,
                    "family": "family",
                    "user_id": user.id,
                    "client_id": "web-app",
                    "scope": "openid",
                    "credential_version": 0,
                    "created_at": NOW - timedelta(days=30),
                    "expires_at": expires_at,
                }
                for name, expires_at in [
                    ("expired", NOW - timedelta(days=1)),
                    ("expiring-now", NOW),
                    ("live", NOW + timedelta(seconds=1)),
                ]
            ],
        )
        await connection.execute(
            insert(SignInFailureRow),
            [
                # Counted within the window: kept.
                {
                    "username": "recent",
                    "failures": 2,
                    "first_failed_at": NOW - window / 2,
                    "locked_until": None,
                },
                # Out of the window and not locked: the next failure starts afresh.
                {
                    "username": "stale",
                    "failures": 2,
                    "first_failed_at": NOW - window,
                    "locked_until": None,
                },
                # Out of the window but still locked: kept until the lock ends.
                {
                    "username": "locked",
                    "failures": 5,
                    "first_failed_at": NOW - 2 * window,
                    "locked_until": NOW + timedelta(minutes=1),
                },
                {
                    "username": "lock-ended",
                    "failures": 5,
                    "first_failed_at": NOW - 2 * window,
                    "locked_until": NOW,
                },
            ],
        )

    counts = await prune(engine, now=NOW, retention=DEFAULT_RETENTION)

    assert (counts.refresh_tokens, counts.sign_in_failures) == (2, 2)
    assert await _column(engine, RefreshTokenRow.token_hash) == {"live"}
    assert await _column(engine, SignInFailureRow.username) == {"recent", "locked"}


async def test_the_audit_retention_decides_which_events_go(
    engine: AsyncEngine, store: SqlStore
) -> None:
    for days in (3, 10, 40):
        await store.record_audit_event(_event(NOW - timedelta(days=days)))
    week = Retention(
        send_interval=timedelta(0),
        failure_window=timedelta(hours=1),
        sign_in_failure_window=timedelta(minutes=15),
        audit_events=timedelta(7),
    )

    counts = await prune(engine, now=NOW, retention=week)

    assert counts.audit_events == 2
    assert [event.at for event in await store.audit_events()] == [NOW - timedelta(days=3)]


async def test_each_transaction_deletes_one_bounded_batch(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    for minutes in range(7):
        await _challenge(store, new_challenge, NOW - timedelta(days=3, minutes=minutes))
    deleted: list[int] = []
    commits: list[None] = []

    def after_execute(_connection: Connection, cursor: Any, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM OTP_CHALLENGES"):
            deleted.append(cursor.rowcount)

    event.listen(engine.sync_engine, "after_cursor_execute", after_execute)
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append(None))
    try:
        counts = await prune(engine, now=NOW, retention=DEFAULT_RETENTION, batch_size=3)
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", after_execute)

    assert counts.challenges == 7
    assert deleted == [3, 3, 1]
    # One transaction per batch, and one for each of the other four tables' single batch.
    assert len(commits) == len(deleted) + 4


async def test_several_prunes_at_once_delete_each_row_once(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    for minutes in range(40):
        await _challenge(store, new_challenge, NOW - timedelta(days=3, minutes=minutes))

    results = await asyncio.gather(
        *(prune(engine, now=NOW, retention=DEFAULT_RETENTION, batch_size=4) for _ in range(3))
    )

    assert sum(counts.challenges for counts in results) == 40
    assert await _column(engine, OtpChallengeRow.id) == set()


# Limits and counts read the same after a prune as before it.


@dataclass(frozen=True)
class Case:
    limits: SendLimits
    hours_ago: list[tuple[float, int, str]]
    """Challenges already sent: hours before now, wrong codes counted, address."""
    refusal: Refusal
    pruned: int


CASES = {
    "interval longer than a day": Case(
        limits(interval=timedelta(days=2)),
        [(30, 0, EMAIL), (47.9, 0, EMAIL), (49, 0, EMAIL), (72, 0, EMAIL)],
        Refusal(reason=RefusalReason.INTERVAL, retry_after=18 * 3600),
        pruned=2,
    ),
    "daily limit": Case(
        limits(interval=timedelta(seconds=30), daily_limit=2),
        [(22, 0, EMAIL), (23, 0, EMAIL), (24, 0, EMAIL), (25, 0, EMAIL), (40, 0, EMAIL)],
        Refusal(reason=RefusalReason.DAILY_LIMIT, retry_after=3600),
        pruned=2,
    ),
    "application quota": Case(
        limits(app_daily_quota=2),
        [(10, 0, "a@x.org"), (20, 0, "b@x.org"), (30, 0, "c@x.org")],
        Refusal(reason=RefusalReason.APP_QUOTA, retry_after=4 * 3600),
        pruned=1,
    ),
    "failure window longer than a day": Case(
        limits(failure_limit=3, failure_window=timedelta(days=2)),
        [(1, 1, EMAIL), (36, 2, EMAIL), (48, 1, EMAIL), (60, 4, EMAIL)],
        Refusal(reason=RefusalReason.FAILURES, retry_after=12 * 3600),
        pruned=1,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_send_is_refused_alike_before_and_after_a_prune(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge, case: Case
) -> None:
    for hours, count, identifier in case.hours_ago:
        created_at = NOW - timedelta(hours=hours)
        await _challenge(store, new_challenge, created_at, wrong_codes=count, identifier=identifier)
    probe = at(new_challenge, NOW)
    before = await store.add_challenge(probe, case.limits)

    counts = await prune(engine, now=NOW, retention=retention_for(case.limits))

    assert before == case.refusal
    assert await store.add_challenge(probe, case.limits) == before
    assert counts.challenges == case.pruned
    # And later on, when the window has moved on, as the rows would have told.
    later = at(new_challenge, NOW + timedelta(seconds=before.retry_after))
    assert isinstance(await store.add_challenge(later, case.limits), int)


async def test_the_wrong_codes_counted_at_reset_are_the_same_after_a_prune(
    engine: AsyncEngine, store: SqlStore, new_challenge: NewChallenge
) -> None:
    window = timedelta(days=2)
    send_limits = limits(failure_limit=10, failure_window=window)
    for hours, count in [(60, 4), (49, 3)]:  # before the window: pruned
        await _challenge(store, new_challenge, NOW - timedelta(hours=hours), wrong_codes=count)
    # Exactly at the window's start (no longer counted, but kept), within it, and the token
    # being checked.
    await _challenge(store, new_challenge, NOW - window, wrong_codes=1)
    await _challenge(store, new_challenge, NOW - timedelta(hours=30), wrong_codes=2)
    token_hash = await _challenge(store, new_challenge, NOW - timedelta(minutes=1), wrong_codes=1)
    checked = await store.find_challenge(token_hash)
    assert checked is not None
    at_limit = attempts(1000, failure_limit=3, failure_window=window)

    before = await store.reserve_attempt(checked, at_limit, NOW)
    counts = await prune(engine, now=NOW, retention=retention_for(send_limits))
    after = await store.reserve_attempt(checked, at_limit, NOW)

    # 3 counted; the 2 of 30 hours ago leave the window 18 hours from now.
    assert before == Refusal(reason=RefusalReason.FAILURES, retry_after=18 * 3600)
    assert after == before
    assert counts.challenges == 2


async def test_a_batch_size_below_one_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        await prune(engine, now=NOW, retention=DEFAULT_RETENTION, batch_size=0)


# Pruning in the background

PRUNE_LOGGER = "ciam_server.store.prune"
PRUNED_ONE = (
    "pruned 1 challenges, 0 idempotency records, 0 refresh tokens, 0 failed sign-in counts "
    "and 0 audit events"
)


async def _until(condition: Callable[[], bool]) -> None:
    """Wait, up to 5 seconds, until ``condition()`` holds."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("not within 5 seconds")


def _prune_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == TASK_NAME]


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == PRUNE_LOGGER]


async def test_background_pruning_runs_every_interval_and_stops_on_exit(
    engine: AsyncEngine,
    store: SqlStore,
    new_challenge: NewChallenge,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=PRUNE_LOGGER)
    clock = {"now": NOW}
    two_days, hour = timedelta(days=2), timedelta(hours=1)

    async with pruning(
        engine, interval=0.05, retention=DEFAULT_RETENTION, clock=lambda: clock["now"]
    ):
        assert len(_prune_tasks()) == 1
        # Stored without reading it back: the prune may take it at once.
        assert isinstance(
            await store.add_challenge(at(new_challenge, NOW - two_days), NO_LIMITS), int
        )
        await _until(lambda: _lines(caplog).count(PRUNED_ONE) == 1)
        assert await _column(engine, OtpChallengeRow.id) == set()
        # Once more: a challenge that can go once the clock has moved on.
        assert isinstance(await store.add_challenge(at(new_challenge, NOW - hour), NO_LIMITS), int)
        await asyncio.sleep(0.2)
        assert _lines(caplog).count(PRUNED_ONE) == 1
        clock["now"] = NOW + timedelta(days=1)
        await _until(lambda: _lines(caplog).count(PRUNED_ONE) == 2)
        assert await _column(engine, OtpChallengeRow.id) == set()

    assert _prune_tasks() == []
    logged = len(_lines(caplog))
    assert logged > 2  # the runs that found nothing say so too
    await asyncio.sleep(0.2)
    assert len(_lines(caplog)) == logged  # nothing runs after the exit


async def test_a_failed_background_prune_is_logged_and_tried_again(
    blank_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=PRUNE_LOGGER)
    engine = create_engine(blank_url)  # no tables yet: every prune fails

    def failures() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith("pruning failed")]

    try:
        async with pruning(engine, interval=0.05, retention=DEFAULT_RETENTION, clock=lambda: NOW):
            await _until(lambda: len(failures()) >= 2)
            await upgrade(blank_url)
            await _until(lambda: any(line.startswith("pruned ") for line in _lines(caplog)))
    finally:
        await engine.dispose()
    failure = failures()[0]
    assert failure.levelno == logging.ERROR
    assert failure.exc_info is not None


async def test_background_pruning_with_interval_zero_runs_nothing(engine: AsyncEngine) -> None:
    async with pruning(engine, interval=0, retention=DEFAULT_RETENTION, clock=lambda: NOW):
        assert _prune_tasks() == []
