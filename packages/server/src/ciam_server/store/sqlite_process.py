"""SQLite's units of work, run in a process of the store's own.

SQLite's statements are quick, but run on the server's event loop they would stop it for the
disk at every commit, and run in a thread of the server's process they take turns with the
event loop for the interpreter lock: every statement of that thread waits for the busy event
loop, and the event loop for it. So each SQLite store has a process of its own that owns the
one connection and commits the units of work in batches (:mod:`ciam_server.store.sqlite_batches`).

A unit of work crosses to that process as a module-level function with its values bound
(:mod:`ciam_server.store.units`), and its value or exception comes back once the transaction
holding it has committed (:mod:`ciam_server.store.unit_wire` says how they are encoded).

The store's process is forked from a template process, started with the first store of the
server's process and its module search path, so that a store starts in a few milliseconds
instead of an interpreter's start and SQLAlchemy's import (about half a second). Both ignore
``SIGINT`` and ``SIGTERM``, so that a Ctrl-C or a stop signal sent to the whole process group
leaves the server to finish its requests and last transactions: a store's process ends when its
store closes its end (:meth:`SqliteProcess.close`, or the server's death), after answering
every unit it was sent, and the template when the server's process ends. Should a store's
process die, the units in flight fail with :class:`SqliteProcessError` (one whose commit was
under way may or may not have been kept) and the next unit starts another.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import msgspec
from sqlalchemy import Connection

from ciam_server.store import unit_wire
from ciam_server.store.database import create_sqlite_process_engine
from ciam_server.store.sqlite_batches import MAX_BATCH, SqliteBatches

T = TypeVar("T")

logger = logging.getLogger(__name__)

_REQUEST = struct.Struct("!QHBI")
"""A unit of work: its number, the logging level of ``sqlalchemy.engine`` in the server's
process, its kind (:mod:`~ciam_server.store.unit_wire`), then the length of the encoded unit
that follows."""
_HELLO = struct.Struct("!I")
"""What the process sends first: its process id."""
_ANSWER = struct.Struct("!I")
"""A batch's answer: the length of what follows, the log records made while it ran and its
units' outcomes (:func:`~ciam_server.store.unit_wire.encode_answer`)."""
_STATEMENTS = logging.getLogger("sqlalchemy.engine")
_RECEIVE_SIZE = 1 << 16
"""Bytes read at once: below the C allocator's threshold for mapping memory of its own, so that
a read costs no ``mmap`` and ``munmap``."""
_URL_SIZE = 1 << 16
"""The longest database URL the template reads."""


class StoreClosedError(RuntimeError):
    """Work was given to a store that has been closed."""


class SqliteProcessError(RuntimeError):
    """The store's SQLite process ended before answering, or could not read a unit of work
    or send back its outcome."""


class SqliteProcess:
    """Runs units of work on the SQLite database ``url`` names, in a child process.

    Used from one event loop: the one that runs the first unit."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._link: _Link | None = None
        self._starting: asyncio.Future[_Link] | None = None
        self._closed = False

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)``'s result once the transaction that ran it has committed; its
        exception if it raised (its writes taken back) or if the commit failed."""
        if self._closed:
            raise StoreClosedError("the store is closed")
        kind, unit, result = unit_wire.encode_unit(work)
        link = self._link if self._link is not None and self._link.open else await self._start()
        value: T = await link.call(kind, unit, result)
        return value

    @property
    def pid(self) -> int | None:
        """The process id of the running SQLite process, once it has said it."""
        return None if self._link is None else self._link.pid

    async def close(self) -> None:
        """Finish the units sent so far, then stop the process."""
        self._closed = True
        if self._starting is not None:
            await asyncio.wait([self._starting])
        if self._link is not None:
            await self._link.finish()
            self._link = None

    async def _start(self) -> _Link:
        """The running process's link, starting one if none is running (concurrent callers
        share one start)."""
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._spawn())
        link = await asyncio.shield(self._starting)
        if self._closed:
            raise StoreClosedError("the store is closed")
        return link

    async def _spawn(self) -> _Link:
        if self._link is not None and self._link.open:
            return self._link
        loop = asyncio.get_running_loop()
        link = _Link(loop)
        await loop.create_unix_connection(lambda: _Answers(link), sock=_TEMPLATE.fork(self._url))
        self._link = link
        return link


