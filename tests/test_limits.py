"""Send limits per address and per application, and wrong-code limits per token and per address,
on real server processes through the SDK.

The shared ``server`` turns the send limits off; ``limited_server`` and ``strict_server`` keep
them (see the conftest).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import pytest

from ciam_client import (
    AsyncCiamClient,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    BadPhoneNumberOtpError,
    CiamClient,
    EmailRateLimitExceededError,
    InsufficientEmailQuotaError,
    InsufficientSmsQuotaError,
    RateLimitExceededError,
    SmsRateLimitExceededError,
)
from ciam_server.domain.models import Channel
from ciam_server.store import SqlStore, create_engine

from .conftest import (
    DAILY_LIMIT,
    FAILURE_LIMIT,
    FAILURE_WINDOW,
    NEW_PASSWORD,
    SEND_INTERVAL,
    App,
    Server,
    User,
    api_error,
    unique_email,
    unique_phone_number,
    wrong_code,
)
from .server_support import run_async

DAY = 24 * 3600


def _send(ciam: CiamClient, channel: str, address: str) -> str:
    if channel == "email":
        return ciam.send_otp(email=address).otp_token
    return ciam.send_otp(phone_number=address).otp_token


CHANNELS = {
    "email": (unique_email, EmailRateLimitExceededError, "email_rate_limit_exceeded"),
    "sms": (unique_phone_number, SmsRateLimitExceededError, "sms_rate_limit_exceeded"),
}


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_second_code_within_the_interval_is_refused(limited_server: Server, channel: str) -> None:
    make_address, error_class, code = CHANNELS[channel]
    address = make_address()
    app = limited_server.create_app("web")
    with limited_server.client(app) as ciam:
        _send(ciam, channel, address)
        with api_error(error_class, status=400, code=code) as refused:
            _send(ciam, channel, address)
        # Another address is not held back by this one's interval.
        _send(ciam, channel, make_address())

    error = refused.value
    assert error.retry_after is not None
    assert 0 < error.retry_after <= SEND_INTERVAL
    assert int(error.response.headers["Retry-After"]) == error.retry_after
    assert len(limited_server.messages(address)) == 1


def test_the_interval_holds_for_every_spelling_of_an_address(limited_server: Server) -> None:
    """The limit is on the normalized address: upper case does not make another address."""
    address = unique_email()
    app = limited_server.create_app("web")
    with limited_server.client(app) as ciam:
        ciam.send_otp(email=address)
        with api_error(EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"):
            ciam.send_otp(email=address.upper())
    assert len(limited_server.messages(address)) == 1


def test_the_interval_counts_codes_sent_by_any_application(limited_server: Server) -> None:
    address = unique_email()
    first, second = limited_server.create_app("web"), limited_server.create_app("m2m")
    with limited_server.client(first) as ciam:
        ciam.send_otp(email=address)
    with (
        limited_server.client(second) as ciam,
        api_error(EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"),
    ):
        ciam.send_otp(email=address)


QUOTA_ERRORS = {
    "email": (InsufficientEmailQuotaError, "insufficient_email_quota"),
    "sms": (InsufficientSmsQuotaError, "insufficient_sms_quota"),
}

SetQuota = Callable[[Server, App, str, int | None], None]


def _quota_with_the_cli(server: Server, app: App, channel: str, daily: int | None) -> None:
    amount = ["--unlimited"] if daily is None else ["--daily", str(daily)]
    args = ["apps", "set-quota", "--client-id", app.client_id, "--channel", channel, *amount]
    assert server.cli_json(*args) == {
        "client_id": app.client_id,
        "channel": channel,
        "daily": daily,
    }


def _quota_in_the_database(server: Server, app: App, channel: str, daily: int | None) -> None:
    async def set_quota() -> bool:
        engine = create_engine(server.env["CIAM_DATABASE_URL"])
        try:
            return await SqlStore(engine).set_application_quota(
                app.client_id, Channel(channel), daily
            )
        finally:
            await engine.dispose()

    assert run_async(set_quota())


def _check_daily_quota(server: Server, channel: str, set_quota: SetQuota) -> None:
    make_address = CHANNELS[channel][0]
    error_class, code = QUOTA_ERRORS[channel]
    other_channel = "sms" if channel == "email" else "email"
    app = server.create_app("web")
    bystander = server.create_app("web")
    set_quota(server, app, channel, 2)
    with server.client(app) as ciam:
        _send(ciam, channel, make_address())
        _send(ciam, channel, make_address())
        refused_address = make_address()
        with api_error(error_class, status=400, code=code) as refused:
            _send(ciam, channel, refused_address)
        assert server.messages(refused_address) == []
        error = refused.value
        assert error.retry_after is not None
        assert DAY - 60 < error.retry_after <= DAY
        assert int(error.response.headers["Retry-After"]) == error.retry_after
        # The quota is per channel and per application.
        _send(ciam, other_channel, CHANNELS[other_channel][0]())
    with server.client(bystander) as ciam:
        _send(ciam, channel, make_address())

    set_quota(server, app, channel, None)
    with server.client(app) as ciam:
        _send(ciam, channel, make_address())

    set_quota(server, app, channel, 0)
    with server.client(app) as ciam, api_error(error_class, status=400, code=code):
        _send(ciam, channel, make_address())


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_an_application_daily_quota_set_with_the_cli(limited_server: Server, channel: str) -> None:
    """``apps set-quota --daily N`` and ``--unlimited``, as an operator types them."""
    _check_daily_quota(limited_server, channel, _quota_with_the_cli)


def test_a_quota_set_while_the_server_runs_applies_within_the_cache_lifetime(
    server: Server,
) -> None:
    """With the default ``CIAM_APPLICATION_CACHE_TTL`` (1 s), a running server may answer
    from the application it read for an earlier request for up to a second."""
    app = server.create_app("web")
    with server.client(app) as ciam:
        _send(ciam, "email", unique_email("cached-quota"))
        _quota_with_the_cli(server, app, "email", 0)
        deadline = time.monotonic() + 1 + 4  # the lifetime, and room for a slow machine
        while True:
            try:
                _send(ciam, "email", unique_email("cached-quota"))
            except InsufficientEmailQuotaError:
                break
            assert time.monotonic() < deadline, "the quota never applied"
            time.sleep(0.05)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_an_application_daily_quota_is_enforced(limited_server: Server, channel: str) -> None:
    """The same, with the quota written by the store itself: the server's side alone."""
    _check_daily_quota(limited_server, channel, _quota_in_the_database)


