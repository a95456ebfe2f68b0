"""The store's units of work: each a module-level function of the connection (or ORM session)
of the transaction it runs in, then of plain values.

:class:`~ciam_server.store.sql_store.SqlStore` binds a unit's values with
:func:`functools.partial` and runs it in a transaction of its own. Being a module-level
function of values, a bound unit can cross to another process: on SQLite it is sent to the
store's process (see :mod:`ciam_server.store.sqlite_process`), and what it returns or raises is
sent back. So a unit returns domain values, never ORM rows, and builds its statements itself.
Its values and its result cross as its type annotations say
(:mod:`ciam_server.store.unit_wire`), so they are typed precisely: a value typed ``Any`` would
lose what MessagePack does not carry (a naive datetime would arrive as text, a tuple as a list).

A unit may run more than once (a batch whose unit failed runs its other units again), so it
makes the rows it adds itself and keeps no state between runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    CursorResult,
    Delete,
    Insert,
    Update,
    bindparam,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from ciam_server.domain.models import (
    Application,
    AppType,
    AuditAction,
    AuditEvent,
    Challenge,
    Channel,
    ClaimOutcome,
    IdempotencyClaim,
    NewChallenge,
    Refusal,
    RefusalReason,
    SendLimits,
    StoredResponse,
    User,
)
from ciam_server.store.direct import rowcount, rows
from ciam_server.store.statements import (
    APPLICATION,
    CHALLENGE_BY_TOKEN,
    FAILED_FOR_ADDRESS,
    FAILURES_SINCE,
    INSERT_AUDIT_EVENT,
    INSERT_CHALLENGE,
    LIVE,
    NEWEST_FOR_ADDRESS,
    NTH_NEWEST_FOR_APPLICATION,
    RELEASE_ATTEMPT,
    RESERVE_ATTEMPT,
    RETIRE_LIVE_CHALLENGES,
)
from ciam_server.store.tables import (
    AUDIT_ACTION_LENGTH,
    AUDIT_CLIENT_IP_LENGTH,
    AUDIT_REQUEST_ID_LENGTH,
    ApplicationRow,
    AuditEventRow,
    IdempotencyKeyRow,
    OtpChallengeRow,
    PasswordHistoryRow,
    UserRow,
)

T = TypeVar("T")

DAY = timedelta(hours=24)
"""The window of the daily limit and of the applications' daily quotas."""

IDEMPOTENCY_PURGE_BATCH = 100
"""Expired idempotency records deleted, at most, by each claim."""


class AuditRow(TypedDict):
    """An ``audit_events`` row's values (see :func:`audit_row`)."""

    at: datetime
    action: str
    client_id: str | None
    channel: str | None
    identifier: str | None
    reason: str | None
    request_id: str | None
    client_ip: str | None


class Address(TypedDict):
    """An address, and since when its challenges' attempts are counted."""

    channel: str
    identifier: str
    since: datetime


_IN_PROGRESS = "in_progress"
_DONE = "done"


def in_session(connection: Connection, *, work: Callable[[Session], T]) -> T:
    """``work`` with an ORM session on ``connection``, within the transaction the connection is
    in: the session flushes, and rolls the transaction back if ``work`` raises, but neither
    commits nor releases it. For the units that load or add mapped objects (the others do
    without the session's cost)."""
    with (
        Session(
            bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
        ) as session,
        session.begin(),
    ):
        return work(session)


def begin(connection: Connection) -> None:
    """Nothing: the transaction it runs in, begun and committed, is the point."""


# Applications


def get_application(connection: Connection, *, client_id: str) -> Application | None:
    found = rows(connection, APPLICATION, {"client_id": client_id})
    return _application(found[0]) if found else None


def create_application(
    session: Session,
    *,
    client_id: str,
    name: str,
    app_type: AppType,
    secret_hash: str | None,
    allow_otp_send: bool,
) -> Application:
    row = ApplicationRow(
        client_id=client_id,
        name=name,
        app_type=app_type.value,
        secret_hash=secret_hash,
        allow_otp_send=allow_otp_send,
    )
    session.add(row)
    session.flush()
    return _application(row)


def list_applications(session: Session) -> list[Application]:
    found = session.scalars(select(ApplicationRow).order_by(ApplicationRow.client_id))
    return [_application(row) for row in found]


