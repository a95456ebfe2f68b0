"""Audit events: recorded one by one, listed newest first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from ciam_server.domain.models import AuditAction, AuditEvent, Channel
from ciam_server.domain.ports import AuditLog
from ciam_server.store import SqlStore

from .support import EMAIL, NOW

PHONE = "+8613800138000"


def _event(at: datetime = NOW, identifier: str | None = EMAIL, **changes: Any) -> AuditEvent:
    event = AuditEvent(
        at=at,
        action=AuditAction.CODE_SENT,
        client_id="web-app",
        channel=Channel.EMAIL,
        identifier=identifier,
    )
    return replace(event, **changes)


def test_the_store_is_an_audit_log(store: SqlStore) -> None:
    assert isinstance(store, AuditLog)


async def test_no_events_at_first(store: SqlStore) -> None:
    assert await store.audit_events() == []
    assert await store.audit_events(identifier=EMAIL) == []


async def test_every_field_comes_back(store: SqlStore) -> None:
    full = AuditEvent(
        at=datetime(2026, 5, 9, 20, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8))),
        action=AuditAction.SEND_REFUSED,
        client_id="web-app",
        channel=Channel.SMS,
        identifier=PHONE,
        reason="rate_limited",
        request_id="r" * 128,
        client_ip="2001:db8:85a3::8a2e:370:7334",
    )

    await store.record_audit_event(full)

    [found] = await store.audit_events()
    assert found == full
    assert found.at == datetime(2026, 5, 9, 12, 30, 15, 123456, tzinfo=UTC)
    assert found.at.tzinfo is UTC
    assert found.action is AuditAction.SEND_REFUSED
    assert found.channel is Channel.SMS


async def test_absent_fields_come_back_as_none(store: SqlStore) -> None:
    bare = AuditEvent(
        at=NOW,
        action=AuditAction.RESET_REFUSED,
        client_id=None,
        channel=None,
        identifier=None,
    )

    await store.record_audit_event(bare)

    [found] = await store.audit_events()
    assert found == bare
    assert (found.reason, found.request_id, found.client_ip) == (None, None, None)


@pytest.mark.parametrize("action", list(AuditAction))
async def test_every_action_comes_back(store: SqlStore, action: AuditAction) -> None:
    await store.record_audit_event(_event(action=action))

    [found] = await store.audit_events()
    assert found.action is action


async def test_newest_first(store: SqlStore) -> None:
    # Recorded out of order; the order of recording breaks ties between equal times.
    first = _event(NOW, request_id="first")
    later = _event(NOW + timedelta(seconds=1), request_id="later")
    earlier = _event(NOW - timedelta(microseconds=1), request_id="earlier")
    second = _event(NOW, request_id="second")
    for event in (first, later, earlier, second):
        await store.record_audit_event(event)

    assert await store.audit_events() == [later, second, first, earlier]


async def test_filter_by_identifier(store: SqlStore) -> None:
    events = [
        _event(NOW, EMAIL, request_id="1"),
        _event(NOW + timedelta(seconds=1), PHONE, channel=Channel.SMS, request_id="2"),
        _event(NOW + timedelta(seconds=2), None, request_id="3"),
        _event(NOW + timedelta(seconds=3), EMAIL, request_id="4"),
    ]
    for event in events:
        await store.record_audit_event(event)

    assert await store.audit_events(identifier=EMAIL) == [events[3], events[0]]
    assert await store.audit_events(identifier=PHONE) == [events[1]]
    assert await store.audit_events(identifier="nobody@example.com") == []
    assert await store.audit_events() == events[::-1]


async def test_limit(store: SqlStore) -> None:
    events = [_event(NOW + timedelta(seconds=n), request_id=str(n)) for n in range(5)]
    for event in events:
        await store.record_audit_event(event)
    await store.record_audit_event(_event(NOW + timedelta(hours=1), PHONE))

    assert await store.audit_events(limit=2) == [
        _event(NOW + timedelta(hours=1), PHONE),
        events[4],
    ]
    assert await store.audit_events(limit=2, identifier=EMAIL) == [events[4], events[3]]
    assert await store.audit_events(limit=0) == []
    assert len(await store.audit_events()) == 6
    assert len(await store.audit_events(limit=100, identifier=EMAIL)) == 5


async def test_the_default_limit_is_100(store: SqlStore) -> None:
    for n in range(101):
        await store.record_audit_event(_event(NOW + timedelta(seconds=n)))

    listed = await store.audit_events()

    assert len(listed) == 100
    assert listed[0].at == NOW + timedelta(seconds=100)
    assert listed[-1].at == NOW + timedelta(seconds=1)


async def test_a_negative_limit_is_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.audit_events(limit=-1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request_id": "r" * 129}, "request_id is longer than 128"),
        ({"client_ip": "1" * 65}, "client_ip is longer than 64"),
        ({"identifier": "ada\0@example.com"}, "identifier holds a NUL"),
        ({"reason": "bad\0"}, "reason holds a NUL"),
    ],
)
async def test_values_no_engine_could_keep_alike_are_refused(
    store: SqlStore, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.record_audit_event(_event(**changes))

    assert await store.audit_events() == []


async def test_a_naive_time_is_refused(store: SqlStore) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await store.record_audit_event(_event(datetime(2026, 5, 9, 12, 0)))

    assert await store.audit_events() == []
