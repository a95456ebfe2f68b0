"""``/reset_user_password``: set a new password for the holder of a valid one-time code.

The checks run cheapest first, and proof of possession of the code comes before any expensive
work, so a caller without the code can never make the server run argon2:

0. room in the argon2 pool (:meth:`ResetPassword.ensure_room`, which the API calls before it
authenticates the client), 1. client (done by the caller of this flow), 2. body, 3. token,
4. code (counts an attempt), 5. room in the argon2 pool, booked, 6. user, 7. user status,
8. policy, 9. history, 10. one transaction that consumes the token, changes the password
(bumping the credential version, which ends every earlier session: its refresh tokens, and this
server's acceptance of earlier access tokens) and unlocks the user's sign-in.
A refusal at 0, 5, 8 or 9 leaves the token usable for another try.

Steps 0 and 5 shed load. Step 0 refuses a reset at once, before any of its work, database
included, while the pool has no room for a reset's argon2 calls (next to the calls waiting and
the room that resets in progress have booked): an overloaded server answers the excess at once
instead of after queueing it. Step 0 only looks; step 5 books the room, for resets whose code is
proven only, so that wrong codes, which never cost argon2, never hold room nor find none. A
reset that has booked is never refused for lack of room later: all of its argon2 calls run. The
booking is released when the reset ends, whatever its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ciam_server.domain.audit import Auditor, RequestContext, Trail
from ciam_server.domain.challenges import BAD_CODE, BAD_TOKEN, FIELD
from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import normalize
from ciam_server.domain.models import Application, AuditAction, Challenge, Channel, Refusal
from ciam_server.domain.otp import ChallengeHasher
from ciam_server.domain.passwords import Booking, HashingBusyError, PasswordHashing
from ciam_server.domain.policy import PasswordPolicy
from ciam_server.domain.ports import (
    DeliveryFailedError,
    PasswordChangedNotice,
    Sender,
    Store,
)
from ciam_server.domain.send_otp import NO_CONTEXT, OtpSettings, refused
from ciam_server.domain.sign_in import user_keys
from ciam_shared import ErrorCode, ResetUserPasswordRequest, Usage

logger = logging.getLogger(__name__)

RETRY_AFTER_BUSY = 1  # seconds


def _busy() -> FlowError:
    return FlowError(
        ErrorCode.TEMPORARILY_UNAVAILABLE,
        "The server is busy; try again shortly. The code stays valid.",
        retry_after=RETRY_AFTER_BUSY,
    )


@dataclass(frozen=True, kw_only=True)
class ResetAttempt:
    """A reset request checked for shape: one channel's triple and a password."""

    channel: Channel
    identifier: str
    token: str
    code: str
    password: str

    def __repr__(self) -> str:
        return f"ResetAttempt(channel={self.channel!r}, identifier={self.identifier!r})"


def _required(value: str | None, field: str) -> str:
    if value is None or value == "":
        raise FlowError(ErrorCode.INVALID_REQUEST, f"{field} is required.")
    return value


def parse_reset_request(request: ResetUserPasswordRequest) -> ResetAttempt:
    """Step 2: exactly one channel's triple (identifier, token, code) and a password."""
    email_fields = (request.email, request.email_otp_token, request.email_otp)
    phone_fields = (
        request.phone_number,
        request.phone_number_otp_token,
        request.phone_number_otp,
    )
    uses_email = any(value is not None for value in email_fields)
    uses_phone = any(value is not None for value in phone_fields)
    if uses_email and uses_phone:
        raise FlowError(
            ErrorCode.INVALID_REQUEST,
            "Give either the email fields or the phone_number fields, not both.",
        )
    if not uses_email and not uses_phone:
        raise FlowError(ErrorCode.INVALID_REQUEST, "One of email or phone_number is required.")
    channel = Channel.EMAIL if uses_email else Channel.SMS
    password = _required(request.password, "password")
    if channel is Channel.EMAIL:
        raw = _required(request.email, "email")
        token = _required(request.email_otp_token, "email_otp_token")
        code = _required(request.email_otp, "email_otp")
    else:
        raw = _required(request.phone_number, "phone_number")
        token = _required(request.phone_number_otp_token, "phone_number_otp_token")
        code = _required(request.phone_number_otp, "phone_number_otp")
    return ResetAttempt(
        channel=channel,
        identifier=normalize(channel, raw),
        token=token,
        code=code,
        password=password,
    )


