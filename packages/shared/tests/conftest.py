"""The API contract the registry is checked against: the seed documents next to the repository.

In a checkout the seed lives in ``shared/seed`` beside the repository root (``../shared/seed``).
Its absence is an error, not a reason to skip: without it nothing checks the registry against
the contract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SEED_DIR = REPO_ROOT.parent / "shared" / "seed"


def _seed_file(name: str) -> str:
    path = SEED_DIR / name
    if not path.is_file():
        pytest.fail(
            f"the API contract {path} is missing: the seed documents must sit in "
            f"{SEED_DIR} (../shared/seed relative to the repository root {REPO_ROOT})",
            pytrace=False,
        )
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def reset_contract() -> str:
    """``reset_user_password.txt``: the documented reset endpoint."""
    return _seed_file("reset_user_password.txt")


@pytest.fixture(scope="session")
def otp_send_contract() -> str:
    """``otp_send.md``: the companion endpoint that sends the code."""
    return _seed_file("otp_send.md")
