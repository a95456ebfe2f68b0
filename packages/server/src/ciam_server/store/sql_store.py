"""The store: every repository on one engine, SQLite or PostgreSQL."""

from __future__ import annotations

from ciam_server.store.applications import Applications
from ciam_server.store.audit import AuditEvents
from ciam_server.store.challenges import Challenges
from ciam_server.store.idempotency import IdempotencyKeys
from ciam_server.store.refresh_tokens import RefreshTokens
from ciam_server.store.resets import Resets
from ciam_server.store.sign_in_failures import SignInFailures
from ciam_server.store.signing_keys import SigningKeys
from ciam_server.store.users import Users


class SqlStore(
    Applications,
    Users,
    Challenges,
    Resets,
    AuditEvents,
    IdempotencyKeys,
    SigningKeys,
    RefreshTokens,
    SignInFailures,
):
    """The :class:`~ciam_server.domain.ports.Store`, the
    :class:`~ciam_server.domain.ports.AuditLog` and the
    :class:`~ciam_server.domain.ports.IdempotencyStore`, each method a query or transaction of
    one repository of this package. The engine is the caller's to dispose of."""
