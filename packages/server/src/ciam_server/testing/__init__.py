"""A test kit for applications that call the ciam-reset API: the real server inside a test's own
process (see docs/testing.md). Its pytest plugin (``ciam_server.pytest_plugin``) gives the
``ciam_test_server`` fixture. The server never imports this package."""

from ciam_server.domain.ports import CodeMessage, NoAccountNotice, PasswordChangedNotice
from ciam_server.testing.clock import ManualClock
from ciam_server.testing.outbox import MemoryOutbox, Message, NothingSentError
from ciam_server.testing.server import (
    DEFAULT_PASSWORD,
    KIT_SETTINGS,
    TRANSPORT_URL,
    CiamTestServer,
    RegisteredApplication,
    RegisteredUser,
    start_test_server,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "KIT_SETTINGS",
    "TRANSPORT_URL",
    "CiamTestServer",
    "CodeMessage",
    "ManualClock",
    "MemoryOutbox",
    "Message",
    "NoAccountNotice",
    "NothingSentError",
    "PasswordChangedNotice",
    "RegisteredApplication",
    "RegisteredUser",
    "start_test_server",
]
