"""Client authentication: who is calling, and whether it proved it.

Client secrets are 256-bit random values made by the server, so a plain SHA-256 of the secret is
as strong a stored form as a slow password hash, and keeps authentication cheap: a request that
fails it costs no argon2 work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Application
from ciam_server.domain.ports import Store
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


def _invalid_client(description: str) -> FlowError:
    return FlowError(ErrorCode.INVALID_CLIENT, description)


async def authenticate_client(store: Store, credentials: ClientCredentials) -> Application:
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
    application = await store.get_application(client_id)
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
