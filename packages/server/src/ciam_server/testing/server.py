"""The real server in a test's own process: the app ``create_app`` builds, on a database of its
own, with a clock the test moves and an outbox it reads.

The app runs on an event loop in a thread of its own, so that sync and async tests alike use it:
requests reach it over a socket (:attr:`CiamTestServer.base_url`, uvicorn, started on first
use) or through an httpx transport without one (:attr:`CiamTestServer.transport`,
:attr:`CiamTestServer.async_transport`), and the helpers run their work on its loop.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import threading
from collections.abc import Coroutine, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from litestar import Litestar
from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ciam_server.app import create_app
from ciam_server.config import Settings
from ciam_server.domain.clients import hash_client_secret, new_client_secret
from ciam_server.domain.identifiers import normalize_email, normalize_phone_number
from ciam_server.domain.models import AppType, Channel, User
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.domain.policy import PasswordPolicy, normalize_password
from ciam_server.domain.ports import CodeMessage
from ciam_server.store import SqlStore, create_engine, upgrade
from ciam_server.testing.clock import ManualClock
from ciam_server.testing.outbox import MemoryOutbox, N

T = TypeVar("T")

DEFAULT_PASSWORD = "Kettle-sunrise-73"  # noqa: S105 - the test users' password unless given
TRANSPORT_URL = "http://ciam-test-server"
"""The base URL for requests through the transports: they reach the app whatever the host."""

KIT_SETTINGS: Mapping[str, object] = {
    # The per-address limits count in wall time (the ``limits`` library), which the clock of
    # the kit does not move; every test would share one address's count as well.
    "ip_rate_limit": 0,
    "sign_in_ip_limit": 0,
    # Hashing costs little: the tests exercise the flows, not argon2's cost.
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
    # An application created or changed by a test applies to the next request.
    "application_cache_ttl": 0,
}
"""The settings a test server has unlike a default server; a test may override them too."""


class _KitSettings(Settings):
    """Settings from the arguments alone: no ``CIAM_`` variable or ``.env`` file of the
    machine running the tests changes a test server."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def kit_settings(directory: Path, overrides: Mapping[str, object]) -> Settings:
    """The settings of a test server keeping its SQLite database in ``directory``:
    :data:`KIT_SETTINGS` over the defaults, and ``overrides`` (names of :class:`Settings`
    fields) over both."""
    values = {
        "database_url": f"sqlite+aiosqlite:///{directory / 'ciam.db'}",
        "secret_key": SecretStr(secrets.token_urlsafe(32)),
        **KIT_SETTINGS,
        **overrides,
    }
    return _KitSettings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RegisteredApplication:
    """An application of a test server; ``client_secret`` is None for public ones."""

    client_id: str
    client_secret: str | None = field(repr=False)
    app_type: AppType


@dataclass(frozen=True)
class RegisteredUser:
    """A user of a test server, with its addresses as stored and its password."""

    email: str
    phone_number: str
    password: str = field(repr=False)


class _EventLoopThread:
    """An event loop running in a thread of its own, for work handed to it from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="ciam-test-server", daemon=True
        )
        self._thread.start()

    def submit(self, work: Coroutine[Any, Any, T]) -> futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the loop and wait for its result (blocking the caller)."""
        return self.submit(work).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that says when its startup is over, listening or not."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_over = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.startup_over.set()


