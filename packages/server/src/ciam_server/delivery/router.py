"""One sender for both channels: emails to one sender, text messages to another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, assert_never, runtime_checkable

from ciam_server.domain.models import Channel
from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    PasswordChangedNotice,
    Sender,
)

if TYPE_CHECKING:
    from ciam_server.domain.ports import NoAccountNotice


@runtime_checkable
class Closable(Protocol):
    """A sender holding resources (connections, clients) to release at shutdown."""

    async def aclose(self) -> None: ...


class ChannelSender:
    """Hands each message to ``email`` or ``sms`` according to its channel."""

    def __init__(self, email: Sender, sms: Sender) -> None:
        self.email = email
        self.sms = sms

    def __repr__(self) -> str:
        return f"ChannelSender(email={self.email!r}, sms={self.sms!r})"

    def _for(self, channel: Channel) -> Sender:
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.SMS:
            return self.sms
        assert_never(channel)

    async def send_code(self, message: CodeMessage) -> None:
        await self._for(message.channel).send_code(message)

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        await self._for(notice.channel).send_no_account_notice(notice)

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        await self._for(notice.channel).send_password_changed(notice)

    async def aclose(self) -> None:
        """Close both senders (once each, the second even when the first fails)."""
        try:
            if isinstance(self.email, Closable):
                await self.email.aclose()
        finally:
            if self.sms is not self.email and isinstance(self.sms, Closable):
                await self.sms.aclose()


class UnavailableSender:
    """A channel the server is not set up to deliver to: every message fails."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def __repr__(self) -> str:
        return f"UnavailableSender(channel={self.channel!r})"

    async def send_code(self, message: CodeMessage) -> None:
        raise DeliveryFailedError(f"no delivery is configured for channel {self.channel}")

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        raise DeliveryFailedError(f"no delivery is configured for channel {self.channel}")

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        raise DeliveryFailedError(f"no delivery is configured for channel {self.channel}")