class _Template:
    """The template process: started once per server process, with the store's modules
    imported, it forks a store's SQLite process for each :meth:`fork`. Starting an
    interpreter and importing SQLAlchemy takes about half a second; a fork, a few
    milliseconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None

    def fork(self, url: str) -> socket.socket:
        """Our end of the connection to a new SQLite process on ``url``."""
        ours, theirs = socket.socketpair()
        with theirs, self._lock:
            for attempt in (1, 2):
                if self._control is None:
                    self._control = self._start()
                try:
                    socket.send_fds(self._control, [url.encode()], [theirs.fileno()])
                    break
                except OSError:
                    self._control.close()
                    self._control = None  # the template has ended: start another
                    if attempt == 2:
                        ours.close()
                        raise
        return ours

    @staticmethod
    def _start() -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            # Its end is reaped by the kernel (it ignores SIGCHLD), so nobody waits for it.
            subprocess.Popen(  # noqa: S603 - this interpreter, this module
                [sys.executable, "-c", _TEMPLATE_MAIN, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
        return ours


_TEMPLATE = _Template()
_TEMPLATE_MAIN = "import sys; from ciam_server.store.sqlite_process import main; main(sys.argv[1])"


@dataclass(eq=False)
class _Link:
    """One running process, its connection and the units it has not answered yet."""

    loop: asyncio.AbstractEventLoop
    """The event loop the link's units are called from, kept: on Python 3.11,
    ``asyncio.get_running_loop`` asks the system for the process's id at every call."""
    transport: asyncio.Transport | None = None
    pid: int | None = None
    pending: dict[int, tuple[asyncio.Future[Any], msgspec.msgpack.Decoder[Any] | None]] = field(
        default_factory=dict
    )
    """Each unit sent and not answered yet: its caller's future, and its value's decoder."""
    numbers: int = 0
    open: bool = True
    closing: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(
        self, kind: int, unit: bytes, result: msgspec.msgpack.Decoder[Any] | None
    ) -> Any:
        if self.transport is None or not self.open:
            raise SqliteProcessError("the store's SQLite process has ended")
        self.numbers += 1
        future: asyncio.Future[Any] = self.loop.create_future()
        self.pending[self.numbers] = (future, result)
        # SQLAlchemy's statement logging follows the server's logging level of the moment.
        level = _STATEMENTS.getEffectiveLevel()
        self.transport.write(_REQUEST.pack(self.numbers, level, kind, len(unit)) + unit)
        return await future

    async def finish(self) -> None:
        """Let the process answer what it was sent, then end it."""
        self.closing = True
        if self.transport is not None and self.open:
            self.transport.write_eof()
        await self.ended.wait()

    def answer(self, answer: bytes) -> None:
        records, outcomes = unit_wire.decode_answer(answer)
        for record in unit_wire.decode_records(records):  # to the server's handlers, as if
            logging.getLogger(record.name).handle(record)  # made here
        for number, kind, body in outcomes:
            future, result = self.pending.pop(number, (None, None))
            if future is None or future.done():  # the caller gave up waiting (cancelled)
                continue
            try:
                future.set_result(unit_wire.decode_outcome(kind, body, result))
            except Exception as error:  # what the unit raised
                future.set_exception(error)

    def lost(self) -> None:
        self.open = False
        if self.pending or not self.closing:
            logger.error(
                "the store's SQLite process (pid %s) ended; %d unit(s) of work failed with it",
                self.pid,
                len(self.pending),
            )
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(
                    SqliteProcessError("the store's SQLite process ended before answering")
                )
        self.pending.clear()
        self.ended.set()


