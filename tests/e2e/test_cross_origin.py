"""A browser app on another origin calls the API with ``fetch``, as docs/sdk.md shows: Chromium
sends the preflight, and the calls go through for an origin ``CIAM_CORS_ALLOW_ORIGINS`` allows
and are blocked for any other.

The app's pages are served from other ports of 127.0.0.1 (other origins to the browser); the
codes are read from the server's dev outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from ..conftest import NEW_PASSWORD, App, Server, User, _start
from .conftest import TIMEOUT_MS

APP_PAGE = b"<!doctype html><html><head><title>An app</title></head><body></body></html>"

CALL = """async ({url, body, language}) => {
    const response = await fetch(url, {
        method: "POST",
        headers: {
            "Content-Type": "application/json",
            "Idempotency-Key": crypto.randomUUID(),
            "Accept-Language": language,
        },
        body: JSON.stringify(body),
    });
    return {
        status: response.status,
        body: await response.text(),
        requestId: response.headers.get("X-Request-ID"),
        retryAfter: response.headers.get("Retry-After"),
    };
}"""

BLOCKED_CALL = f"""async (arguments_) => {{
    try {{
        await ({CALL})(arguments_);
        return "answered";
    }} catch (error) {{
        return error.name;
    }}
}}"""


class _AppPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(APP_PAGE)))
        self.end_headers()
        self.wfile.write(APP_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test's output is the browser's."""


def _serve_app_page() -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _AppPage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture(scope="module")
def app_origins() -> Iterator[tuple[str, str]]:
    """Two origins serving the app's page: the first allowed by the server, the second not."""
    allowed, allowed_origin = _serve_app_page()
    other, other_origin = _serve_app_page()
    yield allowed_origin, other_origin
    for httpd in (allowed, other):
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def cors_server(
    app_origins: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Allows the first origin; keeps 30 s between two codes to an address (for a Retry-After)."""
    yield from _start(
        tmp_path_factory.mktemp("e2e-cors"),
        CIAM_CORS_ALLOW_ORIGINS=app_origins[0],
        CIAM_OTP_SEND_INTERVAL="30",
    )


@pytest.fixture(scope="module")
def spa(cors_server: Server) -> App:
    return cors_server.create_app("spa", allow_otp_send=True)


@contextmanager
def _page_at(browser: Browser, origin: str) -> Iterator[Page]:
    """The app's page at ``origin``, in a browser context of its own."""
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{origin}/app.html")
    yield page
    context.close()


def _call(page: Page, server: Server, path: str, body: Mapping[str, object]) -> dict[str, Any]:
    url = f"{server.base_url}{path}"
    result: dict[str, Any] = page.evaluate(CALL, {"url": url, "body": body, "language": "zh-CN"})
    return result


def test_an_app_on_an_allowed_origin_resets_a_password(
    browser: Browser, app_origins: tuple[str, str], cors_server: Server, spa: App
) -> None:
    user: User = cors_server.create_user()
    send = {"client_id": spa.client_id, "usage": "reset_password", "email": user.email}
    with _page_at(browser, app_origins[0]) as page:
        sent = _call(page, cors_server, "/otp/send", send)
        assert sent["status"] == 200, sent
        again = _call(page, cors_server, "/otp/send", send)
        reset = {
            "client_id": spa.client_id,
            "email": user.email,
            "email_otp": cors_server.last_code(user.email),
            "email_otp_token": json.loads(sent["body"])["otp_token"],
            "password": NEW_PASSWORD,
        }
        done = _call(page, cors_server, "/reset_user_password", reset)

    assert sent["requestId"], "X-Request-ID is not exposed to the page"
    assert again["status"] == 400, again
    assert "email_rate_limit_exceeded" in again["body"]
    assert again["retryAfter"] is not None, "Retry-After is not exposed to the page"
    assert 0 < int(again["retryAfter"]) <= 30
    assert done["status"] == 200, done
    assert cors_server.password_matches(user, NEW_PASSWORD)


def test_an_app_on_another_origin_is_blocked(
    browser: Browser, app_origins: tuple[str, str], cors_server: Server, spa: App
) -> None:
    user: User = cors_server.create_user()
    calls = [
        ("/otp/send", {"client_id": spa.client_id, "usage": "reset_password", "email": user.email}),
        (
            "/reset_user_password",
            {
                "client_id": spa.client_id,
                "email": user.email,
                "email_otp": "123456",
                "email_otp_token": "a-token",
                "password": NEW_PASSWORD,
            },
        ),
    ]
    with _page_at(browser, app_origins[1]) as page:
        for path, body in calls:
            url = f"{cors_server.base_url}{path}"
            outcome = page.evaluate(BLOCKED_CALL, {"url": url, "body": body, "language": "en"})
            assert outcome == "TypeError", f"{path}: {outcome}"
    assert cors_server.messages(user.email) == []
