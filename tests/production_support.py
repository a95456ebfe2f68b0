"""Servers as production runs them, and the services they deliver through.

A production server (``CIAM_MODE=production``) refuses the dev outbox and an unmigrated database,
so each one here gets its schema from ``ciam-server db upgrade`` first and delivers for real:
email to an SMTP server (aiosmtpd) and text messages to an SMS gateway (a small HTTP server
checking every request's signature as ``verify_signature`` does), both on 127.0.0.1 and both
started by the tests. Its standard error, where the server logs, is kept apart from its
standard output.

The servers a module needs are started side by side: each start costs a Python start and the
server's imports, the bulk of these tests' run time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import os
import random
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import URL, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ciam_client import CiamClient
from ciam_server.cli import main as ciam_server_cli
from ciam_server.delivery.sms_webhook import SIGNATURE_HEADER, verify_signature
from ciam_shared import ERROR_CONTENT_TYPE

from .ci import unavailable
from .conftest import FAST_ARGON2, NO_LIMITS, SECRET_KEY, App, Server, _free_port

SMS_WEBHOOK_SECRET = "sms-webhook-secret-5f0c2a9e7b3d4e1f"
FROM_ADDRESS = "Accounts <no-reply@example.com>"
T = TypeVar("T")
START_TIMEOUT = 60  # seconds: a loaded test machine can take long to import the server
_CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


def code_in(text: str) -> str:
    """The 6-digit code a message carries."""
    codes: list[str] = _CODE.findall(text)
    assert len(codes) == 1, text
    return codes[0]


# --- SMTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    recipients: list[str]
    message: EmailMessage
    encrypted: bool

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        content: str = self.message.get_content()
        return content


class Mailbox:
    """An SMTP server on 127.0.0.1 keeping what it receives; it can be stopped and started again
    on the same port. With ``tls`` it requires STARTTLS with that certificate."""

    def __init__(self, tls: Certificates | None = None) -> None:
        self.port = _free_port()
        self.received: list[Mail] = []
        self._tls = tls
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        transport = server.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        self.received.append(Mail(list(envelope.rcpt_tos), parsed, encrypted))
        return "250 Message accepted"

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self._tls is not None:
            options.update(tls_context=self._tls.server_context(), require_starttls=True)
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="mx.test", **options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.received if address in mail.recipients]

    def settings(self) -> dict[str, str]:
        """The server settings delivering email here."""
        settings = {
            "CIAM_SMTP_HOST": "127.0.0.1",
            "CIAM_SMTP_PORT": str(self.port),
            "CIAM_SMTP_FROM": FROM_ADDRESS,
            "CIAM_SMTP_SECURITY": "none",
        }
        if self._tls is not None:
            settings |= {
                "CIAM_SMTP_SECURITY": "starttls",
                "CIAM_SMTP_CA_FILE": str(self._tls.ca_file),
            }
        return settings


@contextmanager
def mailbox(tls: Certificates | None = None) -> Iterator[Mailbox]:
    box = Mailbox(tls)
    box.start()
    try:
        yield box
    finally:
        box.stop()


@dataclass(frozen=True)
class Certificates:
    """A certificate authority and a certificate it signed for 127.0.0.1."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(folder: Path) -> Certificates:
    now = datetime.now(UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Test mail CA"))
        .issuer_name(name("Test mail CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    certificates = Certificates(
        ca_file=folder / "ca.pem", cert_file=folder / "mx.pem", key_file=folder / "mx.key"
    )
    certificates.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certificates.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    certificates.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificates


# --- SMS webhook -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextMessage:
    """A message the gateway took: the JSON object the server posted."""

    to: str
    text: str
    kind: str
    locale: str


@dataclass
class SmsGateway:
    """An HTTP server on 127.0.0.1 taking the server's signed SMS webhook requests.

    A request whose ``X-CIAM-Signature`` does not verify is answered 401 and counted in
    ``refused``; with ``status`` set every request is answered that instead (and kept in
    ``failed``).
    """

    url: str = ""
    received: list[TextMessage] = field(default_factory=list)
    failed: list[TextMessage] = field(default_factory=list)
    refused: int = 0
    status: int | None = None

    def to(self, phone_number: str) -> list[TextMessage]:
        return [message for message in self.received if message.to == phone_number]

    def settings(self) -> dict[str, str]:
        return {"CIAM_SMS_WEBHOOK_URL": self.url, "CIAM_SMS_WEBHOOK_SECRET": SMS_WEBHOOK_SECRET}


class _WebhookHandler(BaseHTTPRequestHandler):
    gateway: SmsGateway

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        signature = self.headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(SMS_WEBHOOK_SECRET.encode(), signature, body):
            self.gateway.refused += 1
            status = 401
        else:
            payload = json.loads(body)
            message = TextMessage(
                to=payload["to"],
                text=payload["text"],
                kind=payload["kind"],
                locale=payload["locale"],
            )
            if self.gateway.status is not None:
                self.gateway.failed.append(message)
                status = self.gateway.status
            else:
                self.gateway.received.append(message)
                status = 202
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway()
    handler = type("Handler", (_WebhookHandler,), {"gateway": gateway})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    gateway.url = f"http://127.0.0.1:{http.server_address[1]}/sms"
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        http.shutdown()
        http.server_close()
        thread.join()


# --- servers -----------------------------------------------------------------------------------


@dataclass
class ProductionServer(Server):
    """A server process whose standard error (its log) and output are files of their own."""

    stderr: Path = Path()
    stdout: Path = Path()

    def log_text(self) -> str:
        return self.stderr.read_text(encoding="utf-8")

    def log(self) -> list[dict[str, Any]]:
        """Every line of the log, each parsed as the JSON object it must be."""
        entries = []
        for line in self.log_text().splitlines():
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            entries.append(entry)
        return entries


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'ciam.db'}"


def production_env(folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a production server with live delivery on a database under ``folder``
    (unless ``CIAM_DATABASE_URL`` is given): every other setting at its default, except cheap
    argon2 and no send or request limits."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CIAM_") or name.startswith("CIAM_TEST_")
    }
    return {
        **inherited,
        "CIAM_MODE": "production",
        "CIAM_DELIVERY": "live",
        "CIAM_DATABASE_URL": sqlite_url(folder),
        "CIAM_SECRET_KEY": SECRET_KEY,
        **FAST_ARGON2,
        **NO_LIMITS,
        **settings,
    }


