"""The sign-in endpoints over HTTP: the token grants, revocation, change of password, userinfo,
discovery and the JWKS, with their errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.app import create_app, key_ring, utc_now
from ciam_server.domain.signing import KEY_RELOAD_INTERVAL
from ciam_server.store import SqlStore
from ciam_server.testing import ManualClock

from .support import (
    EMAIL,
    FROZEN_EMAIL,
    JSON_HEADERS,
    MOBILE_CLIENT_ID,
    NEW_PASSWORD,
    NO_ACCOUNT_EMAIL,
    OLD_PASSWORD,
    SPA_CLIENT_ID,
    WEB_AUTH,
    assert_error,
    last_code,
    make_settings,
)

Client = AsyncTestClient[Litestar]
ISSUER = "https://id.example.com"


@pytest.fixture
def settings(database_url: str, outbox: Path) -> Any:
    return make_settings(
        database_url, outbox, issuer=ISSUER, sign_in_max_failures=3, sign_in_ip_limit=0
    )


async def sign_in(
    client: Client, password: str = OLD_PASSWORD, username: str = EMAIL, **extra: str
) -> Any:
    return await client.post(
        "/oauth2/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": password,
            "auth_source_id": "default",
            "scope": "openid",
            **extra,
        },
        headers=WEB_AUTH,
    )


async def tokens(client: Client) -> dict[str, Any]:
    response = await sign_in(client)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def verified(client: Client, token: str) -> jwt.Token:
    keys = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    return jwt.decode(token, keys, algorithms=["RS256"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_password_sign_in_answers_the_tokens_the_contract_names(client: Client) -> None:
    response = await sign_in(client)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
    }
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "openid")
    access = await verified(client, body["access_token"])
    assert access.header["typ"] == "JWT"
    assert access.header["kid"]
    claims = access.claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "web-app"
    assert claims["scope"] == ["openid"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert claims["jti"]
    identity = (await verified(client, body["id_token"])).claims
    assert identity["sub"] == claims["sub"]
    assert identity["email"] == EMAIL


async def test_a_username_is_normalized_as_at_reset(client: Client) -> None:
    response = await sign_in(client, username=EMAIL.upper())

    assert response.status_code == 200, response.text


async def test_without_scope_there_is_no_id_token(client: Client) -> None:
    response = await sign_in(client, scope="")

    assert response.status_code == 200
    assert "id_token" not in response.json()
    assert "scope" not in response.json()


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (EMAIL, "wrong password entirely"),
        (NO_ACCOUNT_EMAIL, OLD_PASSWORD),
        (FROZEN_EMAIL, "wrong password entirely"),
    ],
)
async def test_wrong_unknown_and_frozen_answer_alike(
    client: Client, username: str, password: str
) -> None:
    body = assert_error(await sign_in(client, password, username), 400, "invalid_grant")

    assert body["error_description"] == "The username or password is wrong."


async def test_failures_lock_a_username_whether_or_not_an_account_has_it(client: Client) -> None:
    for username in (EMAIL, NO_ACCOUNT_EMAIL):
        for _ in range(3):
            assert_error(
                await sign_in(client, "wrong password entirely", username), 400, "invalid_grant"
            )
        locked = assert_error(await sign_in(client, OLD_PASSWORD, username), 400, "invalid_grant")
        assert locked["error_description"] == "User is locked."


async def test_a_success_clears_the_failures(client: Client) -> None:
    for _ in range(2):
        assert_error(await sign_in(client, "wrong password entirely"), 400, "invalid_grant")
    await tokens(client)
    for _ in range(2):
        assert_error(await sign_in(client, "wrong password entirely"), 400, "invalid_grant")

    assert (await sign_in(client)).status_code == 200


async def test_the_grant_errors(client: Client) -> None:
    assert_error(
        await client.post("/oauth2/token", data={"grant_type": "implicit"}, headers=WEB_AUTH),
        400,
        "unsupported_grant_type",
    )
    assert_error(
        await client.post("/oauth2/token", data={"username": EMAIL}, headers=WEB_AUTH),
        400,
        "invalid_request",
    )
    assert_error(await sign_in(client, scope="openid email"), 400, "invalid_scope")
    unknown = await client.post(
        "/oauth2/token", data={"grant_type": "password", "client_id": "nobody"}
    )
    assert_error(unknown, 401, "invalid_client")
    assert unknown.headers["www-authenticate"].startswith("Basic")


async def test_a_public_application_signs_in_with_its_client_id_alone(client: Client) -> None:
    response = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": SPA_CLIENT_ID,
            "username": EMAIL,
            "password": OLD_PASSWORD,
        },
    )

    assert response.status_code == 200, response.text


async def test_refresh_rotates_and_a_reused_token_revokes_its_family(client: Client) -> None:
    first = (await tokens(client))["refresh_token"]
    refreshed = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first},
        headers=WEB_AUTH,
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()["refresh_token"]
    assert second != first

    reused = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first},
        headers=WEB_AUTH,
    )
    assert_error(reused, 400, "invalid_grant")
    after = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": second},
        headers=WEB_AUTH,
    )
    assert_error(after, 400, "invalid_grant")


async def test_revoke_ends_the_refresh_token(client: Client) -> None:
    refresh = (await tokens(client))["refresh_token"]

    revoked = await client.post(
        "/oauth2/revoke",
        data={"token": refresh, "token_type_hint": "refresh_token"},
        headers=WEB_AUTH,
    )

    assert revoked.status_code == 200
    assert revoked.content == b""
    again = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers=WEB_AUTH,
    )
    assert_error(again, 400, "invalid_grant")


async def test_client_credentials_for_confidential_applications_only(client: Client) -> None:
    granted = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=WEB_AUTH
    )
    assert granted.status_code == 200, granted.text
    assert (await verified(client, granted.json()["access_token"])).claims["sub"] == "web-app"

    public = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": MOBILE_CLIENT_ID}
    )
    assert_error(public, 400, "unauthorized_client")


async def test_userinfo_answers_the_tokens_user(client: Client) -> None:
    access = (await tokens(client))["access_token"]

    response = await client.get("/userinfo", headers=bearer(access))

    assert response.status_code == 200
    assert response.json()["email"] == EMAIL


async def test_bearer_errors_follow_rfc_6750(client: Client) -> None:
    missing = await client.get("/userinfo")
    assert_error(missing, 400, "invalid_request")
    assert missing.headers["www-authenticate"] == (
        'Bearer error="invalid_request", error_description="Bearer token not found in the request"'
    )
    bad = await client.get("/userinfo", headers=bearer("not.a.token"))
    assert_error(bad, 401, "invalid_token")
    assert bad.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def change(client: Client, access: str, old: str, new: str) -> Any:
    return await client.post(
        "/change_user_password",
        json={"old_password": old, "new_password": new},
        headers={**JSON_HEADERS, **bearer(access)},
    )


async def test_a_change_ends_every_earlier_session(client: Client) -> None:
    issued = await tokens(client)

    changed = await change(client, issued["access_token"], OLD_PASSWORD, NEW_PASSWORD)

    assert changed.status_code == 200, changed.text
    assert_error(
        await client.get("/userinfo", headers=bearer(issued["access_token"])), 401, "invalid_token"
    )
    refreshed = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        headers=WEB_AUTH,
    )
    assert_error(refreshed, 400, "invalid_grant")
    assert_error(await sign_in(client), 400, "invalid_grant")
    assert (await sign_in(client, NEW_PASSWORD)).status_code == 200


async def test_the_change_errors(client: Client) -> None:
    access = (await tokens(client))["access_token"]

    assert_error(
        await change(client, access, "wrong old one", NEW_PASSWORD), 400, "wrong_old_password"
    )
    assert_error(
        await change(client, access, OLD_PASSWORD, OLD_PASSWORD), 400, "duplicate_password"
    )
    assert_error(await change(client, access, OLD_PASSWORD, "short"), 400, "invalid_new_password")
    assert_error(await change(client, access, OLD_PASSWORD, ""), 400, "invalid_request")


async def test_a_changed_password_is_recurrent_later(client: Client) -> None:
    access = (await tokens(client))["access_token"]
    assert (await change(client, access, OLD_PASSWORD, NEW_PASSWORD)).status_code == 200
    access = (await tokens_with(client, NEW_PASSWORD))["access_token"]
    other = "Another-Kestrel-Orbit-8812"
    assert (await change(client, access, NEW_PASSWORD, other)).status_code == 200
    access = (await tokens_with(client, other))["access_token"]

    assert_error(await change(client, access, other, OLD_PASSWORD), 400, "recurrent_password")


async def tokens_with(client: Client, password: str) -> dict[str, Any]:
    response = await sign_in(client, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_discovery_names_the_endpoints_and_keys(client: Client) -> None:
    configuration = (await client.get("/.well-known/openid-configuration")).json()

    assert configuration["issuer"] == ISSUER
    assert configuration["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert configuration["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert configuration["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_keys_survive_a_restart_and_a_rotation_keeps_the_old_key_published(
    client: Client, store: SqlStore, database_url: str, outbox: Path
) -> None:
    access = (await tokens(client))["access_token"]
    settings = make_settings(database_url, outbox, issuer=ISSUER)
    await key_ring(settings, store, settings.secret_key_bytes(), utc_now).rotate()

    async with AsyncTestClient(app=create_app(settings)) as restarted:
        published = (await restarted.get("/.well-known/jwks.json")).json()["keys"]
        assert len(published) == 2
        assert (await restarted.get("/userinfo", headers=bearer(access))).status_code == 200
        fresh = (await tokens(restarted))["access_token"]
    assert (
        jwt.decode(fresh, KeySet.import_key_set({"keys": published})).header["kid"]
        != (jwt.decode(access, KeySet.import_key_set({"keys": published})).header["kid"])
    )


async def test_a_replaced_key_leaves_the_jwks_once_its_tokens_have_expired(
    client: Client, store: SqlStore, database_url: str, outbox: Path
) -> None:
    await tokens(client)  # the first key
    settings = make_settings(database_url, outbox, issuer=ISSUER)
    await key_ring(settings, store, settings.secret_key_bytes(), utc_now).rotate()
    window = timedelta(seconds=settings.access_token_ttl) + 2 * KEY_RELOAD_INTERVAL
    published = []
    for later in (window - timedelta(seconds=5), window + timedelta(seconds=5)):
        clock = ManualClock(datetime.now(UTC) + later)
        async with AsyncTestClient(app=create_app(settings, clock=clock)) as app:
            published.append((await app.get("/.well-known/jwks.json")).json()["keys"])

    assert len(published[0]) == 2  # tokens the old key signed may still be live
    assert len(published[1]) == 1
    assert published[1][0]["kid"] in {key["kid"] for key in published[0]}


async def argon2_operations(client: Client) -> float:
    """argon2 calls the server has finished, from its metrics."""
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("ciam_argon2_operations_total "):
            return float(line.split()[1])
    raise AssertionError("no argon2 counter in /metrics")


async def test_no_argon2_for_a_caller_failing_a_cheaper_check(client: Client) -> None:
    for _ in range(3):
        assert_error(await sign_in(client, "wrong password entirely"), 400, "invalid_grant")
    before = await argon2_operations(client)

    assert_error(
        await client.post(
            "/oauth2/token",
            data={"grant_type": "password", "username": EMAIL, "password": OLD_PASSWORD},
            headers={"Authorization": "Basic d2ViLWFwcDp3cm9uZw=="},  # web-app:wrong
        ),
        401,
        "invalid_client",
    )
    assert_error(await sign_in(client, scope="email"), 400, "invalid_scope")
    assert_error(await sign_in(client, username="not an address"), 400, "invalid_grant")
    assert_error(await sign_in(client), 400, "invalid_grant")  # locked

    assert await argon2_operations(client) == before


async def test_the_per_address_limit_comes_before_any_argon2_work(
    store: SqlStore, database_url: str, outbox: Path
) -> None:
    limited = make_settings(database_url, outbox, issuer=ISSUER, sign_in_ip_limit=2)
    async with AsyncTestClient(app=create_app(limited)) as client:
        for _ in range(2):
            assert (await sign_in(client)).status_code == 200
        before = await argon2_operations(client)

        refused = await sign_in(client)

        assert_error(refused, 429, "too_many_requests")
        assert int(refused.headers["retry-after"]) >= 1
        assert await argon2_operations(client) == before


async def test_sign_ins_changes_and_locks_are_audited(client: Client, store: SqlStore) -> None:
    access = (await tokens(client))["access_token"]
    for _ in range(3):
        await sign_in(client, "wrong password entirely")
    await change(client, access, "wrong old one", NEW_PASSWORD)

    actions = [(e.action.value, e.reason) for e in await store.audit_events(identifier=EMAIL)]

    assert actions[::-1] == [
        ("sign_in_succeeded", None),
        ("sign_in_refused", "invalid_grant"),
        ("sign_in_refused", "invalid_grant"),
        ("sign_in_locked", None),
        ("sign_in_refused", "invalid_grant"),
        ("password_change_refused", "abnormal_user_status"),
    ]


async def test_a_reset_unlocks_and_ends_the_sessions(client: Client, outbox: Path) -> None:
    issued = await tokens(client)
    for _ in range(3):
        await sign_in(client, "wrong password entirely")
    sent = await client.post(
        "/otp/send",
        json={"usage": "reset_password", "email": EMAIL, "client_id": SPA_CLIENT_ID},
        headers=JSON_HEADERS,
    )
    assert sent.status_code == 200, sent.text

    reset = await client.post(
        "/reset_user_password",
        json={
            "client_id": SPA_CLIENT_ID,
            "email": EMAIL,
            "email_otp_token": sent.json()["otp_token"],
            "email_otp": last_code(outbox, EMAIL),
            "password": NEW_PASSWORD,
        },
        headers=JSON_HEADERS,
    )

    assert reset.status_code == 200, reset.text
    assert (await sign_in(client, NEW_PASSWORD)).status_code == 200
    refreshed = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        headers=WEB_AUTH,
    )
    assert_error(refreshed, 400, "invalid_grant")
    assert_error(
        await client.get("/userinfo", headers=bearer(issued["access_token"])), 401, "invalid_token"
    )
