"""The benchmark hands its load generators what it means to, whatever the client's id and
secret look like (``token_urlsafe`` makes some that start with ``-``), and drives the server or
its peer as it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.reset_load import argument_parser as reset_argument_parser
from bench.run import Client, Durations, reset_arguments, sdk_arguments
from bench.sdk_load import argument_parser


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [
        ("plain-id", "plain_secret"),
        ("-starts-with-a-dash", "-Xk3_secret"),
        ("--rounds", "--Xk3_secret"),
    ],
)
def test_the_sdk_load_reads_the_id_and_secret_it_was_given(
    client_id: str, client_secret: str
) -> None:
    durations = Durations.quick()

    parsed = argument_parser().parse_args(
        sdk_arguments("http://127.0.0.1:8000", Client(client_id, client_secret), durations)
    )

    assert (parsed.client_id, parsed.client_secret) == (client_id, client_secret)
    assert parsed.base_url == "http://127.0.0.1:8000"
    assert (parsed.rounds, parsed.seconds) == (durations.sdk_rounds, durations.sdk_round)


@pytest.mark.parametrize("retry_busy", [True, False])
def test_the_reset_load_drives_the_server_with_the_client_it_was_given(retry_busy: bool) -> None:
    authorization = Client("-starts-with-a-dash", "--Xk3_secret").authorization

    parsed = reset_argument_parser().parse_args(
        reset_arguments(
            "http://127.0.0.1:8000",
            Path("pairs.json"),
            4,
            10,
            45,
            authorization=authorization,
            retry_busy=retry_busy,
        )
    )

    assert parsed.authorization == authorization
    assert not parsed.peer
    assert parsed.retry_busy is retry_busy
    assert (parsed.base_url, parsed.pairs) == ("http://127.0.0.1:8000", "pairs.json")
    assert (parsed.concurrency, parsed.warmup, parsed.window) == (4, 10, 45)


def test_the_reset_load_drives_the_peer_without_authorization() -> None:
    parsed = reset_argument_parser().parse_args(
        reset_arguments("http://127.0.0.1:8002", Path("peer-pairs.json"), 200, 0, 20)
    )

    assert parsed.peer
    assert parsed.authorization is None
    assert not parsed.retry_busy
    assert (parsed.base_url, parsed.concurrency, parsed.window) == (
        "http://127.0.0.1:8002",
        200,
        20,
    )
