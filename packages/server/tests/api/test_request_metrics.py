"""The request metrics: counted by endpoint, status and error code, and exposed as
prometheus_client exposes its own counters and histograms."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ciam_server.api.metrics import LoopCounter, LoopHistogram

from .support import WEB_AUTH

Client = AsyncTestClient[Litestar]
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def exposed(registry: CollectorRegistry) -> list[str]:
    """The registry's exposition, less prometheus_client's ``_created`` series."""
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


@pytest.mark.parametrize(
    "observed",
    [[], [0.005], [0.0050001, 0.3, 0.3, 10.0, 20.0], [0.0, 1e-9, 2.5, 7.25]],
)
def test_the_loop_histogram_is_exposed_as_prometheus_clients_own(observed: list[float]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    histogram = LoopHistogram("latency_seconds", "Latency.", ["endpoint"], BUCKETS)
    ours.register(histogram)
    reference = Histogram(
        "latency_seconds", "Latency.", ["endpoint"], buckets=BUCKETS, registry=theirs
    )
    for number, value in enumerate(observed):
        endpoint = "/a" if number % 2 else "/b"
        histogram.observe(value, endpoint)
        reference.labels(endpoint).observe(value)

    assert exposed(ours) == exposed(theirs)


def test_the_loop_counter_is_exposed_as_prometheus_clients_own() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = LoopCounter("answers", "Answers.", ["status", "error"])
    ours.register(counter)
    reference = Counter("answers", "Answers.", ["status", "error"], registry=theirs)
    for labels in [("200", ""), ("400", "invalid_request"), ("200", ""), ("200", "")]:
        counter.inc(*labels)
        reference.labels(*labels).inc()

    assert exposed(ours) == exposed(theirs)


async def test_requests_are_counted_by_endpoint_status_and_error_code(client: Client) -> None:
    for number in range(3):
        body = {"usage": "reset_password", "email": f"metered-{number}@example.com"}
        assert (await client.post("/otp/send", json=body, headers=WEB_AUTH)).status_code == 200
    refused = await client.post("/otp/send", json={"usage": "reset_password"}, headers=WEB_AUTH)
    assert refused.status_code == 400

    scraped = (await client.get("/metrics")).text
    assert 'ciam_requests_total{endpoint="/otp/send",error="",status="200"} 3.0' in scraped
    assert (
        'ciam_requests_total{endpoint="/otp/send",error="invalid_request",status="400"} 1.0'
        in scraped
    )
    assert 'ciam_request_duration_seconds_count{endpoint="/otp/send"} 4.0' in scraped


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
