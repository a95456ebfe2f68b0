"""Client lifecycle, repr and the sync/async parity."""

from __future__ import annotations

import inspect

import httpx
import pytest

from ciam_client import AsyncCiamClient, CiamClient

BASE_URL = "https://ciam.test"
CLIENT_ID = "web-app"
CLIENT_SECRET = "client-secret-value"
PASSWORD = "new-Password-value-1"
OTP = "123456"
OTP_TOKEN = "otp-token-value"


def test_repr_never_shows_the_secret() -> None:
    for cls in (CiamClient, AsyncCiamClient):
        client = cls(base_url=BASE_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        assert repr(client) == f"{cls.__name__}(base_url={BASE_URL!r}, client_id={CLIENT_ID!r})"


class _Recorder:
    """A mock transport's handler that answers 200 and keeps the requests it saw."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200)


def test_a_given_http_client_is_used_and_left_open() -> None:
    recorder = _Recorder()
    http_client = httpx.Client(transport=httpx.MockTransport(recorder))
    with CiamClient(base_url=BASE_URL, client_id=CLIENT_ID, http_client=http_client) as client:
        client.reset_user_password(password=PASSWORD, otp=OTP, otp_token=OTP_TOKEN, email="a@b.c")
    client.close()

    assert len(recorder.requests) == 1
    assert not http_client.is_closed
    http_client.close()


async def test_a_given_async_http_client_is_used_and_left_open() -> None:
    recorder = _Recorder()
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    async with AsyncCiamClient(
        base_url=BASE_URL, client_id=CLIENT_ID, http_client=http_client
    ) as client:
        await client.reset_user_password(
            password=PASSWORD, otp=OTP, otp_token=OTP_TOKEN, email="a@b.c"
        )
    await client.aclose()

    assert len(recorder.requests) == 1
    assert not http_client.is_closed
    await http_client.aclose()


def test_the_given_http_client_s_own_headers_are_kept() -> None:
    recorder = _Recorder()
    with httpx.Client(transport=httpx.MockTransport(recorder), headers={"X-Test": "yes"}) as http:
        CiamClient(base_url=BASE_URL, client_id=CLIENT_ID, http_client=http).reset_user_password(
            password=PASSWORD, otp=OTP, otp_token=OTP_TOKEN, email="a@b.c"
        )

    assert recorder.requests[0].headers["X-Test"] == "yes"
    assert recorder.requests[0].headers["User-Agent"].startswith("ciam-client/")


def test_an_own_http_client_is_closed_on_exit() -> None:
    with CiamClient(base_url=BASE_URL, client_id=CLIENT_ID) as client:
        pass
    assert client._http.is_closed


async def test_an_own_async_http_client_is_closed_on_exit() -> None:
    async with AsyncCiamClient(base_url=BASE_URL, client_id=CLIENT_ID) as client:
        pass
    assert client._http.is_closed


def _public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"}


API_METHODS = [
    "send_otp",
    "reset_user_password",
    "sign_in",
    "refresh",
    "revoke",
    "change_password",
    "userinfo",
]


def test_both_clients_offer_the_same_methods() -> None:
    assert _public_methods(CiamClient) - {"close"} == set(API_METHODS)
    assert _public_methods(AsyncCiamClient) - {"aclose"} == set(API_METHODS)
    for name in API_METHODS:
        assert not inspect.iscoroutinefunction(getattr(CiamClient, name))
        assert inspect.iscoroutinefunction(getattr(AsyncCiamClient, name))
        assert getattr(CiamClient, name).__doc__
        assert getattr(AsyncCiamClient, name).__doc__


@pytest.mark.parametrize("name", ["__init__", *API_METHODS])
def test_both_clients_take_the_same_arguments(name: str) -> None:
    sync = inspect.signature(getattr(CiamClient, name), eval_str=True)
    async_ = inspect.signature(getattr(AsyncCiamClient, name), eval_str=True)

    if name == "__init__":
        assert sync.parameters["http_client"].annotation == httpx.Client | None
        assert async_.parameters["http_client"].annotation == httpx.AsyncClient | None
        sync = _without(sync, "http_client")
        async_ = _without(async_, "http_client")
    assert sync == async_
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in sync.parameters.items() if n != "self"
    )


def _without(signature: inspect.Signature, name: str) -> inspect.Signature:
    return signature.replace(
        parameters=[p for p in signature.parameters.values() if p.name != name]
    )
