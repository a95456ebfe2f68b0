"""The SQLite worker: units of work run in one thread, committed together, answered after the
commit, and each failure kept to its own unit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import IntegrityError

from ciam_server.store.database import create_sqlite_worker_engine
from ciam_server.store.sqlite_worker import SqliteWorker, StoreClosedError


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "worker.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE parents (id INTEGER PRIMARY KEY);
            CREATE TABLE children (
                id INTEGER PRIMARY KEY,
                parent_id INTEGER NOT NULL REFERENCES parents (id)
            );
            """
        )
    connection.close()
    return path


@pytest.fixture
def engine(database: Path) -> Engine:
    return create_sqlite_worker_engine(f"sqlite+aiosqlite:///{database}")


@pytest.fixture
async def worker(engine: Engine) -> AsyncIterator[SqliteWorker]:
    worker = SqliteWorker(engine)
    yield worker
    await worker.close()


def stored_parents(database: Path) -> list[int]:
    """The parents another connection sees: only what is committed."""
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("SELECT id FROM parents ORDER BY id")]
    finally:
        connection.close()


def insert_parent(parent_id: int) -> Callable[[Connection], int]:
    def work(connection: Connection) -> int:
        connection.execute(text("INSERT INTO parents (id) VALUES (:id)"), {"id": parent_id})
        return parent_id

    return work


def held_until(release: threading.Event) -> Callable[[Connection], None]:
    """A unit of work that keeps the worker busy until ``release`` is set, so that the units
    given meanwhile queue up and are taken as one batch."""

    def work(_: Connection) -> None:
        if not release.wait(timeout=10):
            raise TimeoutError("never released")

    return work


async def queued_behind(
    worker: SqliteWorker, works: list[Callable[[Connection], int]]
) -> list[int | BaseException]:
    """Run ``works`` as one batch, behind a unit that holds the worker while they queue."""
    release = threading.Event()
    holding = asyncio.ensure_future(worker.run(held_until(release)))
    await asyncio.sleep(0.05)  # the holding unit has been taken
    results = asyncio.gather(*(worker.run(work) for work in works), return_exceptions=True)
    await asyncio.sleep(0.05)  # every unit is queued
    release.set()
    await holding
    return list(await results)


async def test_a_unit_is_answered_once_its_writes_are_committed(
    worker: SqliteWorker, database: Path
) -> None:
    assert await worker.run(insert_parent(1)) == 1
    assert stored_parents(database) == [1]


async def test_units_queued_together_share_one_commit(
    worker: SqliteWorker, engine: Engine, database: Path
) -> None:
    commits: list[None] = []
    event.listen(engine, "commit", lambda _: commits.append(None))

    results = await queued_behind(worker, [insert_parent(n) for n in range(1, 21)])

    assert results == list(range(1, 21))
    assert stored_parents(database) == list(range(1, 21))
    assert len(commits) == 2  # the holding unit's batch, then all twenty at once


async def test_a_failing_unit_takes_back_only_its_own_writes(
    worker: SqliteWorker, engine: Engine, database: Path
) -> None:
    def insert_then_fail(connection: Connection) -> int:
        insert_parent(2)(connection)
        connection.execute(text("INSERT INTO children (id, parent_id) VALUES (1, 999)"))
        return 2

    commits: list[None] = []
    event.listen(engine, "commit", lambda _: commits.append(None))

    results = await queued_behind(worker, [insert_parent(1), insert_then_fail, insert_parent(3)])

    assert results[0] == 1
    assert isinstance(results[1], IntegrityError)  # no parent 999
    assert results[2] == 3
    assert stored_parents(database) == [1, 3]
    # The holding unit's batch; then the batch of three, rolled back when its second unit
    # failed, each unit run again alone: two of them committed.
    assert len(commits) == 3


async def test_units_run_without_savepoints_in_one_immediate_transaction(
    worker: SqliteWorker, engine: Engine
) -> None:
    statements: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _connection, _cursor, statement, *_: statements.append(statement),
    )

    await queued_behind(worker, [insert_parent(n) for n in range(1, 6)])

    insert = "INSERT INTO parents (id) VALUES (?)"
    assert statements[-6:] == ["BEGIN IMMEDIATE"] + [insert] * 5
    assert not [s for s in statements if s.upper().startswith(("SAVEPOINT", "RELEASE"))]


async def test_a_failed_commit_fails_every_unit_of_its_batch_and_keeps_none(
    worker: SqliteWorker, database: Path
) -> None:
    def orphan_found_at_commit(connection: Connection) -> int:
        # A deferred foreign key is checked when the whole transaction commits.
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))
        connection.execute(text("INSERT INTO children (id, parent_id) VALUES (1, 999)"))
        return 0

    results = await queued_behind(
        worker, [insert_parent(1), orphan_found_at_commit, insert_parent(3)]
    )

    assert all(isinstance(result, IntegrityError) for result in results)
    assert stored_parents(database) == []
    assert await worker.run(insert_parent(4)) == 4  # the worker goes on
    assert stored_parents(database) == [4]


async def test_a_caller_that_stops_waiting_does_not_stop_the_worker(
    worker: SqliteWorker, database: Path
) -> None:
    release = threading.Event()
    holding = asyncio.ensure_future(worker.run(held_until(release)))
    await asyncio.sleep(0.05)
    abandoned = asyncio.ensure_future(worker.run(insert_parent(1)))
    await asyncio.sleep(0.05)
    abandoned.cancel()
    release.set()
    await holding

    assert await worker.run(insert_parent(2)) == 2
    assert stored_parents(database) == [1, 2]  # a unit already queued still runs


async def test_close_finishes_the_queued_work_then_refuses_more(
    engine: Engine, database: Path
) -> None:
    worker = SqliteWorker(engine)
    queued = [asyncio.ensure_future(worker.run(insert_parent(n))) for n in (1, 2, 3)]
    await asyncio.sleep(0)  # every unit is queued
    await worker.close()

    assert [await unit for unit in queued] == [1, 2, 3]
    assert stored_parents(database) == [1, 2, 3]
    with pytest.raises(StoreClosedError):
        await worker.run(insert_parent(4))
