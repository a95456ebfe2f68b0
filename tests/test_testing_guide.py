"""The samples of docs/testing.md run as what they are: test modules of an application, run by
pytest with the server's plugin as installed (each in a pytest run of its own, without this
repository's configuration)."""

from __future__ import annotations

import re

import pytest

from .test_doc_samples import PYTHON, ROOT, Block, read_blocks

pytest_plugins = ["pytester"]

GUIDE = ROOT / "docs" / "testing.md"
SAMPLES = [block for block in read_blocks(GUIDE) if block.language in PYTHON]


def test_the_guide_has_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("block", [pytest.param(b, id=b.where) for b in SAMPLES])
def test_guide_sample(block: Block, pytester: pytest.Pytester) -> None:
    tests = len(re.findall(r"^(?:async )?def test_", block.text, flags=re.MULTILINE))
    assert tests, f"{block.where}: a sample of the guide is a test module"
    pytester.makepyfile(**{"test_sample": "\n" * (block.line) + block.text})

    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )

    result.assert_outcomes(passed=tests)
