"""What an operator runs a production server by: JSON logs carrying the request id, audit events
in a table and in the log with no secret in either, the health, readiness and metrics
endpoints, the client address behind a trusted proxy, and a graceful shutdown.

Three production servers with live delivery: ``main`` (SQLite, the default log settings, the
proxy at 127.0.0.1 trusted), ``postgres`` (its database dropped by the readiness test) and
``slow`` (argon2 made expensive, stopped by the shutdown test).
"""

from __future__ import annotations

import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ciam_client import BadEmailOtpError, CiamClient, TemporarilyUnavailableError
from ciam_server.domain.models import AuditEvent
from ciam_server.store import SqlStore, create_engine

from .conftest import (
    DEFAULT_PASSWORD,
    FAST_ARGON2,
    NEW_PASSWORD,
    SECRET_KEY,
    App,
    User,
    api_error,
    unique_email,
    unique_phone_number,
    wrong_code,
)
from .production_support import (
    SMS_WEBHOOK_SECRET,
    Mailbox,
    ProductionServer,
    SmsGateway,
    assert_error,
    cli,
    code_in,
    drop_postgres_database,
    loopback_address,
    mailbox,
    password_changes,
    postgres_database,
    production_servers,
    run_async,
    sdk,
    sms_gateway,
)

SHUTDOWN_TIMEOUT = 15  # seconds, the slow server's CIAM_SHUTDOWN_TIMEOUT
SLOW_ARGON2 = {"CIAM_ARGON2_MEMORY_KIB": str(256 * 1024), "CIAM_ARGON2_TIME_COST": "4"}