@dataclass(frozen=True, kw_only=True)
class ResetPassword:
    store: Store
    sender: Sender
    hasher: ChallengeHasher
    hashing: PasswordHashing
    policy: PasswordPolicy
    settings: OtpSettings
    history_depth: int
    clock: Callable[[], datetime]
    auditor: Auditor

    async def __call__(
        self,
        application: Application,
        request: ResetUserPasswordRequest,
        context: RequestContext = NO_CONTEXT,
    ) -> None:
        trail = Trail()
        await self.auditor.audited(
            self._reset(application, request, context, trail),
            succeeded=AuditAction.RESET_SUCCEEDED,
            refused=AuditAction.RESET_REFUSED,
            client_id=application.client_id,
            trail=trail,
            context=context,
        )

    @property
    def _argon2_calls(self) -> int:
        """A reset's argon2 calls at most: the new hash and the history checks."""
        return 1 + self.history_depth

    def ensure_room(self) -> None:
        """Step 0: refuse the reset (``temporarily_unavailable``) while the argon2 pool has no
        room for a reset's calls."""
        if not self.hashing.has_room(self._argon2_calls):
            raise _busy()

    async def _reset(
        self,
        application: Application,
        request: ResetUserPasswordRequest,
        context: RequestContext,
        trail: Trail,
    ) -> None:
        attempt = parse_reset_request(request)
        trail.channel, trail.identifier = attempt.channel, attempt.identifier
        now = self.clock()
        found = await self.store.find_challenge(self.hasher.token_hash(attempt.token))
        challenge = self._live_challenge(found, application, attempt, now)
        await self._prove_code(challenge, attempt, now, trail, context)
        try:
            booking = self.hashing.book(self._argon2_calls)
        except HashingBusyError:
            raise _busy() from None
        try:
            await self._set_password(attempt, challenge, booking)
        finally:
            booking.release()
        await self._notify(attempt, now, context.locale)

    async def _set_password(
        self, attempt: ResetAttempt, challenge: Challenge, booking: Booking
    ) -> None:
        """Steps 6 to 10, for a proven code and with room booked for the argon2 calls."""
        user = await self.store.find_user(attempt.channel, attempt.identifier)
        if user is None:
            raise FlowError(
                ErrorCode.USER_NOT_FOUND,
                f"No user has this {FIELD[attempt.channel].replace('_', ' ')}.",
            )
        if user.frozen:
            raise FlowError(ErrorCode.ABNORMAL_USER_STATUS, "User is frozen.")
        password = self.policy.check(
            attempt.password, email=user.email, phone_number=user.phone_number
        )
        recent = await self.store.recent_password_hashes(user.id, self.history_depth)
        new_hash = await self.hashing.hash_unless_reused(recent, password, booking=booking)
        if new_hash is None:
            raise FlowError(
                ErrorCode.RECURRENT_PASSWORD,
                f"The password must differ from the last {self.history_depth} passwords.",
            )
        changed = await self.store.complete_reset(
            challenge_id=challenge.id,
            user_id=user.id,
            new_password_hash=new_hash,
            history_depth=self.history_depth,
            now=self.clock(),
            unlock=user_keys(user),
        )
        if not changed:  # another request consumed the token meanwhile
            raise FlowError(BAD_TOKEN[attempt.channel], "The token has already been used.")

    def _live_challenge(
        self,
        challenge: Challenge | None,
        application: Application,
        attempt: ResetAttempt,
        now: datetime,
    ) -> Challenge:
        """Step 3: the challenge the token names, if it is live and was issued to this client,
        for this purpose, channel and identifier."""
        if (
            challenge is None
            or challenge.client_id != application.client_id
            or challenge.usage != Usage.RESET_PASSWORD
            or challenge.channel != attempt.channel
            or challenge.identifier != attempt.identifier
        ):
            raise FlowError(
                BAD_TOKEN[attempt.channel],
                f"The token was not issued for this {FIELD[attempt.channel].replace('_', ' ')}"
                " and application.",
            )
        if challenge.consumed_at is not None or challenge.retired_at is not None:
            raise FlowError(
                BAD_TOKEN[attempt.channel], "The token has been used or replaced by a newer one."
            )
        if now >= challenge.token_expires_at:
            raise FlowError(BAD_TOKEN[attempt.channel], "The token has expired.")
        if challenge.attempts >= self.settings.max_attempts:
            raise FlowError(BAD_TOKEN[attempt.channel], "Too many wrong codes for this token.")
        return challenge

    async def _prove_code(
        self,
        challenge: Challenge,
        attempt: ResetAttempt,
        now: datetime,
        trail: Trail,
        context: RequestContext,
    ) -> None:
        """Step 4. Every check counts an attempt, atomically and only while the token has
        attempts left and its address is under its failure limit, and its outcome is told only
        once counted: concurrent guesses cannot learn more codes than the limits allow. A
        right code gives its attempt back. Wrong codes are limited per address across all its
        tokens too, so asking for new codes does not buy more guesses (NIST SP 800-63B rate
        limiting).

        The code is compared first (in constant time, whatever the outcome), so that a wrong
        code's attempt and its audit event are stored in one transaction: a check refused for
        want of attempts answers the same whether its code was right or not."""
        if now >= challenge.code_expires_at:
            raise FlowError(BAD_CODE[attempt.channel], "The code has expired.")
        wrong, wrong_event = None, None
        if not self.hasher.code_matches(
            token_hash=challenge.token_hash, code_hash=challenge.code_hash, code=attempt.code
        ):
            wrong = FlowError(BAD_CODE[attempt.channel], "The code is wrong.")
            wrong_event = self.auditor.event(
                AuditAction.RESET_REFUSED,
                client_id=challenge.client_id,
                trail=trail,
                context=context,
                reason=wrong.code.value,
            )
        reserved = await self.store.reserve_attempt(
            challenge, self.settings.attempt_limits, now, audit=wrong_event
        )
        if isinstance(reserved, Refusal):
            raise refused(attempt.channel, reserved)
        if not reserved:
            raise FlowError(BAD_TOKEN[attempt.channel], "Too many wrong codes for this token.")
        if wrong is not None:
            trail.stored = wrong_event
            raise wrong
        await self.store.release_attempt(challenge.id)

    async def _notify(self, attempt: ResetAttempt, now: datetime, locale: str) -> None:
        """Tell the account holder; the password has changed whether or not this arrives."""
        try:
            await self.sender.send_password_changed(
                PasswordChangedNotice(
                    channel=attempt.channel, to=attempt.identifier, changed_at=now, locale=locale
                )
            )
        except DeliveryFailedError:
            logger.warning("password-changed notice not delivered (channel %s)", attempt.channel)
