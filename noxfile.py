"""Sessions: ``tests``, ``lint``, ``typecheck`` and ``serve`` (the quick start).

Every session installs the workspace from ``uv.lock`` (``uv sync --locked``), never ad hoc.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_venv = "yes"


def _sync(session: nox.Session, *groups: str) -> None:
    # Bytecode is compiled at install, as pip does: every server the tests start (and, on
    # SQLite, its store's template process) imports its dependencies from it, where the
    # environment may forbid writing it at import (PYTHONDONTWRITEBYTECODE).
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--all-packages",
        "--compile-bytecode",
        *(f"--group={group}" for group in groups),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests of each package and the cross-package tests (SDK against the real server)."""
    _sync(session)
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
    _sync(session, "bench")
    session.run("mypy")


@nox.session
def serve(session: nox.Session) -> None:
    """The quick start: a dev server on SQLite with the dev outbox and a demo app and user."""
    _sync(session)
    session.run("ciam-server", "serve", "--demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The performance benchmark: the real server under wrk and load processes; prints a table
    and writes bench/results.json (see docs/performance.md). Needs wrk (Debian package ``wrk``),
    which is installed with apt-get when missing and the session runs as root. The ``bench``
    group adds the libraries of the peer it is compared with (fastapi-users)."""
    _sync(session, "bench")
    if shutil.which("wrk") is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            session.error("wrk is needed: install it (Debian: apt-get install wrk)")
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True)
    session.run("python", "-m", "bench.run", *session.posargs)
