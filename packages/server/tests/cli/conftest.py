"""``ciam-server`` run in-process by click's runner, against a SQLite file under ``tmp_path``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ciam_server.cli import main

from .support import Invoke

CHEAP_ARGON2 = {
    "CIAM_ARGON2_TIME_COST": "1",
    "CIAM_ARGON2_MEMORY_KIB": "1024",
    "CIAM_ARGON2_PARALLELISM": "1",
}


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The SQLite file every command of a test works on; nothing of the machine's own
    ``CIAM_`` variables or ``.env`` file leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("CIAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cli.db"
    monkeypatch.setenv("CIAM_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(name, value)
    return path


@pytest.fixture
def invoke() -> Invoke:
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input)

    return run


@pytest.fixture
def upgraded(invoke: Invoke, database: Path) -> Path:
    """The database, brought to the latest schema by ``db upgrade``."""
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return database
