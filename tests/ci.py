"""Whether the tests run under CI, read one way by every test: ``CI=true`` (in any case).

Tests needing a service this machine lacks (PostgreSQL, Redis, Chromium) are skipped, but
under CI, where every service is provided, they fail instead: a CI run must run them all.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(message: str) -> NoReturn:
    """Skip the test for want of a service it needs; under ``CI=true`` fail it instead."""
    if under_ci():
        pytest.fail(f"{message} (CI=true: these tests must run)", pytrace=False)
    pytest.skip(message)
