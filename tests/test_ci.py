"""``CI`` is read one way by every test (``tests/ci.py``): ``CI=true`` in any case turns a
missing service from a skip into a failure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .ci import unavailable, under_ci

ROOT = Path(__file__).resolve().parent.parent
TEST_DIRECTORIES = [ROOT / "tests", *sorted((ROOT / "packages").glob("*/tests"))]
_READS_CI = re.compile(r"""(environ\.get\(|environ\[|getenv\()\s*["']CI["']""")


@pytest.mark.parametrize("value", ["true", "True", "TRUE", " true\n"])
def test_ci_true_in_any_case_is_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert under_ci()
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        unavailable("Redis is unreachable")


@pytest.mark.parametrize("value", [None, "", "false", "0", "yes please"])
def test_anything_else_is_not_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not under_ci()
    with pytest.raises(pytest.skip.Exception, match="Redis is unreachable"):
        unavailable("Redis is unreachable")


def test_no_other_test_module_reads_ci() -> None:
    readers = [
        path.relative_to(ROOT).as_posix()
        for directory in TEST_DIRECTORIES
        for path in sorted(directory.rglob("*.py"))
        if path != ROOT / "tests" / "ci.py"
        and path != Path(__file__).resolve()
        and _READS_CI.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == [], f"read CI through tests/ci.py instead: {readers}"
