"""A server killed (SIGKILL) in the middle of resets loses nothing it answered and leaves no
reset half done: each password is either changed, with its token consumed, its history entry
and the credential version bumped, or untouched, with its token still good."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from ciam_client import APIConnectionError, AsyncCiamClient

from .conftest import ENGINES, NEW_PASSWORD, App, Server, User, _database_url, _start
from .server_support import query

RESETS = 12
# argon2 costly enough, and one thread for it, so that resets are still under way when the
# server is killed.
SLOW_ARGON2 = {
    "CIAM_ARGON2_TIME_COST": "2",
    "CIAM_ARGON2_MEMORY_KIB": "16384",
    "CIAM_ARGON2_PARALLELISM": "1",
    "CIAM_ARGON2_POOL_SIZE": "1",
}


def _state(server: Server, user: User) -> tuple[int, int, bool, bool]:
    """``(credential_version, history entries, current hash is the newest entry, a challenge
    consumed)`` of ``user``."""
    [(version, entries, newest_is_current)] = query(
        server,
        "SELECT u.credential_version, count(h.id), "
        "max(CASE WHEN h.id = (SELECT max(id) FROM password_history WHERE user_id = u.id) "
        "AND h.password_hash = u.password_hash THEN 1 ELSE 0 END) "
        "FROM users u JOIN password_history h ON h.user_id = u.id "
        "WHERE u.email = :email GROUP BY u.id, u.credential_version",
        email=user.email,
    )
    consumed = query(
        server,
        "SELECT count(*) FROM otp_challenges WHERE identifier = :email AND consumed_at IS NOT NULL",
        email=user.email,
    )
    return int(version), int(entries), bool(newest_is_current), int(consumed[0][0]) > 0


async def _reset_until_killed(
    server: Server, app: App, sent: list[tuple[User, str, str]], kill_after: int
) -> list[bool]:
    """Reset every user's password at once; kill the server once ``kill_after`` resets have
    been answered. Whether each reset was answered ``200``."""
    answered: list[bool] = [False] * len(sent)

    async def reset(number: int, user: User, token: str, code: str) -> None:
        async with AsyncCiamClient(
            base_url=server.base_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            max_retries=0,
        ) as ciam:
            try:
                await ciam.reset_user_password(
                    email=user.email, otp=code, otp_token=token, password=NEW_PASSWORD
                )
            except APIConnectionError:
                return  # the server died first
        answered[number] = True
        if sum(answered) == kill_after:
            server.process.send_signal(signal.SIGKILL)

    await asyncio.gather(
        *(reset(number, *entry) for number, entry in enumerate(sent)), return_exceptions=False
    )
    return answered


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_server_killed_during_resets_loses_nothing_and_leaves_none_half_done(
    engine: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first_dir = tmp_path_factory.mktemp(f"crash-{engine}")
    with _database_url(engine, first_dir) as url:
        settings = {"CIAM_DATABASE_URL": url, **SLOW_ARGON2}
        first = _start(first_dir, **settings)
        server = next(first)
        app = server.create_app("web")
        users = [server.create_user() for _ in range(RESETS)]
        sent = []
        async with AsyncCiamClient(
            base_url=server.base_url, client_id=app.client_id, client_secret=app.client_secret
        ) as ciam:
            for user in users:
                token = (await ciam.send_otp(email=user.email)).otp_token
                sent.append((user, token, server.last_code(user.email)))

        answered = await _reset_until_killed(server, app, sent, kill_after=3)
        assert server.process.wait(timeout=15) == -signal.SIGKILL
        first.close()

        again = _start(Path(tmp_path_factory.mktemp(f"restart-{engine}")), **settings)
        restarted = next(again)
        try:
            states = [_state(restarted, user) for user in users]
            changed = [state == (1, 2, True, True) for state in states]
            untouched = [state == (0, 1, True, False) for state in states]
            # Every reset is wholly done or not at all; every one answered is done.
            assert all(c or u for c, u in zip(changed, untouched, strict=True)), states
            assert all(changed[n] for n, ok in enumerate(answered) if ok), (answered, states)
            assert sum(answered) >= 3
            assert not all(changed)  # the kill came while resets were under way
            for user, was_changed in zip(users, changed, strict=True):
                password = NEW_PASSWORD if was_changed else user.password
                assert restarted.password_matches(user, password)
            # An untouched reset's token still works on the restarted server.
            async with AsyncCiamClient(
                base_url=restarted.base_url,
                client_id=app.client_id,
                client_secret=app.client_secret,
            ) as ciam:
                for (user, token, code), was_changed in zip(sent, changed, strict=True):
                    if not was_changed:
                        await ciam.reset_user_password(
                            email=user.email, otp=code, otp_token=token, password=NEW_PASSWORD
                        )
                        assert restarted.password_matches(user, NEW_PASSWORD)
        finally:
            again.close()