class CiamTestServer:
    """A running test server. Made by :func:`start_test_server` (or the ``ciam_test_server``
    fixture); every helper may be called from sync and async tests alike."""

    def __init__(self, settings: Settings, clock: ManualClock) -> None:
        self.settings = settings
        self.clock = clock
        self.outbox = MemoryOutbox()
        self.app: Litestar = create_app(settings, clock=clock, delivery=self.outbox)
        self._loop = _EventLoopThread()
        self._engine = create_engine(settings.database_url)  # the helpers' own, as the CLI's
        self._store = SqlStore(self._engine)
        self._hashing = PasswordHashing(settings.argon2, pool_size=1)
        # Litestar types its ASGI arguments more narrowly than httpx's plain mappings.
        self._asgi = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        self._stop: asyncio.Event | None = None
        self._lifespan: futures.Future[None] | None = None
        self._socket: tuple[_AnnouncingServer, futures.Future[None], str] | None = None
        self._user_numbers = itertools.count(1)
        self.transport: httpx.BaseTransport = _SyncTransport(self)
        """Hands sync httpx requests to the app without a socket."""
        self.async_transport: httpx.AsyncBaseTransport = _AsyncTransport(self)
        """Hands async httpx requests to the app without a socket."""

    def __repr__(self) -> str:
        return f"CiamTestServer(database_url={self.settings.database_url!r})"

    # --- start and stop ------------------------------------------------------------------------

    def _start(self) -> None:
        self._loop.run(upgrade(self.settings.database_url))
        started: futures.Future[None] = futures.Future()

        async def run_lifespan() -> None:
            self._stop = asyncio.Event()
            async with self.app.lifespan():
                started.set_result(None)
                await self._stop.wait()

        self._lifespan = self._loop.submit(run_lifespan())
        futures.wait([started, self._lifespan], return_when=futures.FIRST_COMPLETED)
        if self._lifespan.done():
            self._lifespan.result()  # the startup failed: raise its error

    def _close(self) -> None:
        try:
            if self._socket is not None:
                server, serving, _ = self._socket
                server.should_exit = True
                serving.result()
            if self._lifespan is not None and self._stop is not None:
                self._loop.loop.call_soon_threadsafe(self._stop.set)
                self._lifespan.result()
            self._loop.run(self._engine.dispose())
        finally:
            self._hashing.close()
            self._loop.close()

    # --- how requests reach it -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the app served by uvicorn on a socket of its own,
        started on first use, for code that calls the server with any HTTP client."""
        if self._socket is None:
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            # log_config None: the test process's logging stays as it is.
            config = uvicorn.Config(self.app, lifespan="off", log_config=None, access_log=False)
            server = _AnnouncingServer(config)
            serving = self._loop.submit(server.serve(sockets=[listener]))
            server.startup_over.wait()
            if not server.started:
                serving.result()  # raise what stopped it
                raise RuntimeError("the test server could not listen")
            self._socket = (server, serving, f"http://127.0.0.1:{port}")
        return self._socket[2]

    transport_url = TRANSPORT_URL

    def http_client(self, **options: Any) -> httpx.Client:
        """An httpx client whose requests reach the app through :attr:`transport`."""
        return httpx.Client(transport=self.transport, base_url=TRANSPORT_URL, **options)

    def async_http_client(self, **options: Any) -> httpx.AsyncClient:
        """An async httpx client whose requests reach the app through
        :attr:`async_transport`."""
        return httpx.AsyncClient(transport=self.async_transport, base_url=TRANSPORT_URL, **options)

    async def _forward(self, request: httpx.Request, body: bytes) -> httpx.Response:
        """Call the app with ``request`` on its own loop; the answer read in full."""
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        response = await self._asgi.handle_async_request(forwarded)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    # --- applications and users ----------------------------------------------------------------

    def create_application(
        self,
        app_type: AppType | str = AppType.WEB,
        *,
        client_id: str | None = None,
        allow_otp_send: bool = False,
        name: str = "Test application",
    ) -> RegisteredApplication:
        """Register an application, as ``ciam-server apps create`` does: a web or m2m one gets
        a secret, a spa or mobile one none (and may call ``/otp/send`` only with
        ``allow_otp_send``)."""
        kind = AppType(app_type)
        client_id = client_id or secrets.token_urlsafe(16)
        secret = new_client_secret() if kind.is_confidential else None
        self._loop.run(
            self._store.create_application(
                client_id=client_id,
                name=name,
                app_type=kind,
                secret_hash=None if secret is None else hash_client_secret(secret),
                allow_otp_send=allow_otp_send,
            )
        )
        return RegisteredApplication(client_id=client_id, client_secret=secret, app_type=kind)

    def set_quota(self, client_id: str, channel: Channel | str, daily: int | None) -> None:
        """Limit the codes an application may send on ``channel`` in any 24 hours (None: no
        limit), as ``ciam-server apps set-quota`` does."""
        if not self._loop.run(
            self._store.set_application_quota(client_id, Channel(channel), daily)
        ):
            raise LookupError(f"no application {client_id!r}")

    def create_user(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        password: str = DEFAULT_PASSWORD,
    ) -> RegisteredUser:
        """Create a user with an email address and a phone number (new ones for those not
        given), as ``ciam-server users create`` does: the password must meet the policy."""
        number = next(self._user_numbers)
        normalized_email = normalize_email(email or f"user-{number}@example.com")
        normalized_phone = normalize_phone_number(phone_number or f"+86138{number:08d}")
        policy = PasswordPolicy(
            min_length=self.settings.password_min_length,
            max_length=self.settings.password_max_length,
        )
        checked = policy.check(password, email=normalized_email, phone_number=normalized_phone)

        async def create() -> None:
            await self._store.create_user(
                email=normalized_email,
                phone_number=normalized_phone,
                password_hash=await self._hashing.hash(checked),
                now=self.clock(),
            )

        self._loop.run(create())
        return RegisteredUser(
            email=normalized_email, phone_number=normalized_phone, password=password
        )

    def freeze_user(self, address: str) -> None:
        """Freeze the user with this email address or phone number: its resets are refused."""
        self._set_frozen(address, frozen=True)

    def unfreeze_user(self, address: str) -> None:
        self._set_frozen(address, frozen=False)

    def _set_frozen(self, address: str, *, frozen: bool) -> None:
        channel, identifier = _identifier(address)
        if not self._loop.run(self._store.set_user_frozen(channel, identifier, frozen)):
            raise LookupError(f"no user has the address {address}")

    def find_user(self, address: str) -> User | None:
        """The stored user with this email address or phone number."""
        return self._loop.run(self._store.find_user(*_identifier(address)))

    def password_matches(self, address: str, password: str) -> bool:
        """Whether ``password`` is the current password of the user with this address."""
        user = self.find_user(address)
        if user is None:
            raise LookupError(f"no user has the address {address}")
        return self._loop.run(
            self._hashing.verify(user.password_hash, normalize_password(password))
        )

    # --- what it sent --------------------------------------------------------------------------

    def last_code(self, address: str) -> CodeMessage:
        """The last code sent to this email address or phone number (``.code`` is the code
        the user reads); :class:`~ciam_server.testing.NothingSentError` when none was."""
        return self.outbox.last_code(address)

    def last_notice(self, address: str, kind: type[N]) -> N:
        """The last notice of ``kind`` (``PasswordChangedNotice``, ``NoAccountNotice``) sent
        to this address; :class:`~ciam_server.testing.NothingSentError` when none was."""
        return self.outbox.last_notice(address, kind)


def _identifier(address: str) -> tuple[Channel, str]:
    if "@" in address:
        return Channel.EMAIL, normalize_email(address)
    return Channel.SMS, normalize_phone_number(address)


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, server: CiamTestServer) -> None:
        self._server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        return self._server._loop.run(self._server._forward(request, body))


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, server: CiamTestServer) -> None:
        self._server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        return await asyncio.wrap_future(
            self._server._loop.submit(self._server._forward(request, body))
        )


@contextmanager
def start_test_server(
    directory: Path,
    settings: Mapping[str, object] | None = None,
    *,
    clock: ManualClock | None = None,
) -> Iterator[CiamTestServer]:
    """A test server with its SQLite database in ``directory`` (a folder of the test's alone,
    such as ``tmp_path``; made when missing), ready on entry and stopped on exit. ``settings``
    set any :class:`~ciam_server.config.Settings` field by name (``{"otp_send_interval": 0}``;
    ``database_url`` for another database, migrated on start), and ``clock`` is the time the
    server starts at (default: a :class:`ManualClock` at the real time)."""
    directory.mkdir(parents=True, exist_ok=True)
    server = CiamTestServer(kit_settings(directory, settings or {}), clock or ManualClock())
    try:
        server._start()
        yield server
    finally:
        server._close()
