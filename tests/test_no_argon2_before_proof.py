"""No reset that fails to prove its code makes the real server run argon2.

The server runs with one hashing thread and argon2 parameters whose memory, 512 MiB a call, no
other part of it comes near. argon2 writes every block of that memory, so a single call lifts the
server process's peak resident set size (the kernel's ``VmHWM``) by about 512 MiB: a count of the
work the process did, read off the process, not a timing. Fifty refused resets (unknown client,
wrong secret, wrong or foreign token, wrong code, a dead token, no account, a refused password)
leave that peak where it was; one reset with the right code lifts it, so the gauge does see
argon2. Where the server exports ``ciam_argon2_operations_total`` at ``/metrics``, that count is
checked too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ciam_client import (
    APIStatusError,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    CiamClient,
    InvalidClientError,
    InvalidNewPasswordError,
    UserNotFoundError,
)

from .conftest import NEW_PASSWORD, App, Server, _start, unique_client_id, unique_email, wrong_code

ARGON2_MEMORY_MIB = 512
MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the server's peak RSS from /proc"
)


@pytest.fixture(scope="module")
def costly_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(
        tmp_path_factory.mktemp("costly"),
        CIAM_ARGON2_MEMORY_KIB=str(ARGON2_MEMORY_MIB * 1024),
        CIAM_ARGON2_TIME_COST="1",
        CIAM_ARGON2_PARALLELISM="1",
        CIAM_ARGON2_POOL_SIZE="1",
        CIAM_IP_RATE_LIMIT="0",  # fifty refusals from one address must reach the reset flow
    )


def peak_rss(server: Server) -> int:
    """The server process's peak resident set size so far, in bytes."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) * 1024


def argon2_operations(server: Server) -> float | None:
    """The server's own count of argon2 calls, where ``/metrics`` exports it."""
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    if response.status_code != 200:
        return None
    samples = re.findall(
        r"^ciam_argon2_operations_total(?:\{[^}]*\})?\s+(\S+)$", response.text, re.MULTILINE
    )
    return sum(map(float, samples)) if samples else None


def refused(expected: type[APIStatusError], call: Callable[[], object]) -> None:
    with pytest.raises(APIStatusError) as error:
        call()
    assert type(error.value) is expected, error.value


def test_refused_resets_run_no_argon2_and_a_proven_one_does(costly_server: Server) -> None:
    server = costly_server
    app: App = server.create_app("web")
    user = server.create_user()
    no_account, dead, foreign = unique_email("none"), unique_email("dead"), unique_email("other")
    ciam = CiamClient(
        base_url=server.base_url,
        client_id=app.client_id,
        client_secret=app.client_secret,
        max_retries=0,
        timeout=120,
    )
    strangers = CiamClient(
        base_url=server.base_url,
        client_id=unique_client_id("nobody"),
        client_secret="x",
        max_retries=0,
    )
    impostor = CiamClient(
        base_url=server.base_url, client_id=app.client_id, client_secret="wrong", max_retries=0
    )
    with ciam, strangers, impostor:
        token = {to: ciam.send_otp(email=to).otp_token for to in (user.email, no_account, dead)}
        code = {to: server.last_code(to) for to in token}

        def reset(
            client: CiamClient, to: str, *, otp_token: str, otp: str, password: str = NEW_PASSWORD
        ) -> Callable[[], None]:
            return lambda: client.reset_user_password(
                email=to, otp=otp, otp_token=otp_token, password=password
            )

        mine = {"otp_token": token[user.email], "otp": code[user.email]}
        bad_code = wrong_code(code[user.email])
        refusals: list[tuple[type[APIStatusError], Callable[[], None]]] = [
            *[(InvalidClientError, reset(strangers, user.email, **mine))] * 10,
            *[(InvalidClientError, reset(impostor, user.email, **mine))] * 10,
            *[
                (
                    BadEmailOtpTokenError,
                    reset(ciam, foreign, otp_token=secrets.token_urlsafe(32), otp=bad_code),
                )
            ]
            * 10,
            *[(BadEmailOtpTokenError, reset(ciam, foreign, **mine))] * 8,  # another address's
            *[
                (
                    BadEmailOtpError,
                    reset(ciam, user.email, otp_token=mine["otp_token"], otp=bad_code),
                )
            ]
            * 4,
            *[
                (
                    BadEmailOtpError,
                    reset(ciam, dead, otp_token=token[dead], otp=wrong_code(code[dead])),
                )
            ]
            * 5,
            # The right code comes after five wrong ones: the token is dead.
            (BadEmailOtpTokenError, reset(ciam, dead, otp_token=token[dead], otp=code[dead])),
            (
                UserNotFoundError,
                reset(ciam, no_account, otp_token=token[no_account], otp=code[no_account]),
            ),
            # The code is proven, but the policy refuses the password before any hashing.
            (InvalidNewPasswordError, reset(ciam, user.email, **mine, password="password1")),
        ]
        assert len(refusals) == 50

        operations_before = argon2_operations(server)
        peak_before = peak_rss(server)
        for expected, call in refusals:
            refused(expected, call)
        peak_after_refusals = peak_rss(server)
        operations_after_refusals = argon2_operations(server)

        reset(ciam, user.email, **mine)()  # the right code: the history check and the new hash
        peak_after_reset = peak_rss(server)
        operations_after_reset = argon2_operations(server)

    assert peak_after_refusals - peak_before < ARGON2_MEMORY_MIB // 4 * MIB
    assert peak_after_reset - peak_after_refusals > ARGON2_MEMORY_MIB * 3 // 4 * MIB
    if operations_before is not None:
        assert operations_after_refusals == operations_before
        assert operations_after_reset is not None
        assert operations_after_reset > operations_after_refusals
