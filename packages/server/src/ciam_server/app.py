"""The application factory: configuration in, a ready Litestar app out."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from litestar import Litestar, Response, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from ciam_server.api.body import ApiRequest
from ciam_server.api.cors import cors_config
from ciam_server.api.errors import EXCEPTION_HANDLERS, error_response
from ciam_server.api.hooks import RequestHooks
from ciam_server.api.idempotency import Idempotency
from ciam_server.api.ip_limit import SIGN_IN_NAMESPACE, IpRateLimit
from ciam_server.api.metrics import MeteredSender, Metrics, RequestMetrics, metrics_handler
from ciam_server.api.oauth import OAuthServices, oauth_routers
from ciam_server.api.openapi import openapi_config
from ciam_server.api.reset_page import reset_page_router
from ciam_server.api.routes import (
    ApiServices,
    Locales,
    UnsupportedMediaTypeError,
    api_router,
    unsupported_media_type,
)
from ciam_server.config import PENDING_MIGRATIONS, ConfigurationError, Delivery, Mode, Settings
from ciam_server.delivery.outbox import OutboxSender
from ciam_server.delivery.router import ChannelSender, UnavailableSender
from ciam_server.delivery.sms_webhook import SmsWebhookSender
from ciam_server.delivery.smtp import SmtpSender
from ciam_server.domain.audit import Auditor
from ciam_server.domain.change_password import ChangePassword
from ciam_server.domain.clients import CachedApplications
from ciam_server.domain.models import Channel
from ciam_server.domain.otp import ChallengeHasher
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import PasswordPolicy
from ciam_server.domain.ports import Sender
from ciam_server.domain.reset_password import ResetPassword
from ciam_server.domain.send_otp import SendOtp
from ciam_server.domain.sign_in import TokenEndpoint
from ciam_server.domain.signing import KEY_RELOAD_INTERVAL, KeyRing, KeySealer
from ciam_server.domain.tokens import Tokens
from ciam_server.logs import configure_logging
from ciam_server.store import SqlStore, create_engine, pending_migrations, ping
from ciam_server.store.prune import pruning
from ciam_shared import ErrorCode

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


def _sender(settings: Settings) -> OutboxSender | ChannelSender:
    if settings.delivery is Delivery.OUTBOX:
        logger.warning(
            "!!! DEV OUTBOX: one-time codes are written in clear to %s, not delivered. "
            "Never use this in production. !!!",
            settings.outbox_path.resolve(),
        )
        return OutboxSender(settings.outbox_path)
    code_ttl = timedelta(seconds=settings.otp_code_ttl)
    email: Sender = UnavailableSender(Channel.EMAIL)
    if settings.smtp_host is not None and settings.smtp_from is not None:
        email = SmtpSender(
            host=settings.smtp_host,
            from_address=settings.smtp_from,
            code_ttl=code_ttl,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.delivery_timeout,
            ca_file=settings.smtp_ca_file,
        )
    sms: Sender = UnavailableSender(Channel.SMS)
    if settings.sms_webhook_url is not None and settings.sms_webhook_secret is not None:
        sms = SmsWebhookSender(
            url=settings.sms_webhook_url,
            secret=settings.sms_webhook_secret,
            code_ttl=code_ttl,
            timeout=settings.delivery_timeout,
        )
    return ChannelSender(email=email, sms=sms)


@route(
    "/healthz",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    include_in_schema=False,
    sync_to_thread=False,
)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def readyz_handler(engine: AsyncEngine) -> HTTPRouteHandler:
    @route("/readyz", http_method=[HttpMethod.GET, HttpMethod.HEAD], include_in_schema=False)
    async def readyz() -> Response[bytes]:
        """The process answers and its database does too."""
        try:
            await ping(engine)
        except Exception:  # any failure to reach the database means: not ready
            logger.warning("not ready: the database does not answer", exc_info=True)
            return error_response(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "The database does not answer.",
                headers={"Retry-After": "5"},
            )
        return Response(content=b'{"status":"ready"}', media_type="application/json")

    return readyz


def key_ring(
    settings: Settings, store: SqlStore, secret_key: bytes, clock: Callable[[], datetime]
) -> KeyRing:
    """The signing keys in ``store``. A replaced key stays published while tokens it signed
    may be live: an access or ID token's lifetime, plus the time instances take to notice."""
    return KeyRing(
        store=store,
        sealer=KeySealer(secret_key),
        publish_for=timedelta(seconds=settings.access_token_ttl) + 2 * KEY_RELOAD_INTERVAL,
        clock=clock,
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    delivery: Sender | None = None,
) -> Litestar:
    """A Litestar app serving the API as ``settings`` (default: the environment) say.

    ``clock`` is the time every lifetime, interval and limit is reckoned by, and ``delivery``
    (default: the sender ``settings`` choose) delivers the messages: both are for the test kit
    (:mod:`ciam_server.testing`), which needs a time it controls and messages it can read."""
    settings = settings or Settings()
    settings.check_startable()
    if settings.mode is Mode.DEV:
        logger.warning("!!! DEV MODE: not for production; set CIAM_MODE=production. !!!")
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    store = SqlStore(engine)
    delivery = _sender(settings) if delivery is None else delivery
    secret_key = _secret_key(settings)
    hasher = ChallengeHasher(secret_key)
    idempotency = Idempotency(
        store,
        secret_key,
        ttl=timedelta(seconds=settings.idempotency_ttl),
        clock=clock,
    )
    locales = Locales(default=settings.default_locale)
    hashing = PasswordHashing(
        settings.argon2,
        pool_size=settings.argon2_pool_size,
        queue_limit=settings.argon2_queue_limit,
    )
    metrics = Metrics(hashing)
    sender = MeteredSender(delivery, metrics)
    auditor = Auditor(log=store, clock=clock)
    send_otp_flow = SendOtp(
        store=store,
        sender=sender,
        hasher=hasher,
        settings=settings.otp,
        clock=clock,
        auditor=auditor,
    )
    policy = PasswordPolicy(
        min_length=settings.password_min_length, max_length=settings.password_max_length
    )
    reset_password_flow = ResetPassword(
        store=store,
        sender=sender,
        hasher=hasher,
        hashing=hashing,
        policy=policy,
        settings=settings.otp,
        history_depth=settings.password_history,
        clock=clock,
        auditor=auditor,
    )

    keys = key_ring(settings, store, secret_key, clock)
    tokens = Tokens(
        keys=keys,
        access_token_ttl=timedelta(seconds=settings.access_token_ttl),
        clock=clock,
    )
    sign_in_limit = (
        IpRateLimit(settings.sign_in_ip_limit, settings.redis_url, namespace=SIGN_IN_NAMESPACE)
        if settings.sign_in_ip_limit
        else None
    )
    applications = CachedApplications(store, ttl=timedelta(seconds=settings.application_cache_ttl))
    oauth = OAuthServices(
        applications=applications,
        token_endpoint=TokenEndpoint(
            store=store,
            tokens=tokens,
            hashing=hashing,
            hasher=hasher,
            limits=settings.sign_in_limits,
            refresh_token_ttl=timedelta(seconds=settings.refresh_token_ttl),
            address_limit=sign_in_limit,
            clock=clock,
            auditor=auditor,
        ),
        change_password=ChangePassword(
            store=store,
            tokens=tokens,
            sender=sender,
            hashing=hashing,
            policy=policy,
            limits=settings.sign_in_limits,
            history_depth=settings.password_history,
            clock=clock,
            auditor=auditor,
        ),
        keys=keys,
        idempotency=idempotency,
        locales=locales,
        issuer=settings.issuer,
    )

    services = ApiServices(
        applications=applications,
        send_otp=send_otp_flow,
        reset_password=reset_password_flow,
        idempotency=idempotency,
        locales=locales,
    )

    ip_limit = (
        IpRateLimit(settings.ip_rate_limit, settings.redis_url) if settings.ip_rate_limit else None
    )
    hooks = RequestHooks(RequestMetrics(metrics), ip_limit)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if settings.mode is Mode.PRODUCTION and await pending_migrations(settings.database_url):
            raise ConfigurationError(PENDING_MIGRATIONS)
        try:
            await ping(engine)  # a database that cannot be opened stops the start
            async with pruning(
                engine,
                interval=settings.prune_interval,
                retention=settings.retention,
                clock=clock,
            ):
                yield
        finally:
            # Runs once the server has stopped taking requests and finished those in hand.
            if isinstance(delivery, ChannelSender):
                await delivery.aclose()
            if ip_limit is not None:
                await ip_limit.aclose()
            if sign_in_limit is not None:
                await sign_in_limit.aclose()
            metrics.close()
            hashing.close()
            await engine.dispose()

    return Litestar(
        route_handlers=[
            api_router(services),
            *oauth_routers(oauth),
            healthz,
            readyz_handler(engine),
            metrics_handler(metrics),
            reset_page_router,
        ],
        request_class=ApiRequest,
        exception_handlers={
            **EXCEPTION_HANDLERS,
            UnsupportedMediaTypeError: unsupported_media_type,
        },
        before_request=hooks.before_request,
        before_send=[hooks.before_send],
        request_max_body_size=settings.max_body_size,
        cors_config=cors_config(settings.cors_allow_origins),
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        debug=False,
        logging_config=None,  # logging is ours (logs.py): JSON lines with the request id
    )


def create_served_app() -> Litestar:
    """The factory ``ciam-server serve`` gives uvicorn: each worker process configures its
    logging, then builds the app from the environment.

    Then every object made so far (the modules, the app and its services: the bulk of the
    process's objects, kept as long as it runs) is frozen out of the garbage collector's
    reach: under load a full collection walked all of them, often and for long pauses, for
    garbage that is never among them."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    gc.freeze()
    return app
