"""``dev.py``, the README's entry point: the arguments after ``--`` reach the session as given,
and stopping it stops what it started (the dev server, for ``serve``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dev
import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = ("pytest", "mypy", "playwright", "ruff")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("argv", "nox_arguments"),
    [
        (["tests"], ["-s", "tests"]),
        (["lint", "typecheck"], ["-s", "lint", "typecheck"]),
        (
            ["tests", "--", "-k", "email or phone", "tests/x y.py"],
            ["-s", "tests", "--", "-k", "email or phone", "tests/x y.py"],
        ),
        (
            ["serve", "--", "--port", "9000", "--", "x"],
            ["-s", "serve", "--", "--port", "9000", "--", "x"],
        ),
    ],
)
def test_the_nox_command_keeps_each_argument_whole(
    argv: list[str], nox_arguments: list[str]
) -> None:
    command = dev.nox_command(argv)
    assert command[1:3] == ["-m", "nox"]
    assert command[3:] == nox_arguments


def test_an_argument_with_spaces_reaches_pytest_whole() -> None:
    """``-k "quoting or nothing_else"`` selects this test's neighbour; split at its spaces,
    pytest would read ``or`` and ``nothing_else`` as paths and fail."""
    result = subprocess.run(
        [
            sys.executable,
            "dev.py",
            "tests",
            "--",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "keeps_each_argument or nothing_else",
            "tests/test_dev_script.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_the_nox_command_keeps_each_argument_whole" in result.stdout
    assert "test_an_argument_with_spaces_reaches_pytest_whole" not in result.stdout


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python3 dev.py serve`` on a port of its own, its database and outbox under ``tmp_path``;
    the whole process group is killed afterwards, whatever the test did."""
    port = _free_port()
    env = {
        **os.environ,
        "CIAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ciam.db'}",
        "CIAM_OUTBOX_PATH": str(tmp_path / "outbox.jsonl"),
    }
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "dev.py", "serve", "--", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _answers(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the dev server did not start: {(tmp_path / 'dev.log').read_text()}")
            time.sleep(0.2)
        yield process, base_url
    finally:
        if process.poll() is None or _answers(base_url):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        log.close()


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGTERM to send on Windows")
def test_serve_installs_the_server_alone_and_stops_with_dev_py(
    dev_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base_url = dev_server
    serve_python = ROOT / ".nox" / "serve" / "bin" / "python"
    found = subprocess.run(
        [
            str(serve_python),
            "-I",
            "-c",
            "import importlib.util, sys; "
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
            *DEV_TOOLS,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "", f"serve installed development tools: {found.stdout}"

    # The demo allows pages served from this machine.
    origin = "http://localhost:5173"
    preflight = httpx.options(
        f"{base_url}/otp/send",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == origin

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert not _answers(base_url), "the server outlived dev.py"
