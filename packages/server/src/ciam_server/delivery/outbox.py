"""The development outbox: every message is appended to a file as one JSON object per line.

Codes are written in clear, since the file is the mailbox: never use it in production.

A message is written on the event loop, as a log record is: one append of a line to a local
file, without ``fsync``, which the kernel takes into its page cache. Handing it to a worker
thread would cost more in the hand-offs between the threads than the write itself (see
docs/performance.md).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
)


class OutboxSender:
    """Appends messages to ``path`` (its folder made when missing); one line each, written to
    the file before the call returns."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"OutboxSender(path={str(self.path)!r})"

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            return os.open(self.path, flags, 0o666)  # the mode less the umask, as open() does
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, 0o666)

    async def _write(self, record: dict[str, str]) -> None:
        data = msgspec.json.encode(record) + b"\n"  # one line, UTF-8 unescaped
        try:
            descriptor = self._open()
            try:
                # O_APPEND: every write lands at the end, so the lines of several writers (the
                # processes of ``serve --workers``) never overwrite each other.
                while data:
                    data = data[os.write(descriptor, data) :]
            finally:
                os.close(descriptor)
        except OSError as exc:
            raise DeliveryFailedError(f"cannot write to the outbox: {exc.strerror}") from exc

    async def send_code(self, message: CodeMessage) -> None:
        await self._write(
            {
                "channel": message.channel.value,
                "to": message.to,
                "usage": message.usage,
                "code": message.code,
                "sent_at": datetime.now(UTC).isoformat(),
            }
        )

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        await self._write(
            {
                "channel": notice.channel.value,
                "to": notice.to,
                "usage": "no_account",
                "sent_at": datetime.now(UTC).isoformat(),
            }
        )

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        await self._write(
            {
                "channel": notice.channel.value,
                "to": notice.to,
                "usage": "password_changed",
                "sent_at": notice.changed_at.isoformat(),
            }
        )
