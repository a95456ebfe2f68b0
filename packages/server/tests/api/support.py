"""Values and helpers shared by the HTTP tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx

from ciam_server.config import Settings
from ciam_server.domain.passwords import Argon2Parameters
from ciam_shared import ERROR_CONTENT_TYPE

SECRET_KEY = "api-tests-challenge-key-0123456789abcdef"

WEB_CLIENT_ID = "web-app"
WEB_CLIENT_SECRET = "web-app-secret-7c1d93e0f2"
SPA_CLIENT_ID = "spa-app"  # public, enabled for /otp/send
MOBILE_CLIENT_ID = "mobile-app"  # public, not enabled for /otp/send

EMAIL = "alice@example.com"
FROZEN_EMAIL = "frozen@example.com"
NO_ACCOUNT_EMAIL = "nobody@example.com"
OLD_PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "Zephyr-Quokka-Lantern-5521"

JSON_HEADERS = {"Content-Type": "application/json"}

FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_cost_kib=1024, parallelism=1)


def basic(client_id: str, client_secret: str = "") -> str:
    """An ``Authorization`` value as the contract builds it: base64 of url-encoded parts."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


WEB_AUTH = {"Authorization": basic(WEB_CLIENT_ID, WEB_CLIENT_SECRET)}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``response`` is the contract's error: the status, the exact Content-Type, and a body of
    ``error`` and ``error_description`` (a sentence), nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == ERROR_CONTENT_TYPE
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str), body
    assert body["error_description"], body
    return body


def last_code(outbox: Path, to: str) -> str:
    """The code most recently written to the dev outbox for ``to``."""
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    codes = [line["code"] for line in lines if line["to"] == to and "code" in line]
    assert codes, f"no code was sent to {to}"
    code: str = codes[-1]
    return code


def make_settings(database_url: str, outbox: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "outbox_path": outbox,
        "secret_key": SECRET_KEY,
        "argon2_time_cost": FAST_ARGON2.time_cost,
        "argon2_memory_kib": FAST_ARGON2.memory_cost_kib,
        "argon2_parallelism": FAST_ARGON2.parallelism,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]
