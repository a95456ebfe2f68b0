"""Which channel a request uses, and the error codes that belong to that channel."""

from __future__ import annotations

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
