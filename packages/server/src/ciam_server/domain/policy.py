"""The password policy, in the spirit of NIST SP 800-63B: length counts, composition rules do not.

A password is checked and stored in its NFKC form, so the same characters typed on different
keyboards give the same password.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import phonenumbers

from ciam_server.domain.errors import FlowError
from ciam_shared import ErrorCode

MIN_LOCAL_PART_CHECKED = 4


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of real-world leaks, as the zxcvbn project ships them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: PLC0415 - large; loaded once, late

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def normalize_password(password: str) -> str:
    """The form in which a password is checked, hashed and verified."""
    return unicodedata.normalize("NFKC", password)


def _refuse(rule: str) -> FlowError:
    return FlowError(ErrorCode.INVALID_NEW_PASSWORD, rule)


@dataclass(frozen=True, kw_only=True)
class PasswordPolicy:
    """Rules a new password must meet."""

    min_length: int = 8
    max_length: int = 128
    check_common: bool = True

    def check(
        self, password: str, *, email: str | None = None, phone_number: str | None = None
    ) -> str:
        """The NFKC form of ``password``, or :class:`FlowError` ``invalid_new_password`` whose
        description names the first rule it breaks."""
        normalized = normalize_password(password)
        if len(normalized) < self.min_length:
            raise _refuse(f"The password must have at least {self.min_length} characters.")
        if len(normalized) > self.max_length:
            raise _refuse(f"The password must have at most {self.max_length} characters.")
        if any(unicodedata.category(char) == "Cc" for char in normalized):
            raise _refuse("The password must not contain control characters.")
        folded = normalized.casefold()
        if self.check_common and folded in common_passwords():
            raise _refuse("The password is too common.")
        if email is not None and _contains_email(folded, email):
            raise _refuse("The password must not contain the email address.")
        if phone_number is not None and _contains_phone_number(folded, phone_number):
            raise _refuse("The password must not contain the phone number.")
        return normalized


def _contains_email(folded_password: str, email: str) -> bool:
    local_part = email.casefold().rpartition("@")[0]
    if len(local_part) < MIN_LOCAL_PART_CHECKED:
        return email.casefold() in folded_password
    return local_part in folded_password


def _contains_phone_number(folded_password: str, phone_number: str) -> bool:
    """Whether the password holds the number's national significant digits."""
    national = str(phonenumbers.parse(phone_number).national_number)
    return national in folded_password
