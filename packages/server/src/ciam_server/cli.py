"""``ciam-server``: run the server and administer applications and users. Output is JSON."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from functools import partial, wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from ciam_server.config import PENDING_MIGRATIONS, ConfigurationError, Mode, Settings
from ciam_server.domain.clients import hash_client_secret, new_client_secret
from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import normalize_email, normalize_phone_number
from ciam_server.domain.models import AppType, Channel
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import PasswordPolicy, normalize_password
from ciam_server.logs import configure_logging
from ciam_server.store import (
    AlreadyExistsError,
    SqlStore,
    create_engine,
    pending_migrations,
    upgrade,
)
from ciam_server.store.prune import prune

P = ParamSpec("P")
T = TypeVar("T")


def _print(payload: object) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


def _fail(message: str, *, exit_code: int = 1) -> NoReturn:
    click.echo(json.dumps({"error": message}, ensure_ascii=False), err=True)
    sys.exit(exit_code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        _fail(f"invalid configuration: {exc}", exit_code=2)


def _run(command: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Run an async command body; domain refusals become a JSON error and exit code 1."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return asyncio.run(command(*args, **kwargs))
        except FlowError as exc:
            _fail(exc.description or exc.code.value)
        except AlreadyExistsError as exc:
            _fail(str(exc))
        except SQLAlchemyError as exc:  # its text may quote SQL and values: name it only
            _fail(
                f"the database cannot be used ({type(exc).__name__}); is CIAM_DATABASE_URL "
                "right, and has `ciam-server db upgrade` run?"
            )

    return wrapper


async def _with_store(settings: Settings, work: Callable[[SqlStore], Awaitable[T]]) -> T:
    engine = create_engine(settings.database_url)
    store = SqlStore(engine)
    try:
        return await work(store)
    finally:
        await engine.dispose()


def _identifier(email: str | None, phone_number: str | None) -> tuple[Channel, str]:
    if (email is None) == (phone_number is None):
        raise click.UsageError("give exactly one of --email and --phone-number")
    if email is not None:
        return Channel.EMAIL, normalize_email(email)
    return Channel.SMS, normalize_phone_number(str(phone_number))


def _identifier_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--phone-number", help="The user's phone number.")(command)
    return click.option("--email", help="The user's email address.")(command)


@click.group()
def main() -> None:
    """Run and administer the ciam-reset reference server."""


# --- serve -------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Server processes sharing the port (each with its own argon2 pool).",
)
@click.option("--demo", is_flag=True, help="Create a demo application and user (dev mode only).")
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    """Serve the API. In dev mode the database is brought to the latest schema first; in
    production mode a database that is not is refused."""
    import uvicorn  # noqa: PLC0415 - only this command needs it

    from ciam_server import serving  # noqa: PLC0415 - it imports uvicorn
    from ciam_server.api.metrics import (  # noqa: PLC0415 - nor this
        multiprocess_directory,
        prepare_multiprocess_directory,
    )

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        settings.check_startable()
    except ConfigurationError as exc:
        _fail(str(exc), exit_code=2)
    if workers > 1 and settings.secret_key is None:
        _fail(
            "--workers needs CIAM_SECRET_KEY: every worker must check the codes the others sent.",
            exit_code=2,
        )
    if workers > 1 and settings.ip_rate_limit and settings.redis_url is None:
        _fail(
            "--workers with CIAM_IP_RATE_LIMIT needs CIAM_REDIS_URL: each worker would count "
            "on its own and let through workers times the limit.",
            exit_code=2,
        )
    if demo and settings.mode is not Mode.DEV:
        _fail("--demo is for dev mode only", exit_code=2)
    if settings.mode is Mode.DEV:
        asyncio.run(upgrade(settings.database_url))
    elif asyncio.run(pending_migrations(settings.database_url)):
        _fail(PENDING_MIGRATIONS, exit_code=2)
    announce = None
    if demo:
        user_created = asyncio.run(_seed_demo(settings))
        announce = partial(click.echo, _demo_banner(settings, host, port, user_created))
        if "cors_allow_origins" not in settings.model_fields_set:
            # The served app reads its settings from the environment, in each worker.
            os.environ["CIAM_CORS_ALLOW_ORIGINS"] = DEMO_ORIGINS
    metrics_directory = multiprocess_directory()
    if metrics_directory is not None:
        prepare_multiprocess_directory(metrics_directory)
    trusted_proxies = settings.trusted_proxies.strip()
    # uvicorn re-raises SIGTERM on itself once its graceful shutdown is done, so the process
    # would end "killed by a signal"; a clean stop asked for is a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    config = uvicorn.Config(
        "ciam_server.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # X-Forwarded-For is believed only from these addresses: the per-address rate limit
        # would be worthless if any caller could name its own address.
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies or None,
    )
    # The demo's banner says it is ready: once the server listens, never for a taken port.
    serving.run(config, on_listening=announce)


DEMO_CLIENT_ID = "demo-spa"
DEMO_EMAIL = "demo@example.com"
DEMO_PHONE = "+8613800138000"
DEMO_PASSWORD = "sunrise-Kettle-73"  # noqa: S105 - the published password of the demo user
DEMO_ORIGINS = "http://localhost:*,http://127.0.0.1:*"
"""The origins the demo allows cross-origin calls from, unless CIAM_CORS_ALLOW_ORIGINS says
otherwise: the demo app is a single-page app, and its pages are served from this machine, on any
port."""


async def _seed_demo(settings: Settings) -> bool:
    """Create the demo application and user where missing; True when the user was created
    (and so has the published password)."""

    async def seed(store: SqlStore) -> bool:
        if await store.get_application(DEMO_CLIENT_ID) is None:
            await store.create_application(
                client_id=DEMO_CLIENT_ID,
                name="Demo single-page app",
                app_type=AppType.SPA,
                secret_hash=None,
                allow_otp_send=True,
            )
        if await store.find_user(Channel.EMAIL, DEMO_EMAIL) is None:
            hashing = PasswordHashing(settings.argon2, pool_size=1)
            try:
                password_hash = await hashing.hash(normalize_password(DEMO_PASSWORD))
            finally:
                hashing.close()
            await store.create_user(
                email=DEMO_EMAIL,
                phone_number=DEMO_PHONE,
                password_hash=password_hash,
                now=datetime.now(UTC),
            )
            return True
        return False

    return await _with_store(settings, seed)


def _demo_banner(settings: Settings, host: str, port: int, user_created: bool) -> str:
    """What to try, for a server that listens. The password is the published one only for a
    user just created: a user of an earlier start may have had it reset since."""
    base = f"http://{host}:{port}"
    outbox = settings.outbox_path.resolve()
    password = (
        f"password {DEMO_PASSWORD!r}"
        if user_created
        else "an existing user: its password is the last one set for it"
    )
    return f"""
