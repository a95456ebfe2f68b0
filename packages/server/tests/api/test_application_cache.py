"""A running server sees a changed application once ``CIAM_APPLICATION_CACHE_TTL`` has passed."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from ciam_server.app import create_app
from ciam_server.domain.models import Channel
from ciam_server.store import SqlStore

from .support import WEB_AUTH, WEB_CLIENT_ID, assert_error, make_settings


def _send(email: str) -> dict[str, str]:
    return {"usage": "reset_password", "email": email}


@pytest.mark.parametrize("ttl", [3600, 0])
async def test_a_quota_set_after_a_request_applies_when_the_kept_application_expires(
    database_url: str, outbox: Path, store: SqlStore, ttl: int
) -> None:
    app = create_app(make_settings(database_url, outbox, application_cache_ttl=ttl))
    async with AsyncTestClient(app=app) as client:
        first = await client.post("/otp/send", json=_send("first@example.com"), headers=WEB_AUTH)
        assert first.status_code == 200
        assert await store.set_application_quota(WEB_CLIENT_ID, Channel.EMAIL, 0)
        second = await client.post("/otp/send", json=_send("second@example.com"), headers=WEB_AUTH)
    if ttl:
        assert second.status_code == 200  # the application read by the first request
    else:
        assert_error(second, 400, "insufficient_email_quota")
