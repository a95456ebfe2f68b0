"""The send and reset flows wired to an in-memory store, a recording sender and a stopped clock."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import argon2
import pytest

from ciam_server.domain.audit import Auditor
from ciam_server.domain.clients import hash_client_secret
from ciam_server.domain.errors import FlowError
from ciam_server.domain.models import Application, AppType, Challenge, Channel, User
from ciam_server.domain.otp import ChallengeHasher
from ciam_server.domain.passwords import Argon2Parameters
from ciam_server.domain.policy import PasswordPolicy
from ciam_server.domain.ports import AuditLog, Sender, Store
from ciam_server.domain.reset_password import ResetPassword
from ciam_server.domain.send_otp import OtpSettings, SendOtp
from ciam_shared import ErrorCode, OtpSendRequest, ResetUserPasswordRequest, Usage

from .fakes import Clock, CountingHashing, FakeStore, RecordingAuditLog, RecordingSender

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SECRET_KEY = b"domain-tests-challenge-key"
FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)
CODE_TTL = timedelta(seconds=300)
TOKEN_TTL = timedelta(seconds=600)
MAX_ATTEMPTS = 5
HISTORY_DEPTH = 3

WEB_CLIENT_ID = "web-app"
WEB_CLIENT_SECRET = "web-app-secret-0123456789"
OTHER_CLIENT_ID = "other-web-app"
OTHER_CLIENT_SECRET = "other-web-app-secret-0123456789"
M2M_CLIENT_ID = "m2m-app"
M2M_CLIENT_SECRET = "m2m-app-secret-0123456789"
SPA_CLIENT_ID = "spa-app"  # a public application enabled for /otp/send
MOBILE_CLIENT_ID = "mobile-app"  # a public application not enabled for /otp/send

EMAIL = "alice@example.com"
PHONE = "+8613800138000"
ADDRESS = {Channel.EMAIL: EMAIL, Channel.SMS: PHONE}
# The same addresses as people type them.
TYPED_ADDRESS = {Channel.EMAIL: "Alice@Example.COM", Channel.SMS: "13800138000"}
# Valid addresses that no account has.
NO_ACCOUNT = {Channel.EMAIL: "nobody@example.com", Channel.SMS: "+8613900139000"}
OLD_PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet kettle marmalade 42"

BAD_TOKEN = {
    Channel.EMAIL: ErrorCode.BAD_EMAIL_OTP_TOKEN,
    Channel.SMS: ErrorCode.BAD_PHONE_NUMBER_OTP_TOKEN,
}
BAD_CODE = {
    Channel.EMAIL: ErrorCode.BAD_EMAIL_OTP,
    Channel.SMS: ErrorCode.BAD_PHONE_NUMBER_OTP,
}

# Hashes the passwords users start with, outside the flows' counted hashing.
SETUP_HASHER = argon2.PasswordHasher(
    time_cost=FAST_ARGON2.time_cost,
    memory_cost=FAST_ARGON2.memory_cost_kib,
    parallelism=FAST_ARGON2.parallelism,
)


def confidential_app(client_id: str, secret: str, app_type: AppType = AppType.WEB) -> Application:
    return Application(
        client_id=client_id,
        name=client_id,
        app_type=app_type,
        secret_hash=hash_client_secret(secret),
        allow_otp_send=False,
    )


def public_app(client_id: str, *, allow_otp_send: bool, app_type: AppType) -> Application:
    return Application(
        client_id=client_id,
        name=client_id,
        app_type=app_type,
        secret_hash=None,
        allow_otp_send=allow_otp_send,
    )


def send_request(
    channel: Channel, to: str, *, usage: str = Usage.RESET_PASSWORD.value
) -> OtpSendRequest:
    if channel is Channel.EMAIL:
        return OtpSendRequest(usage=usage, email=to)
    return OtpSendRequest(usage=usage, phone_number=to)


def reset_request(
    channel: Channel, to: str, *, token: str, code: str, password: str
) -> ResetUserPasswordRequest:
    if channel is Channel.EMAIL:
        return ResetUserPasswordRequest(
            password=password, email=to, email_otp_token=token, email_otp=code
        )
    return ResetUserPasswordRequest(
        password=password, phone_number=to, phone_number_otp_token=token, phone_number_otp=code
    )


def wrong(code: str) -> str:
    """Another 6-digit code."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def refusal(call: Awaitable[object]) -> FlowError:
    """The FlowError that ``call`` raises."""
    with pytest.raises(FlowError) as caught:
        await call
    return caught.value


@dataclass(frozen=True)
class Issued:
    """What the holder of the address has after /otp/send: the token and the code."""

    token: str
    code: str


