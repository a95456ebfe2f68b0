"""The statements every ``/otp/send`` and every code check runs, built once with bound
parameters and run on the transaction's connection (Core, not the ORM's unit of work), through
:mod:`ciam_server.store.direct`.

Building a statement from column expressions, and the ORM's bookkeeping around it, cost more
CPU than SQLite takes to run it; these statements are built at import and only their parameters
change from request to request.
"""

from __future__ import annotations

from sqlalchemy import Integer, and_, bindparam, func, insert, select, update

from ciam_server.store.tables import ApplicationRow, AuditEventRow, Base, OtpChallengeRow

_applications = Base.metadata.tables[ApplicationRow.__tablename__]
_challenges = Base.metadata.tables[OtpChallengeRow.__tablename__]
_audit_events = Base.metadata.tables[AuditEventRow.__tablename__]

LIVE = and_(_challenges.c.consumed_at.is_(None), _challenges.c.retired_at.is_(None))
"""The condition for a challenge that is neither consumed nor retired."""
_address = and_(
    _challenges.c.channel == bindparam("channel"),
    _challenges.c.identifier == bindparam("identifier"),
)

APPLICATION = select(_applications).where(_applications.c.client_id == bindparam("client_id"))
"""The application with ``client_id``."""

CHALLENGE_BY_TOKEN = select(_challenges).where(_challenges.c.token_hash == bindparam("token_hash"))
"""The challenge whose token hashes to ``token_hash``."""

INSERT_CHALLENGE = insert(_challenges).returning(_challenges.c.id)
"""Store a challenge (parameters: its columns); returns its id."""

RETIRE_LIVE_CHALLENGES = (
    update(_challenges)
    .where(
        _challenges.c.usage == bindparam("of_usage"),
        _challenges.c.channel == bindparam("of_channel"),
        _challenges.c.identifier == bindparam("of_identifier"),
        LIVE,
    )
    .values(retired_at=bindparam("now"))
)
"""Retire the live challenges for ``of_usage`` on ``of_channel`` for ``of_identifier`` (an
UPDATE's parameters cannot take its columns' names)."""

NEWEST_FOR_ADDRESS = (
    select(_challenges.c.created_at)
    .where(_address, _challenges.c.created_at > bindparam("after"))
    .order_by(_challenges.c.created_at.desc(), _challenges.c.id.desc())
    .limit(bindparam("count", type_=Integer))
)
"""The creation times of the address's ``count`` newest challenges created after ``after``,
newest first: the interval and the daily limit are both read from them."""

NTH_NEWEST_FOR_APPLICATION = (
    select(_challenges.c.created_at)
    .where(
        _challenges.c.client_id == bindparam("client_id"),
        _challenges.c.channel == bindparam("channel"),
        _challenges.c.created_at > bindparam("after"),
    )
    .order_by(_challenges.c.created_at.desc(), _challenges.c.id.desc())
    .offset(bindparam("skip", type_=Integer))
    .limit(1)
)
"""The creation time of the (``skip`` + 1)-th newest challenge of the application
``client_id`` on ``channel`` created after ``after``."""

FAILED_FOR_ADDRESS = (
    select(_challenges.c.created_at, _challenges.c.attempts)
    .where(_address, _challenges.c.created_at > bindparam("after"), _challenges.c.attempts > 0)
    .order_by(_challenges.c.created_at, _challenges.c.id)
)
"""The challenges for the address created after ``after`` with attempts, oldest first."""

FAILURES_SINCE = select(
    func.coalesce(func.sum(_challenges.c.attempts), 0),
    func.min(_challenges.c.created_at),
).where(_address, _challenges.c.created_at >= bindparam("since"), _challenges.c.attempts > 0)
"""The sum of attempts of the address's challenges created at or after ``since``, and the
creation time of the oldest of them with attempts."""

RESERVE_ATTEMPT = (
    update(_challenges)
    .where(
        _challenges.c.id == bindparam("challenge_id"),
        _challenges.c.attempts < bindparam("max_attempts"),
        LIVE,
    )
    .values(attempts=_challenges.c.attempts + 1)
)
"""Count an attempt on a live challenge that has fewer than ``max_attempts``."""

RELEASE_ATTEMPT = (
    update(_challenges)
    .where(_challenges.c.id == bindparam("challenge_id"), _challenges.c.attempts > 0)
    .values(attempts=_challenges.c.attempts - 1)
)
"""Give back an attempt."""

INSERT_AUDIT_EVENT = insert(_audit_events)
"""Record an audit event (parameters: its columns)."""
