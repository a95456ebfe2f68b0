"""SQLite's units of work, committed in batches on one connection (group commit).

SQLite writes one transaction at a time, and each commit waits for the disk. The store's
process (:mod:`ciam_server.store.sqlite_process`) takes every unit of work that arrived while
the previous commit ran as one batch: one ``BEGIN IMMEDIATE``, the units one after another, one
``COMMIT``. A caller is answered only after the commit that holds its work, so nothing answered
is lost on a crash.

Units rarely fail, so they run without a savepoint each (``SAVEPOINT`` and ``RELEASE`` through
SQLAlchemy cost more than most units' own statements). When one raises, the batch's transaction
is rolled back and every unit of the batch runs again in a transaction of its own, so that only
the failing unit fails; units are therefore written to be run again (they hold no state of
their own between runs). A failure to begin or to commit fails the whole batch.

Other processes using the same file (``serve --workers``) still take turns through SQLite's
write lock, waiting up to its busy timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

MAX_BATCH = 64
"""Units of work committed together, at most."""

Work = Callable[[Connection], Any]


@dataclass(eq=False)
class Outcome:
    """What a unit of work returned, or the exception it (or its batch's commit) raised."""

    value: Any = None
    error: BaseException | None = field(default=None, repr=False)


class SqliteBatches:
    """Runs units of work on ``engine``'s one connection, a batch to a transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def run(self, works: Sequence[Work]) -> list[Outcome]:
        """Each unit's outcome, in order, once the transaction that holds it has ended."""
        outcomes = [Outcome() for _ in works]
        if self._run_together(works, outcomes) and len(works) > 1:
            for work, outcome in zip(works, outcomes, strict=True):
                self._run_together([work], [outcome])
        return outcomes

    def close(self) -> None:
        self._engine.dispose()

    def _run_together(self, works: Sequence[Work], outcomes: Sequence[Outcome]) -> bool:
        """Run ``works`` in one transaction, committed unless one of them raised; True if one
        raised (the transaction then kept nothing, and that unit's outcome holds its error)."""
        try:
            # The engine's pool holds the one SQLite connection; taking it for each batch
            # makes SQLAlchemy's statement logging follow the logging level of the moment.
            with self._engine.connect() as connection, connection.begin():
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                for work, outcome in zip(works, outcomes, strict=True):
                    _run_unit(connection, work, outcome)
        except _UnitFailedError:
            return True
        except Exception as error:  # the batch could not begin or commit: none of it is kept
            for outcome in outcomes:
                outcome.value, outcome.error = None, error
        return False


class _UnitFailedError(Exception):
    """A unit raised (its error is in its outcome): leaves the batch's transaction, rolling it
    back."""


def _run_unit(connection: Connection, work: Work, outcome: Outcome) -> None:
    try:
        outcome.value, outcome.error = work(connection), None
    except Exception as error:
        outcome.value, outcome.error = None, error
        raise _UnitFailedError from error