def set_application_values(
    connection: Connection, *, client_id: str, values: dict[str, Any]
) -> bool:
    """Set ``values`` (columns by name) on the application; False when there is none."""
    statement = update(ApplicationRow).where(ApplicationRow.client_id == client_id).values(values)
    return _count(connection, statement) == 1


# Users and password history


def create_user(
    session: Session,
    *,
    email: str | None,
    phone_number: str | None,
    password_hash: str,
    now: datetime,
) -> User:
    row = UserRow(
        email=email,
        phone_number=phone_number,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    session.add(PasswordHistoryRow(user_id=row.id, password_hash=password_hash, created_at=now))
    session.flush()
    return _user(row)


def find_user(session: Session, *, channel: Channel, identifier: str) -> User | None:
    row = session.scalar(select(UserRow).where(_user_key(channel) == identifier))
    return None if row is None else _user(row)


def set_user_frozen(
    connection: Connection, *, channel: Channel, identifier: str, frozen: bool
) -> bool:
    statement = (
        update(UserRow)
        .where(_user_key(channel) == identifier)
        .values(frozen=frozen, updated_at=datetime.now(UTC))
    )
    return _count(connection, statement) == 1


def recent_password_hashes(connection: Connection, *, user_id: int, limit: int) -> list[str]:
    statement = (
        select(PasswordHistoryRow.password_hash)
        .where(PasswordHistoryRow.user_id == user_id)
        .order_by(PasswordHistoryRow.id.desc())
        .limit(limit)
    )
    return list(connection.scalars(statement))


# Challenges


def add_challenge(
    connection: Connection,
    *,
    on_postgresql: bool,
    challenge: NewChallenge,
    limits: SendLimits,
    audit_row: AuditRow | None,
) -> int | Refusal:
    """See :meth:`ciam_server.store.sql_store.SqlStore.add_challenge`."""
    if on_postgresql:
        _lock_send(connection, challenge, quota=limits.app_daily_quota is not None)
    refusal = _check_limits(connection, challenge, limits)
    if refusal is not None:
        return refusal  # nothing was written
    rowcount(
        connection,
        RETIRE_LIVE_CHALLENGES,
        {
            "of_usage": challenge.usage,
            "of_channel": challenge.channel.value,
            "of_identifier": challenge.identifier,
            "now": challenge.created_at,
        },
    )
    inserted = rows(
        connection,
        INSERT_CHALLENGE,
        {
            "client_id": challenge.client_id,
            "usage": challenge.usage,
            "channel": challenge.channel.value,
            "identifier": challenge.identifier,
            "token_hash": challenge.token_hash,
            "code_hash": challenge.code_hash,
            "created_at": challenge.created_at,
            "code_expires_at": challenge.code_expires_at,
            "token_expires_at": challenge.token_expires_at,
            "attempts": 0,
        },
    )
    challenge_id: int = inserted[0].id
    if audit_row is not None:
        rowcount(connection, INSERT_AUDIT_EVENT, audit_row)
    return challenge_id


def retire_challenge(connection: Connection, *, challenge_id: int, now: datetime) -> None:
    statement = (
        update(OtpChallengeRow)
        .where(OtpChallengeRow.id == challenge_id, LIVE)
        .values(retired_at=now)
    )
    _count(connection, statement)


def find_challenge_and_failures(
    connection: Connection, *, token_hash: str, address: Address
) -> tuple[Challenge | None, tuple[int, datetime | None]]:
    """The challenge of ``token_hash``, and the attempts counted on ``address``'s challenges
    since ``address["since"]`` with the oldest of them."""
    found = rows(connection, CHALLENGE_BY_TOKEN, {"token_hash": token_hash})
    ((total, oldest),) = rows(connection, FAILURES_SINCE, address)
    return (_challenge(found[0]) if found else None), (int(total), oldest)


def reserve_attempt(
    connection: Connection,
    *,
    challenge_id: int,
    max_attempts: int,
    audit_row: AuditRow | None,
) -> bool:
    # One conditional UPDATE: concurrent checks cannot both take the last attempt.
    parameters = {"challenge_id": challenge_id, "max_attempts": max_attempts}
    if rowcount(connection, RESERVE_ATTEMPT, parameters) != 1:
        return False
    if audit_row is not None:
        rowcount(connection, INSERT_AUDIT_EVENT, audit_row)
    return True


def release_attempt(connection: Connection, *, challenge_id: int) -> None:
    rowcount(connection, RELEASE_ATTEMPT, {"challenge_id": challenge_id})


def complete_reset(
    session: Session,
    *,
    challenge_id: int,
    user_id: int,
    new_password_hash: str,
    history_depth: int,
    now: datetime,
) -> bool:
    # The challenge goes first: whoever consumes it holds the only right to go on.
    consume = (
        update(OtpChallengeRow)
        .where(OtpChallengeRow.id == challenge_id, LIVE)
        .values(consumed_at=now)
    )
    if _count(session.connection(), consume) != 1:
        return False  # nothing was written
    change_password = (
        update(UserRow)
        .where(UserRow.id == user_id)
        .values(
            password_hash=new_password_hash,
            credential_version=UserRow.credential_version + 1,
            updated_at=now,
        )
    )
    if _count(session.connection(), change_password) != 1:
        raise LookupError(f"no user with id {user_id}")  # rolls the transaction back
    session.add(
        PasswordHistoryRow(user_id=user_id, password_hash=new_password_hash, created_at=now)
    )
    session.flush()
    kept = (
        select(PasswordHistoryRow.id)
        .where(PasswordHistoryRow.user_id == user_id)
        .order_by(PasswordHistoryRow.id.desc())
        .limit(history_depth)
    )
    prune = delete(PasswordHistoryRow).where(
        PasswordHistoryRow.user_id == user_id, PasswordHistoryRow.id.not_in(kept)
    )
    session.execute(prune, execution_options={"synchronize_session": False})
    return True


# Audit events


def record_audit_event(connection: Connection, *, audit_row: AuditRow) -> None:
    rowcount(connection, INSERT_AUDIT_EVENT, audit_row)


def audit_events(session: Session, *, limit: int, identifier: str | None) -> list[AuditEvent]:
    statement = select(AuditEventRow)
    if identifier is not None:
        statement = statement.where(AuditEventRow.identifier == identifier)
    statement = statement.order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc()).limit(limit)
    return [_audit_event(row) for row in session.scalars(statement)]


