"""No test of the SDK ever waits between retries."""

from __future__ import annotations

import pytest

from ciam_client import _client


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays both clients asked to wait, in order; nothing actually waits."""
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def async_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(_client, "_sleep", sleep)
    monkeypatch.setattr(_client, "_async_sleep", async_sleep)
    return delays
