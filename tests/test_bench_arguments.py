"""The benchmark hands its load generators what it means to, whatever the client's id and
secret look like (``token_urlsafe`` makes some that start with ``-``)."""

from __future__ import annotations

import pytest
from bench.run import Client, Durations, sdk_arguments
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
