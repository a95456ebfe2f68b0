"""The pytest plugin of the test kit, registered through the ``pytest11`` entry point of the
ciam-server package: pytest loads it wherever ciam-server is installed.

It imports the server (ciam_server.testing) only when a test uses its fixture, so that it costs
nothing to test runs that do not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ciam_server.testing import CiamTestServer

MARKER = "ciam_settings"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): settings of the test's ciam_test_server, by the name of their "
        "ciam_server.config.Settings field (e.g. otp_send_interval=0); on a test, a class or a "
        "module (pytestmark), the nearest one winning",
    )


@pytest.fixture
def ciam_test_server_settings() -> dict[str, object]:
    """Settings for the ``ciam_test_server`` of every test in scope, over the kit's own:
    override this fixture (in a conftest.py, a module, a class) to set them for many tests.
    The ``ciam_settings`` marks of a test go over these."""
    return {}


@pytest.fixture
def ciam_test_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    ciam_test_server_settings: dict[str, object],
) -> Iterator[CiamTestServer]:
    """The real ciam-reset server, started for this test alone on a fresh SQLite database,
    with an in-memory outbox and a clock the test moves."""
    from ciam_server.testing import start_test_server  # noqa: PLC0415 - on use alone

    settings = dict(ciam_test_server_settings)
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # the nearest last
        settings.update(marker.kwargs)
    with start_test_server(tmp_path_factory.mktemp("ciam"), settings) as server:
        yield server
