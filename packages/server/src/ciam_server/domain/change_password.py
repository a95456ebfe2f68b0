"""``/change_user_password``: a signed-in user changes their own password; and ``/userinfo``.

Checks run cheapest first: 0. room in the argon2 pool (:meth:`ChangePassword.ensure_room`),
1. the access token (done by the caller of this flow), 2. body, 3. user, the token's credential
version, status and lock, 4. policy, 5. room booked, 6. the attempt counted against the user's
sign-in failures (a wrong old password counts, so a stolen token cannot guess the password
beyond the lock), 7. old password, 8. duplicate and history, 9. one transaction that changes
the password, bumps the credential version (ending every earlier session) and unlocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ciam_server.domain.audit import Auditor, RequestContext, Trail
from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import AuditAction, Channel, SignInAttempt, SignInLimits, User
from ciam_server.domain.passwords import HashingBusyError, PasswordHashing
from ciam_server.domain.policy import PasswordPolicy, normalize_password
from ciam_server.domain.ports import (
    DeliveryFailedError,
    PasswordChangedNotice,
    Sender,
    SignInStore,
)
from ciam_server.domain.sign_in import LOCKED, busy, required, user_keys
from ciam_server.domain.tokens import AccessClaims, Tokens
from ciam_shared import ChangeUserPasswordRequest, ErrorCode, UserInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ChangePassword:
    store: SignInStore
    tokens: Tokens
    sender: Sender
    hashing: PasswordHashing
    policy: PasswordPolicy
    limits: SignInLimits
    history_depth: int
    clock: Callable[[], datetime]
    auditor: Auditor

    @property
    def _argon2_calls(self) -> int:
        """The old password, the duplicate, the older history entries and the new hash."""
        return 2 + self.history_depth

    def ensure_room(self) -> None:
        if not self.hashing.has_room(self._argon2_calls):
            raise busy()

    async def __call__(
        self,
        claims: AccessClaims,
        request: ChangeUserPasswordRequest,
        context: RequestContext,
    ) -> None:
        trail = Trail()
        await self.auditor.audited(
            self._change(claims, request, context, trail),
            succeeded=AuditAction.PASSWORD_CHANGED,
            refused=AuditAction.PASSWORD_CHANGE_REFUSED,
            client_id=claims.client_id,
            trail=trail,
            context=context,
        )

    async def _change(
        self,
        claims: AccessClaims,
        request: ChangeUserPasswordRequest,
        context: RequestContext,
        trail: Trail,
    ) -> None:
        user_id = claims.user_id()
        old_password = normalize_password(required(request.old_password, "old_password"))
        new_password = required(request.new_password, "new_password")
        user = await self.store.get_user(user_id)
        if user is None:
            raise FlowError(ErrorCode.USER_NOT_FOUND, "The token's user no longer exists.")
        self.tokens.check_current(claims, user)
        channel, to = _address(user)
        trail.channel, trail.identifier = channel, to
        now = self.clock()
        keys = user_keys(user)
        if user.frozen:
            raise FlowError(ErrorCode.ABNORMAL_USER_STATUS, "User is frozen.")
        if await self.store.sign_in_locked(keys, now):
            raise FlowError(ErrorCode.ABNORMAL_USER_STATUS, LOCKED)
        password = self.policy.check(new_password, email=user.email, phone_number=user.phone_number)
        try:
            booking = self.hashing.book(self._argon2_calls)
        except HashingBusyError:
            raise busy() from None
        try:
            attempt = await self.store.count_sign_in_attempt(keys[0], self.limits, now)
            if attempt is SignInAttempt.LOCKED:
                raise FlowError(ErrorCode.ABNORMAL_USER_STATUS, LOCKED)
            if not await self.hashing.verify(user.password_hash, old_password, booking=booking):
                if attempt is SignInAttempt.LOCKING:
                    await self.auditor.record(
                        AuditAction.SIGN_IN_LOCKED,
                        client_id=claims.client_id,
                        trail=trail,
                        context=context,
                    )
                raise FlowError(
                    ErrorCode.WRONG_OLD_PASSWORD, "old_password is not the current password."
                )
            if await self.hashing.verify(user.password_hash, password, booking=booking):
                await self.store.clear_sign_in_failures(keys[:1])
                raise FlowError(
                    ErrorCode.DUPLICATE_PASSWORD, "new_password is the current password."
                )
            recent = await self.store.recent_password_hashes(user.id, self.history_depth)
            older = [h for h in recent if h != user.password_hash][: self.history_depth - 1]
            new_hash = await self.hashing.hash_unless_reused(older, password, booking=booking)
        finally:
            booking.release()
        if new_hash is None:
            await self.store.clear_sign_in_failures(keys[:1])
            raise FlowError(
                ErrorCode.RECURRENT_PASSWORD,
                f"The password must differ from the last {self.history_depth} passwords.",
            )
        changed = await self.store.change_password(
            user_id=user.id,
            credential_version=user.credential_version,
            new_password_hash=new_hash,
            history_depth=self.history_depth,
            unlock=keys,
            now=self.clock(),
        )
        if not changed:  # a reset or another change came first
            self.tokens.check_current(claims, None)
        await self._notify(channel, to, now, context.locale)

    async def _notify(self, channel: Channel, to: str, now: datetime, locale: str) -> None:
        """Tell the account holder; the password has changed whether or not this arrives."""
        try:
            await self.sender.send_password_changed(
                PasswordChangedNotice(channel=channel, to=to, changed_at=now, locale=locale)
            )
        except DeliveryFailedError:
            logger.warning("password-changed notice not delivered (channel %s)", channel)

    async def userinfo(self, claims: AccessClaims) -> UserInfo:
        """``/userinfo``: the claims of the token's user, while the token is current."""
        user = self.tokens.check_current(claims, await self.store.get_user(claims.user_id()))
        return UserInfo(sub=str(user.id), email=user.email, phone_number=user.phone_number)


def _address(user: User) -> tuple[Channel, str]:
    """Where the user is told of the change: their email address, else their phone."""
    if user.email is not None:
        return Channel.EMAIL, user.email
    if user.phone_number is None:  # pragma: no cover - the schema forbids it
        raise LookupError("a user without an address")
    return Channel.SMS, user.phone_number
