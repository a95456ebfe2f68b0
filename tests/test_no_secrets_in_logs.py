"""No password, code, otp_token or client secret reaches a log, at any level.

The whole flow (a send, a wrong code, a weak password, a success, a replayed request) runs
against the app with every logger at DEBUG, SQLAlchemy's statement and parameter logging
included; every record is searched: its message, its arguments, its extra fields and its
exception. The same flow then runs against a real server process asked for DEBUG logs
(``CIAM_LOG_LEVEL``), whose whole output is searched.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from litestar.testing import TestClient

from ciam_client import BadEmailOtpError, CiamClient, InvalidNewPasswordError
from ciam_server.app import create_app
from ciam_server.config import Settings
from ciam_server.domain.clients import new_client_secret

from .conftest import Server, wrong_code
from .server_support import in_process_settings, prepare_database, run_async

OLD_PASSWORD = "Quokka-Marzipan-Old-4417"
NEW_PASSWORD = "Zephyr-Tundra-Nebula-9035"
EMAIL = "dana@example.com"
CLIENT_ID = "log-test-app"


# What every record holds about itself (its time, place, thread and process): never a secret,
# and so full of digits that a six-digit code would now and then be found in them by chance.
_RECORD_METADATA = frozenset(vars(logging.makeLogRecord({}))) - {
    "msg",
    "args",
    "exc_text",
    "stack_info",
}


class Everything(logging.Handler):
    """Keeps every record, and every text a formatter or an error tracker could make of it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(self.format(record))
        self.texts.append(str(record.msg))
        self.texts.append(repr(record.args))
        fields = vars(record).items()
        self.texts.append(
            repr({name: value for name, value in fields if name not in _RECORD_METADATA})
        )
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.texts.append(repr(error))
            self.texts.extend(traceback.format_exception(error))

    def text(self) -> str:
        return "\n".join(self.texts)


@contextmanager
def every_log_record() -> Iterator[Everything]:
    """Every logger at DEBUG, those that do not propagate to the root included.

    To be entered once the app has started: Litestar configures logging then, replacing the
    root logger's handlers and level."""
    handler = Everything()
    loggers = [logging.getLogger(), logging.getLogger("sqlalchemy.engine")]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    receiving = [logging.getLogger(), *(logger for logger in loggers if not logger.propagate)]
    for logger in receiving:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.setLevel(level)
        for logger in receiving:
            logger.removeHandler(handler)


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return in_process_settings(tmp_path, monkeypatch)


def _last_code(outbox: Path) -> str:
    lines = outbox.read_text(encoding="utf-8").splitlines()
    return str(json.loads(lines[-1])["code"])


def _run_flow(ciam: CiamClient, outbox: Path, email: str) -> list[str]:
    """Send, a wrong code, a weak password, a success; the secrets that went over the wire."""
    weak_password = f"Glacier-{email.partition('@')[0]}-4417"  # refused: holds the local part
    sent = ciam.send_otp(email=email)
    code = _last_code(outbox)
    with pytest.raises(BadEmailOtpError):
        ciam.reset_user_password(
            email=email, otp=wrong_code(code), otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    with pytest.raises(InvalidNewPasswordError):
        ciam.reset_user_password(
            email=email, otp=code, otp_token=sent.otp_token, password=weak_password
        )
    ciam.reset_user_password(email=email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD)
    return [sent.otp_token, code, wrong_code(code), weak_password]


def _assert_absent(secrets: list[str], text: str) -> None:
    found = [secret for secret in secrets if secret in text]
    assert not found, f"found in the logs: {found}"


def test_no_secret_in_any_log_record(app_settings: Settings) -> None:
    client_secret = new_client_secret()
    run_async(prepare_database(app_settings, CLIENT_ID, client_secret, {EMAIL: OLD_PASSWORD}))
    with (
        TestClient(create_app(app_settings)) as http,
        CiamClient(
            base_url=str(http.base_url),
            client_id=CLIENT_ID,
            client_secret=client_secret,
            http_client=http,
        ) as ciam,
        every_log_record() as captured,
    ):
        wire = _run_flow(ciam, app_settings.outbox_path, EMAIL)
        # A request answered from its idempotency record, and one refused before any flow.
        key = {"Idempotency-Key": "log-test-key"}
        for _ in range(2):
            http.post("/otp/send", json={"usage": "reset_password", "email": EMAIL}, headers=key)
        http.post(
            "/reset_user_password",
            content=b'{"email": "dana@example.com", "password": "' + b"\xff" + b'"}',
            headers={"Content-Type": "application/json"},
            auth=(CLIENT_ID, client_secret),
        )

    statements = [r.getMessage() for r in captured.records if r.name.startswith("sqlalchemy")]
    # On SQLite the statements of every send and code check run straight on the sqlite3
    # connection (ciam_server.store.direct), unlogged; the reset's writes go through SQLAlchemy.
    assert any("INSERT INTO password_history" in s for s in statements), (
        "SQLAlchemy logged no statement of the flow: the capture is not at DEBUG"
    )
    assert any(r.name == "httpx" for r in captured.records)
    secrets = [client_secret, OLD_PASSWORD, NEW_PASSWORD, *wire]
    _assert_absent(secrets, captured.text())


def test_no_secret_in_a_debug_server_log(limited_server: Server) -> None:
    """A real process started with ``CIAM_LOG_LEVEL=DEBUG`` (the limited server is): its whole
    output, uvicorn's access log included."""
    assert limited_server.env.get("CIAM_LOG_LEVEL") == "DEBUG"
    app = limited_server.create_app("web")
    user = limited_server.create_user(password=OLD_PASSWORD)
    assert app.client_secret is not None
    with limited_server.client(app) as ciam:
        wire = _run_flow(ciam, limited_server.outbox, user.email)
    log = limited_server.outbox.with_name("server.log")
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "/reset_user_password" in text, "the access log is missing: nothing was captured"
    _assert_absent([app.client_secret, OLD_PASSWORD, NEW_PASSWORD, *wire], text)
