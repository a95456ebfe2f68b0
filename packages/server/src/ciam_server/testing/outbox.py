"""An outbox in memory: every message a test server sends, as the typed object it sent."""

from __future__ import annotations

from typing import TypeVar

from ciam_server.domain.errors import FlowError
from ciam_server.domain.identifiers import normalize
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import CodeMessage, NoAccountNotice, PasswordChangedNotice

Message = CodeMessage | NoAccountNotice | PasswordChangedNotice
"""A message a server sends: a code, or one of the notices."""

M = TypeVar("M", CodeMessage, NoAccountNotice, PasswordChangedNotice)
N = TypeVar("N", NoAccountNotice, PasswordChangedNotice)


class NothingSentError(LookupError):
    """No message of the kind asked for was sent to the address."""


class MemoryOutbox:
    """A sender (:class:`ciam_server.domain.ports.Sender`) that delivers nothing and keeps every
    message, oldest first. Codes are kept in clear: it is for tests alone."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __repr__(self) -> str:
        return f"MemoryOutbox({len(self.messages)} messages)"

    async def send_code(self, message: CodeMessage) -> None:
        self.messages.append(message)

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        self.messages.append(notice)

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        self.messages.append(notice)

    def sent_to(self, address: str) -> list[Message]:
        """The messages sent to ``address`` (an email address or a phone number, in any form
        the server accepts), oldest first."""
        to = _normalized(address)
        return [message for message in self.messages if message.to == to]

    def last_code(self, address: str) -> CodeMessage:
        """The last code sent to ``address``; :class:`NothingSentError` when none was."""
        return self._last(address, CodeMessage, "code")

    def last_notice(self, address: str, kind: type[N]) -> N:
        """The last notice of ``kind`` (:class:`PasswordChangedNotice` or
        :class:`NoAccountNotice`) sent to ``address``; :class:`NothingSentError` when none
        was."""
        return self._last(address, kind, kind.__name__)

    def _last(self, address: str, kind: type[M], what: str) -> M:
        found = [message for message in self.sent_to(address) if isinstance(message, kind)]
        if not found:
            raise NothingSentError(f"no {what} was sent to {address}")
        return found[-1]


def _normalized(address: str) -> str:
    """``address`` as the server writes it in a message's ``to``; as it is when it is not a
    valid address (then no message went to it)."""
    channel = Channel.EMAIL if "@" in address else Channel.SMS
    try:
        return normalize(channel, address)
    except FlowError:
        return address
