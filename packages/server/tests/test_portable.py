"""The server runs on Linux, macOS and Windows: its code calls nothing POSIX-only.

Continuous integration runs on Linux, where every POSIX call works; this test is what keeps the
other platforms in reach. It reads the server's source for the modules and calls that Windows
lacks (or macOS lacks, for ``SOCK_SEQPACKET`` on some versions), so a change bringing one in fails
here, whichever code path would call it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ciam_server

SOURCE = Path(ciam_server.__file__).parent

POSIX_ONLY_MODULES = {"fcntl", "resource", "termios", "pwd", "grp", "posix", "pty", "tty"}
POSIX_ONLY_NAMES = {
    "fork",
    "forkpty",
    "send_fds",
    "recv_fds",
    "sendmsg",
    "recvmsg",
    "AF_UNIX",
    "SOCK_SEQPACKET",
    "killpg",
    "setsid",
    "getuid",
    "geteuid",
    "SIGKILL",
    "SIGHUP",
    "SIGUSR1",
    "SIGUSR2",
    "SIGCHLD",
    "SIGPIPE",
}


def posix_only_uses(path: Path) -> list[str]:
    """Where ``path`` imports a POSIX-only module or names a POSIX-only call or constant."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [(node.module or "").split(".")[0]]
            found += [
                f"{path.name}:{node.lineno} {alias.name}"
                for alias in node.names
                if alias.name in POSIX_ONLY_NAMES
            ]
        elif isinstance(node, ast.Attribute) and node.attr in POSIX_ONLY_NAMES:
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
            continue
        else:
            continue
        found += [f"{path.name}:{node.lineno} {m}" for m in modules if m in POSIX_ONLY_MODULES]
    return found


def test_the_server_source_calls_nothing_posix_only() -> None:
    sources = sorted(SOURCE.rglob("*.py"))
    assert len(sources) > 20  # the whole package is read

    assert [use for path in sources for use in posix_only_uses(path)] == []


@pytest.mark.parametrize(
    "line",
    [
        "import fcntl",
        "from resource import getrlimit",
        "import os\nos.fork()",
        "import socket\nsocket.send_fds(None, [], [])",
        "import socket\nsocket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)",
        "from os import killpg",
    ],
)
def test_the_check_finds_each_kind_of_posix_only_use(tmp_path: Path, line: str) -> None:
    path = tmp_path / "module.py"
    path.write_text(line + "\n")

    assert posix_only_uses(path) != []
