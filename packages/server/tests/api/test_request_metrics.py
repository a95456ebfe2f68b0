"""The request metrics: counted by endpoint, status and error code, each label set looked up
once."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.metrics import MetricWrapperBase

from .support import WEB_AUTH

Client = AsyncTestClient[Litestar]
REQUEST_METRICS = {"ciam_requests", "ciam_request_duration_seconds"}


async def test_each_label_set_of_the_request_metrics_is_looked_up_once(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[tuple[str, tuple[Any, ...]]] = []
    labels = MetricWrapperBase.labels

    def counting(metric: MetricWrapperBase, *values: Any, **named: Any) -> Any:
        if metric._name in REQUEST_METRICS:
            looked_up.append((metric._name, values))
        return labels(metric, *values, **named)

    monkeypatch.setattr(MetricWrapperBase, "labels", counting)

    for number in range(3):
        body = {"usage": "reset_password", "email": f"metered-{number}@example.com"}
        assert (await client.post("/otp/send", json=body, headers=WEB_AUTH)).status_code == 200
    refused = await client.post("/otp/send", json={"usage": "reset_password"}, headers=WEB_AUTH)
    assert refused.status_code == 400

    assert sorted(looked_up) == [
        ("ciam_request_duration_seconds", ("/otp/send",)),
        ("ciam_requests", ("/otp/send", "200", "")),
        ("ciam_requests", ("/otp/send", "400", "invalid_request")),
    ]
    scraped = (await client.get("/metrics")).text
    assert 'ciam_requests_total{endpoint="/otp/send",error="",status="200"} 3.0' in scraped
    assert (
        'ciam_requests_total{endpoint="/otp/send",error="invalid_request",status="400"} 1.0'
        in scraped
    )


async def test_refusals_before_the_handler_are_counted_and_unknown_paths_are_not(
    client: Client,
) -> None:
    """A body refused before its handler runs (not declared JSON) is counted with its code; a
    request to no known route is not counted at all, though it is answered."""
    refused = await client.post(
        "/otp/send",
        content=b"usage=reset_password",
        headers=WEB_AUTH | {"Content-Type": "text/plain"},
    )
    assert refused.status_code == 415
    assert (await client.get("/no/such/path")).status_code == 404

    scraped = (await client.get("/metrics")).text
    assert (
        'ciam_requests_total{endpoint="/otp/send",error="unsupported_media_type",status="415"}'
        " 1.0" in scraped
    )
    assert "/no/such/path" not in scraped
