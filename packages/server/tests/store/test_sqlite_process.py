"""The SQLite store's process: units of work cross to it and their outcomes come back, it
survives interrupts, its death fails only the units in flight, and it ends with its store."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from operator import methodcaller
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from ciam_server.domain.models import AuditAction, AuditEvent
from ciam_server.store import units, upgrade
from ciam_server.store.sqlite_process import SqliteProcess, SqliteProcessError, StoreClosedError

AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

# A statement that keeps SQLite busy for seconds: a unit in flight while the test acts.
SLOW = methodcaller(
    "exec_driver_sql",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 100000000) "
    "SELECT count(*) FROM n",
)


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    path = tmp_path / "ciam.db"
    await upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def process(database: Path) -> AsyncIterator[SqliteProcess]:
    process = SqliteProcess(f"sqlite+aiosqlite:///{database}")
    yield process
    await process.close()


def event(identifier: str) -> AuditEvent:
    return AuditEvent(
        at=AT, action=AuditAction.CODE_SENT, client_id="app", channel=None, identifier=identifier
    )


def record(identifier: str) -> partial[None]:
    return partial(units.record_audit_event, audit_row=units.audit_row(event(identifier)))


def stored_identifiers(database: Path) -> list[str]:
    """What another connection sees: only what is committed."""
    connection = sqlite3.connect(database)
    try:
        found = connection.execute("SELECT identifier FROM audit_events ORDER BY id")
        return [row[0] for row in found]
    finally:
        connection.close()


async def running_pid(process: SqliteProcess) -> int:
    await process.run(partial(units.get_application, client_id="nobody"))
    assert process.pid is not None
    return process.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended too
        return stat.read().rpartition(")")[2].split()[0] != "Z"


async def ends_within(pid: int, *, seconds: float) -> bool:
    for _ in range(int(seconds * 100)):
        if not alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_unit_is_answered_once_its_writes_are_committed(
    process: SqliteProcess, database: Path
) -> None:
    await process.run(record("a@example.com"))

    assert stored_identifiers(database) == ["a@example.com"]
    found = await process.run(
        partial(units.in_session, work=partial(units.audit_events, limit=5, identifier=None))
    )
    assert found == [event("a@example.com")]  # domain values come back as they were
    assert await running_pid(process) != os.getpid()


async def test_concurrent_units_all_commit(process: SqliteProcess, database: Path) -> None:
    names = [f"{n}@example.com" for n in range(200)]

    await asyncio.gather(*(process.run(record(name)) for name in names))

    assert sorted(stored_identifiers(database)) == sorted(names)


async def test_a_unit_s_exception_comes_back_as_itself(
    process: SqliteProcess, database: Path
) -> None:
    row = units.audit_row(event("b@example.com"))
    row["at"] = row["at"].replace(tzinfo=None)

    with pytest.raises(StatementError, match="naive datetime"):
        await process.run(partial(units.record_audit_event, audit_row=row))

    assert stored_identifiers(database) == []


async def test_work_that_cannot_cross_is_refused_before_it_is_sent(
    process: SqliteProcess,
) -> None:
    def local_unit(_: Any) -> None:
        return None

    with pytest.raises((pickle.PicklingError, AttributeError)):
        await process.run(local_unit)


async def test_a_value_that_cannot_come_back_fails_its_unit_only(
    process: SqliteProcess, database: Path
) -> None:
    # A result object holds its cursor: it cannot be pickled.
    with pytest.raises(SqliteProcessError, match="could not be sent back"):
        await process.run(methodcaller("exec_driver_sql", "SELECT 1"))

    await process.run(record("c@example.com"))
    assert stored_identifiers(database) == ["c@example.com"]


async def test_its_log_records_reach_the_server_s_handlers_at_the_server_s_level(
    process: SqliteProcess, caplog: pytest.LogCaptureFixture
) -> None:
    listing = partial(units.in_session, work=partial(units.audit_events, limit=1, identifier=None))
    caplog.set_level(logging.WARNING, logger="sqlalchemy.engine")
    await process.run(listing)
    assert not [r for r in caplog.records if r.name.startswith("sqlalchemy")]

    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    await process.run(listing)

    statements = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy")]
    assert any("FROM audit_events" in statement for statement in statements)
    assert all(r.process != os.getpid() for r in caplog.records if r.name.startswith("sqlalchemy"))


async def test_the_process_ignores_interrupts_and_stop_signals(process: SqliteProcess) -> None:
    pid = await running_pid(process)

    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    await asyncio.sleep(0.1)

    assert await running_pid(process) == pid


async def test_its_death_fails_the_units_in_flight_and_the_next_unit_starts_another(
    process: SqliteProcess, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid = await running_pid(process)
    in_flight = asyncio.ensure_future(process.run(SLOW))
    await asyncio.sleep(0.2)

    os.kill(pid, signal.SIGKILL)

    with pytest.raises(SqliteProcessError, match="ended before answering"):
        await in_flight
    assert f"SQLite process (pid {pid}) ended; 1 unit(s)" in caplog.text
    await process.run(record("d@example.com"))
    assert stored_identifiers(database) == ["d@example.com"]
    assert await running_pid(process) != pid


async def test_close_answers_the_units_sent_then_ends_the_process_and_refuses_more(
    database: Path,
) -> None:
    process = SqliteProcess(f"sqlite+aiosqlite:///{database}")
    pid = await running_pid(process)
    sent = [asyncio.ensure_future(process.run(record(f"{n}@example.com"))) for n in range(3)]
    await asyncio.sleep(0)  # every unit is sent

    await process.close()

    assert all(unit.done() and unit.exception() is None for unit in sent)
    assert len(stored_identifiers(database)) == 3
    assert await ends_within(pid, seconds=5)
    with pytest.raises(StoreClosedError):
        await process.run(record("e@example.com"))
