"""Several server processes on one PostgreSQL database and one Redis, as a deployment runs them.

The instances share a fresh PostgreSQL database (its schema made by ``ciam-server db upgrade``
before they start), ``CIAM_SECRET_KEY`` and a Redis for the per-address request limit, each with
an outbox of its own, and keep their limits on. What one instance stored, the other must honour:
codes and tokens, the send interval, the daily cap, application quotas, the request limit per
client address, and idempotency records.

Every client connects from a loopback address of its own (127.a.b.c: Linux routes all of
127.0.0.0/8 to the loopback interface, and the server sees that address as the client's), so
that the request limit counts one test's requests alone, even in a Redis other runs share.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager, contextmanager

import httpx
import pytest
import redis
from click.testing import CliRunner

from ciam_client import (
    AsyncCiamClient,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    CiamClient,
    EmailRateLimitExceededError,
    InsufficientEmailQuotaError,
    SmsRateLimitExceededError,
    TooManyRequestsError,
)
from ciam_server.cli import main as ciam_server_cli

from .ci import unavailable
from .conftest import (
    NEW_PASSWORD,
    App,
    Server,
    User,
    _start,
    api_error,
    unique_email,
    unique_phone_number,
    wrong_code,
)
from .postgres import fresh_database

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SEND_INTERVAL = 30
DAILY_LIMIT = 3
IP_RATE_LIMIT = 6  # requests per minute and client address
OTHER_PASSWORD = "Compass-meadow-64"
MAX_ATTEMPTS = 5  # the server's default CIAM_OTP_MAX_ATTEMPTS
FAILURE_LIMIT = 10  # the server's default CIAM_OTP_IDENTIFIER_MAX_FAILURES
LIMITS = {
    "CIAM_OTP_SEND_INTERVAL": str(SEND_INTERVAL),
    "CIAM_OTP_DAILY_LIMIT": str(DAILY_LIMIT),
    "CIAM_IP_RATE_LIMIT": str(IP_RATE_LIMIT),
}

# --- client addresses --------------------------------------------------------------------------

_network = random.randrange(1, 255)  # noqa: S311 - only to keep apart runs sharing a Redis
_hosts = itertools.count(random.randrange(254 * 254))  # noqa: S311


def loopback_address() -> str:
    """A loopback address of 127.<n>.0.0/16 other than 127.0.0.1, new in this session."""
    host = next(_hosts) % (254 * 254)
    return f"127.{_network}.{host // 254 + 1}.{host % 254 + 1}"


@contextmanager
def http_from(address: str | None = None) -> Iterator[httpx.Client]:
    """An HTTP client connecting from ``address`` (default: an address of its own)."""
    transport = httpx.HTTPTransport(local_address=address or loopback_address())
    with httpx.Client(transport=transport, timeout=30) as client:
        yield client


@contextmanager
def sdk(instance: Server, app: App, *, address: str | None = None) -> Iterator[CiamClient]:
    """The sync SDK against ``instance``, without retries, so that every refusal shows."""
    with (
        http_from(address) as http,
        CiamClient(
            base_url=instance.base_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            max_retries=0,
            http_client=http,
        ) as client,
    ):
        yield client


@asynccontextmanager
async def async_sdk(instance: Server, app: App) -> AsyncIterator[AsyncCiamClient]:
    """The async SDK against ``instance``, from an address of its own, without retries."""
    transport = httpx.AsyncHTTPTransport(local_address=loopback_address())
    async with (
        httpx.AsyncClient(transport=transport, timeout=30) as http,
        AsyncCiamClient(
            base_url=instance.base_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            max_retries=0,
            http_client=http,
        ) as client,
    ):
        yield client


# --- the instances -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("CIAM_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except (OSError, redis.RedisError) as error:
        unavailable(
            f"Redis at {url} is unreachable ({error}); set CIAM_TEST_REDIS_URL to a reachable one"
        )
    finally:
        client.close()
    return url


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database, brought to the latest schema by ``ciam-server db upgrade``,
    as an operator does before starting several instances."""
    with fresh_database() as url:

        def upgrade() -> None:
            result = CliRunner().invoke(
                ciam_server_cli,
                ["db", "upgrade"],
                env={"CIAM_DATABASE_URL": url},
                catch_exceptions=False,
            )
            assert result.exit_code == 0, result.stderr

        with ThreadPoolExecutor(max_workers=1) as worker:  # the command runs a loop of its own
            worker.submit(upgrade).result()
        yield url


