"""``/otp/send``: issue a one-time code for a password reset.

For ``reset_password`` the answer is the same whether or not an account has the address: an
address without an account gets its code too, so only the holder of the mailbox or phone can
learn, at reset, that there is no account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ciam_server.domain.challenges import FIELD
from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import normalize
from ciam_server.domain.models import Application, Channel, NewChallenge
from ciam_server.domain.otp import ChallengeHasher, new_code, new_token
from ciam_server.domain.ports import CodeMessage, DeliveryFailedError, Sender, Store
from ciam_shared import ErrorCode, OtpSendRequest, OtpSendResponse, Usage

SUPPORTED_USAGES = frozenset({Usage.RESET_PASSWORD.value})
RETRY_AFTER_DELIVERY_FAILURE = 30  # seconds


@dataclass(frozen=True, kw_only=True)
class OtpSettings:
    """Lifetimes and limits of challenges."""

    code_ttl: timedelta
    token_ttl: timedelta
    max_attempts: int


def choose_channel(email: str | None, phone_number: str | None) -> tuple[Channel, str]:
    """The channel named by exactly one of ``email`` and ``phone_number``, and its raw value."""
    if email is not None and phone_number is not None:
        raise FlowError(ErrorCode.INVALID_REQUEST, "Give either email or phone_number, not both.")
    if email is not None:
        return Channel.EMAIL, email
    if phone_number is not None:
        return Channel.SMS, phone_number
    raise FlowError(ErrorCode.INVALID_REQUEST, "One of email or phone_number is required.")


@dataclass(frozen=True, kw_only=True)
class SendOtp:
    store: Store
    sender: Sender
    hasher: ChallengeHasher
    settings: OtpSettings
    clock: Callable[[], datetime]

    async def __call__(self, application: Application, request: OtpSendRequest) -> OtpSendResponse:
        if not application.app_type.is_confidential and not application.allow_otp_send:
            raise FlowError(
                ErrorCode.UNAUTHORIZED_CLIENT,
                "This public application is not enabled to send one-time codes.",
            )
        if request.usage not in SUPPORTED_USAGES:
            raise FlowError(
                ErrorCode.INVALID_REQUEST,
                "usage: this server issues codes for reset_password only.",
            )
        channel, raw = choose_channel(request.email, request.phone_number)
        if not raw:
            raise FlowError(ErrorCode.INVALID_REQUEST, f"{FIELD[channel]} must not be empty.")
        identifier = normalize(channel, raw)
        code, token = new_code(), new_token()
        token_hash = self.hasher.token_hash(token)
        now = self.clock()
        # Delivered before it is stored: a code that could not be sent never becomes usable.
        try:
            await self.sender.send_code(
                CodeMessage(channel=channel, to=identifier, usage=request.usage, code=code)
            )
        except DeliveryFailedError:
            raise FlowError(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "The code could not be sent; try again later.",
                retry_after=RETRY_AFTER_DELIVERY_FAILURE,
            ) from None
        await self.store.add_challenge(
            NewChallenge(
                client_id=application.client_id,
                usage=request.usage,
                channel=channel,
                identifier=identifier,
                token_hash=token_hash,
                code_hash=self.hasher.code_hash(token_hash, code),
                created_at=now,
                code_expires_at=now + self.settings.code_ttl,
                token_expires_at=now + self.settings.token_ttl,
            )
        )
        return OtpSendResponse(
            otp_token=token, expires_in=int(self.settings.token_ttl.total_seconds())
        )
