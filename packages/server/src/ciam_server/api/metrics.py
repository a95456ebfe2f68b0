"""Prometheus metrics at ``/metrics``: requests by endpoint, status and error code, latency,
the argon2 pool, and deliveries.

Each server process counts for itself; with several workers, scrape each (or run one worker per
instance), as Prometheus expects.

The requests and deliveries are counted as plain numbers (:class:`LoopCounter`,
:class:`LoopHistogram`) that prometheus_client's registry reads when scraped: only the event loop
counts them (the app's hooks and the senders run on it, and so does ``/metrics``), so they need
neither a lock nor a label check per call. Through prometheus_client's own counter and histogram,
counting a request took about 1.6 % of an ``/otp/send``'s instructions. Being collected rather than
kept by prometheus_client, they have no ``_created`` series.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Iterator, Sequence

import msgspec
from litestar import Response, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
    Sender,
)
from ciam_shared import ErrorBody

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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


class LoopCounter(Collector):
    """A counter by label values, counted on the event loop only."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = list(labelnames)
        self._counts: dict[tuple[str, ...], int] = {}

    def inc(self, *labels: str) -> None:
        self._counts[labels] = self._counts.get(labels, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, count in self._counts.items():
            family.add_metric(labels, count)
        yield family


class _Observed:
    """One label set's observations: how many fell in each bucket (the last one: above every
    bound), and their sum."""

    __slots__ = ("in_bucket", "total")

    def __init__(self, buckets: int) -> None:
        self.in_bucket = [0] * buckets
        self.total = 0.0


class LoopHistogram(Collector):
    """A histogram by label values, observed on the event loop only. A value equal to a bucket's
    upper bound falls in that bucket, as in Prometheus."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = list(labelnames)
        self._bounds = sorted(buckets)
        self._observed: dict[tuple[str, ...], _Observed] = {}

    def observe(self, value: float, *labels: str) -> None:
        observed = self._observed.get(labels)
        if observed is None:
            observed = self._observed[labels] = _Observed(len(self._bounds) + 1)
        observed.in_bucket[bisect_left(self._bounds, value)] += 1
        observed.total += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        bounds = [*map(floatToGoString, self._bounds), "+Inf"]
        for labels, observed in self._observed.items():
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, observed.in_bucket, strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            family.add_metric(labels, buckets, observed.total)
        yield family


class Metrics:
    """The server's metrics, in a registry of its own."""

    def __init__(self, hashing: PasswordHashing) -> None:
        self.registry = CollectorRegistry()
        self.requests = LoopCounter(
            "ciam_requests",
            "API requests answered, by endpoint, HTTP status and error code.",
            ["endpoint", "status", "error"],
        )
        self.latency = LoopHistogram(
            "ciam_request_duration_seconds",
            "Time to answer an API request.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.deliveries = LoopCounter(
            "ciam_deliveries",
            "Messages handed to delivery, by channel, kind and outcome.",
            ["channel", "kind", "outcome"],
        )
        for collector in (self.requests, self.latency, self.deliveries):
            self.registry.register(collector)
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
        self.metrics.latency.observe(time.perf_counter() - measure.started, endpoint)
        self.metrics.requests.inc(endpoint, str(measure.status), measure.error)


class MeteredSender:
    """A :class:`Sender` that counts what it hands over and what fails."""

    def __init__(self, sender: Sender, metrics: Metrics) -> None:
        self._sender = sender
        self._deliveries = metrics.deliveries

    async def _count(self, channel: str, kind: str, delivery: Awaitable[None]) -> None:
        try:
            await delivery
        except DeliveryFailedError:
            self._deliveries.inc(channel, kind, "failed")
            raise
        self._deliveries.inc(channel, kind, "sent")

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
    @route(
        "/metrics",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        include_in_schema=False,
        sync_to_thread=False,
    )
    def serve_metrics() -> Response[bytes]:
        return Response(content=metrics.render(), media_type=CONTENT_TYPE)

    return serve_metrics
