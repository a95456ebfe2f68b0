"""``users create|freeze|unfreeze|verify-password``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import Invoke, error_message, output_json, table

EMAIL = "ada@example.com"
PHONE = "+8613800138000"
PASSWORD = "violet kettle marmalade 42"


@pytest.fixture
def user(invoke: Invoke, upgraded: Path) -> dict[str, object]:
    created: dict[str, object] = output_json(
        invoke("users", "create", "--email", EMAIL, "--phone-number", PHONE, "--password", PASSWORD)
    )
    return created


def test_users_create_prints_the_normalized_user(invoke: Invoke, upgraded: Path) -> None:
    created = output_json(
        invoke(
            "users",
            "create",
            "--email",
            "Ada@Example.COM",
            "--phone-number",
            "13800138000",
            "--password",
            PASSWORD,
        )
    )
    assert created == {"id": created["id"], "email": EMAIL, "phone_number": PHONE}
    (row,) = table(upgraded, "users")
    assert row["email"] == EMAIL
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]


def test_the_password_can_be_typed_at_the_prompt(invoke: Invoke, upgraded: Path) -> None:
    result = invoke("users", "create", "--email", EMAIL, input=f"{PASSWORD}\n")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Password" in result.stderr  # the prompt goes to stderr: stdout is JSON alone
    assert PASSWORD not in result.output  # the input is not echoed
    assert json.loads(result.stdout)["email"] == EMAIL

    result = invoke("users", "verify-password", "--email", EMAIL, input=f"{PASSWORD}\n")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert json.loads(result.stdout) == {"match": True}


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "at least 8 characters"),
        ("password", "too common"),
        ("ada-lovelace-ada@example.com", "email"),
        ("call me 13800138000", "phone number"),
    ],
)
def test_users_create_enforces_the_password_policy(
    invoke: Invoke, upgraded: Path, password: str, rule: str
) -> None:
    result = invoke(
        "users", "create", "--email", EMAIL, "--phone-number", PHONE, "--password", password
    )
    assert rule in error_message(result)
    assert table(upgraded, "users") == []


def test_a_duplicate_email_is_refused(invoke: Invoke, user: dict[str, object]) -> None:
    result = invoke("users", "create", "--email", "ADA@example.com", "--password", PASSWORD)
    assert error_message(result)


def test_a_malformed_email_is_refused(invoke: Invoke, upgraded: Path) -> None:
    result = invoke("users", "create", "--email", "not-an-address", "--password", PASSWORD)
    assert error_message(result)
    assert table(upgraded, "users") == []


@pytest.mark.usefixtures("user")
@pytest.mark.parametrize(
    ("option", "typed", "identified"),
    [
        ("--email", "ADA@example.com", {"email": EMAIL}),
        ("--phone-number", "13800138000", {"phone_number": PHONE}),
    ],
)
def test_freeze_and_unfreeze(
    invoke: Invoke, upgraded: Path, option: str, typed: str, identified: dict[str, str]
) -> None:
    frozen = output_json(invoke("users", "freeze", option, typed))
    assert frozen == identified | {"frozen": True}
    assert [row["frozen"] for row in table(upgraded, "users")] == [1]

    unfrozen = output_json(invoke("users", "unfreeze", option, typed))
    assert unfrozen == identified | {"frozen": False}
    assert [row["frozen"] for row in table(upgraded, "users")] == [0]


@pytest.mark.parametrize("command", ["freeze", "unfreeze"])
def test_freezing_an_unknown_user_fails(
    invoke: Invoke, user: dict[str, object], command: str
) -> None:
    assert error_message(invoke("users", command, "--email", "nobody@example.com"))


@pytest.mark.parametrize("command", ["freeze", "unfreeze", "verify-password"])
@pytest.mark.parametrize(
    "identifiers", [(), ("--email", EMAIL, "--phone-number", PHONE)], ids=["neither", "both"]
)
def test_exactly_one_identifier_is_required(
    invoke: Invoke,
    upgraded: Path,
    user: dict[str, object],
    command: str,
    identifiers: tuple[str, ...],
) -> None:
    password = ("--password", PASSWORD) if command == "verify-password" else ()
    result = invoke("users", command, *identifiers, *password)
    assert result.exit_code == 2
    assert "exactly one of --email and --phone-number" in result.stderr
    assert [row["frozen"] for row in table(upgraded, "users")] == [0]


def test_verify_password_exits_0_on_a_match(invoke: Invoke, user: dict[str, object]) -> None:
    result = invoke("users", "verify-password", "--email", EMAIL, "--password", PASSWORD)
    assert output_json(result) == {"match": True}


def test_verify_password_by_phone_number(invoke: Invoke, user: dict[str, object]) -> None:
    result = invoke("users", "verify-password", "--phone-number", PHONE, "--password", PASSWORD)
    assert output_json(result) == {"match": True}


def test_verify_password_exits_1_on_a_mismatch(invoke: Invoke, user: dict[str, object]) -> None:
    result = invoke("users", "verify-password", "--email", EMAIL, "--password", PASSWORD + "!")
    assert result.exit_code == 1
    assert result.stdout.strip() == '{"match": false}'


def test_verify_password_of_an_unknown_user_fails(invoke: Invoke, user: dict[str, object]) -> None:
    result = invoke(
        "users", "verify-password", "--email", "nobody@example.com", "--password", PASSWORD
    )
    assert error_message(result)


def test_nfkc_equivalent_passwords_match(invoke: Invoke, upgraded: Path) -> None:
    fullwidth = "Ｖｉｏｌｅｔ ｋｅｔｔｌｅ ４２"  # noqa: RUF001 - the point of the test
    output_json(invoke("users", "create", "--email", EMAIL, "--password", fullwidth))
    for typed in ("Violet kettle 42", fullwidth):
        result = invoke("users", "verify-password", "--email", EMAIL, "--password", typed)
        assert output_json(result) == {"match": True}
    result = invoke("users", "verify-password", "--email", EMAIL, "--password", "violet kettle 42")
    assert result.exit_code == 1
