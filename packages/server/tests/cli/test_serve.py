"""``serve`` refuses a configuration that must not serve traffic before starting anything."""

from __future__ import annotations

import pytest

from .support import Invoke, error_message

SECRET_KEY = "cli-tests-secret-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_real_server(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Should a check be missing, the test fails instead of serving forever."""
    started: list[object] = []

    def run(config: object, **_: object) -> None:
        started.append(config)
        raise AssertionError("the server was started")

    monkeypatch.setattr("ciam_server.serving.run", run)
    return started


def test_production_without_a_secret_key_exits_2_naming_it(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, no_real_server: list[object]
) -> None:
    monkeypatch.setenv("CIAM_MODE", "production")
    message = error_message(invoke("serve"), exit_code=2)
    assert "CIAM_SECRET_KEY" in message
    assert no_real_server == []


def test_a_short_secret_key_exits_2(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, no_real_server: list[object]
) -> None:
    monkeypatch.setenv("CIAM_MODE", "production")
    monkeypatch.setenv("CIAM_SECRET_KEY", "too-short")
    assert "CIAM_SECRET_KEY" in error_message(invoke("serve"), exit_code=2)
    assert no_real_server == []


def test_an_invalid_configuration_exits_2(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, no_real_server: list[object]
) -> None:
    monkeypatch.setenv("CIAM_OTP_CODE_TTL", "900")
    assert "CIAM_OTP_CODE_TTL" in error_message(invoke("serve"), exit_code=2)
    assert no_real_server == []


def test_the_demo_is_refused_in_production(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, no_real_server: list[object]
) -> None:
    monkeypatch.setenv("CIAM_MODE", "production")
    monkeypatch.setenv("CIAM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("CIAM_DELIVERY", "live")
    monkeypatch.setenv("CIAM_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("CIAM_SMTP_FROM", "no-reply@example.com")
    assert "dev mode" in error_message(invoke("serve", "--demo"), exit_code=2)
    assert no_real_server == []