@contextmanager
def started_together(
    tmp_path_factory: pytest.TempPathFactory, name: str, settings: dict[str, str], count: int = 2
) -> Iterator[list[Server]]:
    """``count`` instances with the same ``settings``, started side by side (each start is a
    Python start and the server's imports), each with a directory and an outbox of its own;
    all are stopped at the end."""
    starts = [_start(tmp_path_factory.mktemp(f"{name}-{n}"), **settings) for n in range(count)]
    with ExitStack() as stack:
        for start in starts:
            stack.callback(start.close)  # stops a started server; a no-op for the others
        with ThreadPoolExecutor(max_workers=count) as pool:
            futures = [pool.submit(next, start) for start in starts]
        yield [future.result() for future in futures]


@pytest.fixture(scope="module")
def instances(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, database_url: str
) -> Iterator[list[Server]]:
    """Two instances, A and B: a code may be sent to an address every 30 s, 3 times a day."""
    settings = {**LIMITS, "CIAM_DATABASE_URL": database_url, "CIAM_REDIS_URL": redis_url}
    with started_together(tmp_path_factory, "instance", settings) as started:
        yield started


@pytest.fixture(scope="module")
def capped_instances(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, database_url: str
) -> Iterator[list[Server]]:
    """Two more instances on the same database, without the send interval, to reach the daily
    cap at once."""
    settings = {
        **LIMITS,
        "CIAM_OTP_SEND_INTERVAL": "0",
        "CIAM_DATABASE_URL": database_url,
        "CIAM_REDIS_URL": redis_url,
    }
    with started_together(tmp_path_factory, "capped", settings) as started:
        yield started


@pytest.fixture(scope="module")
def app(instances: list[Server]) -> App:
    """A confidential application, registered through instance A's database, which is B's."""
    return instances[0].create_app("web")


@pytest.fixture
def user(instances: list[Server]) -> User:
    return instances[0].create_user()


def notices(instances: list[Server], to: str) -> int:
    """How many "your password changed" messages went to ``to``, through any instance."""
    return sum(
        message["usage"] == "password_changed"
        for instance in instances
        for message in instance.messages(to)
    )


async def race_sends(
    instances: list[Server], app: App, addresses: list[dict[str, str]]
) -> Counter[str]:
    """Send a code to each of ``addresses`` at once, through A, B, A, B, ... in turn; count the
    outcomes: "sent", or the class name of the error."""

    async def send(instance: Server, address: dict[str, str]) -> None:
        async with async_sdk(instance, app) as client:
            await client.send_otp(**address)

    outcomes = await asyncio.gather(
        *(send(instances[n % 2], address) for n, address in enumerate(addresses)),
        return_exceptions=True,
    )
    return Counter("sent" if outcome is None else type(outcome).__name__ for outcome in outcomes)


# --- codes and tokens --------------------------------------------------------------------------


