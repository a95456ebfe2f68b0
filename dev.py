"""Run nox sessions with nothing installed but Python and pip.

``python3 dev.py serve`` and ``python3 dev.py tests`` install nox (with uv) into ``.venv-nox/``
on first use, then run ``nox -s <session> ...``. Sessions install the project from ``uv.lock``.
With nox installed already, ``nox -s serve`` does the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".venv-nox"
NOX_REQUIREMENT = "nox[uv]==2026.10.20"


def _python() -> Path:
    return BOOTSTRAP / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ensure_nox() -> None:
    marker = BOOTSTRAP / "installed.txt"
    if marker.exists() and marker.read_text() == NOX_REQUIREMENT:
        return
    venv.create(BOOTSTRAP, with_pip=True, clear=True)
    subprocess.run([str(_python()), "-m", "pip", "install", "--quiet", NOX_REQUIREMENT], check=True)
    marker.write_text(NOX_REQUIREMENT)


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python3 dev.py SESSION [SESSION ...] [-- ARGS]", file=sys.stderr)
        return 2
    sessions, _, extra = " ".join(argv).partition(" -- ")
    _ensure_nox()
    command = [str(_python()), "-m", "nox", "-s", *sessions.split()]
    if extra:
        command += ["--", *extra.split()]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
