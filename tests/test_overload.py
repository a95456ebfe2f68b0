"""More resets than the argon2 pool can take, on a real server: the excess is answered ``503``
with ``Retry-After`` while the admitted reset still runs, costs no argon2, and the same code
works on the retry."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .conftest import NEW_PASSWORD, Server, User, start_on
from .server_support import assert_error, retry_after

RESETS = 4
# One argon2 thread and room for four waiting calls: a reset asks room for 1 + 4 calls (its hash
# and a full history), so exactly one runs at a time. RFC 9106's memory cost makes it last long
# enough for the others to arrive meanwhile.
ONE_RESET_AT_A_TIME = {
    "CIAM_ARGON2_POOL_SIZE": "1",
    "CIAM_ARGON2_QUEUE_LIMIT": "4",
    "CIAM_ARGON2_TIME_COST": "3",
    "CIAM_ARGON2_MEMORY_KIB": "65536",
    "CIAM_ARGON2_PARALLELISM": "1",
}


@pytest.fixture(scope="module")
def narrow_server(
    database_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    yield from start_on(
        database_engine,
        tmp_path_factory.mktemp(f"narrow-{database_engine}"),
        **ONE_RESET_AT_A_TIME,
    )


def argon2_operations(server: Server) -> float:
    metrics = httpx.get(f"{server.base_url}/metrics").text
    found = re.search(r"^ciam_argon2_operations_total (\S+)$", metrics, re.MULTILINE)
    assert found, metrics
    return float(found.group(1))


def reset(http: httpx.Client, user: User, token: str, code: str) -> httpx.Response:
    body = {"email": user.email, "email_otp_token": token, "email_otp": code}
    return http.post("/reset_user_password", json={**body, "password": NEW_PASSWORD})


def test_resets_past_the_pool_s_room_are_refused_at_once_and_retried_with_the_same_code(
    narrow_server: Server,
) -> None:
    server = narrow_server
    app = server.create_app("web")
    users = [server.create_user() for _ in range(RESETS)]
    auth = (app.client_id, app.client_secret or "")
    with httpx.Client(base_url=server.base_url, auth=auth, timeout=60) as http:
        tokens = {}
        for user in users:
            sent = http.post("/otp/send", json={"usage": "reset_password", "email": user.email})
            tokens[user.email] = sent.json()["otp_token"]
        codes = {user.email: server.last_code(user.email) for user in users}
        operations_before = argon2_operations(server)

        together = threading.Barrier(RESETS)

        def timed_reset(user: User) -> tuple[User, httpx.Response, float]:
            together.wait()
            response = reset(http, user, tokens[user.email], codes[user.email])
            return user, response, time.monotonic()

        with ThreadPoolExecutor(max_workers=RESETS) as pool:
            answers = list(pool.map(timed_reset, users))

        done = [finished for _, response, finished in answers if response.status_code == 200]
        refused = [answer for answer in answers if answer[1].status_code != 200]
        assert done, [response.text for _, response, _ in answers]
        assert refused, "every reset was admitted: they did not overlap"
        for _, response, finished in refused:
            assert_error(response, 503, "temporarily_unavailable")
            assert retry_after(response) == 1
            assert finished < min(done)  # answered while the admitted reset was still running

        for user, _, _ in refused:  # the same token and code, once there is room
            time.sleep(1)
            retried = reset(http, user, tokens[user.email], codes[user.email])
            assert retried.status_code == 200, retried.text

    for user in users:
        assert server.password_matches(user, NEW_PASSWORD)
    # Each reset checked one password (the user's first) and made one hash; refusals made none.
    assert argon2_operations(server) - operations_before == 2 * RESETS
