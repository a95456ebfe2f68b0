"""Sessions: ``tests``, ``lint``, ``typecheck`` and ``serve`` (the quick start).

Every session installs the workspace from ``uv.lock`` (``uv sync --locked``), never ad hoc.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_venv = "yes"


def _sync(session: nox.Session) -> None:
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--all-packages",
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
    """mypy --strict on the three packages, their tests and the tooling scripts."""
    _sync(session)
    session.run("mypy")


@nox.session
def serve(session: nox.Session) -> None:
    """The quick start: a dev server on SQLite with the dev outbox and a demo app and user."""
    _sync(session)
    session.run("ciam-server", "serve", "--demo", *session.posargs)
