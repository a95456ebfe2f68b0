"""Settings from ``CIAM_`` variables, their defaults, and the configurations the app refuses."""

from __future__ import annotations

import gc
import logging
from datetime import timedelta
from pathlib import Path

import pydantic
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from ciam_server import app as app_module
from ciam_server.app import create_app
from ciam_server.config import ConfigurationError, Delivery, Mode, Settings

from .support import SECRET_KEY, make_settings


def test_defaults(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.mode is Mode.DEV
    assert settings.delivery is Delivery.OUTBOX
    assert settings.secret_key is None
    assert settings.otp_code_ttl == 300
    assert settings.otp_token_ttl == 600
    assert settings.otp_max_attempts == 5
    assert settings.password_history == 4
    assert settings.otp.code_ttl == timedelta(seconds=300)
    assert settings.otp.token_ttl == timedelta(seconds=600)
    assert settings.otp.max_attempts == 5


def test_the_default_database_is_a_sqlite_file_in_the_working_directory(tmp_path: Path) -> None:
    url = make_url(Settings().database_url)
    assert url.get_backend_name() == "sqlite"
    assert url.database is not None
    assert Path(url.database).resolve().parent == tmp_path.resolve()


def test_ciam_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/from-env.db"
    variables = {
        "CIAM_MODE": "production",
        "CIAM_DATABASE_URL": url,
        "CIAM_DELIVERY": "outbox",
        "CIAM_OUTBOX_PATH": str(tmp_path / "mail" / "out.jsonl"),
        "CIAM_SECRET_KEY": SECRET_KEY,
        "CIAM_PASSWORD_HISTORY": "7",
        "CIAM_OTP_CODE_TTL": "120",
        "CIAM_OTP_TOKEN_TTL": "900",
        "CIAM_OTP_MAX_ATTEMPTS": "3",
        "CIAM_MAX_BODY_SIZE": "2048",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.mode is Mode.PRODUCTION
    assert settings.database_url == url
    assert settings.delivery is Delivery.OUTBOX
    assert settings.outbox_path == tmp_path / "mail" / "out.jsonl"
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == SECRET_KEY
    assert settings.password_history == 7
    assert settings.otp.code_ttl == timedelta(seconds=120)
    assert settings.otp.token_ttl == timedelta(seconds=900)
    assert settings.otp.max_attempts == 3
    assert settings.max_body_size == 2048


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTP_CODE_TTL", "1")
    monkeypatch.setenv("MODE", "production")
    settings = Settings()
    assert settings.otp_code_ttl == 300
    assert settings.mode is Mode.DEV


def test_the_secret_key_never_shows_in_the_settings_repr() -> None:
    settings = Settings(secret_key=SECRET_KEY)  # type: ignore[arg-type]
    assert SECRET_KEY not in repr(settings)
    assert SECRET_KEY not in str(settings)


def test_a_code_outliving_its_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIAM_OTP_CODE_TTL", "601")
    with pytest.raises(pydantic.ValidationError, match="CIAM_OTP_CODE_TTL"):
        Settings()
    monkeypatch.setenv("CIAM_OTP_TOKEN_TTL", "601")
    assert Settings().otp_code_ttl == 601  # equal lifetimes are fine


@pytest.mark.parametrize(
    "name",
    ["CIAM_OTP_CODE_TTL", "CIAM_OTP_TOKEN_TTL", "CIAM_OTP_MAX_ATTEMPTS", "CIAM_PASSWORD_HISTORY"],
)
@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_limits_must_be_positive_integers(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(pydantic.ValidationError):
        Settings()


def test_an_unknown_mode_or_delivery_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIAM_MODE", "staging")
    with pytest.raises(pydantic.ValidationError):
        Settings()
    monkeypatch.setenv("CIAM_MODE", "dev")
    monkeypatch.setenv("CIAM_DELIVERY", "carrier-pigeon")
    with pytest.raises(pydantic.ValidationError):
        Settings()


def test_production_without_a_secret_key_does_not_start(database_url: str, outbox: Path) -> None:
    settings = make_settings(database_url, outbox, mode="production", secret_key=None)
    with pytest.raises(ConfigurationError, match="CIAM_SECRET_KEY"):
        create_app(settings)


def test_production_without_a_secret_key_in_the_environment_does_not_start(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("CIAM_MODE", "production")
    monkeypatch.setenv("CIAM_DATABASE_URL", database_url)
    with pytest.raises(ConfigurationError, match="CIAM_SECRET_KEY"):
        create_app()


def test_production_with_a_secret_key_and_live_delivery_starts(
    database_url: str, outbox: Path
) -> None:
    create_app(
        make_settings(
            database_url,
            outbox,
            mode="production",
            delivery="live",
            smtp_host="smtp.example.com",
            smtp_from="no-reply@example.com",
        )
    )


def test_production_refuses_the_dev_outbox(database_url: str, outbox: Path) -> None:
    with pytest.raises(ConfigurationError, match="CIAM_DELIVERY=outbox"):
        create_app(make_settings(database_url, outbox, mode="production"))


@pytest.mark.parametrize("mode", ["dev", "production"])
def test_a_short_secret_key_is_refused(database_url: str, outbox: Path, mode: str) -> None:
    settings = make_settings(database_url, outbox, mode=mode, secret_key="k" * 31)
    with pytest.raises(ConfigurationError, match="CIAM_SECRET_KEY"):
        create_app(settings)
    create_app(make_settings(database_url, outbox, mode="dev", secret_key="k" * 32))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name.startswith("ciam_server")
    ]


def test_dev_mode_and_the_outbox_are_announced_at_creation(
    caplog: pytest.LogCaptureFixture, database_url: str, outbox: Path
) -> None:
    caplog.set_level(logging.WARNING)
    create_app(make_settings(database_url, outbox))
    warnings = _warnings(caplog)
    assert any("DEV MODE" in message for message in warnings), warnings
    assert any("OUTBOX" in message and str(outbox.resolve()) in message for message in warnings), (
        warnings
    )


def test_production_mode_with_live_delivery_announces_neither_dev_mode_nor_an_outbox(
    caplog: pytest.LogCaptureFixture, database_url: str, outbox: Path
) -> None:
    caplog.set_level(logging.WARNING)
    create_app(
        make_settings(
            database_url,
            outbox,
            mode="production",
            delivery="live",
            smtp_host="smtp.example.com",
            smtp_from="no-reply@example.com",
        )
    )
    warnings = _warnings(caplog)
    assert not any("DEV MODE" in message for message in warnings), warnings
    assert not any("OUTBOX" in message for message in warnings), warnings


def test_a_missing_secret_key_in_dev_mode_is_announced(
    caplog: pytest.LogCaptureFixture, database_url: str, outbox: Path
) -> None:
    caplog.set_level(logging.WARNING)
    create_app(make_settings(database_url, outbox, secret_key=None))
    assert any("CIAM_SECRET_KEY" in message for message in _warnings(caplog))


async def test_a_sqlite_database_that_cannot_be_opened_stops_the_start(
    tmp_path: Path, outbox: Path
) -> None:
    """The database is opened as the app starts, not at the first request."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/missing/t.db", outbox)

    with pytest.raises(ExceptionGroup) as raised:  # the test client's task group
        async with AsyncTestClient(create_app(settings)):
            pass

    assert raised.group_contains(OperationalError, match="unable to open database file")


def test_the_served_app_freezes_what_it_was_built_from_out_of_the_collector_s_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen_while_building: list[int] = []

    def build(_: Settings) -> object:
        frozen_while_building.append(gc.get_freeze_count())
        return object()

    monkeypatch.setattr(app_module, "configure_logging", lambda *_: None)
    monkeypatch.setattr(app_module, "create_app", build)
    try:
        app_module.create_served_app()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()

    assert frozen_while_building == [0]
    assert frozen > 0