@dataclass
class World:
    """The flows, what they work on, and shortcuts for the steps of a reset."""

    store: FakeStore
    sender: RecordingSender
    clock: Clock
    hasher: ChallengeHasher
    hashing: CountingHashing
    send_otp: SendOtp
    reset_password: ResetPassword
    web_app: Application
    other_app: Application
    alice: User

    async def send(
        self, channel: Channel, to: str | None = None, *, application: Application | None = None
    ) -> Issued:
        """/otp/send for ``to`` (Alice's address by default), and the code it delivered."""
        response = await self.send_otp(
            application or self.web_app,
            send_request(channel, ADDRESS[channel] if to is None else to),
        )
        return Issued(token=response.otp_token, code=self.sender.codes[-1].code)

    async def reset(
        self,
        channel: Channel,
        issued: Issued,
        *,
        password: str = NEW_PASSWORD,
        to: str | None = None,
        code: str | None = None,
        application: Application | None = None,
    ) -> None:
        """/reset_user_password with what ``issued`` holds, unless told otherwise."""
        await self.reset_password(
            application or self.web_app,
            reset_request(
                channel,
                ADDRESS[channel] if to is None else to,
                token=issued.token,
                code=issued.code if code is None else code,
                password=password,
            ),
        )

    def challenge(self, issued: Issued) -> Challenge:
        return self.store.challenge_with_token_hash(self.hasher.token_hash(issued.token))

    def user(self, user_id: int | None = None) -> User:
        return self.store.users[self.alice.id if user_id is None else user_id]

    def add_user(
        self,
        password: str,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        frozen: bool = False,
    ) -> User:
        return self.store.add_user(
            password_hash=SETUP_HASHER.hash(password),
            email=email,
            phone_number=phone_number,
            frozen=frozen,
        )

    def has_password(self, password: str, user_id: int | None = None) -> bool:
        try:
            return SETUP_HASHER.verify(self.user(user_id).password_hash, password)
        except argon2.exceptions.VerifyMismatchError:
            return False


@pytest.fixture(params=[Channel.EMAIL, Channel.SMS], ids=["email", "sms"])
def channel(request: pytest.FixtureRequest) -> Channel:
    value: Channel = request.param
    return value


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def store(audit_log: RecordingAuditLog) -> FakeStore:
    return FakeStore(audit_log)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def audit_log() -> RecordingAuditLog:
    return RecordingAuditLog()


@pytest.fixture
def hashing() -> Iterator[CountingHashing]:
    hashing = CountingHashing(FAST_ARGON2)
    yield hashing
    hashing.close()


@pytest.fixture
def world(
    store: FakeStore,
    sender: RecordingSender,
    clock: Clock,
    hashing: CountingHashing,
    audit_log: RecordingAuditLog,
) -> World:
    hasher = ChallengeHasher(SECRET_KEY)
    settings = OtpSettings(code_ttl=CODE_TTL, token_ttl=TOKEN_TTL, max_attempts=MAX_ATTEMPTS)
    # The fakes are used through the ports' types, so the type checker holds them to the ports.
    ported_store: Store = store
    ported_sender: Sender = sender
    ported_audit_log: AuditLog = audit_log
    auditor = Auditor(log=ported_audit_log, clock=clock)
    web_app = store.add_application(confidential_app(WEB_CLIENT_ID, WEB_CLIENT_SECRET))
    other_app = store.add_application(confidential_app(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    store.add_application(confidential_app(M2M_CLIENT_ID, M2M_CLIENT_SECRET, AppType.M2M))
    store.add_application(public_app(SPA_CLIENT_ID, allow_otp_send=True, app_type=AppType.SPA))
    store.add_application(
        public_app(MOBILE_CLIENT_ID, allow_otp_send=False, app_type=AppType.MOBILE)
    )
    alice = store.add_user(
        password_hash=SETUP_HASHER.hash(OLD_PASSWORD), email=EMAIL, phone_number=PHONE
    )
    return World(
        store=store,
        sender=sender,
        clock=clock,
        hasher=hasher,
        hashing=hashing,
        send_otp=SendOtp(
            store=ported_store,
            sender=ported_sender,
            hasher=hasher,
            settings=settings,
            clock=clock,
            auditor=auditor,
        ),
        reset_password=ResetPassword(
            store=ported_store,
            sender=ported_sender,
            hasher=hasher,
            hashing=hashing,
            policy=PasswordPolicy(),
            settings=settings,
            history_depth=HISTORY_DEPTH,
            clock=clock,
            auditor=auditor,
        ),
        web_app=web_app,
        other_app=other_app,
        alice=alice,
    )
