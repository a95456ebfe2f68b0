"""The built-once statements run straight on SQLite's connection: the same rows, counts and
errors as through SQLAlchemy's ``Connection.execute``, without its execution.

(On PostgreSQL they go through ``Connection.execute``; every store test runs on both.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Connection, event
from sqlalchemy.exc import IntegrityError, StatementError

from ciam_server.store import statements
from ciam_server.store.direct import rowcount, rows
from ciam_server.store.tables import Base

NOW = datetime(2026, 5, 9, 12, 0, 0, 250_000, tzinfo=UTC)
ADDRESS = {"channel": "email", "identifier": "ada@example.com"}


def _challenge(token_hash: str, created_at: datetime, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": "app",
        "usage": "reset_password",
        **ADDRESS,
        "token_hash": token_hash,
        "code_hash": "code-hash",
        "created_at": created_at,
        "code_expires_at": created_at + timedelta(minutes=5),
        "token_expires_at": created_at + timedelta(minutes=10),
        "attempts": 0,
        **changes,
    }


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Connection]:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'direct.db'}")
    Base.metadata.create_all(engine)
    with engine.connect() as connection:
        connection.execute(
            sqlalchemy.insert(Base.metadata.tables["applications"]),
            {
                "client_id": "app",
                "name": "App",
                "app_type": "web",
                "secret_hash": None,
                "allow_otp_send": True,
                "created_at": NOW,
                "email_daily_quota": 7,
                "sms_daily_quota": None,
            },
        )
        for number, age in enumerate([timedelta(hours=2), timedelta(minutes=1), timedelta(0)]):
            connection.execute(
                statements.INSERT_CHALLENGE,
                _challenge(f"token-{number}", NOW - age, attempts=number),
            )
        yield connection
    engine.dispose()


CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "application": (statements.APPLICATION, {"client_id": "app"}),
    "no application": (statements.APPLICATION, {"client_id": "nobody"}),
    "challenge by token": (statements.CHALLENGE_BY_TOKEN, {"token_hash": "token-1"}),
    "newest for address": (
        statements.NEWEST_FOR_ADDRESS,
        {**ADDRESS, "after": NOW - timedelta(days=1), "count": 2},
    ),
    "nth newest for application": (
        statements.NTH_NEWEST_FOR_APPLICATION,
        {"client_id": "app", "channel": "email", "after": NOW - timedelta(days=1), "skip": 1},
    ),
    "failed for address": (
        statements.FAILED_FOR_ADDRESS,
        {**ADDRESS, "after": NOW - timedelta(days=1)},
    ),
    "failures since": (statements.FAILURES_SINCE, {**ADDRESS, "since": NOW - timedelta(hours=3)}),
    "no failures": (statements.FAILURES_SINCE, {**ADDRESS, "since": NOW + timedelta(hours=1)}),
}


@pytest.mark.parametrize("case", CASES)
def test_rows_are_those_sqlalchemy_returns(connection: Connection, case: str) -> None:
    statement, parameters = CASES[case]

    direct = rows(connection, statement, parameters)
    through_sqlalchemy = connection.execute(statement, parameters).all()

    assert [tuple(row) for row in direct] == [tuple(row) for row in through_sqlalchemy]
    for mine, theirs in zip(direct, through_sqlalchemy, strict=True):
        assert mine._asdict() == theirs._asdict()  # the same names for the same fields


def test_values_are_converted_by_the_columns_types(connection: Connection) -> None:
    (application,) = rows(connection, statements.APPLICATION, {"client_id": "app"})
    (challenge,) = rows(connection, statements.CHALLENGE_BY_TOKEN, {"token_hash": "token-2"})

    assert application.allow_otp_send is True
    assert challenge.created_at == NOW
    assert challenge.created_at.tzinfo is UTC


def test_an_insert_returns_the_new_id_and_counts(connection: Connection) -> None:
    shanghai = timezone(timedelta(hours=8))
    (inserted,) = rows(
        connection, statements.INSERT_CHALLENGE, _challenge("token-new", NOW.astimezone(shanghai))
    )
    (stored,) = connection.execute(statements.CHALLENGE_BY_TOKEN, {"token_hash": "token-new"}).all()

    assert inserted.id == stored.id
    assert stored.created_at == NOW
    reserve = {"challenge_id": stored.id, "max_attempts": 1}
    assert rowcount(connection, statements.RESERVE_ATTEMPT, reserve) == 1
    assert rowcount(connection, statements.RESERVE_ATTEMPT, reserve) == 0


def test_sqlalchemy_does_not_execute_them(connection: Connection) -> None:
    executed: list[str] = []
    event.listen(connection, "before_cursor_execute", lambda *args: executed.append(args[2]))

    rows(connection, statements.APPLICATION, {"client_id": "app"})
    rowcount(connection, statements.RELEASE_ATTEMPT, {"challenge_id": 1})
    assert executed == []

    connection.execute(statements.APPLICATION, {"client_id": "app"})
    assert len(executed) == 1


def test_a_value_the_types_refuse_is_a_statement_error(connection: Connection) -> None:
    naive = datetime(2026, 5, 9, 12, 0)

    with pytest.raises(StatementError, match="naive datetime"):
        rows(connection, statements.INSERT_CHALLENGE, _challenge("token-naive", naive))


def test_a_constraint_violation_is_sqlalchemys_integrity_error(connection: Connection) -> None:
    with pytest.raises(IntegrityError, match="UNIQUE"):
        rows(connection, statements.INSERT_CHALLENGE, _challenge("token-1", NOW))
