"""A minimal backend offering its own password-reset endpoints, built on the ciam-reset SDK.

``POST /forgot-password`` ``{"email"}``
    asks ciam-reset to send a code; answers ``{"reset_id", "expires_in"}``.
``POST /reset-password`` ``{"reset_id", "code", "new_password"}``
    sets the new password; answers ``204``.

The backend is a confidential application of ciam-reset: its address and credentials come from
``CIAM_BASE_URL``, ``CIAM_CLIENT_ID`` and ``CIAM_CLIENT_SECRET``. The ``otp_token`` never leaves
it: it is kept in memory under an opaque ``reset_id``, the only thing the browser gets (see
README.md for why). Every error, Litestar's own refusals included (an unknown path, a wrong
method, a body that is not JSON), is answered ``{"error": <code>, "message": <text for the
user>}``.

Run it with ``uvicorn --app-dir examples/reset_backend --factory app:create_app``.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, post
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers import BaseRouteHandler
from litestar.params import JSONBody

from ciam_client import (
    AbnormalUserStatusError,
    APIConnectionError,
    APIError,
    APIStatusError,
    AsyncCiamClient,
    BadOtpError,
    BadOtpTokenError,
    IdempotencyKeyInUseError,
    InsufficientQuotaError,
    InvalidEmailError,
    InvalidNewPasswordError,
    MalformedIdentifierError,
    RateLimitExceededError,
    RecurrentPasswordError,
    TemporarilyUnavailableError,
    TooManyRequestsError,
    UserNotFoundError,
)

log = logging.getLogger("reset_backend")

MAX_PENDING_RESETS = 10_000


@dataclass(frozen=True)
class Settings:
    """Where ciam-reset is and who this backend is to it."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    max_retries: int = 2

    @classmethod
    def from_env(cls) -> Settings:
        names = ("CIAM_BASE_URL", "CIAM_CLIENT_ID", "CIAM_CLIENT_SECRET")
        missing = [name for name in names if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"set {', '.join(missing)} in the environment")
        base_url, client_id, client_secret = (os.environ[name] for name in names)
        return cls(base_url=base_url, client_id=client_id, client_secret=client_secret)


# --- what the browser sends and gets -------------------------------------------------------------


class ForgotPassword(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]


class ResetStarted(msgspec.Struct):
    reset_id: str
    expires_in: int


class ResetPassword(msgspec.Struct):
    reset_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    new_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class UserFacingError(Exception):
    """An error answer for the browser: an ``error`` code it can test and a ``message`` it can
    show."""

    def __init__(
        self, status: int, error: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.retry_after = retry_after


def problem_response(_: Request[Any, Any, Any], problem: UserFacingError) -> Response[object]:
    headers: dict[str, str] = {}
    if problem.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(problem.retry_after)))
    return Response(
        {"error": problem.error, "message": problem.message},
        status_code=problem.status,
        headers=headers,
    )


REFUSALS = {
    404: ("not_found", "There is nothing here."),
    405: ("method_not_allowed", "This address does not take this method."),
}


def refused_request(request: Request[Any, Any, Any], refusal: HTTPException) -> Response[object]:
    """Litestar's own refusals: an unknown path, a wrong method, and a body that is malformed
    JSON or not of the form's shape (``invalid_input``)."""
    if refusal.status_code >= 500:
        return unexpected_error(request, refusal)
    error, message = REFUSALS.get(
        refusal.status_code, ("invalid_input", "Fill in every field of the form.")
    )
    response = problem_response(request, UserFacingError(refusal.status_code, error, message))
    if refusal.status_code == 405:
        response.headers.update(refusal.headers or {})  # Allow: the methods it takes
    return response


def unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[object]:
    log.error("unexpected %s", type(error).__name__, exc_info=error)
    return problem_response(request, internal_error())


