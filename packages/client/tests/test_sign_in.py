"""Signing in and the session calls on the wire, against respx: sign_in, refresh, revoke,
change_password and userinfo.

Each test runs once with :class:`CiamClient` and once with :class:`AsyncCiamClient`. The
``sleeps`` fixture (``conftest.py``) records the waits between retries instead of waiting.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx
import pytest
import respx

from ciam_client import (
    INVALID_RESPONSE,
    AbnormalUserStatusError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncCiamClient,
    CiamClient,
    DuplicatePasswordError,
    InvalidClientError,
    InvalidGrantError,
    InvalidNewPasswordError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTokenError,
    RecurrentPasswordError,
    TemporarilyUnavailableError,
    TokenResponse,
    TooManyRequestsError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    UnsupportedTokenTypeError,
    UserInfo,
    UserNotFoundError,
    WrongOldPasswordError,
)
from ciam_client._calls import Call
from ciam_shared import ErrorCode, status_of

BASE_URL = "https://ciam.test"
TOKEN_URL = f"{BASE_URL}/oauth2/token"
REVOKE_URL = f"{BASE_URL}/oauth2/revoke"
CHANGE_URL = f"{BASE_URL}/change_user_password"
USERINFO_URL = f"{BASE_URL}/userinfo"
CLIENT_ID = "web-app"
CLIENT_SECRET = "client-secret-value"
USERNAME = "someone@example.com"
PASSWORD = "Sign-in-password-1"
NEW_PASSWORD = "Brand-new-password-2"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.access-token-claims.signature"
REFRESH_TOKEN = "refresh-token-value"
NEW_REFRESH_TOKEN = "rotated-refresh-token-value"
ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.id-token-claims.signature"
SECRETS = (CLIENT_SECRET, PASSWORD, NEW_PASSWORD, ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN)
TOKENS = {
    "access_token": ACCESS_TOKEN,
    "token_type": "Bearer",
    "expires_in": 300,
    "refresh_token": NEW_REFRESH_TOKEN,
    "scope": "openid",
    "id_token": ID_TOKEN,
}
MISSING_BEARER = (
    'Bearer error="invalid_request", error_description="Bearer token not found in the request"'
)


@dataclass
class Sdk:
    """One client, sync or async, whose methods are awaited alike, so one test covers both."""

    client: CiamClient | AsyncCiamClient

    async def call(self, method: str, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(**kwargs)
        return await result if inspect.isawaitable(result) else result

    async def sign_in(self, **kwargs: Any) -> TokenResponse:
        answer: TokenResponse = await self.call(
            "sign_in", **{"username": USERNAME, "password": PASSWORD} | kwargs
        )
        return answer

    async def refresh(self, **kwargs: Any) -> TokenResponse:
        answer: TokenResponse = await self.call(
            "refresh", **{"refresh_token": REFRESH_TOKEN} | kwargs
        )
        return answer

    async def revoke(self, **kwargs: Any) -> None:
        await self.call("revoke", **{"token": REFRESH_TOKEN} | kwargs)

    async def change_password(self, **kwargs: Any) -> None:
        arguments = {
            "access_token": ACCESS_TOKEN,
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
        }
        await self.call("change_password", **arguments | kwargs)

    async def userinfo(self) -> UserInfo:
        answer: UserInfo = await self.call("userinfo", access_token=ACCESS_TOKEN)
        return answer


MakeSdk = Callable[..., Sdk]


@pytest.fixture(params=["sync", "async"])
async def make_sdk(request: pytest.FixtureRequest) -> AsyncIterator[MakeSdk]:
    """Make clients of the parametrized kind (confidential unless told) and close them after."""
    made: list[CiamClient | AsyncCiamClient] = []

    def make(**options: Any) -> Sdk:
        options = {
            "base_url": BASE_URL,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        } | options
        client = CiamClient(**options) if request.param == "sync" else AsyncCiamClient(**options)
        made.append(client)
        return Sdk(client)

    yield make
    for client in made:
        if isinstance(client, CiamClient):
            client.close()
        else:
            await client.aclose()


@pytest.fixture
def sdk(make_sdk: MakeSdk) -> Sdk:
    return make_sdk()


@pytest.fixture
def public_sdk(make_sdk: MakeSdk) -> Sdk:
    return make_sdk(client_secret=None)


def sent_form(request: httpx.Request) -> dict[str, str]:
    """The form fields of ``request``, each sent exactly once."""
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = parse_qs(request.content.decode("ascii"), strict_parsing=True)
    assert all(len(values) == 1 for values in fields.values()), fields
    return {name: values[0] for name, values in fields.items()}


def basic_credentials(request: httpx.Request) -> tuple[str, str]:
    scheme, _, credentials = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    client_id, client_secret = base64.b64decode(credentials, validate=True).decode().split(":")
    return unquote_plus(client_id), unquote_plus(client_secret)


# sign_in


async def test_sign_in_sends_the_password_grant_as_a_form(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    tokens = await sdk.sign_in()

    request = route.calls.last.request
    assert sent_form(request) == {
        "grant_type": "password",
        "username": USERNAME,
        "password": PASSWORD,
        "scope": "openid",
    }
    assert basic_credentials(request) == (CLIENT_ID, CLIENT_SECRET)
    assert request.headers["Accept"] == "application/json"
    assert "Idempotency-Key" not in request.headers
    assert tokens == TokenResponse(
        access_token=ACCESS_TOKEN,
        token_type="Bearer",
        expires_in=300,
        refresh_token=NEW_REFRESH_TOKEN,
        scope="openid",
        id_token=ID_TOKEN,
    )


async def test_a_public_client_signs_in_with_its_client_id_in_the_form(
    public_sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    await public_sdk.sign_in()

    request = route.calls.last.request
    assert "Authorization" not in request.headers
    assert sent_form(request)["client_id"] == CLIENT_ID
    assert "client_secret" not in sent_form(request)


async def test_sign_in_with_an_auth_source_and_without_a_scope(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    await sdk.sign_in(scope=None, auth_source_id="users-db")

    assert sent_form(route.calls.last.request) == {
        "grant_type": "password",
        "auth_source_id": "users-db",
        "username": USERNAME,
        "password": PASSWORD,
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("+8613800138000", "a+b c&d=e%f#g"),
        ("someone+tag@example.com", "pässwörd-✓-密码"),
        ("user name", "ends with = and ?"),
    ],
)
async def test_form_fields_are_url_encoded(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter, username: str, password: str
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    await make_sdk(client_id="app:with&special=chars", client_secret=None).sign_in(
        username=username, password=password
    )

    fields = sent_form(route.calls.last.request)
    assert fields["username"] == username
    assert fields["password"] == password
    assert fields["client_id"] == "app:with&special=chars"


async def test_token_calls_authenticate_with_url_encoded_basic_credentials(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter
) -> None:
    token = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)
    revoke = respx_mock.post(REVOKE_URL).respond(200)
    sdk = make_sdk(client_id="app:1 +x", client_secret="s:e+c r%t")

    await sdk.sign_in()
    await sdk.refresh()
    await sdk.revoke()

    for request in [*(call.request for call in token.calls), revoke.calls.last.request]:
        pair = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
        assert pair == "app%3A1%20%2Bx:s%3Ae%2Bc%20r%25t"
        assert basic_credentials(request) == ("app:1 +x", "s:e+c r%t")
        assert "client_id" not in sent_form(request)


async def test_a_minimal_token_answer_is_read(sdk: Sdk, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(TOKEN_URL).respond(
        200, json={"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300, "x": 1}
    )

    tokens = await sdk.sign_in()

    assert tokens.access_token == ACCESS_TOKEN
    assert (tokens.refresh_token, tokens.id_token, tokens.scope) == (None, None, None)


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer", "expires_in": 300},
        {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": "300"},
        ["not", "an", "object"],
    ],
)
async def test_a_token_answer_out_of_contract_is_a_validation_error(
    sdk: Sdk, respx_mock: respx.MockRouter, body: Any
) -> None:
    respx_mock.post(TOKEN_URL).respond(200, json=body)

    with pytest.raises(APIResponseValidationError):
        await sdk.sign_in()


# refresh


async def test_refresh_sends_the_refresh_token_grant(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    tokens = await sdk.refresh()

    assert sent_form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
    }
    assert "Idempotency-Key" not in route.calls.last.request.headers
    assert tokens.refresh_token == NEW_REFRESH_TOKEN


async def test_refresh_with_a_scope_and_as_a_public_client(
    public_sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    await public_sdk.refresh(scope="openid")

    assert sent_form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": REFRESH_TOKEN,
        "scope": "openid",
    }
    assert "Authorization" not in route.calls.last.request.headers


# revoke


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, {"token": REFRESH_TOKEN, "token_type_hint": "refresh_token"}),
        (
            {"token_type_hint": "access_token"},
            {"token": REFRESH_TOKEN, "token_type_hint": "access_token"},
        ),
        ({"token_type_hint": None}, {"token": REFRESH_TOKEN}),
    ],
)
async def test_revoke_sends_the_token_and_its_hint(
    sdk: Sdk, respx_mock: respx.MockRouter, arguments: dict[str, Any], expected: dict[str, str]
) -> None:
    route = respx_mock.post(REVOKE_URL).respond(200)

    await sdk.revoke(**arguments)

    assert sent_form(route.calls.last.request) == expected
    assert basic_credentials(route.calls.last.request) == (CLIENT_ID, CLIENT_SECRET)


async def test_a_public_client_revokes_with_its_client_id(
    public_sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(REVOKE_URL).respond(200)

    await public_sdk.revoke()

    assert sent_form(route.calls.last.request)["client_id"] == CLIENT_ID
    assert "Authorization" not in route.calls.last.request.headers


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200),
        httpx.Response(200, json={}),
        httpx.Response(200, text="revoked"),
        httpx.Response(204),
    ],
    ids=["empty", "json", "text", "204"],
)
async def test_any_success_of_revoke_is_done(
    sdk: Sdk, respx_mock: respx.MockRouter, answer: httpx.Response
) -> None:
    respx_mock.post(REVOKE_URL).mock(return_value=answer)

    await sdk.revoke()


# change_password


async def test_change_password_sends_json_with_the_bearer_token_and_a_key(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(CHANGE_URL).respond(200)

    for sdk in (make_sdk(), make_sdk(client_secret=None)):
        await sdk.change_password()

        request = route.calls.last.request
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert request.headers["Content-Type"] == "application/json"
        assert uuid.UUID(request.headers["Idempotency-Key"]).version == 4
        # The user is who the token says: no client authentication, no client_id.
        assert json.loads(request.content) == {
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
        }
    assert route.call_count == 2


# userinfo


async def test_userinfo_gets_the_user_with_the_bearer_token(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(USERINFO_URL).respond(
        200, json={"sub": "user-1", "email": USERNAME, "phone_number": "+8613800138000", "x": 1}
    )

    user = await sdk.userinfo()

    assert user == UserInfo(sub="user-1", email=USERNAME, phone_number="+8613800138000")
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.content == b""
    assert "Content-Type" not in request.headers
    assert "Idempotency-Key" not in request.headers


async def test_userinfo_without_email_or_phone(sdk: Sdk, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(USERINFO_URL).respond(200, json={"sub": "user-1"})

    assert await sdk.userinfo() == UserInfo(sub="user-1")


async def test_userinfo_without_sub_is_a_validation_error(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(USERINFO_URL).respond(200, json={"email": USERNAME})

    with pytest.raises(APIResponseValidationError):
        await sdk.userinfo()


# Error answers.

TOKEN_ERRORS = [
    ("invalid_request", InvalidRequestError),
    ("invalid_grant", InvalidGrantError),
    ("unsupported_grant_type", UnsupportedGrantTypeError),
    ("invalid_scope", InvalidScopeError),
    ("unauthorized_client", UnauthorizedClientError),
    ("invalid_client", InvalidClientError),
]


@pytest.mark.parametrize("method", ["sign_in", "refresh"])
@pytest.mark.parametrize(("code", "raised"), TOKEN_ERRORS)
async def test_token_errors_raise_their_class(
    sdk: Sdk, respx_mock: respx.MockRouter, method: str, code: str, raised: type[APIStatusError]
) -> None:
    status = status_of(ErrorCode(code))
    headers = {"WWW-Authenticate": 'Basic realm="ciam"'} if status == 401 else {}
    route = respx_mock.post(TOKEN_URL).respond(
        status, json={"error": code, "error_description": "Why."}, headers=headers
    )

    with pytest.raises(raised) as caught:
        await getattr(sdk, method)()

    assert type(caught.value) is raised
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert caught.value.description == "Why."
    assert route.call_count == 1


async def test_a_locked_user_is_an_invalid_grant_with_its_description(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": "User is locked."}
    )

    with pytest.raises(InvalidGrantError) as caught:
        await sdk.sign_in()

    assert caught.value.description == "User is locked."


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("unsupported_token_type", UnsupportedTokenTypeError),
        ("invalid_request", InvalidRequestError),
        ("invalid_client", InvalidClientError),
    ],
)
async def test_revoke_errors_raise_their_class(
    sdk: Sdk, respx_mock: respx.MockRouter, code: str, raised: type[APIStatusError]
) -> None:
    respx_mock.post(REVOKE_URL).respond(
        401 if code == "invalid_client" else 400, json={"error": code}
    )

    with pytest.raises(raised):
        await sdk.revoke()


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("wrong_old_password", WrongOldPasswordError),
        ("duplicate_password", DuplicatePasswordError),
        ("recurrent_password", RecurrentPasswordError),
        ("invalid_new_password", InvalidNewPasswordError),
        ("user_not_found", UserNotFoundError),
        ("abnormal_user_status", AbnormalUserStatusError),
        ("invalid_request", InvalidRequestError),
    ],
)
async def test_change_password_errors_raise_their_class(
    sdk: Sdk, respx_mock: respx.MockRouter, code: str, raised: type[APIStatusError]
) -> None:
    route = respx_mock.post(CHANGE_URL).respond(
        400, json={"error": code, "error_description": "No."}
    )

    with pytest.raises(raised) as caught:
        await sdk.change_password()

    assert type(caught.value) is raised
    assert caught.value.description == "No."
    assert route.call_count == 1


@pytest.mark.parametrize("method", ["change_password", "userinfo"])
@pytest.mark.parametrize(
    "body",
    [b"", b'{"error": "invalid_token", "error_description": "The token has expired."}'],
    ids=["header only", "header and body"],
)
async def test_a_refused_access_token_is_an_invalid_token_error(
    sdk: Sdk, respx_mock: respx.MockRouter, method: str, body: bytes
) -> None:
    challenge = (
        'Bearer realm="ciam", error="invalid_token", error_description="The token has expired."'
    )
    for route in (respx_mock.post(CHANGE_URL), respx_mock.get(USERINFO_URL)):
        route.respond(401, content=body, headers={"WWW-Authenticate": challenge})

    with pytest.raises(InvalidTokenError) as caught:
        await getattr(sdk, method)()

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_token"
    assert caught.value.description == "The token has expired."
    assert respx_mock.calls.call_count == 1


@pytest.mark.parametrize("method", ["change_password", "userinfo"])
async def test_a_missing_bearer_token_is_an_invalid_request_error(
    sdk: Sdk, respx_mock: respx.MockRouter, method: str
) -> None:
    for route in (respx_mock.post(CHANGE_URL), respx_mock.get(USERINFO_URL)):
        route.respond(400, headers={"WWW-Authenticate": MISSING_BEARER})

    with pytest.raises(InvalidRequestError) as caught:
        await getattr(sdk, method)()

    assert caught.value.description == "Bearer token not found in the request"


async def test_the_json_body_wins_over_the_challenge(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(USERINFO_URL).respond(
        401,
        json={"error": "invalid_token", "error_description": "From the body."},
        headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
    )

    with pytest.raises(InvalidTokenError) as caught:
        await sdk.userinfo()

    assert caught.value.description == "From the body."


@pytest.mark.parametrize(
    "challenge", ['Bearer realm="ciam"', 'Basic realm="ciam", error="invalid_token"']
)
async def test_a_challenge_without_a_bearer_error_is_an_invalid_response(
    sdk: Sdk, respx_mock: respx.MockRouter, challenge: str
) -> None:
    respx_mock.get(USERINFO_URL).respond(401, headers={"WWW-Authenticate": challenge})

    with pytest.raises(APIStatusError) as caught:
        await sdk.userinfo()

    assert type(caught.value) is APIStatusError
    assert caught.value.code == INVALID_RESPONSE


# Retries: a sign-in or a refresh is never sent twice when the first may have reached the server.

NOT_SENT = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("connect"),
    httpx.PoolTimeout("pool"),
]
MAYBE_SENT = [
    httpx.ReadTimeout("read"),
    httpx.ReadError("reset by peer"),
    httpx.WriteError("broken pipe"),
    httpx.WriteTimeout("write"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
]


@pytest.mark.parametrize("method", ["sign_in", "refresh"])
@pytest.mark.parametrize("failure", NOT_SENT, ids=lambda failure: type(failure).__name__)
async def test_a_token_call_is_retried_when_nothing_was_sent(
    sdk: Sdk, respx_mock: respx.MockRouter, method: str, failure: Exception
) -> None:
    route = respx_mock.post(TOKEN_URL).mock(side_effect=[failure, httpx.Response(200, json=TOKENS)])

    tokens = await getattr(sdk, method)()

    assert tokens.refresh_token == NEW_REFRESH_TOKEN
    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert first.content == second.content


@pytest.mark.parametrize("method", ["sign_in", "refresh"])
@pytest.mark.parametrize("failure", MAYBE_SENT, ids=lambda failure: type(failure).__name__)
async def test_a_token_call_that_may_have_arrived_is_not_retried(
    sdk: Sdk,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    method: str,
    failure: Exception,
) -> None:
    route = respx_mock.post(TOKEN_URL).mock(side_effect=[failure, httpx.Response(200, json=TOKENS)])

    with pytest.raises(APIConnectionError) as caught:
        await getattr(sdk, method)()

    assert caught.value.request_sent is True
    assert caught.value.__cause__ is failure
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("method", ["sign_in", "refresh"])
async def test_a_token_call_is_retried_after_429_and_503(
    sdk: Sdk, respx_mock: respx.MockRouter, sleeps: list[float], method: str
) -> None:
    route = respx_mock.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(429, json={"error": "too_many_requests"}, headers={"Retry-After": "2"}),
            httpx.Response(503, json={"error": "temporarily_unavailable"}),
            httpx.Response(200, json=TOKENS),
        ]
    )

    await getattr(sdk, method)()

    assert route.call_count == 3
    assert sleeps[0] == 2.0
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (httpx.Response(429, json={"error": "too_many_requests"}), TooManyRequestsError),
        (
            httpx.Response(503, json={"error": "temporarily_unavailable"}),
            TemporarilyUnavailableError,
        ),
    ],
)
async def test_a_token_call_raises_the_last_answer_when_retries_run_out(
    make_sdk: MakeSdk,
    respx_mock: respx.MockRouter,
    answer: httpx.Response,
    raised: type[APIStatusError],
) -> None:
    route = respx_mock.post(TOKEN_URL).mock(return_value=answer)

    with pytest.raises(raised):
        await make_sdk(max_retries=1).sign_in()

    assert route.call_count == 2


SUCCESS = {
    "revoke": (REVOKE_URL, httpx.Response(200)),
    "userinfo": (USERINFO_URL, httpx.Response(200, json={"sub": "user-1"})),
    "change_password": (CHANGE_URL, httpx.Response(200)),
}


@pytest.mark.parametrize("method", SUCCESS)
@pytest.mark.parametrize("failure", MAYBE_SENT[:2], ids=lambda failure: type(failure).__name__)
async def test_calls_safe_to_repeat_are_retried_after_a_lost_answer(
    sdk: Sdk, respx_mock: respx.MockRouter, method: str, failure: Exception
) -> None:
    url, answer = SUCCESS[method]
    route = respx_mock.route(url=url).mock(side_effect=[failure, answer])

    await getattr(sdk, method)()

    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert first.headers == second.headers
    assert first.content == second.content


async def test_a_retried_password_change_keeps_its_key(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(CHANGE_URL).mock(
        side_effect=[
            httpx.ReadTimeout("read"),
            httpx.Response(
                409, json={"error": "idempotency_key_in_use"}, headers={"Retry-After": "1"}
            ),
            httpx.Response(200),
        ]
    )

    await sdk.change_password()

    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert route.call_count == 3
    assert len(keys) == 1


# Secrets.


async def test_token_answers_never_show_the_tokens(sdk: Sdk, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(TOKEN_URL).respond(200, json=TOKENS)

    tokens = await sdk.sign_in()

    for secret in SECRETS:
        assert secret not in repr(tokens)
        assert secret not in str(tokens)
    assert repr(tokens) == "TokenResponse(token_type='Bearer', expires_in=300, scope='openid')"


@pytest.mark.parametrize("method", ["sign_in", "refresh", "revoke", "change_password", "userinfo"])
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": "invalid_grant", "error_description": "Bad."}),
        httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.ReadError("reset by peer"),
        httpx.ReadTimeout("read"),
    ],
    ids=["400", "401", "502", "ReadError", "ReadTimeout"],
)
async def test_errors_and_logs_never_show_what_was_sent(
    make_sdk: MakeSdk,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    method: str,
    answer: httpx.Response | Exception,
) -> None:
    url = {"sign_in": TOKEN_URL, "refresh": TOKEN_URL} | {m: u for m, (u, _) in SUCCESS.items()}
    respx_mock.route(url=url[method]).mock(side_effect=[answer])
    caplog.set_level(logging.DEBUG)
    sdk = make_sdk(max_retries=0)

    with pytest.raises(APIError) as caught:
        await getattr(sdk, method)()

    shown = [str(caught.value), repr(caught.value), repr(sdk.client), caplog.text]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text


async def test_a_call_and_its_attempts_never_show_their_body_or_headers(sdk: Sdk) -> None:
    client = sdk.client
    calls: list[Call[Any]] = [
        client._sign_in_call(
            username=USERNAME, password=PASSWORD, scope="openid", auth_source_id=None
        ),
        client._refresh_call(refresh_token=REFRESH_TOKEN, scope=None),
        client._revoke_call(token=REFRESH_TOKEN, token_type_hint=None),
        client._change_password_call(
            access_token=ACCESS_TOKEN, old_password=PASSWORD, new_password=NEW_PASSWORD
        ),
        client._userinfo_call(access_token=ACCESS_TOKEN),
    ]
    for call in calls:
        for shown in (repr(call), repr(client._outgoing(call))):
            for secret in SECRETS:
                assert secret not in shown


@pytest.mark.parametrize(
    ("failure", "sent"),
    [(failure, False) for failure in NOT_SENT] + [(failure, True) for failure in MAYBE_SENT],
    ids=lambda value: type(value).__name__,
)
async def test_a_transport_failure_says_whether_the_request_may_have_been_sent(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter, failure: Exception, sent: bool
) -> None:
    respx_mock.get(USERINFO_URL).mock(side_effect=failure)

    with pytest.raises(APIConnectionError) as caught:
        await make_sdk(max_retries=0).userinfo()

    assert caught.value.request_sent is sent
    assert isinstance(caught.value, APITimeoutError) is isinstance(failure, httpx.TimeoutException)
