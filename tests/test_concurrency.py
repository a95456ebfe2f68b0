"""Requests racing for one token, sent at once through the async SDK."""

from __future__ import annotations

import asyncio
from collections import Counter

from ciam_client import AsyncCiamClient, BadEmailOtpError, BadEmailOtpTokenError

from .conftest import App, Server, User, api_error, wrong_code

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