def cli(env: Mapping[str, str], *args: str) -> str:
    """``ciam-server ARGS`` in this process (in a thread: it runs an event loop); its output."""

    def invoke() -> tuple[int, str, str]:
        result = CliRunner().invoke(ciam_server_cli, list(args), env=dict(env))
        return result.exit_code, result.stdout, result.stderr

    with ThreadPoolExecutor(max_workers=1) as worker:
        exit_code, stdout, stderr = worker.submit(invoke).result()
    assert exit_code == 0, f"ciam-server {' '.join(args)} exited {exit_code}: {stderr}"
    return stdout


def launch(folder: Path, command: Sequence[str], env: Mapping[str, str]) -> ProductionServer:
    """Start ``python COMMAND`` in ``folder`` (stdout and stderr to files there); it is to
    listen on the port ``--port`` names."""
    port = command[command.index("--port") + 1]
    stderr, stdout = folder / "stderr.log", folder / "stdout.log"
    with stderr.open("wb") as err, stdout.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *command], env=dict(env), cwd=folder, stdout=out, stderr=err
        )
    return ProductionServer(
        base_url=f"http://127.0.0.1:{port}",
        env=dict(env),
        outbox=folder / "outbox.jsonl",
        process=process,
        stderr=stderr,
        stdout=stdout,
    )


