"""Helpers for reading what ``ciam-server`` printed and what it stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from click.testing import Result


class Invoke(Protocol):
    """Run ``ciam-server ARGS`` in-process, with ``input`` as its standard input."""

    def __call__(self, *args: str, input: str | None = None) -> Result: ...


def output_json(result: Result) -> Any:
    """The JSON document a successful command printed on stdout."""
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def error_message(result: Result, exit_code: int = 1) -> str:
    """The message of the JSON error a failed command printed on stderr (and nothing on
    stdout)."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert result.stdout == ""
    message: str = json.loads(result.stderr)["error"]
    return message


def table(database: Path, name: str) -> list[dict[str, Any]]:
    """Every row of a table, read directly as an administrator with ``sqlite3`` would."""
    connection = sqlite3.connect(database)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(f"SELECT * FROM {name}")]  # noqa: S608
    finally:
        connection.close()
