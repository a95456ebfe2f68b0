"""A real ciam-server process on a real socket, set up through its own CLI, for the SDK to use.

The server runs as ``python -m ciam_server serve`` in a child process. Applications and users are
made with the same ``ciam-server`` commands an operator types, run in this process (the CLI's
startup cost, mostly imports, would otherwise dominate the run time) against the server's
database.

The server fixtures run on each database engine in :data:`ENGINES`: every test using them runs
once per engine, with the engine in its id (``test_x[sqlite]``, ``test_x[postgresql]``). SQLite is
a file in the server's temporary directory; PostgreSQL a fresh database per server (see
:mod:`tests.postgres`: skipped when PostgreSQL is unreachable, failed under ``CI=true``). Tests
marked ``sqlite_only``, and the browser tests under ``e2e/``, whose subject is not the store, run
on SQLite alone.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from click.testing import CliRunner

from ciam_client import APIStatusError, CiamClient
from ciam_server.cli import main as ciam_server_cli
from ciam_server.testing import CiamTestServer, RegisteredApplication, RegisteredUser

from .postgres import fresh_database, migrated_template

SECRET_KEY = "cross-package-tests-secret-key-0123456789"
# Cheap argon2 parameters: the tests exercise the flow, not the cost.
FAST_ARGON2 = {
    "CIAM_ARGON2_TIME_COST": "1",
    "CIAM_ARGON2_MEMORY_KIB": "1024",
    "CIAM_ARGON2_PARALLELISM": "1",
}
DEFAULT_PASSWORD = "Kettle-sunrise-73"
NEW_PASSWORD = "Lantern-harbour-58"

E = TypeVar("E", bound=APIStatusError)

ENGINES = ("sqlite", "postgresql")
BROWSER_TESTS = Path(__file__).parent / "e2e"

# Mainland-China mobile numbers +86 138 xxxx xxxx, unique within a test session.
_phone_suffixes = itertools.count(uuid.uuid4().int % 10**8)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def unique_phone_number() -> str:
    """A valid number in E.164 form, the form the server stores and the outbox shows."""
    return f"+86138{next(_phone_suffixes) % 10**8:08d}"


def unique_client_id(prefix: str = "app") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# The flow tests send many codes to one address from one client address; the limits have
# tests of their own on a server that keeps them.
NO_LIMITS = {
    "CIAM_OTP_SEND_INTERVAL": "0",
    "CIAM_OTP_DAILY_LIMIT": "0",
    "CIAM_IP_RATE_LIMIT": "0",
    "CIAM_SIGN_IN_IP_LIMIT": "0",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class App:
    """A registered application; ``client_secret`` is None for public ones (spa, mobile)."""

    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class User:
    email: str
    phone_number: str
    password: str


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Server:
    """A running server, the environment it was started with, and its outbox."""

    base_url: str
    env: dict[str, str]
    outbox: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def cli(self, *args: str, check: bool = True) -> CliResult:
        """Run ``ciam-server ARGS`` against this server's database.

        The command runs in a thread of its own: it starts an event loop, which an async test's
        running loop would forbid.
        """

        def invoke() -> CliResult:
            result = CliRunner().invoke(
                ciam_server_cli, list(args), env=self.env, catch_exceptions=False
            )
            return CliResult(result.exit_code, result.stdout, result.stderr)

        with ThreadPoolExecutor(max_workers=1) as worker:
            result = worker.submit(invoke).result()
        if check and result.returncode != 0:
            pytest.fail(f"ciam-server {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> object:
        return json.loads(self.cli(*args).stdout)

    def create_app(
        self, app_type: str, *, client_id: str | None = None, allow_otp_send: bool = False
    ) -> App:
        """``apps create``: a web or m2m app gets a secret, a spa or mobile app none."""
        args = ["apps", "create", "--name", f"test {app_type} app", "--type", app_type]
        if client_id is not None:
            args += ["--client-id", client_id]
        if allow_otp_send:
            args.append("--allow-otp-send")
        created = self.cli_json(*args)
        assert isinstance(created, dict)
        if client_id is not None:
            assert created["client_id"] == client_id
        return App(client_id=created["client_id"], client_secret=created.get("client_secret"))

    def create_user(self, password: str = DEFAULT_PASSWORD) -> User:
        """``users create`` with a fresh email address and phone number."""
        user = User(email=unique_email(), phone_number=unique_phone_number(), password=password)
        self.cli(
            "users",
            "create",
            "--email",
            user.email,
            "--phone-number",
            user.phone_number,
            "--password",
            password,
        )
        return user

    def password_matches(self, user: User, password: str) -> bool:
        """``users verify-password``: exit 0 when ``password`` is the current one, 1 when not."""
        args = ("users", "verify-password", "--email", user.email, "--password", password)
        result = self.cli(*args, check=False)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0

    def client(self, app: App) -> CiamClient:
        return CiamClient(
            base_url=self.base_url, client_id=app.client_id, client_secret=app.client_secret
        )

    def messages(self, to: str) -> list[dict[str, str]]:
        """The outbox lines sent to ``to``, oldest first."""
        if not self.outbox.exists():
            return []
        lines = self.outbox.read_text(encoding="utf-8").splitlines()
        return [m for m in map(json.loads, lines) if m["to"] == to]

    def last_code(self, to: str) -> str:
        codes = [m["code"] for m in self.messages(to) if m["usage"] == "reset_password"]
        assert codes, f"no code was sent to {to}"
        return codes[-1]


def wrong_code(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


@contextmanager
def api_error(cls: type[E], *, status: int, code: str) -> Iterator[pytest.ExceptionInfo[E]]:
    """Expect the SDK to raise exactly ``cls`` for an answer with ``status`` and ``code``,
    carrying the request id the server gave the response."""
    with pytest.raises(cls) as info:
        yield info
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code
    assert error.request_id
    assert error.request_id == error.response.headers["X-Request-ID"]


def _start(tmp: Path, **settings: str) -> Generator[Server, None, None]:
    port = _free_port()
    env = {
        **os.environ,
        "CIAM_MODE": "dev",
        "CIAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'ciam.db'}",
        "CIAM_OUTBOX_PATH": str(tmp / "outbox.jsonl"),
        "CIAM_SECRET_KEY": SECRET_KEY,
        **FAST_ARGON2,
        **NO_LIMITS,
        **settings,
    }
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ciam_server", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(
        base_url=f"http://127.0.0.1:{port}", env=env, outbox=tmp / "outbox.jsonl", process=process
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {(tmp / 'server.log').read_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start: {(tmp / 'server.log').read_text()}")
        time.sleep(0.1)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _database_url(engine: str, tmp: Path) -> AbstractContextManager[str]:
    """A database of ``engine`` for one server: a file under ``tmp``, or a fresh PostgreSQL
    database, dropped on exit."""
    if engine == "sqlite":
        return nullcontext(f"sqlite+aiosqlite:///{tmp / 'ciam.db'}")
    assert engine == "postgresql", engine
    return fresh_database()


def start_on(engine: str, tmp: Path, **settings: str) -> Generator[Server, None, None]:
    """:func:`_start` on a database of its own of ``engine`` (one of :data:`ENGINES`)."""
    with _database_url(engine, tmp) as url:
        yield from _start(tmp, CIAM_DATABASE_URL=url, **settings)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: run on the SQLite server only, not once per database engine"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses a server fixture once per engine (at session scope, so that
    pytest groups the tests by engine and runs one engine's servers at a time)."""
    if "database_engine" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    sqlite_only = (
        definition.get_closest_marker("sqlite_only") is not None
        or BROWSER_TESTS in definition.path.parents
    )
    metafunc.parametrize(
        "database_engine", ENGINES[:1] if sqlite_only else ENGINES, indirect=True, scope="session"
    )


