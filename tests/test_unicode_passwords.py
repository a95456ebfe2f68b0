"""Passwords beyond ASCII survive the SDK, the wire, the server and the CLI, in NFKC form."""

from __future__ import annotations

import unicodedata

import pytest

from ciam_client import CiamClient, InvalidNewPasswordError, RecurrentPasswordError

from .conftest import DEFAULT_PASSWORD, Server, User, api_error


def fullwidth(text: str) -> str:
    """The fullwidth forms of printable ASCII (U+FF01..U+FF5E), whose NFKC form is ``text``."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def reset(server: Server, ciam: CiamClient, user: User, password: str) -> None:
    sent = ciam.send_otp(email=user.email)
    ciam.reset_user_password(
        email=user.email,
        otp=server.last_code(user.email),
        otp_token=sent.otp_token,
        password=password,
    )


@pytest.mark.parametrize(
    "password",
    [
        "pässwörd-ñ-日本語-🔑",
        "пароль-Ключ-2024",
        "كلمة-سر-آمنة-٧٣",
        "🔑🦊🌊🎲🚲🍋🎻🧭",  # eight code points, 32 UTF-8 bytes
    ],
)
def test_a_unicode_password(
    server: Server, ciam: CiamClient, new_user: User, password: str
) -> None:
    reset(server, ciam, new_user, password)

    assert server.password_matches(new_user, password)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


def test_a_fullwidth_password_is_its_nfkc_ascii_form(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    typed = fullwidth("Lantern-harbour-58")
    assert typed != "Lantern-harbour-58"
    assert unicodedata.normalize("NFKC", typed) == "Lantern-harbour-58"

    reset(server, ciam, new_user, typed)

    assert server.password_matches(new_user, "Lantern-harbour-58")
    assert server.password_matches(new_user, typed)
    assert not server.password_matches(new_user, DEFAULT_PASSWORD)


def test_the_current_password_in_fullwidth_is_the_current_password(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    sent = ciam.send_otp(email=new_user.email)

    with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
        ciam.reset_user_password(
            email=new_user.email,
            otp=server.last_code(new_user.email),
            otp_token=sent.otp_token,
            password=fullwidth(DEFAULT_PASSWORD),
        )


def test_the_length_rule_counts_code_points_after_nfkc(
    server: Server, ciam: CiamClient, new_user: User
) -> None:
    # "㎏" (U+338F) is one code point but "kg" after NFKC: 4 of them make 8 characters.
    sent = ciam.send_otp(email=new_user.email)
    code = server.last_code(new_user.email)
    with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password"):
        ciam.reset_user_password(
            email=new_user.email, otp=code, otp_token=sent.otp_token, password="日本語パスワ"
        )

    ciam.reset_user_password(
        email=new_user.email, otp=code, otp_token=sent.otp_token, password="㎏㎏㎏㎏"
    )
    assert server.password_matches(new_user, "kgkgkgkg")
