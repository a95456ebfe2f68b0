"""A request costs the same however many rows the tables hold: with 100,000 old rows in each of
``otp_challenges``, ``idempotency_keys`` and ``audit_events``, every statement the store runs for
an ``/otp/send`` and for refused resets (a wrong code, an unknown token), and for a prune, reads
those tables through an index, never by scanning them.

The statements are recorded as the engine runs them (SQLAlchemy's ``before_cursor_execute``), so
the test holds whatever they become, then run again under the database's own EXPLAIN.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Connection,
    String,
    Table,
    cast,
    event,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.delivery.outbox import OutboxSender
from ciam_server.domain.audit import Auditor
from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Application, AppType, Channel, ClaimOutcome, StoredResponse
from ciam_server.domain.otp import ChallengeHasher
from ciam_server.domain.passwords import Argon2Parameters, PasswordHashing
from ciam_server.domain.policy import PasswordPolicy
from ciam_server.domain.reset_password import ResetPassword
from ciam_server.domain.send_otp import OtpSettings, SendOtp
from ciam_server.store import SqlStore
from ciam_server.store.prune import Retention, prune
from ciam_server.store.tables import AuditEventRow, Base, IdempotencyKeyRow, OtpChallengeRow
from ciam_shared import ErrorCode, OtpSendRequest, ResetUserPasswordRequest

from .support import EMAIL, NOW

ROWS = 100_000
BLOCK = 1_000
WATCHED = ("otp_challenges", "idempotency_keys", "audit_events")
CLIENT_ID = "web-app"
OLD = NOW - timedelta(days=30)
"""The old rows are this old, and older."""


async def _fill(engine: AsyncEngine) -> None:
    """``ROWS`` old rows in each watched table, over many addresses and applications, those of
    the flows below among them: a block written from Python, then copied by the database."""

    def address(i: int) -> str:
        return EMAIL if i % 100 == 0 else f"user-{i}@example.com"

    def client(i: int) -> str:
        return CLIENT_ID if i % 10 == 0 else f"app-{i % 50}"

    def before(i: int) -> datetime:
        return OLD - timedelta(minutes=43 * i)  # the block spreads over a month

    challenges = [
        {
            "client_id": client(i),
            "usage": "reset_password",
            "channel": "email" if i % 3 else "sms",
            "identifier": address(i),
            "token_hash": f"old-token-{i}",
            "code_hash": "old-code",
            "created_at": before(i),
            "code_expires_at": before(i) + timedelta(minutes=5),
            "token_expires_at": before(i) + timedelta(minutes=10),
            "attempts": i % 4,
            "retired_at": before(i) + timedelta(minutes=1),
        }
        for i in range(BLOCK)
    ]
    keys = [
        {
            "client_id": client(i),
            "key": f"old-key-{i}",
            "endpoint": "POST /otp/send",
            "fingerprint": "ab",
            "state": "done",
            "status": 200,
            "body": b"sealed",
            "created_at": before(i),
            "expires_at": before(i) + timedelta(days=1),
        }
        for i in range(BLOCK)
    ]
    events = [
        {
            "at": before(i),
            "action": "code_sent",
            "client_id": client(i),
            "channel": "email",
            "identifier": address(i),
        }
        for i in range(BLOCK)
    ]
    copies = union_all(*(select(literal(k).label("k")) for k in range(1, ROWS // BLOCK)))
    copy = copies.subquery("copies")
    blocks: list[tuple[Table, str | None, list[dict[str, Any]]]] = [
        (_table(OtpChallengeRow), "token_hash", challenges),
        (_table(IdempotencyKeyRow), "key", keys),
        (_table(AuditEventRow), None, events),
    ]
    async with engine.begin() as connection:
        for table, unique, block in blocks:
            await connection.execute(insert(table), block)
            columns = [column for column in table.c if column.name != "id"]
            values = [
                column + "-" + cast(copy.c.k, String) if column.name == unique else column
                for column in columns
            ]
            copied = select(*values).select_from(table.join(copy, true()))
            await connection.execute(insert(table).from_select(columns, copied))
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            for table_name in WATCHED:
                await connection.execute(text(f"ANALYZE {table_name}"))
            await connection.commit()


def _table(row: type[Base]) -> Table:
    return Base.metadata.tables[row.__tablename__]


@contextmanager
def _recorded(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine runs inside the block, with its parameters."""
    statements: list[tuple[str, Any]] = []

    def record(
        _connection: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _flows(engine: AsyncEngine, outbox: Path) -> None:
    """An ``/otp/send`` with an ``Idempotency-Key``, then a reset with a wrong code and one with
    an unknown token, each refused, as the server runs them."""
    store = SqlStore(engine)
    await store.create_application(
        client_id=CLIENT_ID,
        name="Web shop",
        app_type=AppType.WEB,
        secret_hash="secret-hash",
        allow_otp_send=False,
    )
    assert await store.set_application_quota(CLIENT_ID, Channel.EMAIL, 1000)
    application = await store.get_application(CLIENT_ID)
    assert isinstance(application, Application)
    settings = OtpSettings(
        code_ttl=timedelta(minutes=5),
        token_ttl=timedelta(minutes=10),
        max_attempts=5,
        send_interval=timedelta(seconds=30),
        daily_limit=50,
        failure_limit=10,
        failure_window=timedelta(hours=1),
    )
    hasher = ChallengeHasher(b"flat-cost-test-key")
    sender = OutboxSender(outbox)
    auditor = Auditor(log=store, clock=lambda: NOW)
    send_otp = SendOtp(
        store=store,
        sender=sender,
        hasher=hasher,
        settings=settings,
        clock=lambda: NOW,
        auditor=auditor,
    )
    hashing = PasswordHashing(
        Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1), pool_size=1
    )
    reset_password = ResetPassword(
        store=store,
        sender=sender,
        hasher=hasher,
        hashing=hashing,
        policy=PasswordPolicy(),
        settings=settings,
        history_depth=4,
        clock=lambda: NOW,
        auditor=auditor,
    )
    try:
        claim = await store.claim_idempotency_key(
            client_id=CLIENT_ID,
            key="key-1",
            endpoint="POST /otp/send",
            fingerprint="cd",
            now=NOW,
            expires_at=NOW + timedelta(days=1),
        )
        assert claim.outcome is ClaimOutcome.CLAIMED
        sent = await send_otp(application, OtpSendRequest(usage="reset_password", email=EMAIL))
        await store.complete_idempotency_key(
            client_id=CLIENT_ID,
            key="key-1",
            response=StoredResponse(status=200, body=b"sealed", retry_after=None),
        )
        delivered = await asyncio.to_thread(outbox.read_text, encoding="utf-8")
        code = json.loads(delivered.splitlines()[-1])["code"]
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for token, otp, refused in [
            (sent.otp_token, wrong, ErrorCode.BAD_EMAIL_OTP),
            ("no-such-token", code, ErrorCode.BAD_EMAIL_OTP_TOKEN),
        ]:
            request = ResetUserPasswordRequest(
                password="violet kettle marmalade 42",
                email=EMAIL,
                email_otp_token=token,
                email_otp=otp,
            )
            with pytest.raises(FlowError) as caught:
                await reset_password(application, request)
            assert caught.value.code is refused
    finally:
        hashing.close()


