"""The example backend in process, calling the real reference server: the tests an application
writes with the server's test kit (docs/testing.md).

The backend runs in this test's event loop through Litestar's ``AsyncTestClient``; its SDK calls
go over a socket to the ``ciam_test_server`` of the test, as a confidential application.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import importlib.util
import logging
import re
import socket
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ciam_server.testing import (
    DEFAULT_PASSWORD,
    CiamTestServer,
    RegisteredApplication,
    RegisteredUser,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "reset_backend" / "app.py"
NEW_PASSWORD = "Lantern-harbour-58"


def _load_example() -> ModuleType:
    """The example is a script directory, not an installed package: load its app.py by path."""
    spec = importlib.util.spec_from_file_location("reset_backend_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from examples.reset_backend import app as example
else:
    example = _load_example()

Backend = AsyncTestClient[Litestar]


def wrong_code(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


def _settings(server: CiamTestServer, app: RegisteredApplication) -> example.Settings:
    assert app.client_secret is not None
    return example.Settings(
        base_url=server.base_url, client_id=app.client_id, client_secret=app.client_secret
    )


@pytest.fixture
def server(ciam_test_server: CiamTestServer) -> CiamTestServer:
    return ciam_test_server


@pytest.fixture
def web_app(server: CiamTestServer) -> RegisteredApplication:
    """The backend, registered as a confidential application."""
    return server.create_application("web")


@pytest.fixture
def new_user(server: CiamTestServer) -> RegisteredUser:
    return server.create_user()


@pytest.fixture
async def backend(server: CiamTestServer, web_app: RegisteredApplication) -> AsyncIterator[Backend]:
    async with AsyncTestClient(app=example.create_app(_settings(server, web_app))) as client:
        yield client


def assert_problem(response: Response, status: int, error: str) -> str:
    """The backend's error shape: ``{"error", "message"}``; return the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == error, body
    message = body["message"]
    assert isinstance(message, str)
    assert message
    return message


def email(user: RegisteredUser) -> str:
    return user.email


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def forgot(backend: Backend, email: str) -> str:
    response = await backend.post("/forgot-password", json={"email": email})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"reset_id", "expires_in"}, body
    assert body["expires_in"] == 600
    reset_id = body["reset_id"]
    assert isinstance(reset_id, str)
    return reset_id


async def reset(backend: Backend, reset_id: str, code: str, new_password: str) -> Response:
    return await backend.post(
        "/reset-password",
        json={"reset_id": reset_id, "code": code, "new_password": new_password},
    )


