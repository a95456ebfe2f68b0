"""How the test kit is shipped: a pytest plugin of the server package that isolates tests (under
pytest-xdist too), adds no dependency, and never loads in a served server."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ciam_server.pytest_plugin

pytest_plugins = ["pytester"]


def test_pytest_loads_the_plugin_through_its_entry_point(request: pytest.FixtureRequest) -> None:
    [entry_point] = importlib.metadata.entry_points(group="pytest11", name="ciam_server")

    assert entry_point.value == "ciam_server.pytest_plugin"
    assert entry_point.dist is not None
    assert entry_point.dist.name == "ciam-server"
    assert request.config.pluginmanager.get_plugin("ciam_server") is ciam_server.pytest_plugin


ISOLATION = """
    import httpx
    import pytest

    @pytest.mark.parametrize("run", range(4))
    @pytest.mark.ciam_settings(otp_daily_limit=1)
    def test_each_test_has_a_server_of_its_own(ciam_test_server, run):
        assert ciam_test_server.outbox.messages == []
        user = ciam_test_server.create_user(email="same@example.com")
        app = ciam_test_server.create_application("spa", client_id="same", allow_otp_send=True)
        with ciam_test_server.http_client() as http:
            body = {"client_id": app.client_id, "usage": "reset_password", "email": user.email}
            assert http.post("/otp/send", json=body).status_code == 200
            assert httpx.get(f"{ciam_test_server.base_url}/healthz").is_success
        assert len(ciam_test_server.outbox.sent_to("same@example.com")) == 1
"""


def test_tests_are_isolated_under_xdist(pytester: pytest.Pytester) -> None:
    """The same user, application and one-a-day limit in every test: each test's server is its
    own, in each worker process."""
    pytester.makepyfile(test_isolation=textwrap.dedent(ISOLATION))

    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*2 workers*"])


def _imported_after(statement: str, tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    script = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    environment = {"CIAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ciam.db'}"}
    output = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**environment, "PATH": ""},
    ).stdout
    return set(output.split())


def test_a_served_server_never_imports_the_kit(tmp_path: Path) -> None:
    served = _imported_after(
        "import ciam_server.cli\nfrom ciam_server.app import create_served_app\n"
        "create_served_app()",
        tmp_path,
    )

    assert "ciam_server.app" in served
    assert not {name for name in served if name.startswith(("ciam_server.testing", "pytest"))}
    assert "ciam_server.pytest_plugin" not in served


def _distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_kit_needs_nothing_the_server_does_not(tmp_path: Path) -> None:
    """Every module the kit brings beyond what the served server imports is the standard
    library's, the server's own, or one of a package the server requires."""
    served = _imported_after("import ciam_server.cli, ciam_server.app", tmp_path)
    kit = _imported_after("import ciam_server.testing", tmp_path)
    required = {
        _distribution(re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0])
        for requirement in importlib.metadata.requires("ciam-server") or []
    }
    providers = importlib.metadata.packages_distributions()

    added = {name.split(".")[0] for name in kit - served} - set(sys.stdlib_module_names)
    added = {name for name in added if not name.startswith("__")}  # __mp_main__, an alias

    assert "ciam_server" in added
    assert "uvicorn" in added  # the test server's socket; serve imports it when it runs
    for name in added - {"ciam_server"}:
        assert {_distribution(dist) for dist in providers[name]} & required, name
    assert "pytest" not in kit
