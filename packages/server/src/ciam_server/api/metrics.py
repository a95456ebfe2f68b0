"""Prometheus metrics at ``/metrics``: requests by endpoint, status and error code, latency,
the argon2 pool, and deliveries, kept by prometheus_client's own counters, histogram and gauges.

Each server process counts for itself, unless ``PROMETHEUS_MULTIPROC_DIR`` names a directory
(prometheus_client's multi-process mode): then every process writes its values to files there,
and ``/metrics``, whichever worker of ``serve --workers N`` answers it, adds up those of all.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable
from pathlib import Path

import msgspec
from litestar import Response, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

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

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
"""The variable naming the directory of prometheus_client's multi-process mode. It must be set
before prometheus_client is first imported: the library reads it once."""

_METRIC_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")
"""The files prometheus_client's multi-process mode writes, one of each kind per process."""

_error_decoder = msgspec.json.Decoder(ErrorBody)


def multiprocess_directory() -> Path | None:
    """The directory of the multi-process mode, or None when each process counts for itself."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    return Path(directory) if directory else None


def prepare_multiprocess_directory(directory: Path) -> None:
    """Make ``directory`` if need be and remove the metric files left by the processes of an
    earlier start: prometheus_client adds up every file it finds, so the counts of processes long
    gone would otherwise be added to the new ones."""
    directory.mkdir(parents=True, exist_ok=True)
    for pattern in _METRIC_FILES:
        for path in directory.glob(pattern):
            path.unlink()


class Metrics:
    """The server's metrics, in a registry of its own."""

    def __init__(self, hashing: PasswordHashing) -> None:
        self._hashing = hashing
        self._multiprocess_directory = multiprocess_directory()
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
        self._argon2_operations = Counter(
            "ciam_argon2_operations",
            "argon2 hash and verify calls finished.",
            registry=self.registry,
        )
        self._argon2_operations_counted = 0
        # In multi-process mode the gauges add up the values of the running processes: the
        # calls waiting and the threads of every worker of the instance.
        self._argon2_waiting = Gauge(
            "ciam_argon2_queue_waiting",
            "argon2 calls waiting for a thread of the pool.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        Gauge(
            "ciam_argon2_pool_size",
            "Threads of the argon2 pool.",
            registry=self.registry,
            multiprocess_mode="livesum",
        ).set(hashing.pool_size)

    def note_argon2(self) -> None:
        """Bring the argon2 metrics up to the pool's own counts. Called at every answer counted
        and every scrape: each argon2 call is made for a request and ends before its answer, so
        the metrics miss none. (Values are written, not read from the pool when scraped, because
        the multi-process mode reads them from the processes' files.)"""
        finished = self._hashing.operations
        if finished > self._argon2_operations_counted:
            self._argon2_operations.inc(finished - self._argon2_operations_counted)
            self._argon2_operations_counted = finished
        self._argon2_waiting.set(self._hashing.waiting)

    def render(self) -> bytes:
        """The exposition: this process's metrics, or in multi-process mode every process's."""
        self.note_argon2()
        if self._multiprocess_directory is None:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, path=str(self._multiprocess_directory))
        return generate_latest(every_process)

    def close(self) -> None:
        """In multi-process mode, take this process's gauges out of the sums: it is stopping.
        Windows removes no file a process still maps: there they stay until the next start."""
        if self._multiprocess_directory is not None:
            with contextlib.suppress(PermissionError):
                mark_process_dead(os.getpid(), str(self._multiprocess_directory))


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
        self.metrics.note_argon2()


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
    @route(
        "/metrics",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        include_in_schema=False,
        sync_to_thread=False,
    )
    def serve_metrics() -> Response[bytes]:
        return Response(content=metrics.render(), media_type=MEDIA_TYPE)

    return serve_metrics
