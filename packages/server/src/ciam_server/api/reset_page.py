"""The hosted "forgot password" page: ``GET /reset?client_id=ID``, its script and stylesheet.

The page is three static files shipped in the package (``ciam_server/web``), served as they are:
no template, no inline script or style, no third-party resource. The script reads ``client_id``
from the query string and calls ``/otp/send`` and ``/reset_user_password`` on the same origin as a
public application (``client_id`` in the body, never a secret).

Without ``client_id`` the page is still served, with status 400: a person who followed a broken
link then reads why in their language (the script shows it) instead of a JSON body, while the
status tells tools that the request was wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from litestar import Request, Response, Router, route
from litestar.enums import HttpMethod

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# The page is never stored: it is where passwords are typed, and the back/forward cache must not
# keep a filled form. The script and stylesheet are revalidated on each use (cheap: a 304 by
# ETag), so an upgraded server never runs with a stale script.
PAGE_CACHE_CONTROL = "no-store"
ASSET_CACHE_CONTROL = "no-cache"

GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]
"""Each file answers HEAD as it answers GET; uvicorn leaves the body out of a HEAD answer."""


@dataclass(frozen=True)
class Asset:
    """A file of the page, read once, with its media type and a strong ETag of its content."""

    body: bytes
    media_type: str
    etag: str


def _load(name: str, media_type: str) -> Asset:
    body = (files("ciam_server") / "web" / name).read_bytes()
    return Asset(
        body=body, media_type=media_type, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    )


# Litestar adds "; charset=utf-8" to text/* media types.
PAGE = _load("reset.html", "text/html")
SCRIPT = _load("reset.js", "text/javascript")
STYLESHEET = _load("reset.css", "text/css")


def _headers(cache_control: str, etag: str | None = None) -> dict[str, str]:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control}
    if etag is not None:
        headers["ETag"] = etag
    return headers


def _asset_response(request: Request[Any, Any, Any], asset: Asset) -> Response[bytes]:
    headers = _headers(ASSET_CACHE_CONTROL, asset.etag)
    candidates = request.headers.get("if-none-match", "")
    if asset.etag in (tag.strip().removeprefix("W/") for tag in candidates.split(",")):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(
        content=asset.body, status_code=200, media_type=asset.media_type, headers=headers
    )


@route("/", http_method=GET_AND_HEAD, sync_to_thread=False)
def reset_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The page; 400 (the same page, which then explains the broken link) without client_id."""
    status = 200 if request.query_params.get("client_id") else 400
    return Response(
        content=PAGE.body,
        status_code=status,
        media_type=PAGE.media_type,
        headers=_headers(PAGE_CACHE_CONTROL),
    )


@route("/reset.js", http_method=GET_AND_HEAD, sync_to_thread=False)
def reset_script(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _asset_response(request, SCRIPT)


@route("/reset.css", http_method=GET_AND_HEAD, sync_to_thread=False)
def reset_stylesheet(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _asset_response(request, STYLESHEET)


reset_page_router = Router(
    path="/reset",
    route_handlers=[reset_page, reset_script, reset_stylesheet],
    include_in_schema=False,
)
"""Mounted by the app: ``/reset``, ``/reset/reset.js`` and ``/reset/reset.css``."""
