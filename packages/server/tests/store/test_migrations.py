"""The Alembic migrations shipped with the store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import BigInteger, Connection, Integer, insert, inspect, text

from ciam_server.domain.models import (
    AuditAction,
    AuditEvent,
    Channel,
    ClaimOutcome,
    Refusal,
    RefusalReason,
)
from ciam_server.store import SqlStore, create_engine, pending_migrations, upgrade
from ciam_server.store.database import _alembic_config
from ciam_server.store.tables import ApplicationRow, Base, OtpChallengeRow

from .support import EMAIL, NOW, attempts, find_challenge

TABLES = {
    "applications",
    "users",
    "password_history",
    "otp_challenges",
    "idempotency_keys",
    "audit_events",
    "signing_keys",
    "refresh_tokens",
    "sign_in_failures",
}
SIGN_IN_TABLES = {"signing_keys", "refresh_tokens", "sign_in_failures"}


async def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def test_upgrade_creates_the_schema_and_clears_pending(blank_url: str) -> None:
    assert await pending_migrations(blank_url)

    await upgrade(blank_url)

    assert not await pending_migrations(blank_url)
    assert await _table_names(blank_url) == {*TABLES, "alembic_version"}


async def test_upgrade_twice_is_harmless(migrated_url: str) -> None:
    await upgrade(migrated_url)

    assert not await pending_migrations(migrated_url)


async def test_migrated_schema_matches_the_tables(migrated_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    engine = create_engine(migrated_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def _migrate(url: str, direction: str, revision: str) -> None:
    """``alembic upgrade`` or ``downgrade`` to ``revision`` on the database at ``url``."""

    def migrate(connection: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(migrate)
    finally:
        await engine.dispose()


async def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
    finally:
        await engine.dispose()
    return {column["name"] for column in columns}


async def _indexes(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            indexes = await connection.run_sync(lambda sync: inspect(sync).get_indexes(table))
    finally:
        await engine.dispose()
    return {str(index["name"]) for index in indexes}


async def test_downgrade_to_base_drops_the_schema(migrated_url: str) -> None:
    await _migrate(migrated_url, "downgrade", "base")

    assert await pending_migrations(migrated_url)
    assert await _table_names(migrated_url) == {"alembic_version"}


async def _fill_0001(url: str) -> None:
    """An application, a user and a challenge, written to the schema of revision 0001."""
    application = insert(ApplicationRow).values(
        client_id="web-app",
        name="Web shop",
        app_type="web",
        secret_hash="secret-hash",
        allow_otp_send=True,
        created_at=NOW,
    )
    challenge = insert(OtpChallengeRow).values(
        client_id="web-app",
        usage="reset_password",
        channel="email",
        identifier=EMAIL,
        token_hash="token-hash-1",
        code_hash="code-hash-1",
        created_at=NOW,
        code_expires_at=NOW + timedelta(seconds=300),
        token_expires_at=NOW + timedelta(seconds=600),
        attempts=2,
    )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(application)
            await connection.execute(challenge)
        store = SqlStore(engine)  # users are the same in both revisions
        await store.create_user(email=EMAIL, phone_number=None, password_hash="hash-0", now=NOW)
    finally:
        await engine.dispose()


async def test_upgrade_to_0002_keeps_the_data(blank_url: str) -> None:
    await _migrate(blank_url, "upgrade", "0001")
    await _fill_0001(blank_url)
    assert "idempotency_keys" not in await _table_names(blank_url)

    await upgrade(blank_url)

    engine = create_engine(blank_url)
    try:
        store = SqlStore(engine)
        application = await store.get_application("web-app")
        assert application is not None
        assert application.secret_hash == "secret-hash"
        assert (application.email_daily_quota, application.sms_daily_quota) == (None, None)
        user = await store.find_user(Channel.EMAIL, EMAIL)
        assert user is not None
        assert await store.recent_password_hashes(user.id, 5) == ["hash-0"]
        challenge = await find_challenge(store, "token-hash-1")
        assert challenge is not None
        assert (challenge.created_at, challenge.attempts) == (NOW, 2)
        assert await store.reserve_attempt(
            challenge, attempts(5, failure_limit=2, failure_window=timedelta(hours=1)), NOW
        ) == Refusal(reason=RefusalReason.FAILURES, retry_after=3600)
        assert await store.set_application_quota("web-app", Channel.SMS, 7)
    finally:
        await engine.dispose()
    assert "ix_otp_challenges_channel_identifier_created_at" in await _indexes(
        blank_url, "otp_challenges"
    )


async def test_downgrade_to_0001_keeps_the_data(migrated_url: str) -> None:
    await _migrate(migrated_url, "downgrade", "0001")
    await _fill_0001(migrated_url)
    await upgrade(migrated_url)
    engine = create_engine(migrated_url)
    try:
        store = SqlStore(engine)
        assert await store.set_application_quota("web-app", Channel.EMAIL, 100)
        claim = await store.claim_idempotency_key(
            client_id="web-app",
            key="key-1",
            endpoint="POST /otp/send",
            fingerprint="ab",
            now=NOW,
            expires_at=NOW + timedelta(hours=1),
        )
        assert claim.outcome is ClaimOutcome.CLAIMED
    finally:
        await engine.dispose()

    await _migrate(migrated_url, "downgrade", "0001")

    assert await pending_migrations(migrated_url)
    assert await _table_names(migrated_url) == {
        *TABLES - {"idempotency_keys", "audit_events"} - SIGN_IN_TABLES,
        "alembic_version",
    }
    assert await _columns(migrated_url, "applications") == {
        "client_id",
        "name",
        "app_type",
        "secret_hash",
        "allow_otp_send",
        "created_at",
    }
    assert "ix_otp_challenges_channel_identifier_created_at" not in await _indexes(
        migrated_url, "otp_challenges"
    )
    engine = create_engine(migrated_url)
    try:
        async with engine.connect() as connection:
            applications = (
                await connection.execute(text("SELECT client_id, secret_hash FROM applications"))
            ).all()
            challenges = (
                await connection.execute(text("SELECT token_hash, attempts FROM otp_challenges"))
            ).all()
            users = (await connection.execute(text("SELECT email FROM users"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in applications] == [("web-app", "secret-hash")]
    assert [tuple(row) for row in challenges] == [("token-hash-1", 2)]
    assert [tuple(row) for row in users] == [(EMAIL,)]

    # And up again.
    await upgrade(migrated_url)
    assert not await pending_migrations(migrated_url)


async def _fill_0002(url: str) -> None:
    """The data of :func:`_fill_0001`, a quota and an idempotency record: revision 0002."""
    await _fill_0001(url)
    engine = create_engine(url)
    try:
        store = SqlStore(engine)
        assert await store.set_application_quota("web-app", Channel.EMAIL, 100)
        claim = await store.claim_idempotency_key(
            client_id="web-app",
            key="key-1",
            endpoint="POST /otp/send",
            fingerprint="ab",
            now=NOW,
            expires_at=NOW + timedelta(hours=1),
        )
        assert claim.outcome is ClaimOutcome.CLAIMED
    finally:
        await engine.dispose()


async def _assert_0002_data(store: SqlStore) -> None:
    application = await store.get_application("web-app")
    assert application is not None
    assert (application.secret_hash, application.email_daily_quota) == ("secret-hash", 100)
    user = await store.find_user(Channel.EMAIL, EMAIL)
    assert user is not None
    assert await store.recent_password_hashes(user.id, 5) == ["hash-0"]
    challenge = await find_challenge(store, "token-hash-1")
    assert challenge is not None
    assert (challenge.created_at, challenge.attempts) == (NOW, 2)
    claim = await store.claim_idempotency_key(
        client_id="web-app",
        key="key-1",
        endpoint="POST /otp/send",
        fingerprint="ab",
        now=NOW,
        expires_at=NOW + timedelta(hours=1),
    )
    assert claim.outcome is ClaimOutcome.IN_PROGRESS


AUDIT_EVENT = AuditEvent(
    at=NOW,
    action=AuditAction.RESET_SUCCEEDED,
    client_id="web-app",
    channel=Channel.EMAIL,
    identifier=EMAIL,
    request_id="request-1",
    client_ip="192.0.2.7",
)


async def test_upgrade_to_0003_keeps_the_data(blank_url: str) -> None:
    await _migrate(blank_url, "upgrade", "0002")
    await _fill_0002(blank_url)
    assert "audit_events" not in await _table_names(blank_url)
    assert await pending_migrations(blank_url)

    await upgrade(blank_url)

    assert not await pending_migrations(blank_url)
    engine = create_engine(blank_url)
    try:
        store = SqlStore(engine)
        await _assert_0002_data(store)
        await store.record_audit_event(AUDIT_EVENT)
        assert await store.audit_events() == [AUDIT_EVENT]
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: inspect(sync).get_columns("audit_events")
            )
    finally:
        await engine.dispose()
    assert await _indexes(blank_url, "audit_events") == {
        "ix_audit_events_at",
        "ix_audit_events_identifier_at",
    }
    [id_column] = [column for column in columns if column["name"] == "id"]
    # 64 bits on both: BIGINT on PostgreSQL, and SQLite's INTEGER PRIMARY KEY (its row id).
    id_type = id_column["type"]
    if blank_url.startswith("sqlite"):
        assert isinstance(id_type, Integer)
        assert not isinstance(id_type, BigInteger)
    else:
        assert isinstance(id_type, BigInteger)


async def test_downgrade_to_0002_keeps_the_data(migrated_url: str) -> None:
    await _migrate(migrated_url, "downgrade", "0002")
    await _fill_0002(migrated_url)
    await upgrade(migrated_url)
    engine = create_engine(migrated_url)
    try:
        await SqlStore(engine).record_audit_event(AUDIT_EVENT)
    finally:
        await engine.dispose()

    await _migrate(migrated_url, "downgrade", "0002")

    assert await pending_migrations(migrated_url)
    assert await _table_names(migrated_url) == {
        *TABLES - {"audit_events"} - SIGN_IN_TABLES,
        "alembic_version",
    }
    engine = create_engine(migrated_url)
    try:
        await _assert_0002_data(SqlStore(engine))
    finally:
        await engine.dispose()

    # And up again, with an empty log whose ids start over.
    await upgrade(migrated_url)
    assert not await pending_migrations(migrated_url)
    engine = create_engine(migrated_url)
    try:
        store = SqlStore(engine)
        assert await store.audit_events() == []
        await store.record_audit_event(AUDIT_EVENT)
        assert await store.audit_events() == [AUDIT_EVENT]
        async with engine.connect() as connection:
            ids = (await connection.execute(text("SELECT id FROM audit_events"))).scalars().all()
    finally:
        await engine.dispose()
    assert list(ids) == [1]


async def test_migrations_run_from_a_url_in_the_config(blank_url: str) -> None:
    config = _alembic_config()
    config.attributes["url"] = blank_url

    # The environment starts its own event loop for a URL, so it runs outside this one.
    await asyncio.to_thread(command.upgrade, config, "head")

    assert not await pending_migrations(blank_url)


async def test_instances_starting_together_migrate_one_after_the_other(blank_url: str) -> None:
    # Several servers started at once each bring the schema up to date; on PostgreSQL,
    # unserialized, two of them would create the same tables and one would crash.
    if blank_url.startswith("sqlite"):
        pytest.skip(
            "several instances share PostgreSQL; SQLite serves one instance, whose workers "
            "start after serve has upgraded the file"
        )
    await asyncio.gather(*(upgrade(blank_url) for _ in range(4)))

    assert not await pending_migrations(blank_url)


async def test_upgrade_to_0004_indexes_the_challenges_by_age_and_keeps_the_data(
    blank_url: str,
) -> None:
    await _migrate(blank_url, "upgrade", "0003")
    await _fill_0002(blank_url)
    engine = create_engine(blank_url)
    try:
        await SqlStore(engine).record_audit_event(AUDIT_EVENT)
    finally:
        await engine.dispose()
    assert "ix_otp_challenges_created_at" not in await _indexes(blank_url, "otp_challenges")
    assert await pending_migrations(blank_url)

    await upgrade(blank_url)

    assert not await pending_migrations(blank_url)
    assert "ix_otp_challenges_created_at" in await _indexes(blank_url, "otp_challenges")
    engine = create_engine(blank_url)
    try:
        store = SqlStore(engine)
        await _assert_0002_data(store)
        assert await store.audit_events() == [AUDIT_EVENT]
    finally:
        await engine.dispose()


async def test_downgrade_to_0003_drops_the_index_and_keeps_the_data(migrated_url: str) -> None:
    await _migrate(migrated_url, "downgrade", "0003")
    await _fill_0002(migrated_url)
    await upgrade(migrated_url)

    await _migrate(migrated_url, "downgrade", "0003")

    assert await pending_migrations(migrated_url)
    assert "ix_otp_challenges_created_at" not in await _indexes(migrated_url, "otp_challenges")
    engine = create_engine(migrated_url)
    try:
        await _assert_0002_data(SqlStore(engine))
    finally:
        await engine.dispose()
    await upgrade(migrated_url)
    assert not await pending_migrations(migrated_url)


async def test_upgrade_to_0005_adds_the_sign_in_tables_and_keeps_the_data(blank_url: str) -> None:
    await _migrate(blank_url, "upgrade", "0004")
    await _fill_0002(blank_url)
    assert not SIGN_IN_TABLES & await _table_names(blank_url)

    await upgrade(blank_url)

    assert not await pending_migrations(blank_url)
    assert await _table_names(blank_url) >= SIGN_IN_TABLES
    assert {"ix_refresh_tokens_family", "ix_refresh_tokens_expires_at"} <= await _indexes(
        blank_url, "refresh_tokens"
    )
    engine = create_engine(blank_url)
    try:
        await _assert_0002_data(SqlStore(engine))
    finally:
        await engine.dispose()


async def test_downgrade_to_0004_drops_the_sign_in_tables_and_keeps_the_data(
    migrated_url: str,
) -> None:
    await _migrate(migrated_url, "downgrade", "0004")
    await _fill_0002(migrated_url)
    await upgrade(migrated_url)

    await _migrate(migrated_url, "downgrade", "0004")

    assert await pending_migrations(migrated_url)
    assert not SIGN_IN_TABLES & await _table_names(migrated_url)
    engine = create_engine(migrated_url)
    try:
        await _assert_0002_data(SqlStore(engine))
    finally:
        await engine.dispose()
    await upgrade(migrated_url)
    assert not await pending_migrations(migrated_url)
