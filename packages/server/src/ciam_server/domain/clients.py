"""Client authentication: who is calling, and whether it proved it.

Client secrets are 256-bit random values made by the server, so a plain SHA-256 of the secret is
as strong a stored form as a slow password hash, and keeps authentication cheap: a request that
fails it costs no argon2 work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Application
from ciam_shared import ErrorCode

CLIENT_SECRET_BYTES = 32


def new_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def hash_client_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class ClientCredentials:
    """What the caller presented: from the ``Authorization`` header, from the body, or both."""

    header_client_id: str | None = None
    header_client_secret: str | None = None
    body_client_id: str | None = None
    body_client_secret: str | None = None

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(header_client_id={self.header_client_id!r}, "
            f"body_client_id={self.body_client_id!r})"
        )


class ApplicationSource(Protocol):
    async def get_application(self, client_id: str) -> Application | None: ...


@dataclass
class CachedApplications:
    """Applications read from ``source`` and kept for ``ttl`` after each read.

    Every API request authenticates its client, so without this each one would cost a store
    round trip for a row that changes only when an operator sets a quota. The price: a quota
    set with ``ciam-server apps set-quota`` reaches a running server within ``ttl`` (secrets
    and types never change; a new application is found at once, since a client_id that is not
    found is not kept). A zero ``ttl`` reads the store on every call.
    """

    source: ApplicationSource
    ttl: timedelta
    clock: Callable[[], float] = time.monotonic
    _kept: dict[str, tuple[float, Application]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def get_application(self, client_id: str) -> Application | None:
        now = self.clock()
        kept = self._kept.get(client_id)
        if kept is not None and now < kept[0]:
            return kept[1]
        application = await self.source.get_application(client_id)
        if application is None or self.ttl <= timedelta(0):
            self._kept.pop(client_id, None)
        else:
            self._kept[client_id] = (now + self.ttl.total_seconds(), application)
        return application


def _invalid_client(description: str) -> FlowError:
    return FlowError(ErrorCode.INVALID_CLIENT, description)


async def authenticate_client(
    applications: ApplicationSource, credentials: ClientCredentials
) -> Application:
    """The calling application, or ``invalid_client``.

    Header and body may both name the client, but must name the same one. A confidential
    application must present its secret; a public one has none, and presenting one fails.
    """
    ids = {
        value
        for value in (credentials.header_client_id, credentials.body_client_id)
        if value is not None
    }
    if not ids:
        raise _invalid_client("Client authentication is required.")
    if len(ids) > 1:
        raise _invalid_client("The Authorization header and the body name different clients.")
    secrets_given = {
        value
        for value in (credentials.header_client_secret, credentials.body_client_secret)
        if value  # an empty secret, as in "client_id:" in a Basic header, is no secret
    }
    if len(secrets_given) > 1:
        raise _invalid_client("The Authorization header and the body carry different secrets.")
    (client_id,) = ids
    secret = next(iter(secrets_given), None)
    application = await applications.get_application(client_id)
    if application is None:
        raise _invalid_client("Unknown client.")
    if application.secret_hash is None:
        if secret is not None:
            raise _invalid_client("A public client has no client secret.")
        return application
    if secret is None:
        raise _invalid_client("This client must authenticate with its client secret.")
    if not hmac.compare_digest(hash_client_secret(secret), application.secret_hash):
        raise _invalid_client("Wrong client secret.")
    return application
