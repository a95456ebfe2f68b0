"""Retries and idempotency keys, on both clients, against respx.

The ``sleeps`` fixture (``conftest.py``) replaces the clients' sleeping and records the delays.
Each client test runs once with :class:`CiamClient` and once with :class:`AsyncCiamClient`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from ciam_client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncCiamClient,
    BadEmailOtpError,
    CiamClient,
    EmailRateLimitExceededError,
    IdempotencyKeyInUseError,
    InvalidClientError,
    OtpSendResponse,
    ServerError,
    TemporarilyUnavailableError,
    TooManyRequestsError,
)
from ciam_client._retries import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_DELAY,
    Repeat,
    delay_before_retry,
    retry_delay,
    should_retry,
)

BASE_URL = "https://ciam.test"
OTP_SEND_URL = f"{BASE_URL}/otp/send"
RESET_URL = f"{BASE_URL}/reset_user_password"
CLIENT_ID = "web-app"
CLIENT_SECRET = "client-secret-value"
PASSWORD = "new-Password-value-1"
OTP = "123456"
OTP_TOKEN = "otp-token-value"
EMAIL = "someone@example.com"
SENT = {"otp_token": OTP_TOKEN, "expires_in": 600}


def ok_send() -> httpx.Response:
    return httpx.Response(200, json=SENT)


def unavailable(request_id: str = "req-503", **headers: str) -> httpx.Response:
    return httpx.Response(
        503,
        json={"error": "temporarily_unavailable"},
        headers={"X-Request-ID": request_id, **headers},
    )


def too_many(**headers: str) -> httpx.Response:
    return httpx.Response(429, json={"error": "too_many_requests"}, headers=headers)


def first_backoff_bounds() -> tuple[float, float]:
    return 0.75 * INITIAL_RETRY_DELAY, INITIAL_RETRY_DELAY


@dataclass
class Sdk:
    """One client, sync or async, behind awaitable methods, so one test covers both."""

    client: CiamClient | AsyncCiamClient

    async def send_otp(self) -> OtpSendResponse:
        if isinstance(self.client, CiamClient):
            return self.client.send_otp(email=EMAIL)
        return await self.client.send_otp(email=EMAIL)

    async def reset(self) -> None:
        kwargs: dict[str, Any] = {
            "password": PASSWORD,
            "otp": OTP,
            "otp_token": OTP_TOKEN,
            "email": EMAIL,
        }
        if isinstance(self.client, CiamClient):
            self.client.reset_user_password(**kwargs)
        else:
            await self.client.reset_user_password(**kwargs)


MakeSdk = Callable[..., Sdk]


async def _close(client: CiamClient | AsyncCiamClient) -> None:
    if isinstance(client, CiamClient):
        client.close()
    else:
        await client.aclose()


def _new_client(kind: str, **options: Any) -> CiamClient | AsyncCiamClient:
    options = {"base_url": BASE_URL, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET} | (
        options
    )
    return CiamClient(**options) if kind == "sync" else AsyncCiamClient(**options)


@pytest.fixture(params=["sync", "async"])
async def make_sdk(request: pytest.FixtureRequest) -> AsyncIterator[MakeSdk]:
    made: list[CiamClient | AsyncCiamClient] = []

    def make(**options: Any) -> Sdk:
        client = _new_client(request.param, **options)
        made.append(client)
        return Sdk(client)

    yield make
    for client in made:
        await _close(client)


@pytest.fixture
def sdk(make_sdk: MakeSdk) -> Sdk:
    return make_sdk()


def keys_of(route: respx.Route) -> list[str]:
    return [call.request.headers["Idempotency-Key"] for call in route.calls]


# The idempotency key.


@pytest.mark.parametrize("method", ["send_otp", "reset"])
async def test_a_retry_resends_the_same_key_and_body(
    sdk: Sdk, respx_mock: respx.MockRouter, method: str
) -> None:
    url, answer = (OTP_SEND_URL, ok_send()) if method == "send_otp" else (RESET_URL, None)
    if answer is None:
        answer = httpx.Response(200)
    route = respx_mock.post(url).mock(side_effect=[httpx.ConnectError("refused"), answer])

    await getattr(sdk, method)()

    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert uuid.UUID(first.headers["Idempotency-Key"]).version == 4
    assert first.content == second.content
    assert first.headers == second.headers


async def test_each_call_has_its_own_key(sdk: Sdk, respx_mock: respx.MockRouter) -> None:
    otp_send = respx_mock.post(OTP_SEND_URL).mock(return_value=ok_send())
    reset = respx_mock.post(RESET_URL).respond(200)

    await sdk.send_otp()
    await sdk.send_otp()
    await sdk.reset()

    keys = keys_of(otp_send) + keys_of(reset)
    assert len(keys) == 3
    assert len(set(keys)) == 3


# What is retried, and how long the client waits.


async def test_a_503_then_a_success(
    sdk: Sdk, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    route = respx_mock.post(OTP_SEND_URL).mock(side_effect=[unavailable(), ok_send()])

    assert await sdk.send_otp() == OtpSendResponse(otp_token=OTP_TOKEN, expires_in=600)

    assert route.call_count == 2
    low, high = first_backoff_bounds()
    assert len(sleeps) == 1
    assert low <= sleeps[0] <= high


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectTimeout("connect"), httpx.ReadTimeout("read"), httpx.ReadError("reset")],
)
async def test_a_transport_failure_then_a_success(
    sdk: Sdk, respx_mock: respx.MockRouter, failure: Exception
) -> None:
    route = respx_mock.post(RESET_URL).mock(side_effect=[failure, httpx.Response(200)])

    await sdk.reset()

    assert route.call_count == 2


@pytest.mark.parametrize("answer", [too_many, unavailable])
async def test_retry_after_in_seconds_is_waited(
    sdk: Sdk,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    answer: Callable[..., httpx.Response],
) -> None:
    route = respx_mock.post(RESET_URL).mock(
        side_effect=[answer(**{"Retry-After": "3"}), httpx.Response(200)]
    )

    await sdk.reset()

    assert route.call_count == 2
    assert sleeps == [3.0]


async def test_retry_after_as_an_http_date_is_waited(
    sdk: Sdk, respx_mock: respx.MockRouter, sleeps: list[float]
) -> None:
    in_30_s = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    respx_mock.post(RESET_URL).mock(
        side_effect=[too_many(**{"Retry-After": in_30_s}), httpx.Response(200)]
    )

    await sdk.reset()

    assert len(sleeps) == 1
    assert sleeps[0] == pytest.approx(30, abs=5)


@pytest.mark.parametrize(
    "header",
    ["3600", "60.5", "-5", "0", "soon", "a date an hour ago"],
)
async def test_an_insane_retry_after_falls_back_to_the_backoff(
    sdk: Sdk, respx_mock: respx.MockRouter, sleeps: list[float], header: str
) -> None:
    if header == "a date an hour ago":
        header = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    respx_mock.post(RESET_URL).mock(
        side_effect=[too_many(**{"Retry-After": header}), httpx.Response(200)]
    )

    await sdk.reset()

    low, high = first_backoff_bounds()
    assert len(sleeps) == 1
    assert low <= sleeps[0] <= high


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (httpx.Response(400, json={"error": "bad_email_otp"}), BadEmailOtpError),
        (
            httpx.Response(
                400, json={"error": "email_rate_limit_exceeded"}, headers={"Retry-After": "3"}
            ),
            EmailRateLimitExceededError,
        ),
        (httpx.Response(401, json={"error": "invalid_client"}), InvalidClientError),
        (httpx.Response(500, json={"error": "server_error"}), ServerError),
        (httpx.Response(502, content=b"<html>Bad Gateway</html>"), ServerError),
        (httpx.Response(200, json={"unexpected": True}), APIResponseValidationError),
    ],
    ids=["400", "400 with Retry-After", "401", "500", "502", "200 malformed"],
)
async def test_other_errors_are_final(
    sdk: Sdk,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    answer: httpx.Response,
    raised: type[APIError],
) -> None:
    route = respx_mock.post(OTP_SEND_URL).mock(side_effect=[answer, ok_send()])

    with pytest.raises(raised):
        await sdk.send_otp()

    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (unavailable(), TemporarilyUnavailableError),
        (too_many(), TooManyRequestsError),
    ],
)
async def test_max_retries_0_sends_once(
    make_sdk: MakeSdk,
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    failure: Exception | httpx.Response,
    raised: type[APIError],
) -> None:
    route = respx_mock.post(RESET_URL).mock(side_effect=[failure, httpx.Response(200)])

    with pytest.raises(raised):
        await make_sdk(max_retries=0).reset()

    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("max_retries", [1, 2, 4])
async def test_when_the_retries_run_out_the_last_answer_is_raised(
    make_sdk: MakeSdk, respx_mock: respx.MockRouter, sleeps: list[float], max_retries: int
) -> None:
    attempts = max_retries + 1
    route = respx_mock.post(RESET_URL).mock(
        side_effect=[unavailable(f"req-{n}") for n in range(attempts)] + [httpx.Response(200)]
    )

    with pytest.raises(TemporarilyUnavailableError) as raised:
        await make_sdk(max_retries=max_retries).reset()

    assert raised.value.request_id == f"req-{max_retries}"
    assert route.call_count == attempts
    assert len(set(keys_of(route))) == 1
    assert len(sleeps) == max_retries
    for retries_done, delay in enumerate(sleeps):
        backoff = min(INITIAL_RETRY_DELAY * 2**retries_done, MAX_RETRY_DELAY)
        assert 0.75 * backoff <= delay <= backoff


async def test_when_the_retries_run_out_the_last_transport_error_is_raised(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    failures = [httpx.ConnectError("first"), httpx.ReadError("second"), httpx.ReadTimeout("last")]
    route = respx_mock.post(RESET_URL).mock(side_effect=[*failures, httpx.Response(200)])

    with pytest.raises(APITimeoutError) as raised:
        await sdk.reset()

    assert raised.value.__cause__ is failures[-1]
    assert route.call_count == 3


async def test_a_failure_after_a_retry_is_final_when_it_is_not_retryable(
    sdk: Sdk, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(RESET_URL).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(400, json={"error": "bad_email_otp"}),
            httpx.Response(200),
        ]
    )

    with pytest.raises(BadEmailOtpError):
        await sdk.reset()

    assert route.call_count == 2


# Options.


def test_max_retries_defaults_to_2_and_is_never_negative() -> None:
    for cls in (CiamClient, AsyncCiamClient):
        assert cls(base_url=BASE_URL, client_id=CLIENT_ID).max_retries == 2
        assert cls(base_url=BASE_URL, client_id=CLIENT_ID, max_retries=0).max_retries == 0
        with pytest.raises(ValueError, match="max_retries"):
            cls(base_url=BASE_URL, client_id=CLIENT_ID, max_retries=-1)


# Sync and async behave alike.


@pytest.fixture
def predictable_keys(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make ``uuid.uuid4`` count from 1; calling the returned function starts it again."""
    counter = itertools.count(1)

    def restart() -> None:
        nonlocal counter
        counter = itertools.count(1)

    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter), version=4))
    return restart


