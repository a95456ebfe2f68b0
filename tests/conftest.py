"""A real ciam-server process on a real socket, set up through its own CLI, for the SDK to use."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SECRET_KEY = "cross-package-tests-secret-key-0123456789"
# Cheap argon2 parameters: the tests exercise the flow, not the cost.
FAST_ARGON2 = {
    "CIAM_ARGON2_TIME_COST": "1",
    "CIAM_ARGON2_MEMORY_KIB": "1024",
    "CIAM_ARGON2_PARALLELISM": "1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A running server, the environment it was started with, and its outbox."""

    base_url: str
    env: dict[str, str]
    outbox: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``ciam-server ARGS`` against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "ciam_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def cli_json(self, *args: str) -> object:
        return json.loads(self.cli(*args).stdout)

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


def _start(tmp: Path, **settings: str) -> Iterator[Server]:
    port = _free_port()
    env = {
        **os.environ,
        "CIAM_MODE": "dev",
        "CIAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'ciam.db'}",
        "CIAM_OUTBOX_PATH": str(tmp / "outbox.jsonl"),
        "CIAM_SECRET_KEY": SECRET_KEY,
        **FAST_ARGON2,
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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server most tests share: default lifetimes and limits."""
    yield from _start(tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="session")
def short_lived_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose codes live 1 s and tokens 3 s, to reach the expiry errors."""
    yield from _start(
        tmp_path_factory.mktemp("short"), CIAM_OTP_CODE_TTL="1", CIAM_OTP_TOKEN_TTL="3"
    )
