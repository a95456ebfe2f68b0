"""The development outbox: every message is appended to a file as one JSON object per line.

Codes are written in clear, since the file is the mailbox: never use it in production.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from ciam_server.domain.ports import (
    CodeMessage,
    DeliveryFailedError,
    NoAccountNotice,
    PasswordChangedNotice,
)


class OutboxSender:
    """Appends messages to ``path``; one line each, flushed before the call returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"OutboxSender(path={str(self.path)!r})"

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")

    async def _write(self, record: dict[str, str]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, line)
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
