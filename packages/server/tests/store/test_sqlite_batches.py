"""SQLite's batches: the units of a batch share one commit, and a failure is kept to its own
unit."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import IntegrityError

from ciam_server.store.database import create_sqlite_process_engine
from ciam_server.store.sqlite_batches import SqliteBatches


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "batches.db"
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
    return create_sqlite_process_engine(f"sqlite+aiosqlite:///{database}")


@pytest.fixture
def batches(engine: Engine) -> Iterator[SqliteBatches]:
    batches = SqliteBatches(engine)
    yield batches
    batches.close()


@pytest.fixture
def commits(engine: Engine) -> list[None]:
    counted: list[None] = []
    event.listen(engine, "commit", lambda _: counted.append(None))
    return counted


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


def outcomes_of(batches: SqliteBatches, works: list[Callable[[Connection], int]]) -> list[object]:
    return [o.value if o.error is None else o.error for o in batches.run(works)]


def test_a_batch_is_one_commit(batches: SqliteBatches, commits: list[None], database: Path) -> None:
    assert outcomes_of(batches, [insert_parent(n) for n in range(1, 21)]) == list(range(1, 21))
    assert stored_parents(database) == list(range(1, 21))
    assert len(commits) == 1


def test_a_failing_unit_takes_back_only_its_own_writes(
    batches: SqliteBatches, commits: list[None], database: Path
) -> None:
    def insert_then_fail(connection: Connection) -> int:
        insert_parent(2)(connection)
        connection.execute(text("INSERT INTO children (id, parent_id) VALUES (1, 999)"))
        return 2

    results = outcomes_of(batches, [insert_parent(1), insert_then_fail, insert_parent(3)])

    assert results[0] == 1
    assert isinstance(results[1], IntegrityError)  # no parent 999
    assert results[2] == 3
    assert stored_parents(database) == [1, 3]
    # The batch of three, rolled back when its second unit failed, then each unit run again
    # alone: two of them committed.
    assert len(commits) == 2


def test_units_run_without_savepoints_in_one_immediate_transaction(
    batches: SqliteBatches, engine: Engine
) -> None:
    statements: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _connection, _cursor, statement, *_: statements.append(statement),
    )

    batches.run([insert_parent(n) for n in range(1, 6)])

    insert = "INSERT INTO parents (id) VALUES (?)"
    assert statements[-6:] == ["BEGIN IMMEDIATE"] + [insert] * 5
    assert not [s for s in statements if s.upper().startswith(("SAVEPOINT", "RELEASE"))]


def test_a_failed_commit_fails_every_unit_of_its_batch_and_keeps_none(
    batches: SqliteBatches, database: Path
) -> None:
    def orphan_found_at_commit(connection: Connection) -> int:
        # A deferred foreign key is checked when the whole transaction commits.
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))
        connection.execute(text("INSERT INTO children (id, parent_id) VALUES (1, 999)"))
        return 0

    results = outcomes_of(batches, [insert_parent(1), orphan_found_at_commit, insert_parent(3)])

    assert all(isinstance(result, IntegrityError) for result in results)
    assert stored_parents(database) == []
    assert outcomes_of(batches, [insert_parent(4)]) == [4]  # the next batch goes on
    assert stored_parents(database) == [4]
