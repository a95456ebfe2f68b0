"""Headless Chromium (Debian's ``chromium``) driven by Playwright through the hosted reset page.

Each test opens pages in browser contexts of its own (a locale, a viewport), records every request
and console message of them, and saves a screenshot of each step under
``test-output/e2e/<test>/``, printing the paths (shown by ``pytest -rA``) and attaching them to
the test's report as user properties.

Without Chromium the tests are skipped, except under ``CI=true``, where they fail (see
:mod:`tests.ci`); the ``tests`` session installs it where it can (see noxfile.py).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from ..ci import unavailable
from ..conftest import App, Server, _start
from ..prerequisites import chromium_executable

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
PHONE_VIEWPORT = ViewportSize(width=375, height=667)
DESKTOP_VIEWPORT = ViewportSize(width=1024, height=768)

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so a fixture can tell that its test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    chromium = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@dataclass
class Shots:
    """Numbered screenshots of one test, in a directory of its own."""

    directory: Path
    node: pytest.Item
    paths: list[Path] = field(default_factory=list)

    def take(self, page: Page, name: str, *, selector: str | None = None) -> Path:
        """The whole page, or only the element ``selector`` finds."""
        path = self.directory / f"{len(self.paths) + 1:02d}-{name}.png"
        if selector is None:
            page.screenshot(path=path, full_page=True)
        else:
            page.locator(selector).screenshot(path=path)
        self.paths.append(path)
        self.node.user_properties.append(("screenshot", str(path)))
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    directory = request.config.rootpath / "test-output" / "e2e" / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return Shots(directory=directory, node=request.node)


@dataclass
class Session:
    """A page in a browser context of its own, with what it requested and logged."""

    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


Browse = Callable[..., Session]


@pytest.fixture
def browse(browser: Browser, shots: Shots, request: pytest.FixtureRequest) -> Iterator[Browse]:
    """Open a page: ``browse(locale="zh-CN", viewport=PHONE_VIEWPORT)``. On failure of the test,
    each open page is screenshotted as it was left."""
    sessions: list[Session] = []

    def open_page(*, locale: str = "en-US", viewport: ViewportSize | None = None) -> Session:
        context = browser.new_context(
            locale=locale, viewport=viewport or DESKTOP_VIEWPORT, service_workers="block"
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        session = Session(context=context, page=page)
        page.on("request", lambda req: session.requests.append(req.url))
        page.on("console", lambda msg: session.console.append(f"{msg.type}: {msg.text}"))
        sessions.append(session)
        return session

    yield open_page
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(report.failed for report in reports.values())
    for session in sessions:
        if failed and not session.page.is_closed():
            shots.take(session.page, "at-failure")
        session.context.close()
    # Whatever a test checks, no page of it may reach another origin or break the policy.
    for session in sessions:
        origins = {_origin(url) for url in session.requests}
        assert len(origins) <= 1, f"requests to more than one origin: {session.requests}"
        violations = [line for line in session.console if "Content Security Policy" in line]
        assert not violations, violations


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.partition('/')[0]}"


@pytest.fixture(scope="module")
def interval_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that lets a new code go to an address 2 s after the last one (30 s by default),
    so that the tests can wait it out."""
    yield from _start(tmp_path_factory.mktemp("e2e-interval"), CIAM_OTP_SEND_INTERVAL="2")


@pytest.fixture(scope="module")
def interval_app(interval_server: Server) -> App:
    return interval_server.create_app("spa", allow_otp_send=True)