class _Answers(asyncio.Protocol):
    """Reads the process's answers and hands each unit's outcome to its caller."""

    def __init__(self, link: _Link) -> None:
        self._link = link
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._link.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._link.pid is None:
            if len(self._buffer) < _HELLO.size:
                return
            (self._link.pid,) = _HELLO.unpack_from(self._buffer)
            del self._buffer[: _HELLO.size]
        while len(self._buffer) >= _ANSWER.size:
            (size,) = _ANSWER.unpack_from(self._buffer)
            end = _ANSWER.size + size
            if len(self._buffer) < end:
                return
            answer = bytes(self._buffer[_ANSWER.size : end])
            del self._buffer[:end]
            self._link.answer(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._link.lost()


# The template's and the SQLite processes' side.


def serve(connection: socket.socket, url: str) -> None:
    """Run the units read from ``connection`` in batches and send back their outcomes, until
    the parent closes its end."""
    connection.sendall(_HELLO.pack(os.getpid()))
    records = _Records()
    logging.getLogger().handlers[:] = [records]
    batches = SqliteBatches(create_sqlite_process_engine(url))
    buffer = bytearray()
    try:
        while True:
            received = connection.recv(_RECEIVE_SIZE)
            buffer += received
            units = _take_units(buffer)
            for start in range(0, len(units), MAX_BATCH):
                answers = _run_batch(batches, units[start : start + MAX_BATCH])
                _send(connection, records.take(), answers)
            if not received:
                return
    finally:
        batches.close()


class _Records(logging.Handler):
    """Keeps this process's log records, made ready to be pickled, until they are sent to the
    server's process with the answer of the batch that made them."""

    def __init__(self) -> None:
        super().__init__()
        self._records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self._records.append(record)

    def take(self) -> list[logging.LogRecord]:
        taken, self._records = self._records, []
        return taken


@dataclass(eq=False)
class _Unit:
    """A unit read from the server: its work, or why it could not be read."""

    number: int
    work: unit_wire.Work | None
    unreadable: SqliteProcessError | None = None
    named: bool = False
    """It came by name: its value goes back as MessagePack."""


def _take_units(buffer: bytearray) -> list[_Unit]:
    """The whole units at the start of ``buffer``, removed from it."""
    units: list[_Unit] = []
    while len(buffer) >= _REQUEST.size:
        number, level, kind, size = _REQUEST.unpack_from(buffer)
        end = _REQUEST.size + size
        if len(buffer) < end:
            break
        try:
            work, named = unit_wire.decode_unit(kind, bytes(buffer[_REQUEST.size : end]))
            unit = _Unit(number, work, named=named)
        except Exception as error:
            unreadable = SqliteProcessError(f"a unit of work could not be read: {error!r}")
            unit = _Unit(number, None, unreadable)
        del buffer[:end]
        if _STATEMENTS.level != level:  # setting it clears every logger's cached level
            _STATEMENTS.setLevel(level)
        units.append(unit)
    return units


def _run_batch(batches: SqliteBatches, units: list[_Unit]) -> list[tuple[int, int, bytes]]:
    """Run the units read as one batch; each unit's encoded outcome."""
    runnable = [unit for unit in units if unit.work is not None]
    outcomes = dict(
        zip(
            (unit.number for unit in runnable),
            batches.run([unit.work for unit in runnable if unit.work is not None]),
            strict=True,
        )
    )
    answers: list[tuple[int, int, bytes]] = []
    for unit in units:
        outcome = outcomes.get(unit.number)
        value: object
        if outcome is None:  # it could not be read
            ok, value = False, unit.unreadable
        elif outcome.error is not None:
            ok, value = False, outcome.error
        else:
            ok, value = True, outcome.value
        try:
            kind, body = unit_wire.encode_outcome(named=unit.named, ok=ok, value=value)
        except unit_wire.ValueNotSentError as error:  # fails its own unit only
            kind, body = unit_wire.encode_outcome(
                named=False, ok=False, value=SqliteProcessError(str(error))
            )
        answers.append((unit.number, kind, body))
    return answers


def _send(
    connection: socket.socket,
    records: list[logging.LogRecord],
    outcomes: list[tuple[int, int, bytes]],
) -> None:
    payload = unit_wire.encode_answer(_pickled_records(records), outcomes)
    connection.sendall(_ANSWER.pack(len(payload)) + payload)


def _pickled_records(records: list[logging.LogRecord]) -> bytes:
    """The records pickled (none: empty); a record that cannot be pickled is left out."""
    if not records:
        return b""
    try:
        return pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        kept = [record for record in records if _can_pickle(record)]
        return pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)


def _can_pickle(value: object) -> bool:
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return True


def run_template(control: socket.socket) -> None:
    """Fork a SQLite process for each connection the parent sends, until it closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the forked processes
    while True:
        message, fds, _, _ = socket.recv_fds(control, _URL_SIZE, 1)
        if not message:
            return
        if os.fork() == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                serve(socket.socket(fileno=fds[0]), message.decode())
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])


def main(control_descriptor: str) -> None:
    """The template process's entry point: the parent's end of its control socket is open
    as ``control_descriptor``."""
    run_template(socket.socket(fileno=int(control_descriptor)))