def _tables(statement: str) -> set[str]:
    return {table for table in WATCHED if re.search(rf"\b{table}\b", statement)}


async def _full_scans(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    """The lines of the statement's plan that read a watched table whole."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            lines = [str(row[-1]) for row in plan]
            scan = re.compile(rf"^SCAN ({'|'.join(WATCHED)})\b")
        else:
            plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            lines = [str(row[0]) for row in plan]
            scan = re.compile(rf"Seq Scan on ({'|'.join(WATCHED)})\b")
        await connection.rollback()
    return [line for line in lines if scan.search(line.strip())]


async def test_requests_and_prunes_read_the_tables_through_indexes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _fill(engine)

    with _recorded(engine) as statements:
        await _flows(engine, tmp_path / "outbox.jsonl")
        # A prune with nothing to delete, which must not read the old rows to find that out.
        retention = Retention(
            send_interval=timedelta(seconds=30),
            failure_window=timedelta(hours=1),
            sign_in_failure_window=timedelta(minutes=15),
            audit_events=timedelta(days=365),
        )
        counts = await prune(engine, now=OLD - timedelta(days=400), retention=retention)
    assert (counts.challenges, counts.audit_events) == (0, 0)

    watched = [(sql, parameters) for sql, parameters in statements if _tables(sql)]
    # The flows' statements were all seen: each watched table was read or written.
    assert set().union(*(_tables(sql) for sql, _ in watched)) == set(WATCHED)
    assert any(sql.lstrip().upper().startswith("INSERT INTO OTP_CHALLENGES") for sql, _ in watched)
    scans = {sql: await _full_scans(engine, sql, parameters) for sql, parameters in watched}
    scanning = {sql: lines for sql, lines in scans.items() if lines}
    assert scanning == {}