Demo application {DEMO_CLIENT_ID!r} (public, may send codes) and user {DEMO_EMAIL}
(phone {DEMO_PHONE}, {password}) are ready. Try the flow:

  curl -s {base}/otp/send -H 'Content-Type: application/json' \\
    -d '{{"client_id": "{DEMO_CLIENT_ID}", "usage": "reset_password", "email": "{DEMO_EMAIL}"}}'

  tail -n 1 {outbox}        # the code, as the user's mailbox would receive it

  curl -si {base}/reset_user_password -H 'Content-Type: application/json' \\
    -d '{{"client_id": "{DEMO_CLIENT_ID}", "email": "{DEMO_EMAIL}", "email_otp": "<code>",
         "email_otp_token": "<otp_token>", "password": "<a new password>"}}'

A page served from this machine (http://localhost or http://127.0.0.1, any port) may call
the API with fetch; CIAM_CORS_ALLOW_ORIGINS sets other origins.

OpenAPI: {base}/schema/openapi.json
"""


# --- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database: its schema, and the rows it no longer needs."""


@db.command("upgrade")
@_run
async def db_upgrade() -> None:
    """Bring the database to the latest schema."""
    settings = _settings()
    await upgrade(settings.database_url)
    _print({"upgraded": True})


@db.command("prune")
@_run
async def db_prune() -> None:
    """Delete expired challenges and idempotency records, and audit events older than
    CIAM_AUDIT_RETENTION_DAYS; prints the rows deleted per table."""
    settings = _settings()
    engine = create_engine(settings.database_url)
    try:
        counts = await prune(engine, now=datetime.now(UTC), retention=settings.retention)
    finally:
        await engine.dispose()
    _print(dataclasses.asdict(counts))


# --- keys --------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """The keys that sign tokens."""


@keys.command("rotate")
@_run
async def keys_rotate() -> None:
    """Make a new signing key; running servers sign with it within a minute, and the previous
    key stays in the JWKS until the tokens it signed have expired."""
    from ciam_server.app import key_ring, utc_now  # noqa: PLC0415 - it imports the web framework

    settings = _settings()
    if settings.secret_key is None:
        _fail("CIAM_SECRET_KEY is required: the new key is sealed with it, as the servers' are.")

    async def rotate(store: SqlStore) -> str:
        made = await key_ring(settings, store, settings.secret_key_bytes(), utc_now).rotate()
        return made.kid

    kid = await _with_store(settings, rotate)
    _print({"kid": kid})


# --- apps --------------------------------------------------------------------------------------


@main.group()
def apps() -> None:
    """Client applications."""


@apps.command("create")
@click.option("--name", required=True)
@click.option("--type", "app_type", required=True, type=click.Choice([t.value for t in AppType]))
@click.option("--client-id", help="Default: a random identifier.")
@click.option(
    "--allow-otp-send", is_flag=True, help="Let a public (spa, mobile) application call /otp/send."
)
@_run
async def apps_create(
    name: str, app_type: str, client_id: str | None, allow_otp_send: bool
) -> None:
    """Register an application; prints its client_id and, for web and m2m, its client_secret.

    The secret is shown once and stored only as a hash.
    """
    kind = AppType(app_type)
    client_id = client_id or secrets.token_urlsafe(16)
    secret = new_client_secret() if kind.is_confidential else None
    await _with_store(
        _settings(),
        lambda store: store.create_application(
            client_id=client_id,
            name=name,
            app_type=kind,
            secret_hash=None if secret is None else hash_client_secret(secret),
            allow_otp_send=allow_otp_send,
        ),
    )
    _print({"client_id": client_id} | ({} if secret is None else {"client_secret": secret}))


@apps.command("list")
@_run
async def apps_list() -> None:
    """List the applications (never their secrets)."""
    applications = await _with_store(_settings(), lambda store: store.list_applications())
    _print(
        [
            {
                "client_id": app.client_id,
                "name": app.name,
                "type": app.app_type.value,
                "allow_otp_send": app.allow_otp_send,
            }
            for app in applications
        ]
    )


@apps.command("set-quota")
@click.option("--client-id", required=True)
@click.option("--channel", required=True, type=click.Choice([c.value for c in Channel]))
@click.option("--daily", type=click.IntRange(min=0), help="Codes per 24 hours.")
@click.option("--unlimited", is_flag=True, help="Remove the quota.")
@_run
async def apps_set_quota(client_id: str, channel: str, daily: int | None, unlimited: bool) -> None:
    """Limit the codes an application may send on a channel in any 24 hours."""
    if (daily is None) != unlimited:
        raise click.UsageError("give exactly one of --daily N and --unlimited")
    found = await _with_store(
        _settings(),
        lambda store: store.set_application_quota(client_id, Channel(channel), daily),
    )
    if not found:
        _fail("no such application")
    _print({"client_id": client_id, "channel": channel, "daily": daily})


# --- users -------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """User accounts."""


_password_option = click.option("--password", help="Asked for (on the terminal) when not given.")


def _password(given: str | None) -> str:
    """The password option, or one read at a prompt written to standard error, so that standard
    output carries the JSON answer alone."""
    if given is not None:
        return given
    password: str = click.prompt("Password", hide_input=True, err=True)
    return password


@users.command("create")
@click.option("--email", required=True)
@click.option("--phone-number")
@_password_option
@_run
async def users_create(email: str, phone_number: str | None, password: str | None) -> None:
    """Create a user; the password must meet the password policy."""
    settings = _settings()
    password = _password(password)
    normalized_email = normalize_email(email)
    normalized_phone = None if phone_number is None else normalize_phone_number(phone_number)
    policy = PasswordPolicy(
        min_length=settings.password_min_length, max_length=settings.password_max_length
    )
    checked = policy.check(password, email=normalized_email, phone_number=normalized_phone)
    hashing = PasswordHashing(settings.argon2, pool_size=1)
    try:
        password_hash = await hashing.hash(checked)
    finally:
        hashing.close()
    user = await _with_store(
        settings,
        lambda store: store.create_user(
            email=normalized_email,
            phone_number=normalized_phone,
            password_hash=password_hash,
            now=datetime.now(UTC),
        ),
    )
    _print({"id": user.id, "email": user.email, "phone_number": user.phone_number})


def _set_frozen(frozen: bool) -> Callable[[str | None, str | None], None]:
    @_run
    async def command(email: str | None, phone_number: str | None) -> None:
        channel, identifier = _identifier(email, phone_number)
        found = await _with_store(
            _settings(), lambda store: store.set_user_frozen(channel, identifier, frozen)
        )
        if not found:
            _fail("no such user")
        _print({FIELD_NAMES[channel]: identifier, "frozen": frozen})

    return command


FIELD_NAMES = {Channel.EMAIL: "email", Channel.SMS: "phone_number"}

users.command("freeze", help="Freeze a user: resets are refused.")(
    _identifier_options(_set_frozen(True))
)
users.command("unfreeze", help="Unfreeze a user.")(_identifier_options(_set_frozen(False)))


@users.command("verify-password")
@_identifier_options
@_password_option
@_run
async def users_verify_password(
    email: str | None, phone_number: str | None, password: str | None
) -> None:
    """Exit 0 when the password is the user's current one, 1 otherwise."""
    settings = _settings()
    password = _password(password)
    channel, identifier = _identifier(email, phone_number)
    user = await _with_store(settings, lambda store: store.find_user(channel, identifier))
    if user is None:
        _fail("no such user")
    hashing = PasswordHashing(settings.argon2, pool_size=1)
    try:
        match = await hashing.verify(user.password_hash, normalize_password(password))
    finally:
        hashing.close()
    _print({"match": match})
    if not match:
        sys.exit(1)