@dataclass(frozen=True)
class Servers:
    main: ProductionServer
    slow: ProductionServer
    postgres: ProductionServer | None
    postgres_missing: str
    mail: Mailbox
    sms: SmsGateway
    app: App


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with ExitStack() as stack:
        mail = stack.enter_context(mailbox())
        sms = stack.enter_context(sms_gateway())
        delivery = mail.settings() | sms.settings()
        specs: list[tuple[Path, dict[str, str]]] = [
            (tmp_path_factory.mktemp("main"), delivery | {"CIAM_TRUSTED_PROXIES": "127.0.0.1"}),
            (
                tmp_path_factory.mktemp("slow"),
                delivery | SLOW_ARGON2 | {"CIAM_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT)},
            ),
        ]
        postgres_missing = ""
        try:
            database_url = stack.enter_context(postgres_database())
        except pytest.skip.Exception as skipped:  # only the readiness test needs PostgreSQL
            postgres_missing = str(skipped)
        else:
            specs.append(
                (
                    tmp_path_factory.mktemp("postgres"),
                    delivery | {"CIAM_DATABASE_URL": database_url},
                )
            )
        main, slow, *postgres = stack.enter_context(production_servers(*specs))
        yield Servers(
            main=main,
            slow=slow,
            postgres=postgres[0] if postgres else None,
            postgres_missing=postgres_missing,
            mail=mail,
            sms=sms,
            app=main.create_app("web"),
        )


# --- a reset, as the log and the audit trail see it ---------------------------------------------


@dataclass(frozen=True)
class Flow:
    """A code sent, a wrong code tried and a successful reset, each with its request id."""

    user: User
    address_given: str
    client_ip: str
    send_id: str
    wrong_id: str
    reset_id: str
    code: str
    otp_token: str
    echoed: dict[str, str]
    """The X-Request-ID of each response, by the id the request carried."""


@pytest.fixture(scope="module")
def flow(servers: Servers) -> Flow:
    server, app = servers.main, servers.app
    user = servers.main.create_user()
    local, domain = user.email.split("@")
    address_given = f"{local.upper()}@{domain.title()}"  # normalized to user.email
    client_ip = loopback_address()
    responses: list[httpx.Response] = []
    ids = {step: f"{step}-{uuid.uuid4().hex}" for step in ("send", "wrong", "reset")}

    def ciam(step: str) -> AbstractContextManager[CiamClient]:
        return sdk(
            server,
            app,
            headers={"X-Request-ID": ids[step]},
            local_address=client_ip,
            responses=responses,
        )

    with ciam("send") as client:
        sent = client.send_otp(email=address_given)
    code = code_in(servers.mail.to(user.email)[-1].body)
    with (
        ciam("wrong") as client,
        api_error(BadEmailOtpError, status=400, code="bad_email_otp"),
    ):
        client.reset_user_password(
            email=address_given,
            otp=wrong_code(code),
            otp_token=sent.otp_token,
            password=NEW_PASSWORD,
        )
    with ciam("reset") as client:
        client.reset_user_password(
            email=address_given, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
    return Flow(
        user=user,
        address_given=address_given,
        client_ip=client_ip,
        send_id=ids["send"],
        wrong_id=ids["wrong"],
        reset_id=ids["reset"],
        code=code,
        otp_token=sent.otp_token,
        echoed={
            response.request.headers["X-Request-ID"]: response.headers["X-Request-ID"]
            for response in responses
        },
    )


def test_every_log_line_is_json_and_carries_the_request_id_it_was_logged_for(
    servers: Servers, flow: Flow
) -> None:
    server = servers.main
    assert flow.echoed == {request_id: request_id for request_id in flow.echoed}
    assert set(flow.echoed) == {flow.send_id, flow.wrong_id, flow.reset_id}

    log = server.log()  # fails on the first line that is not a JSON object
    assert server.stdout.read_text() == ""
    for entry in log:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    for request_id, path in [
        (flow.send_id, "/otp/send"),
        (flow.wrong_id, "/reset_user_password"),
        (flow.reset_id, "/reset_user_password"),
    ]:
        entries = [entry for entry in log if entry.get("request_id") == request_id]
        loggers = [entry["logger"] for entry in entries]
        assert loggers.count("ciam_server.audit") == loggers.count("uvicorn.access") == 1, (
            request_id,
            entries,
        )
        [access] = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
        assert f"POST {path} " in access["message"]
        [audit] = [entry for entry in entries if entry["logger"] == "ciam_server.audit"]
        assert audit["audit"]["identifier"] == flow.user.email
    # Every line logged while serving a request carries that request's id.
    served = [entry for entry in log if entry["logger"] in ("uvicorn.access", "ciam_server.audit")]
    assert served
    assert all(entry.get("request_id") for entry in served), served


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/path", 404), ("GET", "/otp/send", 405), ("POST", "/healthz", 405)],
)
def test_the_access_line_of_a_request_refused_before_any_handler_carries_its_request_id(
    servers: Servers, method: str, path: str, status: int
) -> None:
    server = servers.main
    sent_id = f"refused-{uuid.uuid4().hex}"
    response = httpx.request(method, server.base_url + path, headers={"X-Request-ID": sent_id})
    assert response.status_code == status
    assert response.headers["X-Request-ID"] == sent_id

    [access] = [
        entry
        for entry in server.log()
        if entry["logger"] == "uvicorn.access"
        and f"{method} {path} " in entry["message"]
        and entry.get("request_id") == sent_id
    ]
    assert f" {status}" in access["message"]


def audit_events(server: ProductionServer, identifier: str) -> list[AuditEvent]:
    async def read() -> list[AuditEvent]:
        engine = create_engine(server.env["CIAM_DATABASE_URL"])
        try:
            return await SqlStore(engine).audit_events(identifier=identifier)
        finally:
            await engine.dispose()

    return run_async(read())


AUDITED = (
    ("send", "code_sent", None),
    ("wrong", "reset_refused", "bad_email_otp"),
    ("reset", "reset_succeeded", None),
)
"""The flow's steps, oldest first: (step, audit action, reason)."""


def request_id(flow: Flow, step: str) -> str:
    return {"send": flow.send_id, "wrong": flow.wrong_id, "reset": flow.reset_id}[step]


def test_audit_events_are_in_the_table(servers: Servers, flow: Flow) -> None:
    events = audit_events(servers.main, flow.user.email)
    assert [event.action for event in events] == [action for _, action, _ in AUDITED][::-1]
    for event, (step, _, reason) in zip(reversed(events), AUDITED, strict=True):
        assert event.reason == reason
        assert event.identifier == flow.user.email  # normalized, not as given
        assert event.channel is not None
        assert event.channel.value == "email"
        assert event.client_id == servers.app.client_id
        assert event.request_id == request_id(flow, step)
        assert event.client_ip == flow.client_ip
    assert events[2].at <= events[1].at <= events[0].at


def test_audit_events_are_in_the_log(servers: Servers, flow: Flow) -> None:
    log = servers.main.log()
    for step, action, reason in AUDITED:
        logged = [
            entry["audit"]
            for entry in log
            if entry["logger"] == "ciam_server.audit"
            and entry.get("request_id") == request_id(flow, step)
        ]
        assert len(logged) == 1, f"audit entries logged with the {step} request's id: {logged}"
        assert logged[0] == {
            "action": action,
            "client_id": servers.app.client_id,
            "channel": "email",
            "identifier": flow.user.email,
            "reason": reason,
            "client_ip": flow.client_ip,
        }


# Time stamps, in the JSON and the text formats: their microseconds could match a code by chance.
_TIME_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}[.,]\d+(?:[+-]\d{2}:\d{2})?")