def audit_row(event: AuditEvent) -> AuditRow:
    """The event's row, checked as the ``audit_events`` table would hold it: raises
    :class:`ValueError` for what PostgreSQL would refuse and SQLite would keep (values longer
    than their column, NUL characters)."""
    row: AuditRow = {
        "at": event.at,
        "action": event.action.value,
        "client_id": event.client_id,
        "channel": None if event.channel is None else event.channel.value,
        "identifier": event.identifier,
        "reason": event.reason,
        "request_id": event.request_id,
        "client_ip": event.client_ip,
    }
    bounded = (
        ("action", row["action"], AUDIT_ACTION_LENGTH),
        ("request_id", row["request_id"], AUDIT_REQUEST_ID_LENGTH),
        ("client_ip", row["client_ip"], AUDIT_CLIENT_IP_LENGTH),
    )
    for name, value, length in bounded:
        if value is not None and len(value) > length:
            raise ValueError(f"audit event {name} is longer than {length} characters")
    for name, held in row.items():
        if isinstance(held, str) and "\0" in held:
            raise ValueError(f"audit event {name} holds a NUL character")
    return row


# Idempotency keys


def claim_idempotency_key(
    session: Session,
    *,
    on_postgresql: bool,
    client_id: str,
    key: str,
    endpoint: str,
    fingerprint: str,
    now: datetime,
    expires_at: datetime,
) -> IdempotencyClaim:
    """See :meth:`ciam_server.store.sql_store.SqlStore.claim_idempotency_key`."""
    claim = {
        "endpoint": endpoint,
        "fingerprint": fingerprint,
        "state": _IN_PROGRESS,
        "status": None,
        "body": None,
        "retry_after": None,
        "created_at": now,
        "expires_at": expires_at,
    }
    upsert = _upsert_expired(
        on_postgresql,
        {"client_id": client_id, "key": key, **claim},
        claim,
        IdempotencyKeyRow.expires_at <= now,
    )
    claimed = _count(session.connection(), upsert) == 1
    # After the upsert, which holds the lock on this key's record on PostgreSQL, so that
    # purges of concurrent claims skip each other's records and never wait.
    _purge_expired_idempotency_keys(on_postgresql, session, now)
    if claimed:
        return IdempotencyClaim(outcome=ClaimOutcome.CLAIMED)
    row = session.execute(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.client_id == client_id, IdempotencyKeyRow.key == key
        )
    ).scalar_one()
    if row.endpoint != endpoint or row.fingerprint != fingerprint:
        return IdempotencyClaim(outcome=ClaimOutcome.MISMATCH)
    if row.state != _DONE:
        return IdempotencyClaim(outcome=ClaimOutcome.IN_PROGRESS)
    if row.status is None or row.body is None:
        raise LookupError(f"idempotency record {client_id!r}/{key!r} is done without answer")
    response = StoredResponse(status=row.status, body=row.body, retry_after=row.retry_after)
    return IdempotencyClaim(outcome=ClaimOutcome.REPLAY, response=response)


