"""Administration: applications and users."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ciam_server.domain.models import Application, AppType, Channel, User
from ciam_server.domain.ports import IdempotencyStore, Store
from ciam_server.store import AlreadyExistsError, SqlStore

NOW = datetime(2026, 5, 9, 12, 0, tzinfo=UTC)


async def _create_web_app(store: SqlStore, client_id: str = "web-app") -> Application:
    return await store.create_application(
        client_id=client_id,
        name="Web shop",
        app_type=AppType.WEB,
        secret_hash="secret-hash",
        allow_otp_send=True,
    )


async def test_create_and_get_application(store: SqlStore) -> None:
    created = await _create_web_app(store)

    assert created == Application(
        client_id="web-app",
        name="Web shop",
        app_type=AppType.WEB,
        secret_hash="secret-hash",
        allow_otp_send=True,
    )
    assert await store.get_application("web-app") == created
    assert await store.get_application("unknown") is None


async def test_a_public_application_has_no_secret(store: SqlStore) -> None:
    await store.create_application(
        client_id="spa",
        name="Single page",
        app_type=AppType.SPA,
        secret_hash=None,
        allow_otp_send=False,
    )

    found = await store.get_application("spa")
    assert found is not None
    assert found.secret_hash is None
    assert found.app_type is AppType.SPA
    assert not found.allow_otp_send


async def test_create_application_refuses_a_taken_client_id(store: SqlStore) -> None:
    await _create_web_app(store)

    with pytest.raises(AlreadyExistsError):
        await _create_web_app(store)


async def test_list_applications_by_client_id(store: SqlStore) -> None:
    assert await store.list_applications() == []
    for client_id in ("m", "a", "z"):
        await _create_web_app(store, client_id)

    assert [app.client_id for app in await store.list_applications()] == ["a", "m", "z"]


async def test_set_application_secret(store: SqlStore) -> None:
    await _create_web_app(store)

    assert await store.set_application_secret("web-app", "new-secret-hash")
    assert not await store.set_application_secret("unknown", "new-secret-hash")

    found = await store.get_application("web-app")
    assert found is not None
    assert found.secret_hash == "new-secret-hash"


async def test_create_user_and_find_by_email_or_phone_number(store: SqlStore) -> None:
    created = await store.create_user(
        email="ada@example.com", phone_number="+8613800138000", password_hash="hash-0", now=NOW
    )

    assert created == User(
        id=created.id,
        email="ada@example.com",
        phone_number="+8613800138000",
        password_hash="hash-0",
        frozen=False,
        credential_version=0,
    )
    assert await store.find_user(Channel.EMAIL, "ada@example.com") == created
    assert await store.find_user(Channel.SMS, "+8613800138000") == created
    assert await store.find_user(Channel.SMS, "ada@example.com") is None
    assert await store.recent_password_hashes(created.id, 5) == ["hash-0"]


async def test_create_user_refuses_a_taken_email(store: SqlStore, user: User) -> None:
    with pytest.raises(AlreadyExistsError):
        await store.create_user(email=user.email, phone_number=None, password_hash="h", now=NOW)


async def test_create_user_refuses_a_taken_phone_number(store: SqlStore) -> None:
    await store.create_user(email=None, phone_number="+15550100", password_hash="h", now=NOW)

    with pytest.raises(AlreadyExistsError):
        await store.create_user(
            email="bob@example.com", phone_number="+15550100", password_hash="h", now=NOW
        )
    assert await store.find_user(Channel.EMAIL, "bob@example.com") is None


async def test_create_user_needs_an_email_or_a_phone_number(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="email or a phone number"):
        await store.create_user(email=None, phone_number=None, password_hash="h", now=NOW)


async def test_freeze_and_unfreeze_a_user(store: SqlStore, user: User) -> None:
    assert user.email is not None

    assert await store.set_user_frozen(Channel.EMAIL, user.email, True)
    assert await store.find_user(Channel.EMAIL, user.email) == replace(user, frozen=True)

    assert await store.set_user_frozen(Channel.EMAIL, user.email, False)
    assert await store.find_user(Channel.EMAIL, user.email) == user


async def test_freezing_an_unknown_user_is_false(store: SqlStore) -> None:
    assert not await store.set_user_frozen(Channel.SMS, "+15550199", True)


def test_sql_store_implements_the_store_protocol(store: SqlStore) -> None:
    implementation: Store = store  # the type checker holds SqlStore to the protocol
    assert implementation is store


def test_sql_store_implements_the_idempotency_store_protocol(store: SqlStore) -> None:
    implementation: IdempotencyStore = store
    assert isinstance(implementation, IdempotencyStore)


async def test_an_application_has_no_quota_at_first(store: SqlStore) -> None:
    created = await _create_web_app(store)

    assert created.email_daily_quota is None
    assert created.sms_daily_quota is None


async def test_set_application_quota_per_channel(store: SqlStore) -> None:
    await _create_web_app(store)
    await _create_web_app(store, "other-app")

    assert await store.set_application_quota("web-app", Channel.EMAIL, 500)
    assert await store.set_application_quota("web-app", Channel.SMS, 0)

    found = await store.get_application("web-app")
    assert found is not None
    assert (found.email_daily_quota, found.sms_daily_quota) == (500, 0)
    assert found.daily_quota(Channel.SMS) == 0
    other = await store.get_application("other-app")
    assert other is not None
    assert (other.email_daily_quota, other.sms_daily_quota) == (None, None)
    assert [app.email_daily_quota for app in await store.list_applications()] == [None, 500]

    assert await store.set_application_quota("web-app", Channel.EMAIL, None)
    found = await store.get_application("web-app")
    assert found is not None
    assert (found.email_daily_quota, found.sms_daily_quota) == (None, 0)


async def test_set_application_quota_of_an_unknown_application_is_false(store: SqlStore) -> None:
    assert not await store.set_application_quota("unknown", Channel.EMAIL, 10)


async def test_set_application_quota_refuses_a_negative_quota(store: SqlStore) -> None:
    await _create_web_app(store)

    with pytest.raises(ValueError, match="negative"):
        await store.set_application_quota("web-app", Channel.SMS, -1)
