"""Sessions: ``tests``, ``lint``, ``typecheck`` and ``serve`` (the quick start).

Every session installs the workspace from ``uv.lock`` (``uv sync --locked``), never ad hoc.
A SIGTERM stops nox as Ctrl+C does: nox then stops the session's running command (the server,
for ``serve``) instead of leaving it running.
"""

from __future__ import annotations

import os
import shutil
import signal
from types import FrameType

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_venv = "yes"

BROWSER_PACKAGES = ("chromium", "fonts-wqy-zenhei", "curl")
"""Debian's Chromium, which the browser tests drive (the CJK font lets their screenshots show
Chinese), and curl, which the documentation's samples run."""

SERVER_STOP_TIMEOUT = 35
"""Seconds the dev server is given to stop once asked (its own CIAM_SHUTDOWN_TIMEOUT is 30)."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _interrupt)


def _sync(session: nox.Session, *selection: str) -> None:
    """Install from ``uv.lock``: ``selection`` (uv sync options) or, by default, every package
    of the workspace with the development tools."""
    # Bytecode is compiled at install, as pip does: every server the tests start imports its
    # dependencies from it, where the environment may forbid writing it at import
    # (PYTHONDONTWRITEBYTECODE).
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *(selection or ("--all-packages",)),
        "--compile-bytecode",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _install_browser(session: nox.Session) -> None:
    """Install :data:`BROWSER_PACKAGES` with apt-get when one is missing, where apt-get is and
    the session runs as root (a CI machine, a container); elsewhere the check of the
    prerequisites names what is missing."""
    if shutil.which("chromium") and shutil.which("curl"):
        return
    if shutil.which("apt-get") is None or not _running_as_root():
        return
    session.run("apt-get", "update", "-qq", external=True)
    session.run(
        "apt-get",
        "install",
        "-y",
        "-qq",
        *BROWSER_PACKAGES,
        external=True,
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests of each package and the cross-package tests (SDK against the real server).

    They need Chromium, PostgreSQL and Redis (see tests/prerequisites.py): Chromium is installed
    where it can be; what is missing is named before pytest starts, and under CI=true stops the
    session there."""
    _sync(session)
    _install_browser(session)
    session.run("python", "-m", "tests.prerequisites")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and the import contracts between packages and layers."""
    _sync(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the three packages, their tests and the tooling scripts, the
    benchmark's peer included (it needs the ``bench`` group's libraries to be checked)."""
    _sync(session, "--all-packages", "--group=bench")
    session.run("mypy")


@nox.session
def serve(session: nox.Session) -> None:
    """The quick start: a dev server on SQLite with the dev outbox and a demo app and user.
    Installs the server alone, without the development tools."""
    _sync(session, "--package", "ciam-server", "--no-default-groups")
    session.run(
        "ciam-server", "serve", "--demo", *session.posargs, terminate_timeout=SERVER_STOP_TIMEOUT
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The performance benchmark: the real server under wrk and load processes; prints a table
    and writes bench/results.json (see docs/performance.md). Needs wrk (Debian package ``wrk``),
    which is installed with apt-get when missing and the session runs as root. The ``bench``
    group adds the libraries of the peer it is compared with (fastapi-users)."""
    _sync(session, "--all-packages", "--group=bench")
    if shutil.which("wrk") is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            session.error("wrk is needed: install it (Debian: apt-get install wrk)")
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True)
    session.run("python", "-m", "bench.run", *session.posargs)
