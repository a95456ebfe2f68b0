"""``db prune``: deletes what can no longer matter and prints the rows it deleted per table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from ciam_server.store import create_engine
from ciam_server.store.tables import AuditEventRow, IdempotencyKeyRow, OtpChallengeRow

from .support import Invoke, error_message, output_json, table


def _challenge(token_hash: str, created_at: datetime) -> dict[str, object]:
    return {
        "client_id": "web-app",
        "usage": "reset_password",
        "channel": "email",
        "identifier": "ada@example.com",
        "token_hash": token_hash,
        "code_hash": "code-hash",
        "created_at": created_at,
        "code_expires_at": created_at + timedelta(minutes=5),
        "token_expires_at": created_at + timedelta(minutes=10),
        "attempts": 0,
    }


def _idempotency_key(key: str, expires_at: datetime) -> dict[str, object]:
    return {
        "client_id": "web-app",
        "key": key,
        "endpoint": "POST /otp/send",
        "fingerprint": "ab",
        "state": "done",
        "created_at": expires_at - timedelta(days=1),
        "expires_at": expires_at,
    }


async def _fill(database: Path, now: datetime) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(OtpChallengeRow),
                [
                    _challenge("two-days-old", now - timedelta(days=2)),
                    _challenge("an-hour-old", now - timedelta(hours=1)),
                ],
            )
            await connection.execute(
                insert(IdempotencyKeyRow),
                [
                    _idempotency_key("expired", now - timedelta(minutes=1)),
                    _idempotency_key("live", now + timedelta(hours=1)),
                ],
            )
            await connection.execute(
                insert(AuditEventRow),
                [
                    {"at": now - timedelta(days=days), "action": "code_sent"}
                    for days in (400, 30, 1)
                ],
            )
    finally:
        await engine.dispose()


def test_db_prune_deletes_and_counts(invoke: Invoke, upgraded: Path) -> None:
    asyncio.run(_fill(upgraded, datetime.now(UTC)))

    assert output_json(invoke("db", "prune")) == {
        "challenges": 1,
        "idempotency_keys": 1,
        "refresh_tokens": 0,
        "sign_in_failures": 0,
        "audit_events": 1,
    }
    assert [row["token_hash"] for row in table(upgraded, "otp_challenges")] == ["an-hour-old"]
    assert [row["key"] for row in table(upgraded, "idempotency_keys")] == ["live"]
    assert len(table(upgraded, "audit_events")) == 2
    # Run again, it finds nothing more.
    assert output_json(invoke("db", "prune")) == {
        "challenges": 0,
        "idempotency_keys": 0,
        "refresh_tokens": 0,
        "sign_in_failures": 0,
        "audit_events": 0,
    }


def test_db_prune_keeps_audit_events_for_the_retention_period(
    invoke: Invoke, upgraded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_fill(upgraded, datetime.now(UTC)))
    monkeypatch.setenv("CIAM_AUDIT_RETENTION_DAYS", "7")

    assert output_json(invoke("db", "prune"))["audit_events"] == 2
    assert len(table(upgraded, "audit_events")) == 1


def test_db_prune_keeps_challenges_the_failure_window_still_counts(
    invoke: Invoke, upgraded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_fill(upgraded, datetime.now(UTC)))
    monkeypatch.setenv("CIAM_OTP_FAILURE_WINDOW", str(3 * 24 * 3600))

    assert output_json(invoke("db", "prune"))["challenges"] == 0
    assert len(table(upgraded, "otp_challenges")) == 2


def test_db_prune_on_a_database_without_the_schema_fails_with_a_json_error(
    invoke: Invoke, database: Path
) -> None:
    assert "db upgrade" in error_message(invoke("db", "prune"))
