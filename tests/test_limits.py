"""Send limits per address and per application, and wrong-code limits per token and per address,
through the SDK.

Most run on the server's test kit (docs/testing.md), whose clock passes an interval, a day or a
failure window at once. Those about several processes on one database, the ``ciam-server apps
set-quota`` command and the wall-time cache of applications run on server processes: the shared
``server`` turns the send limits off; ``limited_server`` and ``strict_server`` keep them (see the
conftest).
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
from ciam_server.testing import CiamTestServer, RegisteredApplication, RegisteredUser

from .conftest import (
    DAILY_LIMIT,
    FAILURE_LIMIT,
    FAILURE_WINDOW,
    NEW_PASSWORD,
    SEND_INTERVAL,
    App,
    Server,
    api_error,
    kit_client,
    unique_email,
    unique_phone_number,
    wrong_code,
)

DAY = 24 * 3600


def _send(ciam: CiamClient, channel: str, address: str) -> str:
    if channel == "email":
        return ciam.send_otp(email=address).otp_token
    return ciam.send_otp(phone_number=address).otp_token


CHANNELS = {
    "email": (unique_email, EmailRateLimitExceededError, "email_rate_limit_exceeded"),
    "sms": (unique_phone_number, SmsRateLimitExceededError, "sms_rate_limit_exceeded"),
}


def _kit_send(
    server: CiamTestServer, app: RegisteredApplication, channel: str, address: str
) -> str:
    with kit_client(server, app) as ciam:
        return _send(ciam, channel, address)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_second_code_within_the_interval_is_refused(
    ciam_test_server: CiamTestServer, kit_web_app: RegisteredApplication, channel: str
) -> None:
    make_address, error_class, code = CHANNELS[channel]
    interval = ciam_test_server.settings.otp_send_interval
    assert interval == SEND_INTERVAL
    address = make_address()
    with kit_client(ciam_test_server, kit_web_app) as ciam:
        _send(ciam, channel, address)
        ciam_test_server.clock.advance(interval - 1)
        with api_error(error_class, status=400, code=code) as refused:
            _send(ciam, channel, address)
        # Another address is not held back by this one's interval.
        _send(ciam, channel, make_address())

        error = refused.value
        assert error.retry_after == 1
        assert int(error.response.headers["Retry-After"]) == error.retry_after
        assert len(ciam_test_server.outbox.sent_to(address)) == 1

        ciam_test_server.clock.advance(error.retry_after)  # the interval is over
        _send(ciam, channel, address)
    assert len(ciam_test_server.outbox.sent_to(address)) == 2


def test_the_interval_holds_for_every_spelling_of_an_address(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient
) -> None:
    """The limit is on the normalized address: upper case does not make another address."""
    address = unique_email()
    kit_ciam.send_otp(email=address)
    with api_error(EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"):
        kit_ciam.send_otp(email=address.upper())
    assert len(ciam_test_server.outbox.sent_to(address)) == 1


def test_the_interval_counts_codes_sent_by_any_application(
    ciam_test_server: CiamTestServer,
) -> None:
    address = unique_email()
    first = ciam_test_server.create_application("web")
    second = ciam_test_server.create_application("m2m")
    _kit_send(ciam_test_server, first, "email", address)
    with api_error(EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"):
        _kit_send(ciam_test_server, second, "email", address)
    assert len(ciam_test_server.outbox.sent_to(address)) == 1


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
def test_an_application_daily_quota_is_enforced(
    ciam_test_server: CiamTestServer, channel: str
) -> None:
    """The same on the test kit's server, with the quota written by the store itself: the
    server's side alone; and the quota counts the codes of the last 24 hours."""
    make_address = CHANNELS[channel][0]
    error_class, code = QUOTA_ERRORS[channel]
    other_channel = "sms" if channel == "email" else "email"
    server = ciam_test_server
    app = server.create_application("web")
    bystander = server.create_application("web")
    server.set_quota(app.client_id, channel, 2)
    _kit_send(server, app, channel, make_address())
    server.clock.advance(3600)
    _kit_send(server, app, channel, make_address())
    refused_address = make_address()
    with api_error(error_class, status=400, code=code) as refused:
        _kit_send(server, app, channel, refused_address)
    assert server.outbox.sent_to(refused_address) == []
    error = refused.value
    # The first code leaves the last 24 hours 23 hours from now.
    assert error.retry_after == DAY - 3600
    assert int(error.response.headers["Retry-After"]) == error.retry_after
    # The quota is per channel and per application.
    _kit_send(server, app, other_channel, CHANNELS[other_channel][0]())
    _kit_send(server, bystander, channel, make_address())

    server.clock.advance(error.retry_after - 1)
    with api_error(error_class, status=400, code=code):
        _kit_send(server, app, channel, make_address())
    server.clock.advance(1)  # the first code is a day old: room for one more
    _kit_send(server, app, channel, make_address())
    with api_error(error_class, status=400, code=code):
        _kit_send(server, app, channel, make_address())

    server.set_quota(app.client_id, channel, None)
    _kit_send(server, app, channel, make_address())

    server.set_quota(app.client_id, channel, 0)
    with api_error(error_class, status=400, code=code):
        _kit_send(server, app, channel, make_address())


