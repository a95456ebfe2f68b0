"""Engines and schema migrations, for SQLite (aiosqlite) and PostgreSQL (asyncpg) alike."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported by the functions that migrate, not here: the admin commands and the server
# import this module, and most of them never migrate; Alembic's import is a large part of a
# command's start.

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long an SQLite connection waits for another one's write transaction to end."""

_MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x4349_414D_4442  # "CIAMDB": the advisory lock held while migrating


POOL_SIZE = 10
"""PostgreSQL connections each server process keeps open, by default."""


def create_engine(url: str, *, pool_size: int = POOL_SIZE) -> AsyncEngine:
    """An async engine for ``url``, e.g. ``sqlite+aiosqlite:///./ciam.db`` or
    ``postgresql+asyncpg://user@host/db``.

    On PostgreSQL the engine keeps ``pool_size`` connections open and opens no more: a
    transaction that finds them all busy waits for one in the event loop. Connections opened
    beyond the pool for a burst would each be closed as soon as they were given back, and a
    connection costs far more to open (authentication, TLS negotiation, the driver's type
    introspection) than the transaction it serves.

    SQLite writes one transaction at a time. On SQLite the engine therefore holds a single
    connection: this process's transactions queue for it in the event loop (the pool waits
    without blocking), instead of each taking a connection and then polling SQLite's write
    lock. Other processes on the same file (``serve --workers``) take turns through that lock,
    waiting up to :data:`SQLITE_BUSY_TIMEOUT_MS`.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return create_async_engine(url, pool_size=pool_size, max_overflow=0)
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_reset_on_return=None)
    _configure_sqlite_connections(engine.sync_engine)
    return engine


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database behind ``engine`` answers a query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _configure_sqlite_connections(engine: Engine) -> None:
    """WAL, enforced foreign keys, a busy timeout, and every transaction begun IMMEDIATE.

    A deferred SQLite transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between; waiting would not help, so SQLite does
    not wait. Every transaction therefore starts with ``BEGIN IMMEDIATE``, which takes the
    write lock up front and waits up to the busy timeout for it. The driver's own transaction
    handling is turned off so that SQLAlchemy emits that BEGIN (the recipe in SQLAlchemy's
    SQLite dialect documentation).
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config() -> Config:
    """Alembic's configuration, built in code: no ``alembic.ini`` is needed."""
    from alembic.config import Config  # noqa: PLC0415 - see the note on the imports

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


async def upgrade(url: str) -> None:
    """Migrate the database at ``url`` to the newest schema (creating an SQLite file)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Instances starting together migrate one after the other, not over each other.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            await connection.run_sync(_upgrade_to_head)
    finally:
        await engine.dispose()


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command  # noqa: PLC0415 - see the note on the imports

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def pending_migrations(url: str) -> bool:
    """True when the database at ``url`` is not at the newest schema.

    An SQLite file that does not exist has every migration pending: it is not opened, since
    connecting would create it and a start refused for it would leave an empty database behind.
    (Opening SQLite read-only instead would leave its ``-shm`` and ``-wal`` files.)"""
    sqlite_file = _sqlite_file(make_url(url))
    if sqlite_file is not None and not sqlite_file.is_file():
        return True
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_heads)
    finally:
        await engine.dispose()
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see the note on the imports

    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    return set(current) != set(heads)


def _sqlite_file(url: URL) -> Path | None:
    """The file an SQLite ``url`` names; None for another database, an in-memory one, or a
    filename given as a URI (``?uri=true``)."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    if url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _current_heads(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - as above

    return MigrationContext.configure(connection).get_current_heads()
