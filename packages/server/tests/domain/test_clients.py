"""Client authentication: confidential apps prove themselves with their secret, public apps
name themselves, and every failure is ``invalid_client``."""

from __future__ import annotations

import pytest

from ciam_server.domain.clients import (
    ClientCredentials,
    authenticate_client,
    hash_client_secret,
    new_client_secret,
)
from ciam_server.domain.errors import FlowError
from ciam_shared import ErrorCode

from .conftest import (
    M2M_CLIENT_ID,
    M2M_CLIENT_SECRET,
    MOBILE_CLIENT_ID,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    SPA_CLIENT_ID,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    World,
)


@pytest.mark.parametrize(
    "credentials",
    [
        ClientCredentials(header_client_id=WEB_CLIENT_ID, header_client_secret=WEB_CLIENT_SECRET),
        ClientCredentials(body_client_id=WEB_CLIENT_ID, body_client_secret=WEB_CLIENT_SECRET),
        ClientCredentials(header_client_id=WEB_CLIENT_ID, body_client_secret=WEB_CLIENT_SECRET),
        ClientCredentials(
            header_client_id=WEB_CLIENT_ID,
            header_client_secret=WEB_CLIENT_SECRET,
            body_client_id=WEB_CLIENT_ID,
            body_client_secret=WEB_CLIENT_SECRET,
        ),
        # "web-app:" in a Basic header carries an empty secret: it is no secret at all.
        ClientCredentials(
            header_client_id=WEB_CLIENT_ID,
            header_client_secret="",
            body_client_secret=WEB_CLIENT_SECRET,
        ),
    ],
    ids=["header", "body", "id-in-header-secret-in-body", "both-agree", "empty-header-secret"],
)
async def test_a_confidential_app_authenticates_with_its_secret(
    world: World, credentials: ClientCredentials
) -> None:
    application = await authenticate_client(world.store, credentials)

    assert application == world.web_app


async def test_a_machine_to_machine_app_is_confidential(world: World) -> None:
    application = await authenticate_client(
        world.store,
        ClientCredentials(header_client_id=M2M_CLIENT_ID, header_client_secret=M2M_CLIENT_SECRET),
    )

    assert application.client_id == M2M_CLIENT_ID


@pytest.mark.parametrize(
    ("credentials", "client_id"),
    [
        (ClientCredentials(body_client_id=SPA_CLIENT_ID), SPA_CLIENT_ID),
        (ClientCredentials(header_client_id=MOBILE_CLIENT_ID), MOBILE_CLIENT_ID),
        (ClientCredentials(header_client_id=SPA_CLIENT_ID, header_client_secret=""), SPA_CLIENT_ID),
        (ClientCredentials(body_client_id=SPA_CLIENT_ID, body_client_secret=""), SPA_CLIENT_ID),
        (
            ClientCredentials(header_client_id=SPA_CLIENT_ID, body_client_id=SPA_CLIENT_ID),
            SPA_CLIENT_ID,
        ),
    ],
    ids=["spa-body", "mobile-header", "empty-header-secret", "empty-body-secret", "both-agree"],
)
async def test_a_public_app_authenticates_with_its_client_id_alone(
    world: World, credentials: ClientCredentials, client_id: str
) -> None:
    application = await authenticate_client(world.store, credentials)

    assert application == world.store.applications[client_id]
    assert application.secret_hash is None


@pytest.mark.parametrize(
    ("credentials", "description"),
    [
        (ClientCredentials(), "Client authentication is required."),
        (
            ClientCredentials(header_client_id="no-such-app", header_client_secret="whatever"),
            "Unknown client.",
        ),
        (ClientCredentials(body_client_id="no-such-app"), "Unknown client."),
        (
            ClientCredentials(header_client_id=WEB_CLIENT_ID, header_client_secret="wrong"),
            "Wrong client secret.",
        ),
        (
            ClientCredentials(body_client_id=WEB_CLIENT_ID, body_client_secret=OTHER_CLIENT_SECRET),
            "Wrong client secret.",
        ),
        (
            ClientCredentials(header_client_id=WEB_CLIENT_ID),
            "This client must authenticate with its client secret.",
        ),
        (
            ClientCredentials(header_client_id=WEB_CLIENT_ID, header_client_secret=""),
            "This client must authenticate with its client secret.",
        ),
        (
            ClientCredentials(body_client_id=SPA_CLIENT_ID, body_client_secret="invented"),
            "A public client has no client secret.",
        ),
        (
            ClientCredentials(
                header_client_id=WEB_CLIENT_ID,
                header_client_secret=WEB_CLIENT_SECRET,
                body_client_id=OTHER_CLIENT_ID,
                body_client_secret=WEB_CLIENT_SECRET,
            ),
            "The Authorization header and the body name different clients.",
        ),
        (
            ClientCredentials(
                header_client_id=WEB_CLIENT_ID,
                header_client_secret=WEB_CLIENT_SECRET,
                body_client_id=WEB_CLIENT_ID,
                body_client_secret="another secret",
            ),
            "The Authorization header and the body carry different secrets.",
        ),
    ],
    ids=[
        "nothing",
        "unknown-client",
        "unknown-public-client",
        "wrong-secret",
        "secret-of-another-client",
        "missing-secret",
        "empty-secret",
        "secret-for-public-client",
        "header-and-body-name-different-clients",
        "header-and-body-different-secrets",
    ],
)
async def test_a_failed_authentication_is_invalid_client(
    world: World, credentials: ClientCredentials, description: str
) -> None:
    with pytest.raises(FlowError) as caught:
        await authenticate_client(world.store, credentials)

    assert caught.value.code is ErrorCode.INVALID_CLIENT
    assert caught.value.description == description


def test_client_secrets_are_random_and_stored_as_sha256() -> None:
    secret = new_client_secret()

    assert len(secret) >= 43
    assert secret != new_client_secret()
    assert hash_client_secret(secret) != secret
    assert len(hash_client_secret(secret)) == 64
    assert hash_client_secret(secret) == hash_client_secret(secret)


def test_the_repr_of_credentials_hides_the_secrets() -> None:
    credentials = ClientCredentials(
        header_client_id=WEB_CLIENT_ID,
        header_client_secret="header-secret-value",
        body_client_secret="body-secret-value",
    )

    assert WEB_CLIENT_ID in repr(credentials)
    assert "secret-value" not in repr(credentials)
