"""``/otp/send``: issue a one-time code for a password reset.

For ``reset_password`` the answer is the same, in status, body, headers and time, whether or not
an account has the address, and whether or not it is frozen. By default an address without an
account gets its code too, so only the holder of the mailbox or phone can learn, at reset, that
there is no account; :class:`UnknownAccountDelivery` offers a "no account here" notice or
nothing instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ciam_server.domain.audit import Auditor, RequestContext, Trail
from ciam_server.domain.challenges import FIELD, rate_limited
from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import normalize
from ciam_server.domain.models import (
    Application,
    AttemptLimits,
    AuditAction,
    Channel,
    NewChallenge,
    Refusal,
    RefusalReason,
    SendLimits,
)
from ciam_server.domain.otp import ChallengeHasher, new_code, new_token
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    Sender,
    Store,
)
from ciam_shared import ErrorCode, OtpSendRequest, OtpSendResponse, Usage

SUPPORTED_USAGES = frozenset({Usage.RESET_PASSWORD.value})
RETRY_AFTER_DELIVERY_FAILURE = 30  # seconds
logger = logging.getLogger(__name__)
NO_CONTEXT = RequestContext()

_QUOTA_EXHAUSTED = {
    Channel.EMAIL: ErrorCode.INSUFFICIENT_EMAIL_QUOTA,
    Channel.SMS: ErrorCode.INSUFFICIENT_SMS_QUOTA,
}
_REFUSAL_TEXT = {
    RefusalReason.APP_QUOTA: "The application's daily quota for this channel is used up.",
    RefusalReason.INTERVAL: "A code was sent to this address a moment ago; wait before asking "
    "for another.",
    RefusalReason.DAILY_LIMIT: "Too many codes were sent to this address today.",
    RefusalReason.FAILURES: "Too many wrong codes were entered for this address; wait before "
    "asking for another.",
}


class UnknownAccountDelivery(StrEnum):
    """What an address without an account receives when a reset code is asked for it."""

    CODE = "code"  # a code, like any address: the reset then answers user_not_found
    NOTICE = "notice"  # a message saying there is no account for this address
    NONE = "none"  # nothing; then every address is answered before delivery, so a failed
    # delivery is logged and its challenge retired instead of being answered 503


@dataclass(frozen=True, kw_only=True)
class OtpSettings:
    """Lifetimes of challenges and the limits on sending and checking codes."""

    code_ttl: timedelta
    token_ttl: timedelta
    max_attempts: int
    send_interval: timedelta = timedelta(0)
    daily_limit: int = 0
    failure_limit: int = 0
    failure_window: timedelta = timedelta(hours=1)
    unknown_account_delivery: UnknownAccountDelivery = UnknownAccountDelivery.CODE

    def limits(self, application: Application, channel: Channel) -> SendLimits:
        return SendLimits(
            interval=self.send_interval,
            daily_limit=self.daily_limit,
            failure_limit=self.failure_limit,
            failure_window=self.failure_window,
            app_daily_quota=application.daily_quota(channel),
        )

    @property
    def attempt_limits(self) -> AttemptLimits:
        return AttemptLimits(
            max_attempts=self.max_attempts,
            failure_limit=self.failure_limit,
            failure_window=self.failure_window,
        )


def choose_channel(email: str | None, phone_number: str | None) -> tuple[Channel, str]:
    """The channel named by exactly one of ``email`` and ``phone_number``, and its raw value."""
    if email is not None and phone_number is not None:
        raise FlowError(ErrorCode.INVALID_REQUEST, "Give either email or phone_number, not both.")
    if email is not None:
        return Channel.EMAIL, email
    if phone_number is not None:
        return Channel.SMS, phone_number
    raise FlowError(ErrorCode.INVALID_REQUEST, "One of email or phone_number is required.")


def refused(channel: Channel, refusal: Refusal) -> FlowError:
    """The error answering a send the store refused."""
    if refusal.reason is RefusalReason.APP_QUOTA:
        return FlowError(
            _QUOTA_EXHAUSTED[channel],
            _REFUSAL_TEXT[refusal.reason],
            retry_after=refusal.retry_after,
        )
    return rate_limited(channel, _REFUSAL_TEXT[refusal.reason], refusal.retry_after)


@dataclass(frozen=True, kw_only=True)
class SendOtp:
    store: Store
    sender: Sender
    hasher: ChallengeHasher
    settings: OtpSettings
    clock: Callable[[], datetime]
    auditor: Auditor
    _background: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    async def __call__(
        self,
        application: Application,
        request: OtpSendRequest,
        context: RequestContext = NO_CONTEXT,
    ) -> OtpSendResponse:
        trail = Trail()
        return await self.auditor.audited(
            self._send(application, request, context, trail),
            succeeded=AuditAction.CODE_SENT,
            refused=AuditAction.SEND_REFUSED,
            client_id=application.client_id,
            trail=trail,
            context=context,
        )

    async def _send(
        self,
        application: Application,
        request: OtpSendRequest,
        context: RequestContext,
        trail: Trail,
    ) -> OtpSendResponse:
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
        trail.channel = channel
        identifier = trail.identifier = normalize(channel, raw)
        has_account = True
        if self.settings.unknown_account_delivery is not UnknownAccountDelivery.CODE:
            has_account = await self.store.find_user(channel, identifier) is not None
        code, token = new_code(), new_token()
        token_hash = self.hasher.token_hash(token)
        now = self.clock()
        sent = self.auditor.event(
            AuditAction.CODE_SENT, client_id=application.client_id, trail=trail, context=context
        )
        # A challenge is stored whatever the address receives, so that limits, answers and
        # timings are the same for every address. Its event is stored with it: should its
        # delivery fail below, a send_refused event follows it.
        stored = await self.store.add_challenge(
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
            ),
            self.settings.limits(application, channel),
            audit=sent,
        )
        if isinstance(stored, Refusal):
            raise refused(channel, stored)
        trail.stored = sent
        delivery = self._deliver(
            channel=channel,
            identifier=identifier,
            usage=request.usage,
            code=code,
            locale=context.locale,
            has_account=has_account,
        )
        if self.settings.unknown_account_delivery is UnknownAccountDelivery.NONE:
            # Nothing goes to an unknown address, so waiting for delivery to the others would
            # tell them apart by the time of the answer: every address is answered at once.
            self._in_background(self._deliver_or_retire(delivery, stored))
        else:
            try:
                await delivery
            except DeliveryFailedError:
                await self.store.retire_challenge(stored, self.clock())  # nobody got the code
                raise FlowError(
                    ErrorCode.TEMPORARILY_UNAVAILABLE,
                    "The code could not be sent; try again later.",
                    retry_after=RETRY_AFTER_DELIVERY_FAILURE,
                ) from None
        return OtpSendResponse(
            otp_token=token, expires_in=int(self.settings.token_ttl.total_seconds())
        )

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)  # held, so the task is not collected before it ends
        task.add_done_callback(self._background.discard)

    async def _deliver_or_retire(self, delivery: Awaitable[None], challenge_id: int) -> None:
        try:
            await delivery
        except DeliveryFailedError:
            logger.warning("a code could not be delivered; its challenge is retired")
            await self.store.retire_challenge(challenge_id, self.clock())

    async def _deliver(
        self,
        *,
        channel: Channel,
        identifier: str,
        usage: str,
        code: str,
        locale: str,
        has_account: bool,
    ) -> None:
        if has_account or self.settings.unknown_account_delivery is UnknownAccountDelivery.CODE:
            await self.sender.send_code(
                CodeMessage(channel=channel, to=identifier, usage=usage, code=code, locale=locale)
            )
        elif self.settings.unknown_account_delivery is UnknownAccountDelivery.NOTICE:
            await self.sender.send_no_account_notice(
                NoAccountNotice(channel=channel, to=identifier, locale=locale)
            )
