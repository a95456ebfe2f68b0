"""The app's two hooks: what the server does around every request and every answer.

The request id, the request metrics, the per-address limit and the JSON-only check run in
Litestar's ``before_request`` and ``before_send`` hooks rather than in middleware: Litestar
wraps a route that has middleware in a layer of exception handling of its own besides each
middleware's layer, work every request would pay for.
Litestar runs only the innermost layer's ``before_request`` hook, so the app has one, for every
route; its ``before_send`` hook sees every message of every answer, those of unknown paths and
of exception handlers included.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.types import Message, Scope

from ciam_server.api.ip_limit import IP_LIMITED, IpRateLimit
from ciam_server.api.metrics import RequestMetrics
from ciam_server.api.request_id import echo_request_id, request_id_of
from ciam_server.api.routes import JSON_BODY_ONLY, require_json_body
from ciam_server.logs import REQUEST_ID


class RequestHooks:
    """The hooks, for the app's ``before_request`` and ``before_send``."""

    def __init__(self, metrics: RequestMetrics, ip_limit: IpRateLimit | None) -> None:
        self._metrics = metrics
        self._ip_limit = ip_limit

    async def before_request(self, request: Request[Any, Any, Any]) -> None:
        """Start the request's metrics; bind its id to the log records made while serving it;
        on the routes marked :data:`IP_LIMITED`, admit it under the per-address limit; on the
        handlers marked :data:`JSON_BODY_ONLY`, refuse a body not declared JSON before it is
        read."""
        scope = request.scope
        self._metrics.start(scope)
        REQUEST_ID.set(request_id_of(scope))
        opt = request.route_handler.opt
        if self._ip_limit is not None and opt.get(IP_LIMITED):
            await self._ip_limit.admit(scope)
        if opt.get(JSON_BODY_ONLY):
            require_json_body(request)

    async def before_send(self, message: Message, scope: Scope) -> None:
        """Echo the request id, and bind it for the access log line uvicorn writes as it sends
        the answer: a request refused before any handler (an unknown path, a wrong method) had
        no ``before_request`` to bind it. Count and time the answer."""
        if message["type"] == "http.response.start":
            REQUEST_ID.set(request_id_of(scope))
        echo_request_id(message, scope)
        self._metrics.observe(message, scope)
