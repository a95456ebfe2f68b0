"""The ciam-reset wire contract: bodies of requests and responses, and the error-code registry."""

from ciam_shared.errors import ERROR_SPECS, ErrorCode, ErrorSpec, status_of
from ciam_shared.wire import (
    ERROR_CONTENT_TYPE,
    ChangeUserPasswordRequest,
    ErrorBody,
    GrantType,
    OtpSendRequest,
    OtpSendResponse,
    ResetUserPasswordRequest,
    RevokeRequest,
    TokenRequest,
    TokenResponse,
    Usage,
    UserInfo,
)

__all__ = [
    "ERROR_CONTENT_TYPE",
    "ERROR_SPECS",
    "ChangeUserPasswordRequest",
    "ErrorBody",
    "ErrorCode",
    "ErrorSpec",
    "GrantType",
    "OtpSendRequest",
    "OtpSendResponse",
    "ResetUserPasswordRequest",
    "RevokeRequest",
    "TokenRequest",
    "TokenResponse",
    "Usage",
    "UserInfo",
    "status_of",
]
