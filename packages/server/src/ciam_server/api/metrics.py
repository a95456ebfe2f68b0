"""Prometheus metrics at ``/metrics``: requests by endpoint, status and error code, latency,
the argon2 pool, and deliveries, kept by prometheus_client's own counters, histogram and gauges.

Each server process counts for itself; with several workers, scrape each (or run one worker per
instance), as Prometheus expects.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
    Sender,
)
from ciam_shared import ErrorBody

MEDIA_TYPE = "text/plain; version=0.0.4"
"""The exposition format ``generate_latest`` writes; Litestar adds ``charset=utf-8`` itself, as
it does to every ``text/`` type."""

_error_decoder = msgspec.json.Decoder(ErrorBody)


class _Argon2Operations(Collector):
    def __init__(self, hashing: PasswordHashing) -> None:
        self._hashing = hashing

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "ciam_argon2_operations",
            "argon2 hash and verify calls finished.",
            value=self._hashing.operations,
        )


class Metrics:
    """The server's metrics, in a registry of its own."""

    def __init__(self, hashing: PasswordHashing) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ciam_requests",
            "API requests answered, by endpoint, HTTP status and error code.",
            ["endpoint", "status", "error"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ciam_request_duration_seconds",
            "Time to answer an API request.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.deliveries = Counter(
            "ciam_deliveries",
            "Messages handed to delivery, by channel, kind and outcome.",
            ["channel", "kind", "outcome"],
            registry=self.registry,
        )
        Gauge(
            "ciam_argon2_queue_waiting",
            "argon2 calls waiting for a thread of the pool.",
            registry=self.registry,
        ).set_function(lambda: hashing.waiting)
        Gauge("ciam_argon2_pool_size", "Threads of the argon2 pool.", registry=self.registry).set(
            hashing.pool_size
        )
        self.registry.register(_Argon2Operations(hashing))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Measure:
    """What the request metrics have learned of one answer so far."""

    __slots__ = ("error", "started", "status")

    def __init__(self, started: float) -> None:
        self.started = started
        self.status = 500
        self.error = ""


_MEASURE = "ciam_measure"
"""Where a request's :class:`_Measure` is kept in its scope's state."""


class RequestMetrics:
    """Counts and times every request to a known route, from the app's hooks
    (:mod:`ciam_server.api.hooks`): :meth:`start` before the request is handled, :meth:`observe`
    on each message of its answer. Reads the error code of error answers from their body: every
    answer of status 400 or above is an error body of the contract's shape, and a small one."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def start(self, scope: Scope) -> None:
        scope["state"][_MEASURE] = _Measure(time.perf_counter())

    def observe(self, message: Message, scope: Scope) -> None:
        """Note the status, the error code, and once the answer's last part goes, count and
        time it. Answers of requests :meth:`start` did not see (no known route) are left out."""
        measure: _Measure | None = scope["state"].get(_MEASURE)
        if measure is None:
            return
        if message["type"] == "http.response.start":
            measure.status = message["status"]
            return
        if message["type"] != "http.response.body":
            return
        if measure.status >= 400 and not measure.error:
            try:
                measure.error = _error_decoder.decode(message.get("body", b"")).error
            except msgspec.DecodeError:
                measure.error = "unreadable"
        if message.get("more_body", False):
            return
        del scope["state"][_MEASURE]
        endpoint = str(scope.get("path_template") or scope["path"])
        self.metrics.latency.labels(endpoint).observe(time.perf_counter() - measure.started)
        self.metrics.requests.labels(endpoint, str(measure.status), measure.error).inc()


class MeteredSender:
    """A :class:`Sender` that counts what it hands over and what fails."""

    def __init__(self, sender: Sender, metrics: Metrics) -> None:
        self._sender = sender
        self._deliveries = metrics.deliveries

    async def _count(self, channel: str, kind: str, delivery: Awaitable[None]) -> None:
        try:
            await delivery
        except DeliveryFailedError:
            self._deliveries.labels(channel, kind, "failed").inc()
            raise
        self._deliveries.labels(channel, kind, "sent").inc()

    async def send_code(self, message: CodeMessage) -> None:
        await self._count(message.channel.value, "code", self._sender.send_code(message))

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        await self._count(
            notice.channel.value, "no_account", self._sender.send_no_account_notice(notice)
        )

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        await self._count(
            notice.channel.value, "password_changed", self._sender.send_password_changed(notice)
        )


def metrics_handler(metrics: Metrics) -> HTTPRouteHandler:
    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def serve_metrics() -> Response[bytes]:
        return Response(content=metrics.render(), media_type=MEDIA_TYPE)

    return serve_metrics