@pytest.fixture(scope="session")
def database_engine(request: pytest.FixtureRequest) -> str:
    """The engine the server fixtures run on, one of :data:`ENGINES`."""
    engine: str = request.param
    return engine


@pytest.fixture(scope="session")
def server(database_engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server most tests share: default lifetimes and limits."""
    yield from start_on(database_engine, tmp_path_factory.mktemp(f"server-{database_engine}"))


@pytest.fixture(scope="session")
def short_lived_server(
    database_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose codes live 1 s and tokens 3 s, to reach the expiry errors."""
    yield from start_on(
        database_engine,
        tmp_path_factory.mktemp(f"short-{database_engine}"),
        CIAM_OTP_CODE_TTL="1",
        CIAM_OTP_TOKEN_TTL="3",
    )


@pytest.fixture(scope="session")
def web_app(server: Server) -> App:
    """A confidential application: it authenticates with HTTP Basic."""
    return server.create_app("web")


@pytest.fixture(scope="session")
def spa_app(server: Server) -> App:
    """A public application enabled to send codes: client_id alone, in the body."""
    return server.create_app("spa", allow_otp_send=True)


@pytest.fixture
def new_user(server: Server) -> User:
    """A user of its own, with an email address, a phone number and DEFAULT_PASSWORD."""
    return server.create_user()


@pytest.fixture
def ciam(server: Server, web_app: App) -> Iterator[CiamClient]:
    """The sync SDK as the confidential application."""
    with server.client(web_app) as client:
        yield client


# Servers that keep the limits the shared server turns off. Each role is a few settings that do
# not get in each other's way, so that the limit tests start few processes.
SEND_INTERVAL = 30
DAILY_LIMIT = 3
FAILURE_LIMIT = 4
FAILURE_WINDOW = 3600
STRICT = {
    "CIAM_OTP_SEND_INTERVAL": "0",
    "CIAM_OTP_DAILY_LIMIT": str(DAILY_LIMIT),
    "CIAM_OTP_IDENTIFIER_MAX_FAILURES": str(FAILURE_LIMIT),
    "CIAM_OTP_FAILURE_WINDOW": str(FAILURE_WINDOW),
}


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default send limits: 30 s between two codes to an address, 50 a day; logs at
    DEBUG, for the search for secrets in them; and applications read on every request, so
    that a quota set between two requests applies to the second."""
    yield from _start(
        tmp_path_factory.mktemp("limited"),
        CIAM_OTP_SEND_INTERVAL=str(SEND_INTERVAL),
        CIAM_OTP_DAILY_LIMIT="50",
        CIAM_LOG_LEVEL="DEBUG",
        CIAM_APPLICATION_CACHE_TTL="0",
    )


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """3 codes a day per address (no interval), 4 wrong codes per address an hour, idempotency
    keys that live 1 s, and a "no account here" notice instead of a code for unknown addresses."""
    yield from _start(
        tmp_path_factory.mktemp("strict"),
        **STRICT,
        CIAM_IDEMPOTENCY_TTL="1",
        CIAM_UNKNOWN_ACCOUNT_DELIVERY="notice",
    )


@pytest.fixture(scope="session")
def strict_twin(
    strict_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A second process on the strict server's database, with an outbox of its own, the same
    limits, and nothing at all sent to unknown addresses."""
    yield from _start(
        tmp_path_factory.mktemp("twin"),
        **STRICT,
        CIAM_DATABASE_URL=strict_server.env["CIAM_DATABASE_URL"],
        CIAM_UNKNOWN_ACCOUNT_DELIVERY="none",
    )


# --- the server's test kit (docs/testing.md): the server in this process ---------------------


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test server on PostgreSQL starts as a copy of."""
    with migrated_template() as name:
        yield name


@pytest.fixture
def ciam_test_server_settings(
    database_engine: str, request: pytest.FixtureRequest
) -> Iterator[dict[str, object]]:
    """The test kit's ``ciam_test_server`` on each engine of :data:`ENGINES`, as the server
    processes above: the kit's own SQLite file, or a fresh PostgreSQL database (a copy of
    :func:`postgres_template`, which the kit's start finds migrated)."""
    if database_engine == "sqlite":
        yield {}
        return
    with fresh_database(template=request.getfixturevalue("postgres_template")) as url:
        yield {"database_url": url}


@contextmanager
def kit_client(
    ciam_test_server: CiamTestServer, app: App | RegisteredApplication
) -> Iterator[CiamClient]:
    """The sync SDK as ``app`` (registered or made up) on the test's ``ciam_test_server``, its
    requests handed to the server through the kit's transport."""
    with (
        ciam_test_server.http_client() as http,
        CiamClient(
            base_url=ciam_test_server.transport_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            http_client=http,
        ) as client,
    ):
        yield client


@pytest.fixture
def kit_web_app(ciam_test_server: CiamTestServer) -> RegisteredApplication:
    """A confidential application of the test's ``ciam_test_server``."""
    return ciam_test_server.create_application("web")


@pytest.fixture
def kit_spa_app(ciam_test_server: CiamTestServer) -> RegisteredApplication:
    """A public application of the test's ``ciam_test_server``, enabled to send codes."""
    return ciam_test_server.create_application("spa", allow_otp_send=True)


@pytest.fixture
def kit_ciam(
    ciam_test_server: CiamTestServer, kit_web_app: RegisteredApplication
) -> Iterator[CiamClient]:
    """The sync SDK as the confidential application of the test's ``ciam_test_server``."""
    with kit_client(ciam_test_server, kit_web_app) as client:
        yield client


@pytest.fixture
def kit_user(ciam_test_server: CiamTestServer) -> RegisteredUser:
    """A user of the test's ``ciam_test_server``, with an email address, a phone number and
    DEFAULT_PASSWORD."""
    return ciam_test_server.create_user(password=DEFAULT_PASSWORD)