def test_no_secret_reaches_the_log_or_the_audit_trail(servers: Servers, flow: Flow) -> None:
    assert servers.app.client_secret is not None
    secrets = {
        "old password": DEFAULT_PASSWORD,
        "new password": NEW_PASSWORD,
        "code": flow.code,
        "wrong code": wrong_code(flow.code),
        "otp_token": flow.otp_token,
        "client secret": servers.app.client_secret,
        "CIAM_SECRET_KEY": SECRET_KEY,
        "CIAM_SMS_WEBHOOK_SECRET": SMS_WEBHOOK_SECRET,
    }
    logged = _TIME_STAMP.sub("<time>", servers.main.log_text() + servers.main.stdout.read_text())
    recorded = repr(
        [
            {name: value for name, value in vars(event).items() if name != "at"}
            for event in audit_events(servers.main, flow.user.email)
        ]
    )
    for name, secret in secrets.items():
        assert secret not in logged, f"the {name} is in the log"
        assert secret not in recorded, f"the {name} is in the audit trail"


def test_the_client_address_is_the_one_a_trusted_proxy_forwarded(servers: Servers) -> None:
    server, app = servers.main, servers.app
    forwarded = unique_email("forwarded")
    with sdk(
        server, app, headers={"X-Forwarded-For": "198.51.100.7"}, local_address="127.0.0.1"
    ) as ciam:
        ciam.send_otp(email=forwarded)
    untrusted = loopback_address()  # CIAM_TRUSTED_PROXIES=127.0.0.1 only
    claimed = unique_email("claimed")
    with sdk(
        server, app, headers={"X-Forwarded-For": "198.51.100.8"}, local_address=untrusted
    ) as ciam:
        ciam.send_otp(email=claimed)

    [via_proxy] = audit_events(server, forwarded)
    assert via_proxy.client_ip == "198.51.100.7"
    [direct] = audit_events(server, claimed)
    assert direct.client_ip == untrusted


# --- health, readiness, metrics -----------------------------------------------------------------