def test_the_daily_limit(strict_server: Server) -> None:
    capped, other = unique_email("capped"), unique_email("other")
    app = strict_server.create_app("web")
    with strict_server.client(app) as ciam:
        for _ in range(DAILY_LIMIT):
            ciam.send_otp(email=capped)
        with api_error(
            EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"
        ) as refused:
            ciam.send_otp(email=capped)
        ciam.send_otp(email=other)  # another address has a count of its own
    assert refused.value.retry_after is not None
    assert DAY - 60 < refused.value.retry_after <= DAY
    assert int(refused.value.response.headers["Retry-After"]) == refused.value.retry_after
    assert len(strict_server.messages(capped)) == DAILY_LIMIT


def test_limits_are_counted_from_the_database_not_in_a_process(
    strict_server: Server, strict_twin: Server
) -> None:
    """Another server process on the same database, which sent none of the codes, refuses the
    address all the same: the counts come from the stored challenges."""
    capped = unique_email("capped")
    app = strict_server.create_app("web")
    with strict_server.client(app) as ciam:
        for _ in range(DAILY_LIMIT):
            ciam.send_otp(email=capped)
    assert strict_twin.process.pid != strict_server.process.pid
    with strict_twin.client(app) as ciam:
        with api_error(
            EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"
        ) as refused:
            ciam.send_otp(email=capped)
        ciam.send_otp(email=unique_email())
    assert refused.value.retry_after is not None
    assert DAY - 60 < refused.value.retry_after <= DAY


# --- wrong codes --------------------------------------------------------------------------------