@pytest.mark.ciam_settings(otp_send_interval=0, otp_daily_limit=DAILY_LIMIT)
def test_the_daily_limit(ciam_test_server: CiamTestServer, kit_ciam: CiamClient) -> None:
    capped, other = unique_email("capped"), unique_email("other")
    for _ in range(DAILY_LIMIT):
        kit_ciam.send_otp(email=capped)
        ciam_test_server.clock.advance(60)
    with api_error(
        EmailRateLimitExceededError, status=400, code="email_rate_limit_exceeded"
    ) as refused:
        kit_ciam.send_otp(email=capped)
    kit_ciam.send_otp(email=other)  # another address has a count of its own
    # The first code leaves the last 24 hours when the day since it is over.
    assert refused.value.retry_after == DAY - DAILY_LIMIT * 60
    assert int(refused.value.response.headers["Retry-After"]) == refused.value.retry_after
    assert len(ciam_test_server.outbox.sent_to(capped)) == DAILY_LIMIT

    ciam_test_server.clock.advance(refused.value.retry_after)
    kit_ciam.send_otp(email=capped)
    assert len(ciam_test_server.outbox.sent_to(capped)) == DAILY_LIMIT + 1


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


def test_five_wrong_codes_kill_the_token(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    """Per token: the sixth check, even with the right code, finds the token dead. A new code is
    a new token with attempts of its own (the default allows 10 wrong codes per address)."""
    sent = kit_ciam.send_otp(email=kit_user.email)
    code = ciam_test_server.last_code(kit_user.email).code
    for _ in range(5):
        with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
            kit_ciam.reset_user_password(
                email=kit_user.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )
    with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
        kit_ciam.reset_user_password(
            email=kit_user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    assert ciam_test_server.password_matches(kit_user.email, kit_user.password)

    ciam_test_server.clock.advance(ciam_test_server.settings.otp_send_interval)
    fresh = kit_ciam.send_otp(email=kit_user.email)
    kit_ciam.reset_user_password(
        email=kit_user.email,
        otp=ciam_test_server.last_code(kit_user.email).code,
        otp_token=fresh.otp_token,
        password=NEW_PASSWORD,
    )
    assert ciam_test_server.password_matches(kit_user.email, NEW_PASSWORD)


@pytest.mark.ciam_settings(
    otp_send_interval=0,
    otp_identifier_max_failures=FAILURE_LIMIT,
    otp_failure_window=FAILURE_WINDOW,
)
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_the_wrong_code_limit_of_an_address_ends_with_its_window(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, kit_user: RegisteredUser, channel: str
) -> None:
    """The address refused after its wrong codes may send and reset again once the failure
    window has passed the first of them, and not a second sooner."""
    address = kit_user.email if channel == "email" else kit_user.phone_number
    bad_code_error = BadEmailOtpError if channel == "email" else BadPhoneNumberOtpError
    bad_code = "bad_email_otp" if channel == "email" else "bad_phone_number_otp"
    rate_limit_error, rate_limited = CHANNELS[channel][1:]

    def reset(token: str, otp: str) -> None:
        if channel == "email":
            kit_ciam.reset_user_password(
                email=address, otp=otp, otp_token=token, password=NEW_PASSWORD
            )
        else:
            kit_ciam.reset_user_password(
                phone_number=address, otp=otp, otp_token=token, password=NEW_PASSWORD
            )

    token = _send(kit_ciam, channel, address)
    code = ciam_test_server.last_code(address).code
    for _ in range(FAILURE_LIMIT):
        with api_error(bad_code_error, status=400, code=bad_code):
            reset(token, wrong_code(code))
        ciam_test_server.clock.advance(60)
    with api_error(rate_limit_error, status=400, code=rate_limited) as refused:
        _send(kit_ciam, channel, address)
    assert refused.value.retry_after == FAILURE_WINDOW - FAILURE_LIMIT * 60

    ciam_test_server.clock.advance(refused.value.retry_after - 1)
    with api_error(rate_limit_error, status=400, code=rate_limited):
        _send(kit_ciam, channel, address)
    ciam_test_server.clock.advance(1)
    fresh = _send(kit_ciam, channel, address)
    reset(fresh, ciam_test_server.last_code(address).code)
    assert ciam_test_server.password_matches(address, NEW_PASSWORD)


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
