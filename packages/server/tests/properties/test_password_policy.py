"""Properties of the password policy."""

from __future__ import annotations

import unicodedata

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ciam_server.domain.errors import FlowError
from ciam_server.domain.policy import PasswordPolicy
from ciam_shared import ErrorCode

PROFILE = settings(max_examples=200, deadline=None)
POLICY = PasswordPolicy(min_length=8, max_length=128)

# Characters that NFKC cannot join to a neighbour: no combining marks, no surrogates.
plain = st.characters(blacklist_categories=("Cs", "Cc", "Mn", "Mc", "Me"))
local_parts = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=4, max_size=16).filter(
    lambda local: local[0] not in "._-" and local[-1] not in "._-" and ".." not in local
)


def _fullwidth(text: str) -> str:
    """``text`` with its printable ASCII characters typed on a fullwidth (CJK) keyboard."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def _checked_or_refused(password: str, **identifiers: str) -> str | None:
    """The accepted form of ``password``, or None when it is refused as an invalid new
    password with a description; never anything else."""
    try:
        return POLICY.check(password, **identifiers)
    except FlowError as error:
        refusal = error
    assert refusal.code is ErrorCode.INVALID_NEW_PASSWORD
    assert refusal.description
    return None


@PROFILE
@given(password=st.text(max_size=200))
@example(password=_fullwidth("password123"))  # "password123" once normalized
@example(password="ﬁﬂ" * 4)  # ligatures that NFKC splits
@example(password="x" * 64 + "\ufdfa" * 4)  # each expands to 18 characters under NFKC
@example(password="Lantern\u0000harbour")
def test_an_accepted_password_is_normalized_and_within_bounds(password: str) -> None:
    checked = _checked_or_refused(password)
    if checked is not None:
        assert checked == unicodedata.normalize("NFKC", password)
        assert unicodedata.is_normalized("NFKC", checked)
        assert POLICY.min_length <= len(checked) <= POLICY.max_length
        assert not any(unicodedata.category(char) == "Cc" for char in checked)


@PROFILE
@given(
    local=local_parts,
    before=st.text(plain, max_size=20),
    after=st.text(plain, max_size=20),
    spelling=st.sampled_from(["as is", "upper", "fullwidth"]),
)
def test_a_password_holding_the_emails_local_part_is_refused(
    local: str, before: str, after: str, spelling: str
) -> None:
    if spelling == "upper":
        local_in_password = local.upper()
    elif spelling == "fullwidth":
        local_in_password = _fullwidth(local)
    else:
        local_in_password = local
    password = before + local_in_password + after
    # Only what NFKC leaves of the local part counts: a neighbour may not swallow it.
    assume(local in unicodedata.normalize("NFKC", password).casefold())
    assert _checked_or_refused(password, email=f"{local}@example.com") is None
