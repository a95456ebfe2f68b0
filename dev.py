"""Run nox sessions with nothing installed but Python and pip.

``python3 dev.py serve`` and ``python3 dev.py tests`` install nox (with uv) into ``.venv-nox/``
on first use, then run ``nox -s <session> ...``. Sessions install the project from ``uv.lock``.
With nox installed already, ``nox -s serve`` does the same.

The arguments after ``--`` reach the session as they were given. A SIGINT or SIGTERM sent to
this process goes on to nox, which stops its session's command (the server, for ``serve``), and
this process waits for it to end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".venv-nox"
NOX_REQUIREMENT = "nox[uv]==2026.10.20"
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _python() -> Path:
    return BOOTSTRAP / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ensure_nox() -> None:
    marker = BOOTSTRAP / "installed.txt"
    if marker.exists() and marker.read_text() == NOX_REQUIREMENT:
        return
    venv.create(BOOTSTRAP, with_pip=True, clear=True)
    subprocess.run([str(_python()), "-m", "pip", "install", "--quiet", NOX_REQUIREMENT], check=True)
    marker.write_text(NOX_REQUIREMENT)


def nox_command(argv: list[str]) -> list[str]:
    """``nox -s SESSION ... [-- ARGS]`` for ``SESSION ... [-- ARGS]``: every argument after the
    first ``--`` is passed on unchanged (``-k "email or phone"`` stays two arguments)."""
    sessions, extra = argv, []
    if "--" in argv:
        split = argv.index("--")
        sessions, extra = argv[:split], argv[split + 1 :]
    command = [str(_python()), "-m", "nox", "-s", *sessions]
    if extra:
        command += ["--", *extra]
    return command


def run_forwarding_signals(command: list[str]) -> int:
    """Run ``command`` and wait for it; SIGINT and SIGTERM received meanwhile are sent on to it.

    On Windows a console's Ctrl+C already reaches every process attached to it, and SIGINT
    cannot be sent to another process: only SIGTERM is sent on (Popen ends the process then)."""
    child = subprocess.Popen(command, cwd=ROOT)

    def forward(signum: int, _: FrameType | None) -> None:
        if os.name == "nt" and signum == signal.SIGINT:
            return
        if child.poll() is None:
            child.send_signal(signum)

    previous = {number: signal.signal(number, forward) for number in FORWARDED_SIGNALS}
    try:
        return child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python3 dev.py SESSION [SESSION ...] [-- ARGS]", file=sys.stderr)
        return 2
    _ensure_nox()
    return run_forwarding_signals(nox_command(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