def json_body_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Refuse a body not declared as JSON before reading it (Litestar would decode any)."""
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise UserFacingError(
            415, "unsupported_media_type", "Send the form as JSON (application/json)."
        )


def internal_error() -> UserFacingError:
    return UserFacingError(
        500, "internal_error", "Something went wrong on our side. Try again later."
    )


def expired() -> UserFacingError:
    return UserFacingError(400, "expired", "This password reset has expired. Ask for a new code.")


def problem_for(error: APIError) -> UserFacingError:
    """What to tell the user when a call to ciam-reset failed; failures that are not theirs are
    logged (the exception's repr holds its class, status, code and request id, never a secret)."""
    match error:
        case MalformedIdentifierError() | InvalidEmailError():
            return UserFacingError(400, "invalid_email", "Enter a valid email address.")
        case RateLimitExceededError():
            return UserFacingError(
                429,
                "try_later",
                "Too many attempts for this address. Wait a few minutes and try again.",
                retry_after=error.retry_after,
            )
        case BadOtpError():
            return UserFacingError(
                400, "wrong_code", "This code is wrong or has expired. Check the latest email."
            )
        case BadOtpTokenError():
            return expired()
        case InvalidNewPasswordError():
            # The description names the rule broken, e.g. "The password is too common."
            rule = error.description or "It does not meet the password rules."
            return UserFacingError(400, "weak_password", f"Choose another password. {rule}")
        case RecurrentPasswordError():
            return UserFacingError(
                400, "weak_password", "You have used this password recently. Choose another one."
            )
        case UserNotFoundError():
            return UserFacingError(400, "no_account", "No account uses this email address.")
        case AbnormalUserStatusError():
            return UserFacingError(
                403, "account_locked", "This account is locked. Please contact support."
            )
        case (
            APIConnectionError()
            | TemporarilyUnavailableError()
            | TooManyRequestsError()
            | InsufficientQuotaError()
            | IdempotencyKeyInUseError()
        ):
            log.warning("password reset service unavailable: %r", error)
            return UserFacingError(
                503,
                "unavailable",
                "Password reset is unavailable right now. Try again in a few minutes.",
                retry_after=error.retry_after if isinstance(error, APIStatusError) else None,
            )
        case _:
            log.error("password reset service call failed: %r", error)
            return internal_error()


# --- the otp_tokens, kept here ----------------------------------------------------------------


@dataclass(frozen=True)
class PendingReset:
    email: str
    otp_token: str = field(repr=False)
    expires_at: float


class PendingResets:
    """``reset_id`` → :class:`PendingReset`, in this process's memory, each for as long as its
    ``otp_token`` lives, at most ``max_entries`` (the oldest go first)."""

    def __init__(
        self,
        max_entries: int = MAX_PENDING_RESETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: dict[str, PendingReset] = {}
        self._max_entries = max_entries
        self._clock = clock

    def add(self, *, email: str, otp_token: str, lifetime: float) -> str:
        now = self._clock()
        for reset_id in [key for key, entry in self._entries.items() if entry.expires_at <= now]:
            del self._entries[reset_id]
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        reset_id = secrets.token_urlsafe(32)
        self._entries[reset_id] = PendingReset(email, otp_token, now + lifetime)
        return reset_id

    def get(self, reset_id: str) -> PendingReset | None:
        entry = self._entries.get(reset_id)
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry

    def discard(self, reset_id: str) -> None:
        self._entries.pop(reset_id, None)


# --- the app ------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    ciam = AsyncCiamClient(
        base_url=settings.base_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        timeout=5.0,
        max_retries=settings.max_retries,
    )
    pending = PendingResets()

    @post("/forgot-password", status_code=200, guards=[json_body_only])
    async def forgot_password(data: JSONBody[ForgotPassword]) -> ResetStarted:
        try:
            sent = await ciam.send_otp(email=data.email)
        except APIError as error:
            raise problem_for(error) from error
        reset_id = pending.add(email=data.email, otp_token=sent.otp_token, lifetime=sent.expires_in)
        return ResetStarted(reset_id=reset_id, expires_in=sent.expires_in)

    @post("/reset-password", status_code=204, guards=[json_body_only])
    async def reset_password(data: JSONBody[ResetPassword]) -> None:
        reset = pending.get(data.reset_id)
        if reset is None:
            raise expired()
        try:
            await ciam.reset_user_password(
                email=reset.email,
                otp=data.code,
                otp_token=reset.otp_token,
                password=data.new_password,
            )
        except APIError as error:
            if isinstance(error, BadOtpTokenError):
                pending.discard(data.reset_id)  # used, expired or out of attempts: start again
            raise problem_for(error) from error
        pending.discard(data.reset_id)

    return Litestar(
        route_handlers=[forgot_password, reset_password],
        exception_handlers={
            UserFacingError: problem_response,
            HTTPException: refused_request,
            Exception: unexpected_error,
        },
        on_shutdown=[ciam.aclose],
    )
