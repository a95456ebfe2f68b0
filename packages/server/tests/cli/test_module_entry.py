"""``python -m ciam_server`` is the ``ciam-server`` command."""

from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_runs_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ciam_server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Usage:" in completed.stdout
    for command in ("serve", "db", "apps", "users"):
        assert command in completed.stdout
