"""Audit events stored with the write they record: a challenge added, an attempt counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ciam_server.domain.models import (
    AuditAction,
    AuditEvent,
    Channel,
    NewChallenge,
    Refusal,
)
from ciam_server.store import SqlStore

from .support import EMAIL, NO_LIMITS, NOW, add, attempts, find_challenge

SENT = AuditEvent(
    at=NOW,
    action=AuditAction.CODE_SENT,
    client_id="web-app",
    channel=Channel.EMAIL,
    identifier=EMAIL,
    request_id="req-1",
    client_ip="192.0.2.7",
)
WRONG_CODE = replace(SENT, action=AuditAction.RESET_REFUSED, reason="bad_email_otp")


async def test_a_stored_challenge_stores_its_event(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    stored = await store.add_challenge(new_challenge, NO_LIMITS, audit=SENT)

    assert not isinstance(stored, Refusal)
    assert await store.audit_events() == [SENT]


async def test_a_refused_challenge_stores_no_event(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    await add(store, new_challenge)
    one_a_minute = replace(NO_LIMITS, interval=timedelta(minutes=1))
    again = replace(new_challenge, token_hash="token-hash-2")

    refused = await store.add_challenge(again, one_a_minute, audit=SENT)

    assert isinstance(refused, Refusal)
    assert await store.audit_events() == []


async def test_a_counted_attempt_stores_its_event(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)

    assert await store.reserve_attempt(challenge, attempts(1), NOW, audit=WRONG_CODE)

    assert await store.audit_events() == [WRONG_CODE]


async def test_an_attempt_refused_for_a_used_up_token_stores_no_event(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    challenge = await add(store, new_challenge)
    assert await store.reserve_attempt(challenge, attempts(1), NOW)

    assert not await store.reserve_attempt(challenge, attempts(1), NOW, audit=WRONG_CODE)

    assert await store.audit_events() == []


async def test_an_event_the_table_cannot_hold_leaves_the_write_undone(
    store: SqlStore, new_challenge: NewChallenge
) -> None:
    too_long = replace(SENT, request_id="r" * 129)

    with pytest.raises(ValueError, match="request_id"):
        await store.add_challenge(new_challenge, NO_LIMITS, audit=too_long)
    assert await find_challenge(store, new_challenge.token_hash) is None
    challenge = await add(store, replace(new_challenge, token_hash="token-hash-2"))
    with pytest.raises(ValueError, match="request_id"):
        await store.reserve_attempt(challenge, attempts(5), NOW, audit=too_long)

    found = await find_challenge(store, challenge.token_hash)
    assert found is not None
    assert found.attempts == 0
    assert await store.audit_events() == []