Attempt = tuple[str, str, list[tuple[str, str]], bytes]
"""The method, path, headers and body of one request."""

TOKENS = {"access_token": "access", "token_type": "Bearer", "expires_in": 300}


async def _every_call(client: CiamClient | AsyncCiamClient) -> None:
    """Each method once, awaited when the client is async."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("send_otp", {"email": EMAIL}),
        (
            "reset_user_password",
            {"password": PASSWORD, "otp": OTP, "otp_token": OTP_TOKEN, "email": EMAIL},
        ),
        ("sign_in", {"username": EMAIL, "password": PASSWORD, "auth_source_id": "db"}),
        ("refresh", {"refresh_token": "refresh", "scope": "openid"}),
        ("revoke", {"token": "refresh"}),
        (
            "change_password",
            {"access_token": "access", "old_password": PASSWORD, "new_password": "N-1"},
        ),
        ("userinfo", {"access_token": "access"}),
    ]
    for name, kwargs in calls:
        result = getattr(client, name)(**kwargs)
        if not isinstance(client, CiamClient):
            await result


@pytest.mark.parametrize("client_secret", [CLIENT_SECRET, None], ids=["confidential", "public"])
async def test_both_clients_make_the_same_attempts_with_the_same_keys(
    respx_mock: respx.MockRouter,
    sleeps: list[float],
    predictable_keys: Callable[[], None],
    client_secret: str | None,
) -> None:
    seen: dict[str, tuple[list[Attempt], int]] = {}
    for kind in ("sync", "async"):
        predictable_keys()
        sleeps.clear()
        respx_mock.reset()
        otp_send = respx_mock.post(OTP_SEND_URL).mock(
            side_effect=[httpx.ConnectError("refused"), unavailable(), ok_send()]
        )
        reset = respx_mock.post(RESET_URL).mock(
            side_effect=[too_many(**{"Retry-After": "2"}), httpx.Response(200)]
        )
        token = respx_mock.post(f"{BASE_URL}/oauth2/token").mock(
            side_effect=[
                httpx.ConnectError("refused"),
                httpx.Response(200, json=TOKENS),
                unavailable(),
                httpx.Response(200, json=TOKENS),
            ]
        )
        respx_mock.post(f"{BASE_URL}/oauth2/revoke").mock(
            side_effect=[httpx.ReadError("reset"), httpx.Response(200)]
        )
        respx_mock.post(f"{BASE_URL}/change_user_password").mock(
            side_effect=[httpx.ReadTimeout("read"), httpx.Response(200)]
        )
        respx_mock.get(f"{BASE_URL}/userinfo").mock(
            side_effect=[too_many(), httpx.Response(200, json={"sub": "user-1"})]
        )
        client = _new_client(kind, client_secret=client_secret)

        await _every_call(client)
        await _close(client)

        attempts = [
            (
                call.request.method,
                call.request.url.path,
                call.request.headers.multi_items(),
                call.request.content,
            )
            for call in respx_mock.calls
        ]
        seen[kind] = (attempts, len(sleeps))
        assert otp_send.call_count == 3
        assert reset.call_count == 2
        assert token.call_count == 4

    assert seen["sync"] == seen["async"]
    attempts, sleep_count = seen["sync"]
    assert sleep_count == 8
    keys = [dict(headers).get("idempotency-key") for _, _, headers, _ in attempts]
    first, second, third = (str(uuid.UUID(int=n, version=4)) for n in (1, 2, 3))
    assert keys == [first] * 3 + [second] * 2 + [None] * 6 + [third] * 2 + [None] * 2


# The pure decision and delay functions.


@pytest.mark.parametrize(
    ("retries_done", "random_fraction", "expected"),
    [
        (0, 0.0, 0.5),
        (0, 0.5, 0.4375),
        (0, 0.999999, 0.375),
        (1, 0.0, 1.0),
        (1, 0.999999, 0.75),
        (2, 0.0, 2.0),
        (3, 0.0, 4.0),
        (4, 0.0, 8.0),
        (4, 0.999999, 6.0),
        (5, 0.0, 8.0),
        (5, 0.999999, 6.0),
        (1000, 0.0, 8.0),
    ],
)
def test_backoff_is_capped_exponential_with_jitter(
    retries_done: int, random_fraction: float, expected: float
) -> None:
    assert retry_delay(retries_done, None, random_fraction) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("retries_done", range(8))
def test_jitter_stays_within_a_quarter_below_the_backoff(retries_done: int) -> None:
    backoff = min(INITIAL_RETRY_DELAY * 2**retries_done, MAX_RETRY_DELAY)
    fractions = [n / 1000 for n in range(1000)]  # [0, 1), as random.random() draws
    delays = [retry_delay(retries_done, None, fraction) for fraction in fractions]
    assert all(0.75 * backoff < delay <= backoff for delay in delays)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (3.0, 3.0),
        (0.25, 0.25),
        (60.0, 60.0),
        (60.5, 1.0),
        (3600.0, 1.0),
        (0.0, 1.0),
        (-5.0, 1.0),
        (None, 1.0),
    ],
)
def test_a_sane_retry_after_replaces_the_backoff(
    retry_after: float | None, expected: float
) -> None:
    assert retry_delay(1, retry_after, 0.0) == expected


def _status_error(status: int, code: str, **headers: str) -> APIStatusError:
    return APIStatusError(httpx.Response(status, headers=headers), code=code, description=None)


# For each error: is it retried with Repeat.WITH_KEY, IDEMPOTENT and IF_NOT_ACTED_ON?
@pytest.mark.parametrize(
    ("error", "with_key", "idempotent", "if_not_acted_on"),
    [
        (APIConnectionError("refused", request_sent=False), True, True, True),
        (APITimeoutError("connecting timed out", request_sent=False), True, True, True),
        (APIConnectionError("reset by peer"), True, True, False),
        (APITimeoutError("reading timed out"), True, True, False),
        (_status_error(429, "too_many_requests"), True, True, True),
        (_status_error(503, "temporarily_unavailable"), True, True, True),
        (_status_error(503, "server_error"), True, True, True),
        (
            IdempotencyKeyInUseError(
                httpx.Response(409), code="idempotency_key_in_use", description=None
            ),
            True,
            False,
            False,
        ),
        (_status_error(422, "idempotency_key_reused"), False, False, False),
        (_status_error(500, "server_error"), False, False, False),
        (_status_error(502, "server_error"), False, False, False),
        (_status_error(400, "bad_email_otp"), False, False, False),
        (
            _status_error(400, "sms_rate_limit_exceeded", **{"Retry-After": "5"}),
            False,
            False,
            False,
        ),
        (_status_error(400, "invalid_grant"), False, False, False),
        (_status_error(401, "invalid_client"), False, False, False),
        (_status_error(401, "invalid_token"), False, False, False),
        (_status_error(404, "not_found"), False, False, False),
        (APIResponseValidationError(httpx.Response(200)), False, False, False),
    ],
)
def test_should_retry(
    error: APIError, with_key: bool, idempotent: bool, if_not_acted_on: bool
) -> None:
    assert should_retry(error, Repeat.WITH_KEY) is with_key
    assert should_retry(error, Repeat.IDEMPOTENT) is idempotent
    assert should_retry(error, Repeat.IF_NOT_ACTED_ON) is if_not_acted_on


def test_a_connection_error_may_have_been_sent_unless_told() -> None:
    assert APIConnectionError("broken").request_sent is True
    assert APITimeoutError("slow").request_sent is True


@pytest.mark.parametrize(
    ("retries_done", "max_retries", "expected"),
    [(0, 2, 7.0), (1, 2, 7.0), (2, 2, None), (0, 0, None), (5, 2, None)],
)
def test_delay_before_retry_stops_after_max_retries(
    retries_done: int, max_retries: int, expected: float | None
) -> None:
    error = _status_error(503, "temporarily_unavailable", **{"Retry-After": "7"})
    assert (
        delay_before_retry(
            error,
            repeat=Repeat.WITH_KEY,
            retries_done=retries_done,
            max_retries=max_retries,
            random_fraction=0.5,
        )
        == expected
    )


def test_a_final_error_has_no_delay() -> None:
    error = _status_error(400, "bad_email_otp")
    for repeat in Repeat:
        assert (
            delay_before_retry(
                error, repeat=repeat, retries_done=0, max_retries=2, random_fraction=0.0
            )
            is None
        )
