"""The deployment guide says what the code does: its settings table lists every setting, and only
settings, with their real defaults; its webhook signature check accepts what the server signs
and nothing else; the other documents point to it instead of keeping tables of their own."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from ciam_server.config import Settings
from ciam_server.delivery.sms_webhook import sign, verify_signature

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy.md"
SERVER = ROOT / "docs" / "server.md"
README = ROOT / "README.md"
PREFIX = str(Settings.model_config.get("env_prefix", ""))
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_CODE_SPAN = re.compile(r"`([^`]*)`")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line), up to the next heading of its level
    or above."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = re.compile(rf"^#{{1,{level}}} ", flags=re.MULTILINE).search(text, start)
    return text[start:] if end is None else text[start : end.start()]


def settings_table() -> dict[str, tuple[str, str]]:
    """``{variable: (default cell, meaning)}`` from the table of deploy.md's Settings section."""
    rows: dict[str, tuple[str, str]] = {}
    lines = section(DEPLOY.read_text(encoding="utf-8"), "## Settings").splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table, "no table under ## Settings"
    header = [cell.strip() for cell in _UNESCAPED_PIPE.split(table[0])[1:-1]]
    assert header == ["variable", "default", "meaning"]
    for line in table[2:]:
        variable, default, meaning = (cell.strip() for cell in _UNESCAPED_PIPE.split(line)[1:-1])
        name = _CODE_SPAN.fullmatch(variable)
        assert name is not None, f"the variable is not a code span: {line}"
        assert name.group(1) not in rows, f"{name.group(1)} is documented twice"
        assert meaning, f"{name.group(1)} has no meaning"
        rows[name.group(1)] = (default, meaning)
    return rows


def variable(field: str) -> str:
    return f"{PREFIX}{field}".upper()


def test_every_setting_is_documented() -> None:
    documented = set(settings_table())
    missing = sorted({variable(field) for field in Settings.model_fields} - documented)
    assert not missing, f"settings missing from docs/deploy.md: {missing}"


def test_nothing_but_settings_is_documented() -> None:
    real = {variable(field) for field in Settings.model_fields}
    unknown = sorted(set(settings_table()) - real)
    assert not unknown, f"docs/deploy.md documents variables that are no settings: {unknown}"


def _literal(cell: str) -> str | None:
    """The value of a default cell that is one code span (``""`` standing for the empty text),
    None for a cell in words ("none", "CPU count")."""
    match = _CODE_SPAN.fullmatch(cell)
    if match is None:
        return None
    return "" if match.group(1) == '""' else match.group(1)


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_the_documented_default_is_the_real_one(field: str) -> None:
    info: FieldInfo = Settings.model_fields[field]
    cell, _ = settings_table()[variable(field)]
    documented = _literal(cell)
    if info.default is None:
        assert documented is None, f"{variable(field)} has no default, the table gives {cell}"
        return
    assert documented is not None, f"{variable(field)}: the default {info.default!r} as `value`"
    as_setting = TypeAdapter(cast(Any, info.annotation)).validate_python(documented)
    assert _plain(as_setting) == _plain(info.default), variable(field)
    assert type(as_setting) is type(info.default)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def documented_verify() -> Callable[..., bool]:
    """The receiver-side signature check deploy.md gives, run as written."""
    [block] = python_blocks(section(DEPLOY.read_text(encoding="utf-8"), "### SMS (signed webhook)"))
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/deploy.md", "exec"), namespace)  # noqa: S102 - our own document
    verify: Callable[..., bool] = namespace["verify_signature"]
    return verify


def test_the_documented_signature_check_agrees_with_the_server() -> None:
    verify = documented_verify()
    secret = b"webhook-secret"
    body = '{"to":"+8613800138000","text":"您的密码重置验证码是 123456","kind":"code"}'.encode()
    now = int(time.time())
    header = sign(secret, body, now)
    cases = {
        "as sent": (secret, header, body),
        "another body": (secret, header, body.replace(b"123456", b"654321")),
        "another secret": (b"other-secret", header, body),
        "too old": (secret, sign(secret, body, now - 301), body),
        "from the future": (secret, sign(secret, body, now + 301), body),
        "rotating secrets": (
            secret,
            f"{sign(b'old-secret', body, now)},v1={header.rpartition('v1=')[2]}",
            body,
        ),
        "no timestamp": (secret, header.partition(",")[2], body),
        "no signature": (secret, f"t={now}", body),
        "two timestamps": (secret, f"t={now},{header}", body),
        "a non-ASCII signature": (secret, f"t={now},v1=é", body),
        "a non-ASCII timestamp": (secret, header.replace("t=", "t=٣", 1), body),
        "garbage": (secret, "garbage", body),
    }
    for name, (key, value, content) in cases.items():
        assert verify(key, value, content) is verify_signature(key, value, content), name
    assert verify(secret, header, body)


def test_the_server_guide_points_to_the_one_settings_table() -> None:
    server = SERVER.read_text(encoding="utf-8")
    assert "(deploy.md#settings)" in server
    assert not re.search(rf"^\| `{PREFIX}", server, flags=re.MULTILINE), (
        "docs/server.md keeps a settings table of its own"
    )


def test_the_readme_links_to_the_deployment_guide() -> None:
    assert "(docs/deploy.md)" in README.read_text(encoding="utf-8")
