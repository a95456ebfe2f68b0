"""The test kit (ciam_server.testing) and its fixture, used as an application's tests use them:
plain HTTP to the API, no SDK (the SDK's own tests use the kit in packages/client/tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ciam_server.testing import (
    DEFAULT_PASSWORD,
    CiamTestServer,
    CodeMessage,
    ManualClock,
    NoAccountNotice,
    NothingSentError,
    PasswordChangedNotice,
    RegisteredApplication,
    RegisteredUser,
    start_test_server,
)

NEW_PASSWORD = "Lantern-harbour-58"


def send(http: httpx.Client, app: RegisteredApplication, **address: str) -> httpx.Response:
    return http.post(
        "/otp/send",
        json={"client_id": app.client_id, "usage": "reset_password", **address},
    )


def reset(
    http: httpx.Client, app: RegisteredApplication, user: RegisteredUser, code: str, token: str
) -> httpx.Response:
    return http.post(
        "/reset_user_password",
        json={
            "client_id": app.client_id,
            "email": user.email,
            "email_otp": code,
            "email_otp_token": token,
            "password": NEW_PASSWORD,
        },
    )


@pytest.fixture
def spa(ciam_test_server: CiamTestServer) -> RegisteredApplication:
    return ciam_test_server.create_application("spa", allow_otp_send=True)


@pytest.fixture
def user(ciam_test_server: CiamTestServer) -> RegisteredUser:
    return ciam_test_server.create_user()


@pytest.fixture
def http(ciam_test_server: CiamTestServer) -> httpx.Client:
    return ciam_test_server.http_client()


def error_code(response: httpx.Response) -> Any:
    return response.json()["error"]


def test_a_full_reset_through_the_transport(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    sent = send(http, spa, email=user.email)
    assert sent.status_code == 200, sent.text
    code = ciam_test_server.last_code(user.email)
    assert isinstance(code, CodeMessage)
    assert (code.to, code.usage) == (user.email, "reset_password")

    answer = reset(http, spa, user, code.code, sent.json()["otp_token"])

    assert answer.status_code == 200, answer.text
    assert ciam_test_server.password_matches(user.email, NEW_PASSWORD)
    assert not ciam_test_server.password_matches(user.email, DEFAULT_PASSWORD)
    notice = ciam_test_server.last_notice(user.email, PasswordChangedNotice)
    assert notice.changed_at == ciam_test_server.clock()


def test_the_base_url_is_a_real_socket(ciam_test_server: CiamTestServer) -> None:
    base_url = ciam_test_server.base_url

    assert base_url.startswith("http://127.0.0.1:")
    assert ciam_test_server.base_url == base_url  # one socket, started once
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}


async def test_the_async_transport_in_an_async_test(
    ciam_test_server: CiamTestServer, spa: RegisteredApplication, user: RegisteredUser
) -> None:
    async with ciam_test_server.async_http_client() as http:
        sent = await http.post(
            "/otp/send",
            json={"client_id": spa.client_id, "usage": "reset_password", "email": user.email},
        )

    assert sent.status_code == 200, sent.text
    assert ciam_test_server.last_code(user.email).code.isdigit()


def test_a_confidential_application_authenticates_with_its_secret(
    ciam_test_server: CiamTestServer, user: RegisteredUser, http: httpx.Client
) -> None:
    web = ciam_test_server.create_application("web")
    assert web.client_secret is not None
    assert web.client_secret not in repr(web)
    body = {"usage": "reset_password", "email": user.email}

    assert http.post("/otp/send", json=body, auth=(web.client_id, "wrong")).status_code == 401
    assert http.post("/otp/send", json=body, auth=(web.client_id, web.client_secret)).is_success


def test_an_expired_code_by_the_clock(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    token = send(http, spa, email=user.email).json()["otp_token"]
    code = ciam_test_server.last_code(user.email).code

    ciam_test_server.clock.advance(ciam_test_server.settings.otp_code_ttl + 1)

    assert error_code(reset(http, spa, user, code, token)) == "bad_email_otp"


def test_an_expired_token_by_the_clock(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    token = send(http, spa, email=user.email).json()["otp_token"]
    code = ciam_test_server.last_code(user.email).code

    ciam_test_server.clock.advance(timedelta(seconds=ciam_test_server.settings.otp_token_ttl))

    assert error_code(reset(http, spa, user, code, token)) == "bad_email_otp_token"


def test_a_send_interval_passes_by_the_clock(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    assert send(http, spa, email=user.email).status_code == 200
    assert error_code(send(http, spa, email=user.email)) == "email_rate_limit_exceeded"

    ciam_test_server.clock.advance(ciam_test_server.settings.otp_send_interval)

    assert send(http, spa, email=user.email).status_code == 200


@pytest.mark.ciam_settings(otp_identifier_max_failures=2, otp_failure_window=120)
def test_a_lockout_ends_by_the_clock(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    token = send(http, spa, email=user.email).json()["otp_token"]
    code = ciam_test_server.last_code(user.email).code
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(2):
        assert error_code(reset(http, spa, user, wrong, token)) == "bad_email_otp"
    assert error_code(reset(http, spa, user, code, token)) == "email_rate_limit_exceeded"

    ciam_test_server.clock.advance(120)

    assert reset(http, spa, user, code, token).status_code == 200


@pytest.mark.ciam_settings(otp_send_interval=0, otp_daily_limit=2)
def test_settings_by_marker(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    assert ciam_test_server.settings.otp_daily_limit == 2
    assert [send(http, spa, email=user.email).status_code for _ in range(3)] == [200, 200, 400]


@pytest.mark.ciam_settings(password_history=1)
def test_the_history_depth_by_marker(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    """With a history of one, the new password may be the one before the current one."""
    token = send(http, spa, email=user.email).json()["otp_token"]
    code = ciam_test_server.last_code(user.email).code
    assert reset(http, spa, user, code, token).status_code == 200
    ciam_test_server.clock.advance(ciam_test_server.settings.otp_send_interval)
    token = send(http, spa, email=user.email).json()["otp_token"]

    back = http.post(
        "/reset_user_password",
        json={
            "client_id": spa.client_id,
            "email": user.email,
            "email_otp": ciam_test_server.last_code(user.email).code,
            "email_otp_token": token,
            "password": DEFAULT_PASSWORD,
        },
    )

    assert back.status_code == 200, back.text


class TestSettingsFixture:
    @pytest.fixture
    def ciam_test_server_settings(self) -> dict[str, object]:
        return {"otp_code_ttl": 60, "otp_token_ttl": 120}

    def test_the_settings_fixture_is_overridable(self, ciam_test_server: CiamTestServer) -> None:
        assert ciam_test_server.settings.otp_code_ttl == 60

    @pytest.mark.ciam_settings(otp_code_ttl=90)
    def test_a_marker_goes_over_it(self, ciam_test_server: CiamTestServer) -> None:
        assert (
            ciam_test_server.settings.otp_code_ttl,
            ciam_test_server.settings.otp_token_ttl,
        ) == (
            90,
            120,
        )


def test_the_environment_changes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CIAM_OTP_CODE_TTL", "7")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CIAM_OTP_SEND_INTERVAL=5\n")

    with start_test_server(tmp_path / "server") as server:
        assert (server.settings.otp_code_ttl, server.settings.otp_send_interval) == (300, 30)
        assert server.settings.ip_rate_limit == 0  # off: it counts in wall time


def test_a_frozen_user_cannot_reset_until_unfrozen(
    ciam_test_server: CiamTestServer,
    spa: RegisteredApplication,
    user: RegisteredUser,
    http: httpx.Client,
) -> None:
    token = send(http, spa, email=user.email).json()["otp_token"]
    code = ciam_test_server.last_code(user.email).code

    ciam_test_server.freeze_user(user.email)
    assert error_code(reset(http, spa, user, code, token)) == "abnormal_user_status"
    ciam_test_server.unfreeze_user(user.email)

    assert reset(http, spa, user, code, token).status_code == 200


def test_users_are_made_as_asked(ciam_test_server: CiamTestServer) -> None:
    given = ciam_test_server.create_user(email="Ada@Example.COM", password="Quiet-meadow-42")
    made = [ciam_test_server.create_user() for _ in range(2)]

    assert given.email == "ada@example.com"
    assert ciam_test_server.password_matches("ADA@example.com", "Quiet-meadow-42")
    addresses = [given, *made]
    assert len({user.email for user in addresses} | {user.phone_number for user in addresses}) == 6
    with pytest.raises(LookupError):
        ciam_test_server.freeze_user("nobody@example.com")


@pytest.mark.ciam_settings(unknown_account_delivery="notice")
def test_the_notice_to_an_unknown_address(
    ciam_test_server: CiamTestServer, spa: RegisteredApplication, http: httpx.Client
) -> None:
    with pytest.raises(NothingSentError):
        ciam_test_server.last_notice("nobody@example.com", NoAccountNotice)

    assert send(http, spa, email="Nobody@example.com").status_code == 200

    notice = ciam_test_server.last_notice("nobody@example.com", NoAccountNotice)
    assert notice.to == "nobody@example.com"
    with pytest.raises(NothingSentError, match=r"no code was sent to nobody@example\.com"):
        ciam_test_server.last_code("nobody@example.com")


def test_two_servers_share_nothing(tmp_path: Path) -> None:
    with (
        start_test_server(tmp_path / "a") as first,
        start_test_server(tmp_path / "b", {"otp_daily_limit": 1}) as second,
    ):
        user = first.create_user()
        app = first.create_application("spa", allow_otp_send=True)
        first.clock.advance(3600)
        with first.http_client() as http:
            assert send(http, app, email=user.email).status_code == 200

        assert second.find_user(user.email) is None
        assert second.outbox.messages == []
        assert second.settings.otp_daily_limit == 1 != first.settings.otp_daily_limit
        assert second.clock() < first.clock()


def test_the_clock_starts_where_asked_and_only_set_goes_back(tmp_path: Path) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    with start_test_server(tmp_path, clock=ManualClock(start)) as server:
        server.clock.advance(timedelta(days=1))
        assert server.clock() == start + timedelta(days=1)
        with pytest.raises(ValueError, match="forward"):
            server.clock.advance(-1)
        server.clock.set(start)
        assert server.clock() == start
        with pytest.raises(ValueError, match="timezone-aware"):
            server.clock.set(datetime(2030, 1, 1))


def test_another_database_by_its_url(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}"

    with start_test_server(tmp_path / "server", {"database_url": url}) as server:
        server.create_user(email="ada@example.com")

    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "server" / "ciam.db").exists()
