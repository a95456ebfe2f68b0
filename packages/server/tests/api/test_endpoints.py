"""The two endpoints end to end in-process: success bodies and the status of each flow error."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from ciam_server.api.routes import ApiServices
from ciam_server.app import create_app
from ciam_server.domain.models import Channel
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import normalize_password
from ciam_server.store import SqlStore

from .support import (
    EMAIL,
    FAST_ARGON2,
    FROZEN_EMAIL,
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


async def send_code(client: Client, email: str, headers: dict[str, str] = WEB_AUTH) -> str:
    response = await client.post(
        "/otp/send", json={"usage": "reset_password", "email": email}, headers=headers
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["otp_token"]
    return token


def reset_body(email: str, token: str, code: str, password: str = NEW_PASSWORD) -> dict[str, str]:
    return {"email": email, "email_otp_token": token, "email_otp": code, "password": password}


async def test_otp_send_answers_exactly_a_token_and_its_lifetime(client: Client) -> None:
    response = await client.post(
        "/otp/send", json={"usage": "reset_password", "email": EMAIL}, headers=WEB_AUTH
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"otp_token", "expires_in"}
    assert isinstance(body["otp_token"], str)
    assert len(body["otp_token"]) >= 22  # at least 128 random bits, base64url-encoded
    assert body["expires_in"] == 600


async def test_a_public_client_enabled_for_otp_send_authenticates_with_its_client_id(
    client: Client,
) -> None:
    response = await client.post(
        "/otp/send",
        json={"client_id": SPA_CLIENT_ID, "usage": "reset_password", "email": EMAIL},
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"otp_token", "expires_in"}


async def test_a_public_client_not_enabled_for_otp_send_is_unauthorized_client(
    client: Client,
) -> None:
    response = await client.post(
        "/otp/send",
        json={"client_id": MOBILE_CLIENT_ID, "usage": "reset_password", "email": EMAIL},
    )
    assert_error(response, 400, "unauthorized_client")
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"usage": "reset_password", "email": "not-an-address"}, "malformed_email"),
        ({"usage": "reset_password", "phone_number": "12"}, "malformed_phone_number"),
        ({"usage": "reset_password"}, "invalid_request"),
        (
            {"usage": "reset_password", "email": EMAIL, "phone_number": "+8613800138000"},
            "invalid_request",
        ),
    ],
)
async def test_otp_send_refusals_have_their_registry_status(
    client: Client, body: dict[str, str], code: str
) -> None:
    assert_error(await client.post("/otp/send", json=body, headers=WEB_AUTH), 400, code)


async def test_an_undeliverable_code_is_temporarily_unavailable_with_retry_after(
    store: SqlStore, database_url: str, tmp_path: Path
) -> None:
    # The outbox path is a directory: writing the code fails.
    settings = make_settings(database_url, tmp_path)
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.post(
            "/otp/send", json={"usage": "reset_password", "email": EMAIL}, headers=WEB_AUTH
        )
    assert_error(response, 503, "temporarily_unavailable")
    assert int(response.headers["retry-after"]) > 0


async def test_reset_succeeds_with_200_and_an_empty_body(
    client: Client, outbox: Path, store: SqlStore
) -> None:
    token = await send_code(client, EMAIL)
    response = await client.post(
        "/reset_user_password",
        json=reset_body(EMAIL, token, last_code(outbox, EMAIL)),
        headers=WEB_AUTH,
    )
    assert response.status_code == 200, response.text
    assert response.content == b""

    user = await store.find_user(Channel.EMAIL, EMAIL)
    assert user is not None
    hashing = PasswordHashing(FAST_ARGON2, pool_size=1)
    try:
        assert await hashing.verify(user.password_hash, normalize_password(NEW_PASSWORD))
        assert not await hashing.verify(user.password_hash, normalize_password(OLD_PASSWORD))
    finally:
        hashing.close()

    # The token is consumed: the same request again is refused.
    response = await client.post(
        "/reset_user_password",
        json=reset_body(EMAIL, token, last_code(outbox, EMAIL)),
        headers=WEB_AUTH,
    )
    assert_error(response, 400, "bad_email_otp_token")


async def test_a_wrong_code_is_bad_email_otp(client: Client, outbox: Path) -> None:
    token = await send_code(client, EMAIL)
    wrong = "000000" if last_code(outbox, EMAIL) != "000000" else "111111"
    response = await client.post(
        "/reset_user_password", json=reset_body(EMAIL, token, wrong), headers=WEB_AUTH
    )
    assert_error(response, 400, "bad_email_otp")


async def test_an_address_without_an_account_is_user_not_found(
    client: Client, outbox: Path
) -> None:
    token = await send_code(client, NO_ACCOUNT_EMAIL)
    response = await client.post(
        "/reset_user_password",
        json=reset_body(NO_ACCOUNT_EMAIL, token, last_code(outbox, NO_ACCOUNT_EMAIL)),
        headers=WEB_AUTH,
    )
    assert_error(response, 400, "user_not_found")


async def test_a_frozen_user_is_abnormal_user_status_as_the_contract_words_it(
    client: Client, outbox: Path
) -> None:
    token = await send_code(client, FROZEN_EMAIL)
    response = await client.post(
        "/reset_user_password",
        json=reset_body(FROZEN_EMAIL, token, last_code(outbox, FROZEN_EMAIL)),
        headers=WEB_AUTH,
    )
    body = assert_error(response, 400, "abnormal_user_status")
    assert body["error_description"] == "User is frozen."


async def test_a_weak_password_is_invalid_new_password_naming_the_rule(
    client: Client, outbox: Path
) -> None:
    token = await send_code(client, EMAIL)
    response = await client.post(
        "/reset_user_password",
        json=reset_body(EMAIL, token, last_code(outbox, EMAIL), password="short"),
        headers=WEB_AUTH,
    )
    body = assert_error(response, 400, "invalid_new_password")
    assert "at least 8 characters" in body["error_description"]


async def test_the_current_password_is_recurrent_password(client: Client, outbox: Path) -> None:
    token = await send_code(client, EMAIL)
    response = await client.post(
        "/reset_user_password",
        json=reset_body(EMAIL, token, last_code(outbox, EMAIL), password=OLD_PASSWORD),
        headers=WEB_AUTH,
    )
    assert_error(response, 400, "recurrent_password")


async def test_the_health_check_answers(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def provided_services(app: Litestar) -> ApiServices:
    """What the app's endpoints work with: what their ``services`` dependency provides."""
    route = next(route for route in app.routes if route.path == "/reset_user_password")
    assert isinstance(route, HTTPRoute)
    provide = route.route_handlers[0].resolve_dependencies()["services"]
    services = await provide()
    assert isinstance(services, ApiServices)
    return services


async def test_a_reset_the_argon2_pool_has_no_room_for_is_refused_before_any_work(
    app: Litestar, client: Client, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = await provided_services(app)
    flow = services.reset_password
    app_store = flow.store

    async def untouched(*_: object, **__: object) -> None:
        raise AssertionError("the database was used for a reset refused as busy")

    monkeypatch.setattr(flow.hashing, "has_room", lambda calls: False)
    for name in ("get_application", "find_challenge", "claim_idempotency_key"):
        monkeypatch.setattr(app_store, name, untouched)
    response = await client.post(
        "/reset_user_password",
        json=reset_body(EMAIL, "any-token", "123456"),
        headers={"Authorization": "Basic bm8tc3VjaC1hcHA6eA==", "Idempotency-Key": "k1"},
    )

    assert_error(response, 503, "temporarily_unavailable")  # not 401: no client was checked
    assert response.headers["retry-after"] == "1"
    assert await store.audit_events() == []  # shed load is no audit event
