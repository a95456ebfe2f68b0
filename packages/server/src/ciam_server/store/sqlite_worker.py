"""SQLite's units of work, run one after another on one connection in a thread of their own.

SQLite writes one transaction at a time, and each commit waits for the disk. Run from the
event loop through an async driver, every statement is a round trip to a driver thread, and
concurrent transactions on several connections wait for the write lock in SQLite's busy
handler: a few milliseconds of CPU and of waiting per transaction. Here a single thread owns a
plain (synchronous) connection and takes every unit of work queued while the previous commit ran
as one batch: one ``BEGIN IMMEDIATE``, the units one after another, one ``COMMIT`` (group
commit). A caller is answered only after the commit that holds its work, so nothing answered is
lost on a crash.

Units rarely fail, so they run without a savepoint each (``SAVEPOINT`` and ``RELEASE`` through
SQLAlchemy cost more than most units' own statements). When one raises, the batch's transaction
is rolled back and every unit of the batch runs again in a transaction of its own, so that only
the failing unit fails; units are therefore written to be run again (they hold no state of
their own between runs). A failure to begin or to commit fails the whole batch.

Other processes using the same file (``serve --workers``) still take turns through SQLite's
write lock, waiting up to its busy timeout.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")

MAX_BATCH = 64
"""Units of work committed together, at most."""


class StoreClosedError(RuntimeError):
    """Work was given to a worker that has been closed."""


@dataclass(eq=False)
class _Job(Generic[T]):
    work: Callable[[Connection], T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    value: T | None = None
    error: BaseException | None = field(default=None, repr=False)


def _settle(jobs: list[_Job[Any]]) -> None:
    """Hand each job's outcome to its awaiting caller (on the caller's event loop)."""
    for job in jobs:
        if job.future.done():  # the caller gave up waiting (cancelled)
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.value)


class SqliteWorker:
    """Runs ``work(connection)`` callables on ``engine``'s one connection, in batches."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="ciam-sqlite", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``'s result once the transaction that ran it has committed; its
        exception if it raised (its writes taken back) or if the commit failed."""
        if self._closed:
            raise StoreClosedError("the store is closed")
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(work=work, loop=loop, future=loop.create_future())
        self._jobs.put(job)
        return await job.future

    async def close(self) -> None:
        """Finish the work queued so far, then close the connection and the thread."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._engine.dispose()

    def _serve(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
        if self._run_together(batch) and len(batch) > 1:
            for job in batch:
                self._run_together([job])
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job[Any]]] = {}
        for job in batch:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, jobs)
            except RuntimeError:  # that event loop is closed: nobody is waiting any more
                continue

    def _run_together(self, jobs: list[_Job[Any]]) -> bool:
        """Run ``jobs`` in one transaction, committed unless one of them raised; True if one
        raised (the transaction then kept nothing, and that unit holds its error)."""
        try:
            # The engine's pool holds the one SQLite connection; taking it for each batch
            # makes SQLAlchemy's statement logging follow the logging level of the moment.
            with self._engine.connect() as connection, connection.begin():
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                for job in jobs:
                    _run_unit(connection, job)
        except _UnitFailedError:
            return True
        except Exception as error:  # the batch could not begin or commit: none of it is kept
            for job in jobs:
                job.value, job.error = None, error
        return False


class _UnitFailedError(Exception):
    """A unit raised (its error is on its job): leaves the batch's transaction, rolling it back."""


def _run_unit(connection: Connection, job: _Job[Any]) -> None:
    try:
        job.value, job.error = job.work(connection), None
    except Exception as error:
        job.value, job.error = None, error
        raise _UnitFailedError from error
