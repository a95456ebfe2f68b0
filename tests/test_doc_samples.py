"""Every code sample of the documentation runs, against a real server.

The documentation is ``README.md``, ``docs/*.md`` and ``examples/*/README.md``. Their fenced code
blocks follow this policy:

- ``python`` blocks (but those of ``docs/testing.md``, which are test modules run by
  tests/test_testing_guide.py) are run, each in a fresh namespace, against a server process
  started for these tests. They may use names the test defines, for the values that are the
  reader's: ``BASE_URL`` (the server's address); ``CLIENT_ID`` and ``CLIENT_SECRET`` (a confidential
  ``web`` application when the block mentions ``CLIENT_SECRET``, otherwise a public ``spa``
  application created with ``--allow-otp-send``, and ``CLIENT_SECRET`` is ``None``); ``EMAIL``
  and ``PHONE`` (a new user for each block) and ``PASSWORD`` (that user's password); and
  ``read_code(address)`` (the last reset code sent to ``address``, as the user reads it). A block
  that assigns one of these names itself uses its own value.
- ``sh`` blocks (also ``bash``, ``shell``) are run as one ``bash -euo pipefail`` script each, in
  which ``curl`` fails on an error status (``--fail-with-body``). ``console`` blocks are run
  command by command: a command is a line starting with ``$ `` (continued by lines ending with a
  backslash); the lines after it are its output, and when a command shows output, what it
  prints (standard output and error) must match it, where ``…`` or ``...`` in a line matches any
  text and a line holding only ``…`` or ``...`` matches any number of lines; a command shown
  without output must exit 0. Both run in the server's directory (its ``./ciam.db`` and
  ``./outbox.jsonl`` are the server's) with its environment, so ``ciam-server`` works on its
  database, and with ``http://127.0.0.1:8000`` and ``http://localhost:8000`` replaced by its
  address. The server holds what ``ciam-server serve --demo`` makes: the application
  ``demo-spa`` and the user ``demo@example.com``. The blocks of one file run in order on one
  server, so a block may use what an earlier block of the same file stored.
- The commands in :data:`NOT_RUN` are not run, each for the reason given there (a command
  matches when it is written exactly so, comments and spacing aside). Any other command that
  would not end or would change the machine (see :data:`UNRUNNABLE`) fails the test: add it to
  :data:`NOT_RUN` with its reason, or write the sample otherwise.
- Blocks in any other language (``text``, ``json``, ``ini``, ``nginx``, ...) are not samples and
  are not run. A fence without a language fails, as do ``pycon`` blocks and ``text`` blocks with
  a line that starts like a command (see :data:`COMMAND_STARTS`), so that no sample goes unrun by
  accident.

``docs/sdk.md`` also holds the table of exception classes, which must list every error code of
the registry with its class and status.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import ciam_client
from ciam_client import error_class_for
from ciam_server.cli import DEMO_CLIENT_ID, DEMO_EMAIL, DEMO_PASSWORD, DEMO_PHONE
from ciam_shared import ERROR_SPECS, ErrorCode

from .conftest import App, Server, _start

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "examples").glob("*/README.md")),
]
SDK_GUIDE = ROOT / "docs" / "sdk.md"

PYTHON = frozenset({"python", "py", "python3"})
SHELL = frozenset({"sh", "bash", "shell"})
CONSOLE = frozenset({"console", "shell-session"})
REFUSED = {
    "": "name the block's language: python, sh or console to run it, text for anything else",
    "pycon": "write a python block: interactive sessions are not run",
}
COMMAND_STARTS = ("$ ", "ciam-server ", "curl ", "python ", "python3 ", "pip ", "uv ", "uvicorn ")
"""A ``text`` block with a line starting so holds a command: it belongs in an ``sh`` block."""

NOT_RUN = {
    "python3 dev.py serve": "starts the dev server, which runs until stopped; these tests start "
    "the same server (python -m ciam_server serve) and make its demo data",
    "python3 dev.py tests": "runs this test suite",
    "python3 dev.py bench": "runs the benchmark: minutes of full load, and it installs wrk with "
    "apt-get when missing",
    "nox -s bench -- --quick": "runs the benchmark, as above",
    "ciam-server serve --host 0.0.0.0 --port 8000": "starts the server, which runs until stopped",
    "ciam-server serve --host 0.0.0.0 --port 8000 --workers 4": "starts the server, which runs "
    "until stopped",
    "PROMETHEUS_MULTIPROC_DIR=/run/ciam-metrics ciam-server serve --host 0.0.0.0 --port 8000 "
    "--workers 4": "starts the server, which runs until stopped; "
    "tests/test_multiprocess_metrics.py starts two workers so",
    "pip install ./packages/shared ./packages/client": "installs into the reader's environment; "
    "test_the_sdk_needs_only_httpx_and_msgspec checks what it installs",
    "uvicorn --app-dir examples/reset_backend --factory app:create_app --port 8080": "starts the "
    "example backend, which runs until stopped; examples/reset_backend/tests/test_app.py runs "
    "it in process",
    "python3 -m venv .venv": "makes the reader's environment for the example backend",
    ". .venv/bin/activate": "enters that environment",
    "pip install ./packages/shared ./packages/server ./packages/client": "installs into the "
    "reader's environment; examples/reset_backend/tests/test_app.py checks that it brings what "
    "the example needs",
}
"""Commands the tests do not run, and why, normalized as :func:`normalize` does."""


UNRUNNABLE = (
    "ciam-server serve",
    "python dev.py",
    "python3 dev.py",
    "python -m ciam_server serve",
    "python3 -m ciam_server serve",
    "nox",
    "uvicorn",
    "gunicorn",
    "litestar run",
    "docker",
    "systemctl",
    "pip install",
    "python -m pip install",
    "python3 -m pip install",
    "apt-get",
    "apt",
    "uv sync",
    "uv pip install",
    "sudo",
    "wrk",
)
"""Starts of commands that would not end, or would change the machine."""

SERVER_URLS = ("http://127.0.0.1:8000", "http://localhost:8000")
SHELL_TIMEOUT = 100  # seconds; the test itself times out at 120
WILDCARDS = ("…", "...")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def read_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file; an unclosed fence ends the file."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        start, indent, fence = index, len(opening["indent"]), opening["fence"]
        body: list[str] = []
        while index < len(lines):
            line = lines[index]
            index += 1
            stripped = line.strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(line[indent:] if not line[:indent].strip() else line.lstrip())
        info = opening["info"].strip()
        language = info.split()[0].lower() if info else ""
        blocks.append(Block(path, start, language, "\n".join(body) + "\n"))
    return blocks


BLOCKS = [block for path in DOCUMENTS for block in read_blocks(path)]


def _blocks(languages: frozenset[str]) -> list[pytest.ParameterSet]:
    return [pytest.param(block, id=block.where) for block in BLOCKS if block.language in languages]


# --- the server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocsServer:
    server: Server
    public_app: App
    confidential_app: App


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsServer]:
    """A server of its own (samples change what they touch), with the demo of the quick start."""
    with contextmanager(_start)(tmp_path_factory.mktemp("docs")) as server:
        server.cli(
            "apps",
            "create",
            "--name",
            "Demo single-page app",
            "--type",
            "spa",
            "--client-id",
            DEMO_CLIENT_ID,
            "--allow-otp-send",
        )
        server.cli(
            "users",
            "create",
            "--email",
            DEMO_EMAIL,
            "--phone-number",
            DEMO_PHONE,
            "--password",
            DEMO_PASSWORD,
        )
        yield DocsServer(
            server=server,
            public_app=server.create_app("spa", client_id="docs-spa", allow_otp_send=True),
            confidential_app=server.create_app("web", client_id="docs-web"),
        )


# --- python ------------------------------------------------------------------------------------


TESTING_GUIDE = ROOT / "docs" / "testing.md"
"""Its python blocks are test modules: tests/test_testing_guide.py runs them with pytest."""


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(block, id=block.where)
        for block in BLOCKS
        if block.language in PYTHON and block.path != TESTING_GUIDE
    ],
)
def test_python_sample(block: Block, docs: DocsServer) -> None:
    app = docs.confidential_app if "CLIENT_SECRET" in block.text else docs.public_app
    user = docs.server.create_user()
    read_code: Callable[[str], str] = docs.server.last_code
    namespace: dict[str, object] = {
        "__name__": "__main__",
        "BASE_URL": docs.server.base_url,
        "CLIENT_ID": app.client_id,
        "CLIENT_SECRET": app.client_secret,
        "EMAIL": user.email,
        "PHONE": user.phone_number,
        "PASSWORD": user.password,
        "read_code": read_code,
    }
    # Leading newlines make the traceback's line numbers those of the Markdown file.
    code = compile("\n" * block.line + block.text, str(block.path), "exec")
    exec(code, namespace)  # noqa: S102 - the documentation's own samples


# --- shell -------------------------------------------------------------------------------------


def logical_lines(lines: list[str]) -> Iterator[str]:
    """Lines joined across trailing backslashes."""
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def normalize(command: str) -> str:
    """A command as words, without comments or extra spacing (how :data:`NOT_RUN` holds it)."""
    return " ".join(shlex.split(command, comments=True))


_OPERATORS = frozenset({"&&", "||", ";", "|", "&"})


def _programs(command: str) -> Iterator[str]:
    """Each command of a line (split at ``&&``, ``;``, ``|``...), without leading ``NAME=value``
    assignments."""
    words = shlex.split(command, comments=True)
    while words:
        end = next((n for n, word in enumerate(words) if word in _OPERATORS), len(words))
        segment, words = words[:end], words[end + 1 :]
        while segment and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", segment[0]):
            segment.pop(0)
        yield " ".join(segment)


def runnable(block: Block, command: str) -> bool:
    """False for a command of :data:`NOT_RUN`; fails the test for any other unrunnable one."""
    if normalize(command) in NOT_RUN:
        return False
    for program, start in itertools.product(_programs(command), UNRUNNABLE):
        if program == start or program.startswith(start + " "):
            pytest.fail(
                f"{block.where}: `{command.strip()}` would not end or would change the machine: "
                "add it to NOT_RUN in tests/test_doc_samples.py with the reason it is not run, "
                "or write the sample otherwise"
            )
    return True


def for_server(text: str, server: Server) -> str:
    for url in SERVER_URLS:
        text = text.replace(url, server.base_url)
    return text


def run_bash(script: str, server: Server) -> subprocess.CompletedProcess[str]:
    env = server.env | {"PATH": f"{Path(sys.executable).parent}:{server.env.get('PATH', '')}"}
    return subprocess.run(
        ["bash", "-c", script],
        cwd=server.outbox.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT,
        check=False,
    )


def run_sh(block: Block, server: Server) -> None:
    lines = [
        line if not line.strip() or runnable(block, line) else f": not run: {normalize(line)}"
        for line in logical_lines(block.text.splitlines())
    ]
    script = "\n".join(
        [
            "set -euo pipefail",
            'curl() { command curl --fail-with-body "$@"; }',
            for_server("\n".join(lines), server),
        ]
    )
    result = run_bash(script, server)
    assert result.returncode == 0, (
        f"{block.where} exited {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )


@dataclass
class Command:
    text: str
    shown: list[str]  # the output the documentation shows
    run: bool


def console_commands(block: Block) -> list[Command]:
    """The ``$ `` commands of a console block, each with the output lines shown after it."""
    commands: list[Command] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("$ "):
            if commands:
                commands[-1].shown.append(line)
            elif line.strip():
                pytest.fail(f"{block.where}: a console block starts with a `$ ` command")
            continue
        parts = [line[2:]]
        while parts[-1].rstrip().endswith("\\") and index < len(lines):
            parts.append(lines[index])
            index += 1
        commands.append(Command("\n".join(parts), [], True))
    return commands


def written_commands(block: Block) -> list[str]:
    """The commands of a shell or console block, each on one line."""
    if block.language in CONSOLE:
        texts = [command.text for command in console_commands(block)]
        return [" ".join(logical_lines(text.splitlines())) for text in texts]
    return [line for line in logical_lines(block.text.splitlines()) if line.strip()]


def _line_pattern(expected: str) -> re.Pattern[str]:
    pieces = re.split("|".join(map(re.escape, WILDCARDS)), expected.rstrip())
    return re.compile(".*".join(map(re.escape, pieces)))


def output_matches(expected: list[str], actual: list[str]) -> bool:
    if not expected:
        return not actual
    head, rest = expected[0].strip(), expected[1:]
    if head in WILDCARDS:
        return any(output_matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    return (
        bool(actual)
        and _line_pattern(expected[0]).fullmatch(actual[0].rstrip()) is not None
        and output_matches(rest, actual[1:])
    )


def run_console(block: Block, server: Server) -> None:
    commands = console_commands(block)
    for command in commands:
        command.run = runnable(block, " ".join(logical_lines(command.text.splitlines())))
    script = ["exec 2>&1"]
    for number, command in enumerate(commands):
        script += [
            f"printf '\\n@@command {number}@@\\n'",
            command.text if command.run else ":",
            f"printf '\\n@@exit {number} %d@@\\n' $?",
        ]
    result = run_bash(for_server("\n".join(script), server), server)
    outputs = {
        int(number): (text, int(status))
        for number, text, status in re.findall(
            r"\n@@command (\d+)@@\n(.*?)\n@@exit \d+ (\d+)@@\n", result.stdout, flags=re.DOTALL
        )
    }
    for number, command in enumerate(commands):
        if not command.run:
            continue
        assert number in outputs, f"{block.where}: `{command.text}` did not finish:\n{result}"
        text, status = outputs[number]
        printed = text.rstrip("\n").splitlines()
        shown = [for_server(line, server) for line in command.shown]
        while shown and not shown[-1].strip():
            shown.pop()
        if shown:
            assert output_matches(shown, printed), (
                f"{block.where}: `{command.text}` printed\n"
                + "\n".join(printed)
                + "\n--- but the documentation shows\n"
                + "\n".join(shown)
            )
        else:
            assert status == 0, f"{block.where}: `{command.text}` exited {status}:\n{text}"


@pytest.mark.parametrize("block", _blocks(SHELL | CONSOLE))
def test_shell_sample(block: Block, docs: DocsServer) -> None:
    if block.language in CONSOLE:
        run_console(block, docs.server)
    else:
        run_sh(block, docs.server)


# --- the rules themselves ----------------------------------------------------------------------


def test_every_fence_names_its_language() -> None:
    refused = [
        f"{block.where}: {REFUSED[block.language]}" for block in BLOCKS if block.language in REFUSED
    ]
    refused += [
        f"{block.where}: `{line.strip()}` is a command: put it in an sh block (and in NOT_RUN, "
        "with the reason, if it must not run)"
        for block in BLOCKS
        if block.language == "text"
        for line in block.text.splitlines()
        if line.lstrip().startswith(COMMAND_STARTS)
    ]
    assert not refused, "\n".join(refused)


def test_every_command_not_run_is_in_the_documentation() -> None:
    """A command no longer in the documentation leaves :data:`NOT_RUN`."""
    written = {
        normalize(command)
        for block in BLOCKS
        if block.language in SHELL | CONSOLE
        for command in written_commands(block)
    }
    assert set(NOT_RUN) <= written, sorted(set(NOT_RUN) - written)


def test_the_rules_match_output_as_documented() -> None:
    assert output_matches(['{"a": "…", "b": 1}'], ['{"a": "x y", "b": 1}'])
    assert not output_matches(['{"a": "…", "b": 1}'], ['{"a": "x", "b": 2}'])
    assert output_matches(["first", "...", "last"], ["first", "x", "y", "last"])
    assert output_matches(["first", "…", "last"], ["first", "last"])
    assert not output_matches(["first"], ["first", "second"])
    assert normalize("python3 dev.py serve     # a comment") == "python3 dev.py serve"
    assert list(_programs("cd /srv && CIAM_MODE=production ciam-server serve --port 1")) == [
        "cd /srv",
        "ciam-server serve --port 1",
    ]


# --- what docs/sdk.md must say -----------------------------------------------------------------

_TABLE_ROW = re.compile(
    r"^\|\s*`(?P<name>\w+)`\s*\|\s*`(?P<code>[a-z_]+)`\s*\|\s*(?P<status>\d{3})\s*\|"
    r"(?P<rest>.*)\|\s*$"
)


def test_the_exception_table_lists_every_error_code() -> None:
    """Each code of the registry has a row: its class, code, status, when it happens and what to
    show the user. A code added to the registry without its row fails here."""
    rows: dict[str, tuple[str, int]] = {}
    for line in SDK_GUIDE.read_text(encoding="utf-8").splitlines():
        row = _TABLE_ROW.match(line)
        if row is None:
            continue
        name = row["name"]
        assert name not in rows, f"two rows for {name}"
        when, show = (cell.strip() for cell in row["rest"].split("|"))
        assert when, f"{name}: say when it happens"
        assert show, f"{name}: say what to show the user"
        rows[name] = (row["code"], int(row["status"]))
    expected = {
        error_class_for(code).__name__: (code.value, spec.status)
        for code, spec in ERROR_SPECS.items()
    }
    assert rows == expected
    assert len(expected) == len(ErrorCode)


def test_every_exception_of_the_sdk_is_named() -> None:
    text = SDK_GUIDE.read_text(encoding="utf-8")
    exceptions = [
        name
        for name in ciam_client.__all__
        if isinstance(value := getattr(ciam_client, name), type)
        and issubclass(value, BaseException)
    ]
    assert len(exceptions) > len(ErrorCode)
    missing = [name for name in exceptions if f"`{name}`" not in text]
    assert not missing, f"docs/sdk.md does not name {missing}"


def _dependencies(package: str) -> set[str]:
    pyproject = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    return {
        re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0]
        for requirement in pyproject["project"]["dependencies"]
    }


def test_the_sdk_needs_only_httpx_and_msgspec() -> None:
    """What ``pip install ./packages/shared ./packages/client`` installs, as the docs say."""
    assert _dependencies("client") == {"ciam-shared", "httpx", "msgspec"}
    assert _dependencies("shared") == {"msgspec"}
