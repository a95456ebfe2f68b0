"""Which channel a request uses, and the error codes that belong to that channel."""

from __future__ import annotations

from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Channel
from ciam_shared import ErrorCode

BAD_TOKEN = {
    Channel.EMAIL: ErrorCode.BAD_EMAIL_OTP_TOKEN,
    Channel.SMS: ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN,
}
BAD_CODE = {
    Channel.EMAIL: ErrorCode.BAD_EMAIL_OTP,
    Channel.SMS: ErrorCode.BAD_PHONE_NUMBER_OTP,
}
FIELD = {Channel.EMAIL: "email", Channel.SMS: "phone_number"}

RATE_LIMITED = {
    Channel.EMAIL: ErrorCode.EMAIL_RATE_LIMIT_EXCEEDED,
    Channel.SMS: ErrorCode.SMS_RATE_LIMIT_EXCEEDED,
}


def rate_limited(channel: Channel, description: str, retry_after: int) -> FlowError:
    return FlowError(RATE_LIMITED[channel], description, retry_after=retry_after)
