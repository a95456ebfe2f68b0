"""What a caller sends (passwords, codes, tokens) is never echoed in an error nor logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from .support import EMAIL, JSON_HEADERS, WEB_AUTH, assert_error, last_code

Client = AsyncTestClient[Litestar]

# Passwords that are distinctive enough to be searched for in any text.
REFUSED_PASSWORD = "alice-Quasar-Nebula-3387"  # holds the email's local part: refused by policy
ACCEPTED_PASSWORD = "Marzipan-Glacier-Tundra-7164"


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything a log handler may render: the formatted output, each record's message and
    arguments, and the exception a record carries (a JSON formatter or an error tracker shows
    its repr, arguments included)."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.extend((record.getMessage(), repr(record.args)))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


async def test_a_failing_and_a_succeeding_reset_log_no_password_or_token(
    client: Client, outbox: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    send = await client.post(
        "/otp/send", json={"usage": "reset_password", "email": EMAIL}, headers=WEB_AUTH
    )
    token = send.json()["otp_token"]
    body = {"email": EMAIL, "email_otp_token": token, "email_otp": last_code(outbox, EMAIL)}

    refused = await client.post(
        "/reset_user_password", json=body | {"password": REFUSED_PASSWORD}, headers=WEB_AUTH
    )
    error = assert_error(refused, 400, "invalid_new_password")
    assert REFUSED_PASSWORD not in error["error_description"]

    accepted = await client.post(
        "/reset_user_password", json=body | {"password": ACCEPTED_PASSWORD}, headers=WEB_AUTH
    )
    assert accepted.status_code == 200, accepted.text

    logs = _log_text(all_logs)
    assert all_logs.records, "nothing was logged: the capture is not working"
    for secret in (REFUSED_PASSWORD, ACCEPTED_PASSWORD, token):
        assert secret not in logs


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(b'{"password": "SECRET",', id="invalid-json"),
        pytest.param(b'{"password": ["SECRET"]}', id="wrongly-typed"),
        pytest.param(b'{"password": "SECRET\xff"}', id="invalid-utf8"),
        pytest.param(b'{"password": "SECRET", "email": "no-at-sign"}', id="malformed-email"),
        pytest.param(
            b'{"password": "SECRET", "email": "alice@example.com",'
            b' "email_otp_token": "SECRET", "email_otp": "1"}',
            id="unknown-token",
        ),
    ],
)
async def test_an_error_never_repeats_the_request_body(
    client: Client, template: bytes, all_logs: pytest.LogCaptureFixture
) -> None:
    content = template.replace(b"SECRET", ACCEPTED_PASSWORD.encode())
    response = await client.post(
        "/reset_user_password", content=content, headers=WEB_AUTH | JSON_HEADERS
    )
    assert response.status_code >= 400
    assert ACCEPTED_PASSWORD not in response.text
    assert ACCEPTED_PASSWORD not in _log_text(all_logs)
