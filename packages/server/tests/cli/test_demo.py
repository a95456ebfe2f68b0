"""``serve --demo`` as a user starts it, in a process of its own: the banner tells the demo
user's password only when it made the user, and says the demo is ready only once the server
listens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ciam_server.cli import DEMO_CLIENT_ID, DEMO_EMAIL, DEMO_PASSWORD

START_TIMEOUT = 60  # seconds
NEW_PASSWORD = "Copper-kettle-72"


@dataclass(frozen=True)
class Demo:
    process: subprocess.Popen[bytes]
    stdout: Path
    base_url: str

    def output(self) -> str:
        return self.stdout.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def demo_started(folder: Path, port: int) -> Iterator[Demo]:
    """``ciam-server serve --demo`` in ``folder`` (the database of the test's environment),
    stopped at the end."""
    stdout = folder / f"stdout-{port}"
    with stdout.open("wb") as out, (folder / f"stderr-{port}").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "ciam_server", "serve", "--demo", "--port", str(port)],
            cwd=folder,
            env=dict(os.environ),
            stdout=out,
            stderr=err,
        )
    try:
        yield Demo(process, stdout, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT)


def banner(demo: Demo) -> str:
    """The banner, once printed in full; fails if the server exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while "OpenAPI:" not in (output := demo.output()):
        assert demo.process.poll() is None, f"the server exited {demo.process.returncode}"
        assert time.monotonic() < deadline, "no banner"
        time.sleep(0.05)
    return output


def reset_demo_password(demo: Demo, outbox: Path, password: str) -> None:
    """The demo user's password reset through the API, as the banner suggests."""
    sent = httpx.post(
        f"{demo.base_url}/otp/send",
        json={"client_id": DEMO_CLIENT_ID, "usage": "reset_password", "email": DEMO_EMAIL},
    )
    assert sent.status_code == 200, sent.text
    code = json.loads(outbox.read_text(encoding="utf-8").splitlines()[-1])["code"]
    reset = httpx.post(
        f"{demo.base_url}/reset_user_password",
        json={
            "client_id": DEMO_CLIENT_ID,
            "email": DEMO_EMAIL,
            "email_otp": code,
            "email_otp_token": sent.json()["otp_token"],
            "password": password,
        },
    )
    assert reset.status_code == 200, reset.text


def test_the_banner_tells_the_password_of_the_user_it_made_only(tmp_path: Path) -> None:
    with demo_started(tmp_path, _free_port()) as first:
        text = banner(first)
        # Printed once the server listens: it answers at once.
        assert httpx.get(f"{first.base_url}/healthz").status_code == 200
        assert DEMO_PASSWORD in text
        assert "are ready" in text
        reset_demo_password(first, tmp_path / "outbox.jsonl", NEW_PASSWORD)

    with demo_started(tmp_path, _free_port()) as second:
        text = banner(second)
        assert DEMO_PASSWORD not in text
        assert NEW_PASSWORD not in text
        assert "an existing user: its password is the last one set for it" in text


def test_no_banner_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with demo_started(tmp_path, taken.getsockname()[1]) as demo:
            returncode = demo.process.wait(timeout=START_TIMEOUT)
            output = demo.output()

    assert returncode != 0
    assert output == ""
