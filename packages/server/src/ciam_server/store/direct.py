"""The built-once statements of :mod:`ciam_server.store.statements`, run straight on SQLite's
``sqlite3`` connection.

Through ``Connection.execute``, SQLAlchemy's execution of one of these statements (its execution
context, parameter processing and result object) took about as much CPU as SQLite's own work:
an insert of a challenge cost 37 µs against 19 µs on the ``sqlite3`` connection, in a loop of
4,000. On SQLite the statements are therefore compiled by SQLAlchemy, once for each set of
parameter names as ``Connection.execute`` compiles them, and their text is run on the
transaction's ``sqlite3`` connection, with parameters and rows converted by the statements' own
SQLAlchemy types. Errors are raised as SQLAlchemy raises them (``StatementError`` for a value
the types refuse, ``DBAPIError`` subclasses for the database's). On every other driver (the
store's PostgreSQL connections) the statements go through ``Connection.execute``.

What this leaves out: SQLAlchemy's statement logging (``sqlalchemy.engine`` at INFO) does not
show these statements on SQLite.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

Statement = Select[Any] | UpdateBase
Processor = Callable[[Any], Any]


@dataclass
class _Compiled:
    """A statement's SQLite text, its parameters in order, the conversions of its values, and
    the type of its rows (made when it first returns some, from the names SQLite gives its
    columns: those SQLAlchemy names them by)."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    to_database: Mapping[str, Processor]
    from_database: tuple[Processor | None, ...]
    row: Callable[..., tuple[Any, ...]] | None = None


_compiled: dict[tuple[Statement, tuple[str, ...]], _Compiled] = {}
"""By statement and parameter names. The statements are the module constants of
:mod:`ciam_server.store.statements`: a statement built for one call would stay here."""


def _compile(statement: Statement, keys: tuple[str, ...], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ())
    to_database = {}
    for name in names:
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            to_database[name] = processor
    from_database = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.exported_columns
    )
    return _Compiled(
        sql=compiled.string,
        names=names,
        defaults=compiled.params,
        to_database=to_database,
        from_database=from_database,
    )


def _run(
    connection: Connection, statement: Statement, parameters: Mapping[str, Any]
) -> tuple[_Compiled, sqlite3.Cursor]:
    keys = tuple(sorted(parameters))
    compiled = _compiled.get((statement, keys))
    if compiled is None:
        compiled = _compiled[(statement, keys)] = _compile(statement, keys, connection.dialect)
    values = {**compiled.defaults, **parameters}
    try:
        arguments = [
            values[name]
            if values[name] is None or name not in compiled.to_database
            else compiled.to_database[name](values[name])
            for name in compiled.names
        ]
    except Exception as error:
        raise StatementError(str(error), compiled.sql, values, error) from error
    driver = cast("sqlite3.Connection", connection.connection.driver_connection)
    try:
        return compiled, driver.execute(compiled.sql, arguments)
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            compiled.sql, arguments, error, sqlite3.Error, dialect=connection.dialect
        ) from error


def rows(
    connection: Connection, statement: Statement, parameters: Mapping[str, Any]
) -> Sequence[Any]:
    """The rows ``statement`` (one of :mod:`ciam_server.store.statements`) returns: tuples whose
    fields are also named by their columns."""
    if connection.dialect.driver != "pysqlite":
        return connection.execute(statement, parameters).all()
    compiled, cursor = _run(connection, statement, parameters)
    found = cursor.fetchall()
    if not found:
        return []
    if compiled.row is None:
        names = [column[0] for column in cursor.description]
        compiled.row = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    make, convert = compiled.row, compiled.from_database
    return [
        make(*(value if c is None else c(value) for c, value in zip(convert, row, strict=True)))
        for row in found
    ]


def rowcount(connection: Connection, statement: UpdateBase, parameters: Mapping[str, Any]) -> int:
    """Run ``statement`` (an INSERT, UPDATE or DELETE of :mod:`ciam_server.store.statements`);
    the number of rows it matched (or wrote)."""
    if connection.dialect.driver != "pysqlite":
        return cast("CursorResult[Any]", connection.execute(statement, parameters)).rowcount
    _, cursor = _run(connection, statement, parameters)
    return cursor.rowcount
