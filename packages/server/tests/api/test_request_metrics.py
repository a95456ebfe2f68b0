"""The request metrics: counted by endpoint, status and error code, and exposed in
prometheus_client's text format."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from .support import WEB_AUTH

Client = AsyncTestClient[Litestar]


async def test_the_exposition_names_its_format_and_charset_once(client: Client) -> None:
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {family.name for family in text_string_to_metric_families(scraped.text)}
    assert {"ciam_requests", "ciam_argon2_queue_waiting", "ciam_argon2_pool_size"} <= families


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


async def test_counters_and_the_histogram_have_their_created_series(client: Client) -> None:
    """The time each label set was first counted, as prometheus_client keeps it."""
    body = {"usage": "reset_password", "email": "created@example.com"}
    assert (await client.post("/otp/send", json=body, headers=WEB_AUTH)).status_code == 200

    samples = {
        sample.name: sample
        for family in text_string_to_metric_families((await client.get("/metrics")).text)
        for sample in family.samples
        if sample.labels.get("endpoint") == "/otp/send"
    }
    for name in ("ciam_requests_created", "ciam_request_duration_seconds_created"):
        assert name in samples, sorted(samples)
        assert samples[name].value > 1_700_000_000  # seconds since the epoch
