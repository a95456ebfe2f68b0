"""``python -m tests.prerequisites``, which the ``tests`` session runs before pytest: it names
each service the tests need and do not find, and under ``CI=true`` stops the run there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _check(ci: str) -> subprocess.CompletedProcess[str]:
    """The check, with PostgreSQL and Redis looked for where nothing answers."""
    env = {
        **os.environ,
        "CI": ci,
        "CIAM_TEST_POSTGRES_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/x",
        "CIAM_TEST_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.prerequisites"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_under_ci_a_missing_service_stops_the_run_naming_it(ci: str) -> None:
    result = _check(ci)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("missing for the tests: PostgreSQL:") for line in lines), lines
    assert any(line.startswith("missing for the tests: Redis:") for line in lines), lines
    assert "CIAM_TEST_POSTGRES_URL" in result.stderr
    assert lines[-1] == "CI=true: every test must run, so none is started."


def test_elsewhere_a_missing_service_is_named_and_its_tests_skipped() -> None:
    result = _check("")
    assert result.returncode == 0, result.stderr
    assert "missing for the tests: Redis:" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("The tests needing them are skipped")
