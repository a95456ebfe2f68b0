"""Requests racing for one token, sent at once through the async SDK."""

from __future__ import annotations

import asyncio
from collections import Counter

from ciam_client import (
    AsyncCiamClient,
    BadEmailOtpError,
    BadEmailOtpTokenError,
    RecurrentPasswordError,
)

from .conftest import App, Server, User, api_error, wrong_code
from .server_support import password_changes

MAX_ATTEMPTS = 5


def _client(server: Server, app: App) -> AsyncCiamClient:
    return AsyncCiamClient(
        base_url=server.base_url, client_id=app.client_id, client_secret=app.client_secret
    )


async def test_concurrent_guesses_cannot_exceed_the_attempt_limit(
    server: Server, web_app: App, new_user: User
) -> None:
    async with _client(server, web_app) as ciam:
        sent = await ciam.send_otp(email=new_user.email)
        code = server.last_code(new_user.email)
        guesses = [
            ciam.reset_user_password(
                email=new_user.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password="Lantern-harbour-58",
            )
            for _ in range(3 * MAX_ATTEMPTS)
        ]
        outcomes = await asyncio.gather(*guesses, return_exceptions=True)

        assert Counter(type(outcome) for outcome in outcomes) == {
            BadEmailOtpError: MAX_ATTEMPTS,
            BadEmailOtpTokenError: 2 * MAX_ATTEMPTS,
        }
        # The right code comes too late: the token is dead.
        with api_error(BadEmailOtpTokenError, status=400, code="bad_email_otp_token"):
            await ciam.reset_user_password(
                email=new_user.email,
                otp=code,
                otp_token=sent.otp_token,
                password="Lantern-harbour-58",
            )
    assert server.password_matches(new_user, new_user.password)


async def test_one_token_resets_once_however_many_race_for_it(
    server: Server, web_app: App, new_user: User
) -> None:
    passwords = [f"Racing-password-{n}" for n in range(6)]
    async with _client(server, web_app) as ciam:
        sent = await ciam.send_otp(email=new_user.email)
        code = server.last_code(new_user.email)
        outcomes = await asyncio.gather(
            *(
                ciam.reset_user_password(
                    email=new_user.email, otp=code, otp_token=sent.otp_token, password=password
                )
                for password in passwords
            ),
            return_exceptions=True,
        )

    winners = [
        password for password, outcome in zip(passwords, outcomes, strict=True) if outcome is None
    ]
    assert len(winners) == 1
    assert all(
        isinstance(outcome, BadEmailOtpTokenError) for outcome in outcomes if outcome is not None
    )
    assert server.password_matches(new_user, winners[0])


async def test_twenty_resets_racing_with_one_token_change_the_password_once(
    server: Server, web_app: App, new_user: User
) -> None:
    """Twenty calls, each with its own idempotency key, the right code and its own password:
    one wins, every other is told the token is used up (never that the code is wrong), and the
    password history holds the winner's password alone."""
    passwords = [f"Racing-lantern-{n:02d}" for n in range(20)]
    async with _client(server, web_app) as ciam:
        sent = await ciam.send_otp(email=new_user.email)
        code = server.last_code(new_user.email)
        outcomes = await asyncio.gather(
            *(
                ciam.reset_user_password(
                    email=new_user.email, otp=code, otp_token=sent.otp_token, password=password
                )
                for password in passwords
            ),
            return_exceptions=True,
        )

        assert Counter(type(outcome) for outcome in outcomes) == {
            type(None): 1,
            BadEmailOtpTokenError: len(passwords) - 1,
        }, outcomes
        winner = passwords[outcomes.index(None)]
        losers = [password for password in passwords if password != winner]
        assert server.password_matches(new_user, winner)

        # The history knows the winner's password, and none of the losers'.
        again = await ciam.send_otp(email=new_user.email)
        code = server.last_code(new_user.email)
        with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
            await ciam.reset_user_password(
                email=new_user.email, otp=code, otp_token=again.otp_token, password=winner
            )
        await ciam.reset_user_password(
            email=new_user.email, otp=code, otp_token=again.otp_token, password=losers[0]
        )
    assert server.password_matches(new_user, losers[0])
    changed = [m for m in server.messages(new_user.email) if m["usage"] == "password_changed"]
    assert len(changed) == 2
    assert password_changes(server, new_user.email) == (2, 3)
