"""``db upgrade`` and ``apps create|list``: JSON out, secrets shown once and stored hashed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import Invoke, error_message, output_json, table


def test_db_upgrade_creates_the_schema_and_says_so(invoke: Invoke, database: Path) -> None:
    assert output_json(invoke("db", "upgrade")) == {"upgraded": True}
    assert table(database, "applications") == []
    assert table(database, "users") == []
    # Running it again is harmless.
    assert output_json(invoke("db", "upgrade")) == {"upgraded": True}


@pytest.mark.parametrize("app_type", ["web", "m2m"])
def test_a_confidential_application_gets_a_secret_stored_only_as_a_hash(
    invoke: Invoke, upgraded: Path, app_type: str
) -> None:
    created = output_json(invoke("apps", "create", "--name", "Shop", "--type", app_type))
    assert set(created) == {"client_id", "client_secret"}
    client_id, secret = created["client_id"], created["client_secret"]
    assert client_id
    assert len(secret) >= 32

    (row,) = table(upgraded, "applications")
    assert row["client_id"] == client_id
    assert row["app_type"] == app_type
    assert row["secret_hash"]
    assert row["secret_hash"] != secret
    for value in row.values():
        assert secret not in str(value)


def test_every_confidential_application_gets_its_own_secret(invoke: Invoke, upgraded: Path) -> None:
    first = output_json(invoke("apps", "create", "--name", "A", "--type", "web"))
    second = output_json(invoke("apps", "create", "--name", "B", "--type", "web"))
    assert first["client_id"] != second["client_id"]
    assert first["client_secret"] != second["client_secret"]


@pytest.mark.parametrize("app_type", ["spa", "mobile"])
def test_a_public_application_gets_no_secret(invoke: Invoke, upgraded: Path, app_type: str) -> None:
    result = invoke("apps", "create", "--name", "Front end", "--type", app_type)
    created = output_json(result)
    assert set(created) == {"client_id"}
    (row,) = table(upgraded, "applications")
    assert row["secret_hash"] is None
    assert row["allow_otp_send"] == 0


def test_the_client_id_option_is_honoured(invoke: Invoke, upgraded: Path) -> None:
    created = output_json(
        invoke("apps", "create", "--name", "Mine", "--type", "spa", "--client-id", "my-spa")
    )
    assert created == {"client_id": "my-spa"}
    assert [row["client_id"] for row in table(upgraded, "applications")] == ["my-spa"]


def test_a_duplicate_client_id_fails_with_a_json_error(invoke: Invoke, upgraded: Path) -> None:
    output_json(invoke("apps", "create", "--name", "One", "--type", "web", "--client-id", "dup"))
    result = invoke("apps", "create", "--name", "Two", "--type", "web", "--client-id", "dup")
    assert error_message(result)
    (row,) = table(upgraded, "applications")
    assert row["name"] == "One"


def test_an_unknown_type_is_a_usage_error(invoke: Invoke, upgraded: Path) -> None:
    result = invoke("apps", "create", "--name", "X", "--type", "desktop")
    assert result.exit_code == 2
    assert table(upgraded, "applications") == []


def test_apps_list_shows_the_applications_without_secrets(invoke: Invoke, upgraded: Path) -> None:
    web = output_json(invoke("apps", "create", "--name", "Shop", "--type", "web"))
    output_json(
        invoke(
            "apps",
            "create",
            "--name",
            "Phone",
            "--type",
            "mobile",
            "--client-id",
            "phone-app",
            "--allow-otp-send",
        )
    )
    result = invoke("apps", "list")
    listed = output_json(result)
    assert sorted(listed, key=lambda app: app["name"]) == [
        {"client_id": "phone-app", "name": "Phone", "type": "mobile", "allow_otp_send": True},
        {"client_id": web["client_id"], "name": "Shop", "type": "web", "allow_otp_send": False},
    ]
    assert web["client_secret"] not in result.stdout
    (stored,) = (row for row in table(upgraded, "applications") if row["name"] == "Shop")
    assert stored["secret_hash"] not in result.stdout
    assert "secret" not in result.stdout


def test_apps_list_of_none_is_an_empty_list(invoke: Invoke, upgraded: Path) -> None:
    result = invoke("apps", "list")
    assert output_json(result) == []
    assert json.loads(result.stdout) == []


def test_a_database_never_upgraded_is_a_json_error_not_a_traceback(invoke: Invoke) -> None:
    result = invoke("apps", "list")

    assert result.exit_code == 1
    assert "db upgrade" in json.loads(result.stderr)["error"]
    assert "Traceback" not in result.output