def test_a_code_sent_through_one_instance_resets_through_the_other(
    instances: list[Server], app: App, user: User
) -> None:
    a, b = instances
    with sdk(a, app) as through_a, sdk(b, app) as through_b:
        sent = through_a.send_otp(email=user.email)
        through_b.reset_user_password(
            email=user.email,
            otp=a.last_code(user.email),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
        assert a.password_matches(user, NEW_PASSWORD)

        sent = through_b.send_otp(phone_number=user.phone_number)
        through_a.reset_user_password(
            phone_number=user.phone_number,
            otp=b.last_code(user.phone_number),
            otp_token=sent.otp_token,
            password=OTHER_PASSWORD,
        )
    assert b.password_matches(user, OTHER_PASSWORD)
    assert a.messages(user.email)[-1]["usage"] == "reset_password"
    assert b.messages(user.email)[-1]["usage"] == "password_changed"


async def test_a_token_raced_through_both_instances_resets_once(
    instances: list[Server], app: App, user: User
) -> None:
    passwords = [f"Racing-instance-{n}" for n in range(10)]
    async with async_sdk(instances[0], app) as ciam:
        sent = await ciam.send_otp(email=user.email)
    code = instances[0].last_code(user.email)

    async def reset(instance: Server, password: str) -> None:
        async with async_sdk(instance, app) as client:
            await client.reset_user_password(
                email=user.email, otp=code, otp_token=sent.otp_token, password=password
            )

    outcomes = await asyncio.gather(
        *(
            reset(instances[n % 2], password)  # A, B, A, B, ...
            for n, password in enumerate(passwords)
        ),
        return_exceptions=True,
    )

    winners = [p for p, outcome in zip(passwords, outcomes, strict=True) if outcome is None]
    assert len(winners) == 1, outcomes
    losers = [outcome for outcome in outcomes if outcome is not None]
    assert all(type(loser) is BadEmailOtpTokenError for loser in losers), losers
    assert instances[1].password_matches(user, winners[0])
    assert notices(instances, user.email) == 1


async def test_wrong_codes_through_both_instances_share_the_attempt_limit(
    instances: list[Server], app: App, user: User
) -> None:
    async with async_sdk(instances[1], app) as ciam:
        sent = await ciam.send_otp(email=user.email)
    code = instances[1].last_code(user.email)

    async def guess(instance: Server) -> None:
        async with async_sdk(instance, app) as client:
            await client.reset_user_password(
                email=user.email, otp=wrong_code(code), otp_token=sent.otp_token, password="x"
            )

    outcomes = await asyncio.gather(
        *(guess(instances[n % 2]) for n in range(3 * MAX_ATTEMPTS)), return_exceptions=True
    )

    assert Counter(type(outcome) for outcome in outcomes) == {
        BadEmailOtpError: MAX_ATTEMPTS,
        BadEmailOtpTokenError: 2 * MAX_ATTEMPTS,
    }
    with (
        sdk(instances[0], app) as ciam_a,
        api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"),
    ):
        ciam_a.reset_user_password(
            email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    assert instances[0].password_matches(user, user.password)


async def test_guesses_raced_at_the_address_limit_get_one_more_checked_across_instances(
    capped_instances: list[Server], app: App, user: User
) -> None:
    """Nine wrong codes on two tokens, one short of the default limit of 10 per address; then
    16 simultaneous wrong guesses through both instances: exactly one more is checked."""
    a, b = capped_instances

    def send() -> tuple[str, str]:
        with sdk(a, app) as ciam:  # each request from an address of its own
            token = ciam.send_otp(email=user.email).otp_token
        return token, a.last_code(user.email)

    for count in (MAX_ATTEMPTS, FAILURE_LIMIT - 1 - MAX_ATTEMPTS):
        token, code = send()
        for _ in range(count):
            with (
                sdk(a, app) as ciam,
                api_error(BadEmailOtpError, status=400, code="bad_email_otp"),
            ):
                ciam.reset_user_password(
                    email=user.email, otp=wrong_code(code), otp_token=token, password="x"
                )
    token, code = send()

    async def guess(instance: Server) -> None:
        async with async_sdk(instance, app) as client:
            await client.reset_user_password(
                email=user.email, otp=wrong_code(code), otp_token=token, password="x"
            )

    outcomes = await asyncio.gather(
        *(guess((a, b)[n % 2]) for n in range(16)), return_exceptions=True
    )

    assert Counter(type(outcome) for outcome in outcomes) == {
        BadEmailOtpError: 1,
        EmailRateLimitExceededError: 15,
    }, outcomes


# --- send limits and quotas --------------------------------------------------------------------


def test_the_send_interval_holds_across_instances(
    instances: list[Server], app: App, user: User
) -> None:
    a, b = instances
    with sdk(a, app) as through_a, sdk(b, app) as through_b:
        through_a.send_otp(email=user.email)
        with api_error(
            EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"
        ) as refused:
            through_b.send_otp(email=user.email)
        assert refused.value.retry_after is not None
        assert 0 < refused.value.retry_after <= SEND_INTERVAL

        through_b.send_otp(phone_number=user.phone_number)
        with api_error(
            SmsRateLimitExceededError, status=400, code="sms_rate_limit_exceeded"
        ) as refused_sms:
            through_a.send_otp(phone_number=user.phone_number)
        assert refused_sms.value.retry_after is not None
        assert 0 < refused_sms.value.retry_after <= SEND_INTERVAL

    assert len(a.messages(user.email)) + len(b.messages(user.email)) == 1
    assert len(a.messages(user.phone_number)) + len(b.messages(user.phone_number)) == 1


async def test_sends_raced_through_both_instances_keep_the_interval(
    instances: list[Server], app: App
) -> None:
    email = unique_email("interval-race")
    outcomes = await race_sends(instances, app, [{"email": email}] * 6)
    assert outcomes == {"sent": 1, "EmailRateLimitExceededError": 5}
    assert sum(len(instance.messages(email)) for instance in instances) == 1


def test_the_daily_cap_holds_across_instances(capped_instances: list[Server], app: App) -> None:
    c, d = capped_instances
    email = unique_email("capped")
    with sdk(c, app) as through_c, sdk(d, app) as through_d:
        for n in range(DAILY_LIMIT):  # C, D, C
            (through_c, through_d)[n % 2].send_otp(email=email)
        for client in (through_d, through_c):
            with api_error(
                EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"
            ) as refused:
                client.send_otp(email=email)
            assert refused.value.retry_after is not None
            assert refused.value.retry_after > 3600  # the day's window, not an interval
    assert len(c.messages(email)) + len(d.messages(email)) == DAILY_LIMIT


async def test_sends_raced_through_both_instances_keep_the_daily_cap(
    capped_instances: list[Server], app: App
) -> None:
    email = unique_email("capped-race")
    outcomes = await race_sends(capped_instances, app, [{"email": email}] * (2 * DAILY_LIMIT))
    assert outcomes == {"sent": DAILY_LIMIT, "EmailRateLimitExceededError": DAILY_LIMIT}
    assert sum(len(instance.messages(email)) for instance in capped_instances) == DAILY_LIMIT


def set_daily_quota(instance: Server, app: App, channel: str, daily: int) -> None:
    """``ciam-server apps set-quota --daily N``, run against ``instance``'s database."""
    args = ["--client-id", app.client_id, "--channel", channel, "--daily", str(daily)]
    assert instance.cli_json("apps", "set-quota", *args) == {
        "client_id": app.client_id,
        "channel": channel,
        "daily": daily,
    }


def test_an_application_quota_holds_across_instances(instances: list[Server]) -> None:
    a, b = instances
    quota_app = a.create_app("web")
    set_daily_quota(b, quota_app, "email", 2)
    with sdk(a, quota_app) as through_a, sdk(b, quota_app) as through_b:
        through_a.send_otp(email=unique_email("quota"))
        through_b.send_otp(email=unique_email("quota"))
        for client in (through_a, through_b):
            with api_error(
                InsufficientEmailQuotaError, status=400, code="insufficient_email_quota"
            ):
                client.send_otp(email=unique_email("quota"))
        # The quota is the email channel's: SMS still goes.
        through_b.send_otp(phone_number=unique_phone_number())


async def test_sends_raced_through_both_instances_keep_an_application_quota(
    instances: list[Server],
) -> None:
    quota_app = instances[0].create_app("web")
    set_daily_quota(instances[1], quota_app, "email", 2)
    addresses = [{"email": unique_email("quota-race")} for _ in range(6)]
    outcomes = await race_sends(instances, quota_app, addresses)
    assert outcomes == {"sent": 2, "InsufficientEmailQuotaError": 4}


def test_the_request_limit_per_client_address_is_shared_through_redis(
    instances: list[Server], app: App
) -> None:
    a, b = instances
    address = loopback_address()
    with sdk(a, app, address=address) as through_a, sdk(b, app, address=address) as through_b:
        # Half of the allowance through each instance: each alone saw too few to refuse.
        for n in range(IP_RATE_LIMIT):
            (through_a, through_b)[n % 2].send_otp(email=unique_email("ip"))
        for client in (through_a, through_b):
            with api_error(TooManyRequestsError, status=429, code="too_many_requests") as refused:
                client.send_otp(email=unique_email("ip"))
            assert refused.value.retry_after is not None
            assert 0 < refused.value.retry_after <= 60
    # Another client address has an allowance of its own.
    with sdk(b, app) as elsewhere:
        elsewhere.send_otp(email=unique_email("ip"))


# --- Idempotency-Key ---------------------------------------------------------------------------


def _auth(app: App) -> tuple[str, str]:
    assert app.client_secret is not None
    return app.client_id, app.client_secret


def test_an_idempotency_key_replayed_on_the_other_instance_gets_the_stored_answer(
    instances: list[Server], app: App, user: User
) -> None:
    a, b = instances
    send = {"email": user.email, "usage": "reset_password"}
    send_key = {"Idempotency-Key": f"send-{uuid.uuid4()}"}
    with http_from() as http:
        first = http.post(f"{a.base_url}/otp/send", json=send, headers=send_key, auth=_auth(app))
        replayed = http.post(f"{b.base_url}/otp/send", json=send, headers=send_key, auth=_auth(app))
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    # Run again, the send would have been refused (the interval); B answered A's answer instead.
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()
    assert len(a.messages(user.email)) == 1
    assert b.messages(user.email) == []

    reset = {
        "email": user.email,
        "email_otp": a.last_code(user.email),
        "email_otp_token": first.json()["otp_token"],
        "password": NEW_PASSWORD,
    }
    reset_key = {"Idempotency-Key": f"reset-{uuid.uuid4()}"}
    with http_from() as http:
        done = http.post(
            f"{b.base_url}/reset_user_password", json=reset, headers=reset_key, auth=_auth(app)
        )
        # Run again, the used token would be refused; A answers B's answer instead.
        replayed = http.post(
            f"{a.base_url}/reset_user_password", json=reset, headers=reset_key, auth=_auth(app)
        )
        reused = http.post(
            f"{a.base_url}/reset_user_password",
            json={**reset, "password": "Another-password-91"},
            headers=reset_key,
            auth=_auth(app),
        )
    assert done.status_code == 200, done.text
    assert done.content == b""
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.content == b""
    assert reused.status_code == 422, reused.text
    assert reused.json()["error"] == "idempotency_key_reused"
    assert a.password_matches(user, NEW_PASSWORD)
    assert notices(instances, user.email) == 1


async def test_an_idempotency_key_raced_through_both_instances_runs_once(
    instances: list[Server], app: App, user: User
) -> None:
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    send = {"email": user.email, "usage": "reset_password"}

    async def post(instance: Server) -> httpx.Response:
        transport = httpx.AsyncHTTPTransport(local_address=loopback_address())
        async with httpx.AsyncClient(transport=transport, timeout=30) as http:
            return await http.post(
                f"{instance.base_url}/otp/send", json=send, headers=key, auth=_auth(app)
            )

    responses = await asyncio.gather(*(post(instances[n % 2]) for n in range(6)))

    # Each answer is the one run's, or "still being processed"; never a second run's (which
    # the send interval would have refused).
    assert {response.status_code for response in responses} <= {200, 409}, [
        response.text for response in responses
    ]
    answers = [response for response in responses if response.status_code == 200]
    assert answers
    assert len({response.json()["otp_token"] for response in answers}) == 1
    assert sum("Idempotent-Replayed" not in response.headers for response in answers) == 1
    for busy in (response for response in responses if response.status_code == 409):
        assert busy.json()["error"] == "idempotency_key_in_use"
        assert busy.headers["Retry-After"] == "1"
    assert sum(len(instance.messages(user.email)) for instance in instances) == 1


# --- signing in across instances ---------------------------------------------------------------

ISSUER = "https://id.example.test"


@pytest.fixture(scope="module")
def issuers(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, database_url: str
) -> Iterator[list[Server]]:
    """Two instances with one issuer URL, as behind one load balancer; 3 failures lock."""
    settings = {
        "CIAM_DATABASE_URL": database_url,
        "CIAM_REDIS_URL": redis_url,
        "CIAM_ISSUER": ISSUER,
        "CIAM_SIGN_IN_MAX_FAILURES": "3",
        "CIAM_SIGN_IN_IP_LIMIT": "0",
    }
    with started_together(tmp_path_factory, "issuer", settings) as started:
        yield started


def _sign_in(instance: Server, app: App, user: User, password: str | None = None) -> httpx.Response:
    assert app.client_secret is not None
    with http_from() as http:
        return http.post(
            f"{instance.base_url}/oauth2/token",
            data={
                "grant_type": "password",
                "username": user.email,
                "password": password or user.password,
                "scope": "openid",
            },
            auth=(app.client_id, app.client_secret),
        )


def _refresh(instance: Server, app: App, refresh_token: str) -> httpx.Response:
    assert app.client_secret is not None
    with http_from() as http:
        return http.post(
            f"{instance.base_url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app.client_id, app.client_secret),
        )


def test_instances_share_the_signing_keys_and_the_sessions(issuers: list[Server]) -> None:
    a, b = issuers
    app = a.create_app("web")
    user = a.create_user()
    with ThreadPoolExecutor(max_workers=2) as pool:  # both may be the first to need a key
        first, second = pool.map(lambda instance: _sign_in(instance, app, user), issuers)
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)

    with http_from() as http:
        jwks = [http.get(f"{i.base_url}/.well-known/jwks.json").json() for i in issuers]
        assert jwks[0] == jwks[1]
        for token, other in ((first, b), (second, a)):
            userinfo = http.get(
                f"{other.base_url}/userinfo",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert userinfo.status_code == 200, userinfo.text
            assert userinfo.json()["email"] == user.email

    rotated = _refresh(b, app, first.json()["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    reused = _refresh(a, app, first.json()["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    ended = _refresh(a, app, rotated.json()["refresh_token"])
    assert (ended.status_code, ended.json()["error"]) == (400, "invalid_grant")


def test_a_lock_made_through_one_instance_holds_on_the_other(issuers: list[Server]) -> None:
    a, b = issuers
    app = a.create_app("web")
    user = a.create_user()
    for _ in range(3):
        assert _sign_in(a, app, user, "not the password at all").status_code == 400

    locked = _sign_in(b, app, user)

    assert locked.status_code == 400
    assert locked.json() == {"error": "invalid_grant", "error_description": "User is locked."}
