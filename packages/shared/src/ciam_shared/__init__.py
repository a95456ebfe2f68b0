"""The ciam-reset wire contract: bodies of requests and responses, and the error-code registry."""

from ciam_shared.errors import ERROR_SPECS, ErrorCode, ErrorSpec, status_of
from ciam_shared.wire import (
    ERROR_CONTENT_TYPE,
    ErrorBody,
    OtpSendRequest,
    OtpSendResponse,
    ResetUserPasswordRequest,
    Usage,
)

__all__ = [
    "ERROR_CONTENT_TYPE",
    "ERROR_SPECS",
    "ErrorBody",
    "ErrorCode",
    "ErrorSpec",
    "OtpSendRequest",
    "OtpSendResponse",
    "ResetUserPasswordRequest",
    "Usage",
    "status_of",
]
