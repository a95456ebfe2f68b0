"""Running uvicorn for ``ciam-server serve``, with word once the server listens.

``uvicorn.run`` says nothing to its caller: a message printed before it ("the server is
ready") is printed even when the port is taken and the server exits at once. :func:`run`
does what ``uvicorn.run`` does for an import string without reload, and calls
``on_listening`` only once connections are accepted.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from contextlib import suppress

from uvicorn import Config, Server
from uvicorn.supervisors import Multiprocess

STARTUP_FAILURE = 3
"""The exit code uvicorn gives a server that did not start."""


class _AnnouncingServer(Server):
    """A uvicorn server that calls ``on_listening`` once it has started: its app's startup
    done and its socket listening."""

    def __init__(self, config: Config, on_listening: Callable[[], object] | None) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_listening is not None:
            self._on_listening()


def run(config: Config, on_listening: Callable[[], object] | None = None) -> None:
    """Serve ``config`` until stopped. One process calls ``on_listening`` once it has
    started. Several share a socket bound and listening here first (uvicorn exits, saying
    why, when the address is taken): ``on_listening`` is called then, and each worker takes
    connections from the socket as it starts."""
    if config.workers == 1:
        server = _AnnouncingServer(config, on_listening)
        # Ctrl-C: uvicorn stops gracefully, then raises KeyboardInterrupt again.
        with suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    shared = config.bind_socket()
    shared.listen(config.backlog)
    if on_listening is not None:
        on_listening()
    Multiprocess(config, sockets=[shared]).run()
