"""Codes, tokens, and the keyed hashes that are all a store ever holds of them."""

from __future__ import annotations

import re
import secrets

import pytest

from ciam_server.domain.otp import ChallengeHasher, new_code, new_token

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
KEY = b"one server key"
OTHER_KEY = b"another server key"


def test_codes_are_six_digits() -> None:
    codes = [new_code() for _ in range(2000)]

    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)


def test_codes_keep_their_leading_zeros_in_many_draws() -> None:
    # One draw in ten starts with 0: in 2000 draws, none doing so would mean the zeros were lost.
    codes = [new_code() for _ in range(2000)]

    assert any(code.startswith("0") for code in codes)
    assert len(set(codes)) > 1900  # and they vary


def test_a_small_code_is_padded_with_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "randbelow", lambda _: 42)

    assert new_code() == "000042"


def test_tokens_are_long_url_safe_and_distinct() -> None:
    tokens = [new_token() for _ in range(1000)]

    assert all(len(token) >= 43 for token in tokens)  # at least 256 bits in base64
    assert all(URL_SAFE.fullmatch(token) for token in tokens)
    assert len(set(tokens)) == len(tokens)


def test_token_hash_is_stable_for_one_key_and_differs_across_keys() -> None:
    token = new_token()

    assert ChallengeHasher(KEY).token_hash(token) == ChallengeHasher(KEY).token_hash(token)
    assert ChallengeHasher(KEY).token_hash(token) != ChallengeHasher(OTHER_KEY).token_hash(token)


def test_a_token_hash_does_not_contain_the_token() -> None:
    token = new_token()

    assert token not in ChallengeHasher(KEY).token_hash(token)


def test_code_hash_depends_on_the_key() -> None:
    token_hash = ChallengeHasher(KEY).token_hash(new_token())

    assert ChallengeHasher(KEY).code_hash(token_hash, "123456") != ChallengeHasher(
        OTHER_KEY
    ).code_hash(token_hash, "123456")


def test_code_hash_is_bound_to_the_token_hash() -> None:
    hasher = ChallengeHasher(KEY)
    first, second = hasher.token_hash(new_token()), hasher.token_hash(new_token())

    assert hasher.code_hash(first, "123456") != hasher.code_hash(second, "123456")


def test_code_matches_the_code_it_was_made_from() -> None:
    hasher = ChallengeHasher(KEY)
    token_hash = hasher.token_hash(new_token())
    code_hash = hasher.code_hash(token_hash, "012345")

    assert hasher.code_matches(token_hash=token_hash, code_hash=code_hash, code="012345")


@pytest.mark.parametrize("code", ["012346", "12345", "0123456", "", " 012345"])
def test_code_matches_no_other_code(code: str) -> None:
    hasher = ChallengeHasher(KEY)
    token_hash = hasher.token_hash(new_token())
    code_hash = hasher.code_hash(token_hash, "012345")

    assert not hasher.code_matches(token_hash=token_hash, code_hash=code_hash, code=code)


def test_a_code_does_not_match_with_another_token() -> None:
    hasher = ChallengeHasher(KEY)
    issued_with = hasher.token_hash(new_token())
    code_hash = hasher.code_hash(issued_with, "012345")

    assert not hasher.code_matches(
        token_hash=hasher.token_hash(new_token()), code_hash=code_hash, code="012345"
    )


def test_a_code_does_not_match_under_another_key() -> None:
    token_hash = ChallengeHasher(KEY).token_hash("token")
    code_hash = ChallengeHasher(KEY).code_hash(token_hash, "012345")

    assert not ChallengeHasher(OTHER_KEY).code_matches(
        token_hash=token_hash, code_hash=code_hash, code="012345"
    )


def test_the_repr_of_a_hasher_hides_its_key() -> None:
    key = b"very-secret-key-material"
    hasher = ChallengeHasher(key)

    assert "very-secret" not in repr(hasher)
    assert "very-secret" not in str(hasher)
    assert repr(hasher) == "ChallengeHasher(<key hidden>)"


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        ChallengeHasher(b"")
