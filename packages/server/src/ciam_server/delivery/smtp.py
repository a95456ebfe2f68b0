"""Email delivery through an SMTP server (aiosmtplib), one connection per message."""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib
from pydantic import SecretStr

from ciam_server.delivery.templates import (
    EmailText,
    code_email,
    no_account_email,
    password_changed_email,
)
from ciam_server.domain.models import Channel
from ciam_server.domain.ports import CodeMessage, DeliveryFailedError, PasswordChangedNotice

if TYPE_CHECKING:
    from ciam_server.domain.ports import NoAccountNotice

logger = logging.getLogger(__name__)


class SmtpSecurity(StrEnum):
    """How the connection to the SMTP server is protected."""

    NONE = "none"
    """Plain text: only for a relay on the same host or a trusted network."""
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS, which is required (no fallback to plain)."""
    TLS = "tls"
    """TLS from the first byte (implicit TLS, usually port 465)."""


DEFAULT_PORTS = {SmtpSecurity.NONE: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465}
"""The usual port for each security mode."""


class SmtpSender:
    """Sends codes and notices as plain-text UTF-8 emails from ``from_address``.

    ``code_ttl`` is the lifetime of a code, stated in the message. ``timeout`` (seconds) bounds
    each SMTP step and the whole delivery. Certificates are checked against the system's
    trusted authorities, or against ``tls_context`` / ``ca_file`` when given. Logging in
    (``username``/``password``) happens only when a username is given.
    """

    def __init__(
        self,
        *,
        host: str,
        from_address: str,
        code_ttl: timedelta,
        port: int | None = None,
        security: SmtpSecurity | str = SmtpSecurity.STARTTLS,
        username: str | None = None,
        password: SecretStr | str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
        ca_file: str | Path | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.host = host
        self.security = SmtpSecurity(security)
        self.port = port if port is not None else DEFAULT_PORTS[self.security]
        self.from_address = from_address
        self.code_ttl = code_ttl
        self.username = username or None
        self._password = SecretStr(password) if isinstance(password, str) else password
        if self.username is not None and self._password is None:
            raise ValueError("an SMTP username needs a password")
        if timeout <= 0:
            raise ValueError("the SMTP timeout must be positive")
        self.timeout = timeout
        if tls_context is not None and ca_file is not None:
            raise ValueError("give either tls_context or ca_file, not both")
        if ca_file is not None:
            tls_context = ssl.create_default_context(cafile=str(ca_file))
        self._tls_context = tls_context
        self.local_hostname = local_hostname
        address = parseaddr(from_address)[1]
        if "@" not in address:
            raise ValueError("the From address must be an email address")
        self._message_id_domain = address.rpartition("@")[2]
        if self.username is not None and self.security is SmtpSecurity.NONE:
            logger.warning(
                "SMTP login to %s:%d without TLS: the password crosses the network in clear",
                self.host,
                self.port,
            )

    def __repr__(self) -> str:
        password = "'**********'" if self._password is not None else "None"
        return (
            f"SmtpSender(host={self.host!r}, port={self.port}, security={self.security.value!r}, "
            f"username={self.username!r}, password={password}, "
            f"from_address={self.from_address!r}, timeout={self.timeout})"
        )

    async def send_code(self, message: CodeMessage) -> None:
        self._check_channel(message.channel)
        text = code_email(message.code, self.code_ttl, message.locale)
        await self._send(message.to, text)

    async def send_no_account_notice(self, notice: NoAccountNotice) -> None:
        self._check_channel(notice.channel)
        await self._send(notice.to, no_account_email(notice.locale))

    async def send_password_changed(self, notice: PasswordChangedNotice) -> None:
        self._check_channel(notice.channel)
        await self._send(notice.to, password_changed_email(notice.changed_at, notice.locale))

    async def aclose(self) -> None:
        """Nothing to release: every message has its own connection."""

    @staticmethod
    def _check_channel(channel: Channel) -> None:
        if channel is not Channel.EMAIL:
            raise DeliveryFailedError(f"the SMTP sender cannot deliver to channel {channel}")

    def build_message(self, to: str, text: EmailText) -> EmailMessage:
        """The email for ``text`` to ``to``; ``ValueError`` when ``to`` cannot be a header."""
        email = EmailMessage()
        email["Subject"] = text.subject
        email["From"] = self.from_address
        email["To"] = to
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = make_msgid(domain=self._message_id_domain)
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(text.body, charset="utf-8")
        return email

    async def _send(self, to: str, text: EmailText) -> None:
        try:
            email = self.build_message(to, text)
        except (ValueError, TypeError) as exc:
            raise DeliveryFailedError("cannot write an email to this recipient address") from exc
        password = self._password.get_secret_value() if self._password is not None else None
        try:
            async with asyncio.timeout(self.timeout):
                await aiosmtplib.send(
                    email,
                    hostname=self.host,
                    port=self.port,
                    username=self.username,
                    password=password if self.username is not None else None,
                    use_tls=self.security is SmtpSecurity.TLS,
                    start_tls=self.security is SmtpSecurity.STARTTLS,
                    timeout=self.timeout,
                    tls_context=self._tls_context,
                    local_hostname=self.local_hostname,
                )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailedError(
                f"SMTP delivery failed: {type(exc).__name__} (reply code {exc.code})"
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailedError(f"SMTP delivery failed: {type(exc).__name__}") from exc
