"""Starting in production: the configurations that must not serve are refused, with exit code 2
and a message saying what to change, whether the server is started by ``ciam-server serve`` or
by uvicorn directly; ``serve --workers 2`` serves with processes that check each other's codes.

Every process is started at once by one fixture (the refused ones exit by themselves), so that
their start-up costs overlap.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ciam_server.config import PENDING_MIGRATIONS

from .conftest import NEW_PASSWORD, _free_port, unique_email
from .production_support import (
    START_TIMEOUT,
    Mailbox,
    ProductionServer,
    cli,
    code_in,
    launch,
    mailbox,
    production_env,
    sdk,
    serve_command,
    stop,
    wait_until_serving,
)

WORKERS = 2


@dataclass(frozen=True)
class Exited:
    returncode: int
    stdout: str
    stderr: str
    left: frozenset[str]
    """The files the process left in its directory, besides its standard output and error."""


@dataclass(frozen=True)
class Started:
    refused: dict[str, Exited]
    workers: ProductionServer
    mail: Mailbox


REFUSED = {
    "outbox": {"CIAM_DELIVERY": "outbox"},
    "no secret key": {"CIAM_SECRET_KEY": ""},
    "pending migration": {},
    "uvicorn, pending migration": {},
    "workers, no secret key": {
        "CIAM_MODE": "dev",
        "CIAM_DELIVERY": "outbox",
        "CIAM_SECRET_KEY": "",
    },
}
"""The settings of each refused start, by name, over a production configuration with live
delivery and a database that has had no ``db upgrade``: each has exactly one thing wrong."""


def _without_empty(env: dict[str, str]) -> dict[str, str]:
    """An empty value stands for a variable left unset."""
    return {name: value for name, value in env.items() if value != ""}


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    with mailbox() as mail:
        folder = tmp_path_factory.mktemp("workers")
        env = production_env(folder, **mail.settings())
        cli(env, "db", "upgrade")
        workers = launch(folder, serve_command("--workers", str(WORKERS)), env)
        try:
            processes: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
            for name, settings in REFUSED.items():
                where = tmp_path_factory.mktemp("refused")
                command = ["-m", "ciam_server", "serve", "--port", str(_free_port())]
                if name.startswith("uvicorn"):
                    command = [
                        *("-m", "uvicorn", "ciam_server.app:create_served_app", "--factory"),
                        *("--port", str(_free_port())),
                    ]
                elif name.startswith("workers"):
                    command += ["--workers", str(WORKERS)]
                run_env = _without_empty(production_env(where, **mail.settings(), **settings))
                with (where / "stdout").open("wb") as out, (where / "stderr").open("wb") as err:
                    process = subprocess.Popen(
                        [sys.executable, *command], env=run_env, cwd=where, stdout=out, stderr=err
                    )
                processes[name] = (process, where)
            refused = {}
            for name, (process, where) in processes.items():
                try:
                    returncode = process.wait(timeout=START_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    returncode = -999  # did not exit by itself: it served, or hung
                refused[name] = Exited(
                    returncode,
                    (where / "stdout").read_text(encoding="utf-8"),
                    (where / "stderr").read_text(encoding="utf-8"),
                    frozenset(path.name for path in where.iterdir()) - {"stdout", "stderr"},
                )
            wait_until_serving(workers)
            yield Started(refused=refused, workers=workers, mail=mail)
        finally:
            stop(workers)


def error_message(exited: Exited) -> str:
    """The message of a refused ``serve``: exit code 2, nothing on standard output, and the
    last line of standard error the JSON ``{"error": ...}``."""
    assert exited.returncode == 2, exited
    assert exited.stdout == ""
    last = json.loads(exited.stderr.splitlines()[-1])
    assert isinstance(last, dict)
    assert set(last) == {"error"}
    message: str = last["error"]
    return message


def test_serve_in_production_refuses_the_dev_outbox(started: Started) -> None:
    message = error_message(started.refused["outbox"])
    assert "CIAM_DELIVERY=outbox" in message
    assert "CIAM_DELIVERY=live" in message


def test_serve_in_production_refuses_to_start_without_a_secret_key(started: Started) -> None:
    message = error_message(started.refused["no secret key"])
    assert "CIAM_SECRET_KEY is required in production" in message


def test_serve_in_production_refuses_a_database_with_a_pending_migration(
    started: Started,
) -> None:
    exited = started.refused["pending migration"]
    message = error_message(exited)
    assert message == PENDING_MIGRATIONS
    assert "ciam-server db upgrade" in message
    assert exited.left == frozenset(), "the refused start left its database file behind"


def test_the_app_refuses_a_pending_migration_when_uvicorn_starts_it(started: Started) -> None:
    exited = started.refused["uvicorn, pending migration"]
    assert exited.returncode not in (0, -999), exited
    assert PENDING_MIGRATIONS in exited.stdout + exited.stderr
    assert exited.left == frozenset(), "the refused start left its database file behind"


def test_workers_without_a_secret_key_are_refused(started: Started) -> None:
    message = error_message(started.refused["workers, no secret key"])
    assert "--workers needs CIAM_SECRET_KEY" in message


WORKER_STARTED = re.compile(r"Started server process \[(\d+)\]")


def worker_pids(server: ProductionServer) -> set[int]:
    """The processes that logged their start as uvicorn workers, once all of them did."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        pids = {int(pid) for pid in WORKER_STARTED.findall(server.log_text())}
        if len(pids) == WORKERS or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def test_serve_with_two_workers_serves_and_each_checks_the_others_codes(
    started: Started,
) -> None:
    server, mail = started.workers, started.mail
    pids = worker_pids(server)
    assert len(pids) == WORKERS
    assert server.process.pid not in pids
    app = server.create_app("web")

    # Each request on a connection of its own, so that any worker may take it.
    for _ in range(30):
        assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
    for _ in range(10):
        email = unique_email("workers")
        server.cli("users", "create", "--email", email, "--password", "Kettle-sunrise-73")
        with sdk(server, app) as ciam:
            sent = ciam.send_otp(email=email)
        [mail_received] = mail.to(email)
        with sdk(server, app) as ciam:
            ciam.reset_user_password(
                email=email,
                otp=code_in(mail_received.body),
                otp_token=sent.otp_token,
                password=NEW_PASSWORD,
            )

    stop(server)
    for pid in pids:  # the workers stop with the server
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
