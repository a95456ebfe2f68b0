"""How units of work and their outcomes are encoded between the server and the store's SQLite
process: a unit of the store goes by name with MessagePack values and its value comes back as
the type it declares; anything else is pickled."""

from __future__ import annotations

import inspect
import pickle
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import methodcaller
from typing import Any, cast

import msgspec
import pytest

from ciam_server.domain.models import (
    AuditAction,
    AuditEvent,
    Challenge,
    Channel,
    NewChallenge,
    Refusal,
    RefusalReason,
    SendLimits,
)
from ciam_server.store import unit_wire, units

AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CHALLENGE = NewChallenge(
    client_id="app",
    usage="reset_password",
    channel=Channel.EMAIL,
    identifier="a@example.com",
    token_hash="t" * 64,
    code_hash="c" * 64,
    created_at=AT,
    code_expires_at=AT + timedelta(minutes=10),
    token_expires_at=AT + timedelta(minutes=30),
)
LIMITS = SendLimits(
    interval=timedelta(seconds=30),
    daily_limit=10,
    failure_limit=5,
    failure_window=timedelta(hours=1),
    app_daily_quota=None,
)
EVENT = AuditEvent(
    at=AT, action=AuditAction.CODE_SENT, client_id="app", channel=Channel.EMAIL, identifier="a"
)


def crossed(work: Any) -> tuple[Any, bool]:
    """``work`` as the store's process reads it, and whether it came by name."""
    kind, payload, _ = unit_wire.encode_unit(work)
    return unit_wire.decode_unit(kind, payload)


def test_a_unit_of_the_store_goes_by_name_with_its_values_as_they_were() -> None:
    row = units.audit_row(EVENT)
    work = partial(
        units.add_challenge, on_postgresql=False, challenge=CHALLENGE, limits=LIMITS, audit_row=row
    )

    kind, payload, result = unit_wire.encode_unit(work)
    read, named = unit_wire.decode_unit(kind, payload)

    assert (kind, named) == (unit_wire.NAMED, True)
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(payload)  # noqa: S301 - showing it is not a pickle
    assert isinstance(read, partial)
    assert read.func is units.add_challenge
    assert read.keywords == work.keywords
    assert type(read.keywords["challenge"].channel) is Channel
    assert read.keywords["challenge"].created_at.tzinfo is not None
    assert result is not None


SEND = partial(
    units.add_challenge, on_postgresql=False, challenge=CHALLENGE, limits=LIMITS, audit_row=None
)
FIND = partial(
    units.find_challenge_and_failures,
    token_hash="t" * 64,
    address={"channel": "email", "identifier": "a@example.com", "since": AT},
)


@pytest.mark.parametrize(
    ("work", "value"),
    [
        (SEND, 7),
        (SEND, Refusal(reason=RefusalReason.INTERVAL, retry_after=12)),
        (
            FIND,
            (
                Challenge(**CHALLENGE.__dict__, id=3, attempts=1, consumed_at=None, retired_at=AT),
                (2, AT),
            ),
        ),
        (FIND, (None, (0, None))),
        (partial(units.reserve_attempt, challenge_id=3, max_attempts=5, audit_row=None), True),
        (partial(units.release_attempt, challenge_id=3), None),
    ],
)
def test_a_named_unit_s_value_comes_back_as_the_type_it_declares(
    work: partial[Any], value: Any
) -> None:
    _, _, result = unit_wire.encode_unit(work)
    kind, body = unit_wire.encode_outcome(named=True, ok=True, value=value)

    back = unit_wire.decode_outcome(kind, body, result)

    assert back == value
    assert type(back) is type(value)


def test_other_work_is_pickled_and_so_is_its_value() -> None:
    session_unit = partial(
        units.in_session, work=partial(units.audit_events, limit=5, identifier=None)
    )
    for work in (session_unit, methodcaller("exec_driver_sql", "SELECT 1")):
        read, named = crossed(work)
        assert not named
        assert pickle.dumps(read) == pickle.dumps(work)

    kind, body = unit_wire.encode_outcome(named=False, ok=True, value=[EVENT])
    assert unit_wire.decode_outcome(kind, body, None) == [EVENT]


def test_values_a_unit_does_not_take_are_left_to_fail_where_it_runs() -> None:
    values: dict[str, Any] = {"challenge_id": 1, "extra": 2}
    read, named = crossed(partial(units.release_attempt, **values))

    assert not named
    with pytest.raises(TypeError, match="extra"):
        read(None)


def test_values_not_of_the_types_a_unit_declares_are_refused_where_it_runs() -> None:
    row = cast("units.AuditRow", {**units.audit_row(EVENT), "action": None})
    kind, payload, _ = unit_wire.encode_unit(partial(units.record_audit_event, audit_row=row))

    with pytest.raises(msgspec.ValidationError, match="action"):
        unit_wire.decode_unit(kind, payload)


def test_a_naive_time_crosses_as_itself() -> None:
    row = units.audit_row(EVENT)
    row["at"] = AT.replace(tzinfo=None)

    read, named = crossed(partial(units.record_audit_event, audit_row=row))

    assert named
    assert isinstance(read, partial)
    assert read.keywords["audit_row"]["at"] == AT.replace(tzinfo=None)


def test_an_exception_comes_back_raised_as_itself() -> None:
    kind, body = unit_wire.encode_outcome(named=True, ok=False, value=KeyError("gone"))

    with pytest.raises(KeyError, match="gone"):
        unit_wire.decode_outcome(kind, body, msgspec.msgpack.Decoder(int))


def test_a_value_that_cannot_be_encoded_is_refused_with_its_type() -> None:
    with pytest.raises(unit_wire.ValueNotSentError, match=r"value \(generator\)"):
        unit_wire.encode_outcome(named=True, ok=True, value=(n for n in range(1)))


def test_a_name_that_is_not_a_unit_of_the_store_is_refused() -> None:
    payload = msgspec.msgpack.encode(("select", []))

    with pytest.raises(LookupError, match="not a unit of work"):
        unit_wire.decode_unit(unit_wire.NAMED, payload)


def test_every_unit_of_the_store_can_go_by_name() -> None:
    names = [
        name
        for name, function in vars(units).items()
        if inspect.isfunction(function)
        and function.__module__ == units.__name__
        and not name.startswith("_")
        and list(inspect.signature(function).parameters)[:1] in (["connection"], ["session"])
    ]
    assert {"add_challenge", "find_challenge_and_failures", "reserve_attempt"} <= set(names)

    for name in names:  # their annotations resolve, so their values can be typed
        unit_wire._signature(name)
