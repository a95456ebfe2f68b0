"""``serve --workers 2`` in prometheus_client's multi-process mode (``PROMETHEUS_MULTIPROC_DIR``):
``/metrics``, whichever worker answers it, counts the requests that both workers served."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from .production_support import (
    ProductionServer,
    cli,
    launch,
    mailbox,
    production_env,
    serve_command,
    stop,
    wait_until_serving,
)

WORKERS = 2
REQUESTS_AT_MOST = 400
REFUSED = {"endpoint": "/otp/send", "status": "401", "error": "invalid_client"}
"""The labels of the requests the test sends: a send for an application that does not exist."""


def _send(server: ProductionServer) -> None:
    """One request on a connection of its own, so that either worker may take it."""
    response = httpx.post(
        f"{server.base_url}/otp/send",
        json={"client_id": "no-such-app", "usage": "reset_password"},
        timeout=10,
    )
    assert response.status_code == 401, response.text


def _counted_by_each_worker(directory: Path) -> dict[str, float]:
    """The refused sends each process has counted, read from its own counter file."""
    counted = {}
    for path in directory.glob("counter_*.db"):
        counted[path.stem] = sum(
            sample.value
            for metric in MultiProcessCollector.merge([str(path)])
            for sample in metric.samples
            if sample.name == "ciam_requests_total" and sample.labels == REFUSED
        )
    return counted


def _scrape(server: ProductionServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_add_up_the_requests_every_worker_served(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = directory / "counter_999999999.db"
    stale.write_bytes(b"a file left by the processes of an earlier start")
    with mailbox() as mail:
        env = production_env(
            tmp_path,
            **mail.settings(),
            PROMETHEUS_MULTIPROC_DIR=str(directory),
            CIAM_ARGON2_POOL_SIZE="1",
        )
        cli(env, "db", "upgrade")
        server = launch(tmp_path, serve_command("--workers", str(WORKERS)), env)
        try:
            wait_until_serving(server)
            assert not stale.exists(), "serve did not empty the directory"
            sent = 0
            counted = _counted_by_each_worker(directory)
            while sent < REQUESTS_AT_MOST and sum(n > 0 for n in counted.values()) < WORKERS:
                for _ in range(10):
                    _send(server)
                sent += 10
                counted = _counted_by_each_worker(directory)
            assert sum(n > 0 for n in counted.values()) == WORKERS, counted
            assert sum(counted.values()) == sent

            for _ in range(6):  # each scrape answered by either worker
                samples = _scrape(server)
                assert samples[("ciam_requests_total", frozenset(REFUSED.items()))] == sent
                # The live workers' pools, summed: one thread each.
                assert samples[("ciam_argon2_pool_size", frozenset())] == WORKERS
                assert samples[("ciam_argon2_queue_waiting", frozenset())] == 0
        finally:
            stop(server)
    assert not list(directory.glob("gauge_live*.db")), "a stopped worker's gauges are left"