def test_five_wrong_codes_kill_the_token(server: Server, ciam: CiamClient, new_user: User) -> None:
    """Per token: the sixth check, even with the right code, finds the token dead. A new code is
    a new token with attempts of its own (the shared server allows 10 wrong codes per address)."""
    sent = ciam.send_otp(email=new_user.email)
    code = server.last_code(new_user.email)
    for _ in range(5):
        with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
            ciam.reset_user_password(
                email=new_user.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )
    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        ciam.reset_user_password(
            email=new_user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    assert server.password_matches(new_user, new_user.password)

    fresh = ciam.send_otp(email=new_user.email)
    ciam.reset_user_password(
        email=new_user.email,
        otp=server.last_code(new_user.email),
        otp_token=fresh.otp_token,
        password=NEW_PASSWORD,
    )
    assert server.password_matches(new_user, NEW_PASSWORD)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_new_codes_do_not_buy_more_guesses(
    strict_server: Server, strict_twin: Server, channel: str
) -> None:
    """Per address, across tokens: 3 wrong codes on one token and 1 on the next reach the limit
    of 4; then both the right code of the live token and a new send are refused, also by another
    server process on the same database."""
    user = strict_server.create_user()
    app = strict_server.create_app("web")
    address = user.email if channel == "email" else user.phone_number
    bad_code_error = BadEmailOtpError if channel == "email" else BadPhoneNumberOtpError
    bad_code = "bad_email_otp" if channel == "email" else "bad_phone_number_otp"
    rate_limit_error, rate_limited = CHANNELS[channel][1:]

    def reset(ciam: CiamClient, token: str, otp: str) -> None:
        if channel == "email":
            ciam.reset_user_password(email=address, otp=otp, otp_token=token, password=NEW_PASSWORD)
        else:
            ciam.reset_user_password(
                phone_number=address, otp=otp, otp_token=token, password=NEW_PASSWORD
            )

    with strict_server.client(app) as ciam:
        first = _send(ciam, channel, address)
        first_code = strict_server.last_code(address)
        for _ in range(FAILURE_LIMIT - 1):
            with api_error(bad_code_error, status=400, code=bad_code):
                reset(ciam, first, wrong_code(first_code))
        second = _send(ciam, channel, address)
        second_code = strict_server.last_code(address)
        with api_error(bad_code_error, status=400, code=bad_code):
            reset(ciam, second, wrong_code(second_code))

        with api_error(rate_limit_error, status=400, code=rate_limited) as refused_reset:
            reset(ciam, second, second_code)
        with api_error(rate_limit_error, status=400, code=rate_limited) as refused_send:
            _send(ciam, channel, address)

        # Another address of the same application is not held back.
        _send(ciam, channel, CHANNELS[channel][0]())
    with (
        strict_twin.client(app) as twin,
        api_error(rate_limit_error, status=400, code=rate_limited),
    ):
        _send(twin, channel, address)

    for refused in (refused_reset, refused_send):
        error = refused.value
        assert isinstance(error, RateLimitExceededError)
        assert error.retry_after is not None
        assert 0 < error.retry_after <= FAILURE_WINDOW
        assert int(error.response.headers["Retry-After"]) == error.retry_after
    codes = [m for m in strict_server.messages(address) if m["usage"] == "reset_password"]
    assert len(codes) == 2
    assert strict_server.password_matches(user, user.password)
    assert not strict_server.password_matches(user, NEW_PASSWORD)


async def test_guesses_raced_at_the_address_limit_get_one_more_checked(
    strict_server: Server, strict_twin: Server
) -> None:
    """One wrong code short of the address's limit, simultaneous wrong guesses through two
    server processes on one SQLite file: exactly one more is checked, every other is refused
    with the documented rate-limit error, and none counts."""
    user = strict_server.create_user()
    app = strict_server.create_app("web")
    with strict_server.client(app) as ciam:
        first = ciam.send_otp(email=user.email).otp_token
        first_code = strict_server.last_code(user.email)
        for _ in range(FAILURE_LIMIT - 1):
            with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
                ciam.reset_user_password(
                    email=user.email, otp=wrong_code(first_code), otp_token=first, password="x"
                )
        second = ciam.send_otp(email=user.email).otp_token
    code = strict_server.last_code(user.email)

    async def guess(instance: Server) -> None:
        async with AsyncCiamClient(
            base_url=instance.base_url, client_id=app.client_id, client_secret=app.client_secret
        ) as client:
            await client.reset_user_password(
                email=user.email, otp=wrong_code(code), otp_token=second, password="x"
            )

    outcomes = await asyncio.gather(
        *(guess((strict_server, strict_twin)[n % 2]) for n in range(16)), return_exceptions=True
    )

    assert Counter(type(outcome) for outcome in outcomes) == {
        BadEmailOtpError: 1,
        EmailRateLimitExceededError: 15,
    }, outcomes
