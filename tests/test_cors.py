"""Cross-origin calls as a browser makes them, checked on the wire: the preflight and the
``Access-Control-*`` headers of the answers, for origins that ``CIAM_CORS_ALLOW_ORIGINS``
allows and for others (the browser's own behaviour is checked in ``e2e/test_cross_origin.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import Server, _start

pytestmark = pytest.mark.sqlite_only  # nothing here reaches the store

ALLOWED = "http://127.0.0.1:3000"
API_HEADERS = {"authorization", "content-type", "idempotency-key", "accept-language"}


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(
        tmp_path_factory.mktemp("cors"),
        CIAM_CORS_ALLOW_ORIGINS=f"{ALLOWED}, https://*.example.com",
    )


def _preflight(server: Server, origin: str) -> httpx.Response:
    return httpx.options(
        f"{server.base_url}/reset_user_password",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ", ".join(sorted(API_HEADERS)),
        },
    )


def _listed(response: httpx.Response, header: str) -> set[str]:
    return {name.strip().lower() for name in response.headers.get(header, "").split(",")}


@pytest.mark.parametrize("origin", [ALLOWED, "https://app.example.com"])
def test_a_preflight_from_an_allowed_origin_allows_the_api_headers(
    cors_server: Server, origin: str
) -> None:
    response = _preflight(cors_server, origin)
    assert response.is_success, response.text
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "post" in _listed(response, "Access-Control-Allow-Methods")
    assert _listed(response, "Access-Control-Allow-Headers") >= API_HEADERS
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_an_answer_to_an_allowed_origin_exposes_retry_after_and_the_request_id(
    cors_server: Server,
) -> None:
    response = httpx.post(
        f"{cors_server.base_url}/otp/send",
        json={"client_id": "no-such-app", "usage": "reset_password", "email": "a@example.com"},
        headers={"Origin": ALLOWED},
    )
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = _listed(response, "Access-Control-Expose-Headers")
    assert {"retry-after", "x-request-id"} <= exposed


@pytest.mark.parametrize("origin", ["http://127.0.0.1:3001", "https://example.com.evil.test"])
def test_a_preflight_from_another_origin_is_not_allowed(cors_server: Server, origin: str) -> None:
    response = _preflight(cors_server, origin)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert not response.is_success


def test_without_the_setting_no_origin_is_allowed(server: Server) -> None:
    assert "CIAM_CORS_ALLOW_ORIGINS" not in server.env
    preflight = _preflight(server, ALLOWED)
    assert not any(name.lower().startswith("access-control-") for name in preflight.headers)
    answer = httpx.post(
        f"{server.base_url}/otp/send",
        json={"client_id": "no-such-app", "usage": "reset_password", "email": "a@example.com"},
        headers={"Origin": ALLOWED},
    )
    assert answer.status_code == 401
    assert not any(name.lower().startswith("access-control-") for name in answer.headers)