async def test_a_password_is_reset(
    server: CiamTestServer, backend: Backend, new_user: RegisteredUser
) -> None:
    reset_id = await forgot(backend, new_user.email)

    response = await reset(backend, reset_id, server.last_code(new_user.email).code, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    assert server.password_matches(new_user.email, NEW_PASSWORD)
    assert not server.password_matches(new_user.email, DEFAULT_PASSWORD)
    # The reset is over: its id is forgotten.
    again = await reset(backend, reset_id, server.last_code(new_user.email).code, "Another-pass-91")
    assert_problem(again, 400, "expired")


async def test_a_wrong_code_is_refused_and_the_right_one_still_works(
    server: CiamTestServer, backend: Backend, new_user: RegisteredUser
) -> None:
    reset_id = await forgot(backend, new_user.email)
    code = server.last_code(new_user.email).code

    message = assert_problem(
        await reset(backend, reset_id, wrong_code(code), NEW_PASSWORD), 400, "wrong_code"
    )

    assert "wrong" in message
    assert server.password_matches(new_user.email, DEFAULT_PASSWORD)
    assert (await reset(backend, reset_id, code, NEW_PASSWORD)).status_code == 204
    assert server.password_matches(new_user.email, NEW_PASSWORD)


async def test_a_weak_password_is_refused_and_the_same_code_takes_a_better_one(
    server: CiamTestServer, backend: Backend, new_user: RegisteredUser
) -> None:
    reset_id = await forgot(backend, new_user.email)
    code = server.last_code(new_user.email).code

    message = assert_problem(await reset(backend, reset_id, code, "password"), 400, "weak_password")

    assert message == "Choose another password. The password is too common."
    assert server.password_matches(new_user.email, DEFAULT_PASSWORD)
    assert (await reset(backend, reset_id, code, NEW_PASSWORD)).status_code == 204
    assert server.password_matches(new_user.email, NEW_PASSWORD)


async def test_the_current_password_is_refused(
    server: CiamTestServer, backend: Backend, new_user: RegisteredUser
) -> None:
    reset_id = await forgot(backend, new_user.email)

    response = await reset(
        backend, reset_id, server.last_code(new_user.email).code, DEFAULT_PASSWORD
    )

    assert "recently" in assert_problem(response, 400, "weak_password")


async def test_an_unknown_reset_id_is_expired(backend: Backend) -> None:
    response = await reset(backend, "no-such-reset", "123456", NEW_PASSWORD)

    assert_problem(response, 400, "expired")


async def test_a_malformed_email_is_refused(backend: Backend) -> None:
    response = await backend.post("/forgot-password", json={"email": "not an address"})

    assert_problem(response, 400, "invalid_email")


@pytest.mark.parametrize(
    "body", [{}, {"email": ""}, {"email": 7}, {"reset_id": "x", "code": "1"}], ids=str
)
async def test_a_malformed_body_is_refused(backend: Backend, body: dict[str, object]) -> None:
    path = "/reset-password" if "reset_id" in body else "/forgot-password"
    response = await backend.post(path, json=body)

    assert_problem(response, 400, "invalid_input")


@pytest.mark.parametrize(
    ("route", "request_args", "status", "error"),
    [
        pytest.param(
            "POST /forgot-password",
            {"content": b'{"email": ', "headers": {"Content-Type": "application/json"}},
            400,
            "invalid_input",
            id="malformed-json",
        ),
        pytest.param(
            "POST /reset-password",
            {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
            400,
            "invalid_input",
            id="not-utf8",
        ),
        pytest.param(
            "POST /forgot-password",
            {"content": b'{"email": "a@example.com"}', "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported_media_type",
            id="text-plain",
        ),
        pytest.param(
            "POST /reset-password",
            {"data": {"reset_id": "x", "code": "1", "new_password": "y"}},
            415,
            "unsupported_media_type",
            id="form-encoded",
        ),
        pytest.param("GET /forgot-password", {}, 405, "method_not_allowed", id="get"),
        pytest.param("PUT /reset-password", {}, 405, "method_not_allowed", id="put"),
        pytest.param("GET /no-such-page", {}, 404, "not_found", id="unknown-path"),
    ],
)
async def test_a_request_the_page_does_not_send_gets_the_documented_shape(
    backend: Backend, route: str, request_args: dict[str, Any], status: int, error: str
) -> None:
    method, _, path = route.partition(" ")
    response = await backend.request(method, path, **request_args)

    assert_problem(response, status, error)
    if status == 405:
        assert "POST" in response.headers["Allow"]


async def test_an_unexpected_failure_is_an_internal_error(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: object, reset_id: str) -> None:
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(example.PendingResets, "get", fail)
    response = await backend.post(
        "/reset-password", json={"reset_id": "x", "code": "123456", "new_password": NEW_PASSWORD}
    )

    assert_problem(response, 500, "internal_error")
    assert "the store is gone" not in response.text


async def test_a_frozen_account_is_locked(
    server: CiamTestServer, backend: Backend, new_user: RegisteredUser
) -> None:
    reset_id = await forgot(backend, new_user.email)
    server.freeze_user(new_user.email)

    response = await reset(backend, reset_id, server.last_code(new_user.email).code, NEW_PASSWORD)

    assert "contact support" in assert_problem(response, 403, "account_locked")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_wrong_credentials_are_our_fault_not_the_users(
    server: CiamTestServer, web_app: RegisteredApplication, new_user: RegisteredUser
) -> None:
    settings = dataclasses.replace(_settings(server, web_app), client_secret="not-the-secret")
    records = Records()
    logger = logging.getLogger("reset_backend")  # the app's own: Litestar reconfigures the root
    logger.addHandler(records)
    try:
        async with AsyncTestClient(app=example.create_app(settings)) as backend:
            response = await backend.post("/forgot-password", json={"email": new_user.email})
    finally:
        logger.removeHandler(records)

    assert_problem(response, 500, "internal_error")
    [line] = records.lines
    assert line.startswith("password reset service call failed: InvalidClientError(status_code=401")
    assert "not-the-secret" not in line


async def test_an_unreachable_service_is_unavailable(
    server: CiamTestServer, web_app: RegisteredApplication
) -> None:
    settings = dataclasses.replace(
        _settings(server, web_app), base_url=f"http://127.0.0.1:{_free_port()}", max_retries=0
    )
    async with AsyncTestClient(app=example.create_app(settings)) as backend:
        response = await backend.post("/forgot-password", json={"email": "a@example.com"})

    assert_problem(response, 503, "unavailable")


def test_pending_resets_expire_and_are_bounded() -> None:
    now = [0.0]
    pending = example.PendingResets(max_entries=2, clock=lambda: now[0])
    first = pending.add(email="a@example.com", otp_token="t1", lifetime=10)
    second = pending.add(email="b@example.com", otp_token="t2", lifetime=100)

    third = pending.add(email="c@example.com", otp_token="t3", lifetime=100)  # the oldest goes

    assert pending.get(first) is None
    assert pending.get(second) is not None
    assert pending.get(third) is not None
    assert "t2" not in repr(pending.get(second))
    now[0] = 100.0
    assert pending.get(second) is None
    assert len({first, second, third}) == 3


# --- the README's way to run it ------------------------------------------------------------------


def _distribution(name: str) -> str:
    """A distribution's name in the normalized form (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _project(folder: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    return project


def test_the_readme_installs_what_the_example_needs_with_pip_alone() -> None:
    """A fresh clone has Python and pip, not uv. The README's ``pip install`` of the
    workspace's packages must name every workspace package they need (pip finds those on no
    index), and bring every module the example imports, uvicorn to run it and the
    ``ciam-server`` command that registers it."""
    readme = EXAMPLE.with_name("README.md").read_text(encoding="utf-8")
    assert not re.search(r"\buv (sync|run)\b", readme)
    [command] = [line for line in readme.splitlines() if line.startswith("pip install ")]
    projects = [_project(ROOT / folder) for folder in command.split()[2:]]
    installed = {_distribution(project["name"]) for project in projects}
    required = installed | {
        _distribution(re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0])
        for project in projects
        for requirement in project["dependencies"]
    }
    workspace = {
        _distribution(_project(folder)["name"]) for folder in (ROOT / "packages").iterdir()
    }
    assert required & workspace <= installed

    providers = dict(importlib.metadata.packages_distributions())
    providers.update({name.replace("-", "_"): [name] for name in workspace})  # editable installs
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    imported = (
        {
            name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for name in (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
        }
        - set(sys.stdlib_module_names)
        - {"__future__"}
    )
    assert imported == {"msgspec", "litestar", "ciam_client"}
    for module in imported:
        assert {_distribution(name) for name in providers[module]} & required, module
    assert "uvicorn" in required
    assert any("ciam-server" in project.get("scripts", {}) for project in projects)