def complete_idempotency_key(
    connection: Connection, *, client_id: str, key: str, response: StoredResponse
) -> None:
    statement = (
        update(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.client_id == client_id,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.state == _IN_PROGRESS,
        )
        .values(
            state=_DONE,
            status=response.status,
            body=response.body,
            retry_after=response.retry_after,
        )
    )
    _count(connection, statement)


def release_idempotency_key(connection: Connection, *, client_id: str, key: str) -> None:
    statement = delete(IdempotencyKeyRow).where(
        IdempotencyKeyRow.client_id == client_id,
        IdempotencyKeyRow.key == key,
        IdempotencyKeyRow.state == _IN_PROGRESS,
    )
    _count(connection, statement)


def _upsert_expired(
    on_postgresql: bool,
    values: dict[str, Any],
    replace: dict[str, Any],
    expired: ColumnElement[bool],
) -> Insert:
    """INSERT ``values``; on a key conflict set ``replace`` only where ``expired``."""
    keys = ["client_id", "key"]
    if on_postgresql:
        pg = postgresql.insert(IdempotencyKeyRow).values(values)
        return pg.on_conflict_do_update(index_elements=keys, set_=replace, where=expired)
    lite = sqlite.insert(IdempotencyKeyRow).values(values)
    return lite.on_conflict_do_update(index_elements=keys, set_=replace, where=expired)


def _purge_expired_idempotency_keys(on_postgresql: bool, session: Session, now: datetime) -> None:
    expired = (
        select(IdempotencyKeyRow.client_id, IdempotencyKeyRow.key)
        .where(IdempotencyKeyRow.expires_at <= now)
        .order_by(IdempotencyKeyRow.expires_at)
        .limit(IDEMPOTENCY_PURGE_BATCH)
    )
    if on_postgresql:
        # Rows other transactions hold (claims and purges under way) are left for later.
        expired = expired.with_for_update(skip_locked=True)
    keys: Sequence[Any] = session.execute(expired).all()
    if not keys:
        return
    purge: Delete = delete(IdempotencyKeyRow).where(
        tuple_(IdempotencyKeyRow.client_id, IdempotencyKeyRow.key).in_([tuple(key) for key in keys])
    )
    session.execute(purge, execution_options={"synchronize_session": False})


def _lock_send(connection: Connection, challenge: NewChallenge, *, quota: bool) -> None:
    """Take PostgreSQL's transaction-scoped advisory locks that serialize the sends which
    count against the same limits: per channel and identifier and, when an application quota
    applies, per application and channel. They are taken in ascending order of their keys, so
    two sends never wait for each other in a cycle."""
    channel = challenge.channel.value
    names = [f"ciam.send.identifier\0{channel}\0{challenge.identifier}"]
    if quota:
        names.append(f"ciam.send.application\0{channel}\0{challenge.client_id}")
    for key in sorted({advisory_lock_key(name) for name in names}):
        connection.execute(_ADVISORY_LOCK, {"key": key})


_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``, the same on every process
    (unlike Python's ``hash``)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _check_limits(
    connection: Connection, challenge: NewChallenge, limits: SendLimits
) -> Refusal | None:
    """The first limit the challenge would exceed, in the order the contract gives, or None."""
    now = challenge.created_at
    address = {"channel": challenge.channel.value, "identifier": challenge.identifier}

    quota = limits.app_daily_quota
    if quota is not None:
        if quota <= 0:
            # No challenge's leaving makes room: retry when a whole window has passed.
            return Refusal(reason=RefusalReason.APP_QUOTA, retry_after=_seconds(DAY))
        found = rows(
            connection,
            NTH_NEWEST_FOR_APPLICATION,
            {
                "client_id": challenge.client_id,
                "channel": challenge.channel.value,
                "after": now - DAY,
                "skip": quota - 1,
            },
        )
        if found:
            return _refusal(RefusalReason.APP_QUOTA, found[0].created_at + DAY - now)

    refusal = _address_limits(connection, challenge, limits)
    if refusal is not None:
        return refusal

    if limits.failure_limit > 0:
        window = limits.failure_window
        failed = rows(connection, FAILED_FOR_ADDRESS, {**address, "after": now - window})
        total = sum(attempts for _, attempts in failed)
        # The oldest challenges leave the window first; the one whose leaving brings the sum
        # below the limit decides.
        for created_at, attempts in failed:
            if total < limits.failure_limit:
                break
            total -= attempts
            if total < limits.failure_limit:
                return _refusal(RefusalReason.FAILURES, created_at + window - now)
    return None


