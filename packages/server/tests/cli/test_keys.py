"""``keys rotate``: a new signing key, sealed with the secret key; the previous one kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import Invoke, error_message, output_json, table

SECRET_KEY = "cli-tests-signing-key-0123456789abcdef"


def test_each_rotation_adds_a_generation_sealed_with_the_secret_key(
    invoke: Invoke, upgraded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIAM_SECRET_KEY", SECRET_KEY)

    first = output_json(invoke("keys", "rotate"))
    second = output_json(invoke("keys", "rotate"))

    rows = sorted(table(upgraded, "signing_keys"), key=lambda row: row["generation"])
    assert [(row["generation"], row["kid"]) for row in rows] == [
        (1, first["kid"]),
        (2, second["kid"]),
    ]
    for row in rows:
        assert b'"d"' not in row["sealed_private_jwk"]  # the private exponent is not in clear
        assert '"d"' not in row["public_jwk"]


def test_a_rotation_needs_the_secret_key(
    invoke: Invoke, upgraded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIAM_SECRET_KEY", raising=False)

    assert "CIAM_SECRET_KEY" in error_message(invoke("keys", "rotate"))
    assert table(upgraded, "signing_keys") == []