def wait_until_serving(server: ProductionServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited {server.process.returncode}: {server.log_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not start: {server.log_text()}")
        time.sleep(0.1)


def stop(*servers: ProductionServer) -> None:
    """Ask every server still running to stop (SIGTERM), then wait for each."""
    running = [server.process for server in servers if server.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_command(*options: str) -> list[str]:
    return ["-m", "ciam_server", "serve", "--port", str(_free_port()), *options]


@contextmanager
def production_servers(
    *specs: tuple[Path, dict[str, str]], serve_options: Sequence[str] = ()
) -> Iterator[list[ProductionServer]]:
    """One production server per ``(folder, settings)``: its database upgraded with
    ``ciam-server db upgrade``, then all started side by side; stopped at the end."""
    servers: list[ProductionServer] = []
    try:
        for folder, settings in specs:
            env = production_env(folder, **settings)
            cli(env, "db", "upgrade")
            servers.append(launch(folder, serve_command(*serve_options), env))
        for server in servers:
            wait_until_serving(server)
        yield servers
    finally:
        stop(*servers)


# --- databases ---------------------------------------------------------------------------------

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a loop of its own in a thread of its own (callable from sync and
    async tests alike)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def query(server: Server, sql: str, **params: object) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``:name`` parameters) on the server's database."""

    async def fetch() -> list[tuple[Any, ...]]:
        engine = create_async_engine(server.env["CIAM_DATABASE_URL"], poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql), params)
                return [tuple(row) for row in result.all()]
        finally:
            await engine.dispose()

    return run_async(fetch())


def password_changes(server: Server, email: str) -> tuple[int, int]:
    """``(credential_version, entries in the password history)`` of the user with ``email``."""
    [(version, history)] = query(
        server,
        "SELECT u.credential_version, count(h.id) FROM users u "
        "JOIN password_history h ON h.user_id = u.id WHERE u.email = :email "
        "GROUP BY u.id, u.credential_version",
        email=email,
    )
    return int(version), int(history)


def _postgres_server() -> URL:
    return make_url(os.environ.get("CIAM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


async def _autocommit(url: URL, statement: str) -> None:
    """CREATE and DROP DATABASE refuse to run in a transaction."""
    engine = create_async_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


def drop_postgres_database(url: str) -> None:
    """Drop the database of ``url``, cutting the connections still open to it."""
    name = make_url(url).database
    run_async(_autocommit(_postgres_server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server ``CIAM_TEST_POSTGRES_URL`` names
    (default: the one CI starts), dropped on exit. Skips the test when that server is
    unreachable, except under ``CI=true``, where it fails."""
    server = _postgres_server()
    name = f"ciam_ops_{uuid.uuid4().hex[:12]}"
    try:
        run_async(_autocommit(server, f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as error:
        unavailable(f"PostgreSQL at {server.render_as_string()} is unreachable ({error!r})")
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        drop_postgres_database(url)


# --- clients -----------------------------------------------------------------------------------

_loopback_hosts = itertools.count(random.randrange(250 * 250))  # noqa: S311 - not a secret


def loopback_address() -> str:
    """A loopback address other than 127.0.0.1, new in this session: Linux routes all of
    127.0.0.0/8 to the loopback interface, and the server sees a client bound to one of them
    coming from it."""
    n = next(_loopback_hosts) % (250 * 250)
    return f"127.{random.randrange(2, 250)}.{n // 250 + 1}.{n % 250 + 1}"  # noqa: S311


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The contract's error answer: ``status``, its content type, and the body
    ``{"error": code, "error_description": ...}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == ERROR_CONTENT_TYPE
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == code, body


@contextmanager
def sdk(
    server: Server,
    app: App,
    *,
    headers: Mapping[str, str] | None = None,
    local_address: str | None = None,
    responses: list[httpx.Response] | None = None,
) -> Iterator[CiamClient]:
    """The sync SDK without retries (every refusal shows at once), sending ``headers`` with
    every request, from ``local_address`` when given; the HTTP responses it gets are appended
    to ``responses``."""
    transport = httpx.HTTPTransport(local_address=local_address)
    hooks: dict[str, list[Callable[[httpx.Response], None]]] = {}
    if responses is not None:
        hooks["response"] = [responses.append]
    with (
        httpx.Client(
            headers=dict(headers or {}), transport=transport, timeout=30, event_hooks=hooks
        ) as http,
        CiamClient(
            base_url=server.base_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            max_retries=0,
            http_client=http,
        ) as client,
    ):
        yield client