def _address_limits(
    connection: Connection, challenge: NewChallenge, limits: SendLimits
) -> Refusal | None:
    """The interval, then the daily limit, read from one query: the newest challenge decides
    the interval, the ``daily_limit``-th newest of the last day the daily limit."""
    interval = limits.interval if limits.interval > timedelta(0) else None
    daily = limits.daily_limit if limits.daily_limit > 0 else None
    if interval is None and daily is None:
        return None
    now = challenge.created_at
    window = max(interval or timedelta(0), DAY if daily is not None else timedelta(0))
    found = rows(
        connection,
        NEWEST_FOR_ADDRESS,
        {
            "channel": challenge.channel.value,
            "identifier": challenge.identifier,
            "after": now - window,
            "count": daily or 1,
        },
    )
    newest: list[datetime] = [created_at for (created_at,) in found]
    if interval is not None and newest and newest[0] > now - interval:
        return _refusal(RefusalReason.INTERVAL, newest[0] + interval - now)
    if daily is not None and len(newest) >= daily and newest[daily - 1] > now - DAY:
        return _refusal(RefusalReason.DAILY_LIMIT, newest[daily - 1] + DAY - now)
    return None


def _refusal(reason: RefusalReason, wait: timedelta) -> Refusal:
    return Refusal(reason=reason, retry_after=_seconds(wait))


def _seconds(wait: timedelta) -> int:
    """Whole seconds, rounded up, and at least 1."""
    microseconds = wait // timedelta(microseconds=1)
    return max(1, -(-microseconds // 1_000_000))


def _count(
    connection: Connection,
    statement: Update | Insert | Delete,
    parameters: dict[str, Any] | None = None,
) -> int:
    """Run an INSERT, UPDATE, DELETE or upsert built for this call (the built-once statements
    go through :func:`ciam_server.store.direct.rowcount`); the number of rows it matched (or
    wrote)."""
    result = cast("CursorResult[Any]", connection.execute(statement, parameters))
    return result.rowcount


def _user_key(channel: Channel) -> InstrumentedAttribute[str | None]:
    return UserRow.email if channel is Channel.EMAIL else UserRow.phone_number


def _audit_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        at=row.at,
        action=AuditAction(row.action),
        client_id=row.client_id,
        channel=None if row.channel is None else Channel(row.channel),
        identifier=row.identifier,
        reason=row.reason,
        request_id=row.request_id,
        client_ip=row.client_ip,
    )


def _application(row: Any) -> Application:
    """From an :class:`ApplicationRow` or a row of ``APPLICATION`` (its columns by name)."""
    return Application(
        client_id=row.client_id,
        name=row.name,
        app_type=AppType(row.app_type),
        secret_hash=row.secret_hash,
        allow_otp_send=row.allow_otp_send,
        email_daily_quota=row.email_daily_quota,
        sms_daily_quota=row.sms_daily_quota,
    )


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        phone_number=row.phone_number,
        password_hash=row.password_hash,
        frozen=row.frozen,
        credential_version=row.credential_version,
    )


def _challenge(row: Any) -> Challenge:
    """From a row of ``CHALLENGE_BY_TOKEN`` (its columns by name)."""
    return Challenge(
        id=row.id,
        client_id=row.client_id,
        usage=row.usage,
        channel=Channel(row.channel),
        identifier=row.identifier,
        token_hash=row.token_hash,
        code_hash=row.code_hash,
        created_at=row.created_at,
        code_expires_at=row.code_expires_at,
        token_expires_at=row.token_expires_at,
        attempts=row.attempts,
        consumed_at=row.consumed_at,
        retired_at=row.retired_at,
    )