def test_healthz_and_readyz_answer_200(servers: Servers) -> None:
    health = httpx.get(f"{servers.main.base_url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = httpx.get(f"{servers.main.base_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_readyz_answers_503_when_the_database_is_gone(servers: Servers) -> None:
    server = servers.postgres
    if server is None:
        pytest.skip(servers.postgres_missing)
    assert httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200

    drop_postgres_database(server.env["CIAM_DATABASE_URL"])

    for _ in range(2):  # the pooled connection the drop cut, then a new one that cannot open
        response = httpx.get(f"{server.base_url}/readyz", timeout=30)
        assert_error(response, 503, "temporarily_unavailable")
        assert int(response.headers["Retry-After"]) > 0
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: ProductionServer) -> Samples:
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_argon2_work_and_deliveries(servers: Servers) -> None:
    server, app = servers.main, servers.app
    user = server.create_user()

    def requests(samples: Samples, endpoint: str, status: int, error: str = "") -> float:
        return value(
            samples, "ciam_requests_total", endpoint=endpoint, status=str(status), error=error
        )

    def deliveries(samples: Samples, channel: str, kind: str, outcome: str) -> float:
        return value(samples, "ciam_deliveries_total", channel=channel, kind=kind, outcome=outcome)

    first = scrape(server)
    assert ("ciam_argon2_queue_waiting", frozenset()) in first
    assert value(first, "ciam_argon2_queue_waiting") == 0
    assert ("ciam_argon2_operations_total", frozenset()) in first

    with sdk(server, app) as ciam:
        sent = ciam.send_otp(email=user.email)
        code = code_in(servers.mail.to(user.email)[-1].body)
        with api_error(BadEmailOtpError, status=400, code="bad_email_otp"):
            ciam.reset_user_password(
                email=user.email,
                otp=wrong_code(code),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )
        after_wrong_code = scrape(server)
        ciam.reset_user_password(
            email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
        )
        after_reset = scrape(server)
        servers.sms.status = 500
        try:
            with api_error(TemporarilyUnavailableError, status=503, code="temporarily_unavailable"):
                ciam.send_otp(phone_number=user.phone_number)
        finally:
            servers.sms.status = None
    last = scrape(server)

    def grew(name: str, by: float, **labels: str) -> None:
        assert value(last, name, **labels) - value(first, name, **labels) == by, (name, labels)

    assert requests(last, "/otp/send", 200) - requests(first, "/otp/send", 200) == 1
    assert (
        requests(last, "/otp/send", 503, "temporarily_unavailable")
        - requests(first, "/otp/send", 503, "temporarily_unavailable")
        == 1
    )
    assert (
        requests(last, "/reset_user_password", 200) - requests(first, "/reset_user_password", 200)
        == 1
    )
    assert (
        requests(last, "/reset_user_password", 400, "bad_email_otp")
        - requests(first, "/reset_user_password", 400, "bad_email_otp")
        == 1
    )
    grew("ciam_request_duration_seconds_count", 2, endpoint="/otp/send")
    grew("ciam_request_duration_seconds_count", 2, endpoint="/reset_user_password")
    assert value(last, "ciam_request_duration_seconds_sum", endpoint="/reset_user_password") > 0

    operations = "ciam_argon2_operations_total"
    assert value(after_wrong_code, operations) == value(first, operations)  # no argon2 work
    assert value(after_reset, operations) > value(after_wrong_code, operations)

    assert (
        deliveries(last, "email", "code", "sent") - deliveries(first, "email", "code", "sent") == 1
    )
    assert (
        deliveries(last, "email", "password_changed", "sent")
        - deliveries(first, "email", "password_changed", "sent")
        == 1
    )
    assert (
        deliveries(last, "sms", "code", "failed") - deliveries(first, "sms", "code", "failed") == 1
    )
    assert deliveries(last, "sms", "code", "sent") == deliveries(first, "sms", "code", "sent")


# --- graceful shutdown --------------------------------------------------------------------------


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_sigterm_lets_a_reset_in_flight_finish_then_exits_0(servers: Servers) -> None:
    server, mail = servers.slow, servers.mail
    app = server.create_app("web")
    # The user's hash is made cheaply (the cost of a verification is the hash's own): only the
    # new password's hash, the last step of the reset, is slow.
    user = User(unique_email(), unique_phone_number(), DEFAULT_PASSWORD)
    cli(
        server.env | FAST_ARGON2,
        *("users", "create", "--email", user.email, "--password", user.password),
    )
    with sdk(server, app) as ciam:
        sent = ciam.send_otp(email=user.email)
    code = code_in(mail.to(user.email)[-1].body)

    outcome: list[BaseException | float] = []

    def reset() -> None:
        try:
            with sdk(server, app) as ciam:
                ciam.reset_user_password(
                    email=user.email, otp=code, otp_token=sent.otp_token, password=NEW_PASSWORD
                )
            outcome.append(time.monotonic())
        except BaseException as error:
            outcome.append(error)

    pid = server.process.pid
    idle = resident_kib(pid)
    in_flight = threading.Thread(target=reset)
    in_flight.start()
    # argon2 fills its 256 MiB as it runs: once the server holds a good part of it, the reset
    # is past every check and hashing.
    deadline = time.monotonic() + 60
    while resident_kib(pid) < idle + 64 * 1024:
        assert in_flight.is_alive(), f"the reset ended before it could be caught: {outcome}"
        assert time.monotonic() < deadline, "the reset never reached argon2"
        time.sleep(0.01)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()

    in_flight.join(timeout=60)
    [answered] = outcome
    assert isinstance(answered, float), f"the reset in flight failed: {answered!r}"
    assert answered > signalled  # it was answered after the signal
    assert password_changes(server, user.email) == (1, 2)

    returncode = server.process.wait(timeout=SHUTDOWN_TIMEOUT + 10)
    stopped = time.monotonic()
    assert stopped - signalled < SHUTDOWN_TIMEOUT
    assert returncode == 0, f"the server exited {returncode}: {server.log_text()[-2000:]}"
