"""The application factory: configuration in, a ready Litestar app out."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar, Router, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from ciam_server.api.errors import EXCEPTION_HANDLERS, not_found_in_json
from ciam_server.api.request_id import echo_request_id
from ciam_server.api.routes import (
    UnsupportedMediaTypeError,
    reset_user_password,
    send_otp,
    unsupported_media_type,
)
from ciam_server.config import Delivery, Mode, Settings
from ciam_server.delivery.outbox import OutboxSender
from ciam_server.domain.otp import ChallengeHasher
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import PasswordPolicy
from ciam_server.domain.ports import Sender
from ciam_server.domain.reset_password import ResetPassword
from ciam_server.domain.send_otp import SendOtp
from ciam_server.store import SqlStore, create_engine

logger = logging.getLogger("ciam_server")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    logger.warning(
        "CIAM_SECRET_KEY is not set: using a random key for this process only; "
        "codes sent before a restart will not verify after it."
    )
    return secrets.token_bytes(32)


def _sender(settings: Settings) -> Sender:
    if settings.delivery is Delivery.OUTBOX:
        logger.warning(
            "!!! DEV OUTBOX: one-time codes are written in clear to %s, not delivered. "
            "Never use this in production. !!!",
            settings.outbox_path.resolve(),
        )
        return OutboxSender(settings.outbox_path)
    raise AssertionError(settings.delivery)  # pragma: no cover - Delivery has one member


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_app(settings: Settings | None = None) -> Litestar:
    """A Litestar app serving the API as ``settings`` (default: the environment) say."""
    settings = settings or Settings()
    settings.check_startable()
    if settings.mode is Mode.DEV:
        logger.warning("!!! DEV MODE: not for production; set CIAM_MODE=production. !!!")
    engine = create_engine(settings.database_url)
    store = SqlStore(engine)
    sender = _sender(settings)
    hasher = ChallengeHasher(_secret_key(settings))
    hashing = PasswordHashing(
        settings.argon2,
        pool_size=settings.argon2_pool_size,
        queue_limit=settings.argon2_queue_limit,
    )
    send_otp_flow = SendOtp(
        store=store, sender=sender, hasher=hasher, settings=settings.otp, clock=utc_now
    )
    reset_password_flow = ResetPassword(
        store=store,
        sender=sender,
        hasher=hasher,
        hashing=hashing,
        policy=PasswordPolicy(
            min_length=settings.password_min_length, max_length=settings.password_max_length
        ),
        settings=settings.otp,
        history_depth=settings.password_history,
        clock=utc_now,
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hashing.close()
            await engine.dispose()

    return Litestar(
        route_handlers=[send_otp, reset_user_password, healthz],
        dependencies={
            "store": Provide(lambda: store, use_cache=True, sync_to_thread=False),
            "send_otp_flow": Provide(lambda: send_otp_flow, use_cache=True, sync_to_thread=False),
            "reset_password_flow": Provide(
                lambda: reset_password_flow, use_cache=True, sync_to_thread=False
            ),
        },
        exception_handlers={
            **EXCEPTION_HANDLERS,
            UnsupportedMediaTypeError: unsupported_media_type,
        },
        before_send=[echo_request_id],
        request_max_body_size=settings.max_body_size,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="ciam-reset",
            version="0.1.0",
            description="Reset a user's password with a one-time code sent by email or SMS.",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            openapi_router=Router(
                path="/schema",
                route_handlers=[],
                include_in_schema=False,
                after_request=not_found_in_json,
            ),
        ),
        debug=False,
    )
