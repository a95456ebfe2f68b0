"""The benchmark hands its load generators what it means to, whatever the client's id and
secret look like (``token_urlsafe`` makes some that start with ``-``), and drives the server or
its peer as it says; wrk's sign-in bodies hold their credentials whole."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from bench.reset_load import argument_parser as reset_argument_parser
from bench.run import (
    Client,
    Durations,
    met,
    reset_arguments,
    sdk_arguments,
    sign_in_arguments,
    sign_in_line,
)
from bench.sdk_load import argument_parser
from bench.sign_in_load import Credential
from bench.sign_in_load import argument_parser as sign_in_argument_parser


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


def test_the_sign_in_load_signs_in_with_the_client_and_credentials_it_was_given() -> None:
    authorization = Client("-starts-with-a-dash", "--Xk3_secret").authorization

    parsed = sign_in_argument_parser().parse_args(
        sign_in_arguments(
            "http://127.0.0.1:8000",
            Path("credentials.json"),
            4,
            5,
            20,
            authorization=authorization,
        )
    )

    assert parsed.authorization == authorization
    assert (parsed.base_url, parsed.credentials) == ("http://127.0.0.1:8000", "credentials.json")
    assert (parsed.concurrency, parsed.warmup, parsed.window) == (4, 5, 20)


def test_a_sign_in_body_for_wrk_is_one_line_holding_the_whole_credential() -> None:
    credential = Credential("first+tag@example.com", "Wrong & so=wrong\npass%word")

    line = sign_in_line(credential)

    assert "\n" not in line
    assert parse_qs(line) == {
        "grant_type": ["password"],
        "username": [credential.username],
        "password": [credential.password],
        "scope": ["openid"],
    }


@pytest.mark.parametrize(("operations", "met_target"), [(0, True), (1, False)])
def test_wrong_passwords_for_locked_usernames_meet_their_target_only_without_argon2(
    operations: float, met_target: bool
) -> None:
    assert met("locked_sign_in_argon2_ops", operations) is met_target
