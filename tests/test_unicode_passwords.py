"""Passwords beyond ASCII survive the SDK, the wire, the server and the CLI, in NFKC form.

The SDK and the server's side run on the test kit's server (docs/testing.md); the CLI's reading
of a password, on a server process and its ``ciam-server users verify-password``.
"""

from __future__ import annotations

import unicodedata

import pytest

from ciam_client import CiamClient, InvalidNewPasswordError, RecurrentPasswordError
from ciam_server.testing import CiamTestServer, RegisteredUser

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


def kit_reset(
    server: CiamTestServer, ciam: CiamClient, user: RegisteredUser, password: str
) -> None:
    sent = ciam.send_otp(email=user.email)
    ciam.reset_user_password(
        email=user.email,
        otp=server.last_code(user.email).code,
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
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, kit_user: RegisteredUser, password: str
) -> None:
    kit_reset(ciam_test_server, kit_ciam, kit_user, password)

    assert ciam_test_server.password_matches(kit_user.email, password)
    assert not ciam_test_server.password_matches(kit_user.email, DEFAULT_PASSWORD)


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
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    sent = kit_ciam.send_otp(email=kit_user.email)

    with api_error(RecurrentPasswordError, status=400, code="recurrent_password"):
        kit_ciam.reset_user_password(
            email=kit_user.email,
            otp=ciam_test_server.last_code(kit_user.email).code,
            otp_token=sent.otp_token,
            password=fullwidth(DEFAULT_PASSWORD),
        )


def test_the_length_rule_counts_code_points_after_nfkc(
    ciam_test_server: CiamTestServer, kit_ciam: CiamClient, kit_user: RegisteredUser
) -> None:
    # "㎏" (U+338F) is one code point but "kg" after NFKC: 4 of them make 8 characters.
    sent = kit_ciam.send_otp(email=kit_user.email)
    code = ciam_test_server.last_code(kit_user.email).code
    with api_error(InvalidNewPasswordError, status=400, code="invalid_new_password"):
        kit_ciam.reset_user_password(
            email=kit_user.email, otp=code, otp_token=sent.otp_token, password="日本語パスワ"
        )

    kit_ciam.reset_user_password(
        email=kit_user.email, otp=code, otp_token=sent.otp_token, password="㎏㎏㎏㎏"
    )
    assert ciam_test_server.password_matches(kit_user.email, "kgkgkgkg")
