"""The reference point of the benchmark: a bare Litestar app with one JSON POST endpoint.

It decodes a body shaped like ``/otp/send``'s and answers one shaped like its answer, and is
served as ``ciam-server serve`` serves the real app: ``uvicorn.run`` in one worker process,
with an access log line for every request.

    python -m bench.bare_app --port 8001
"""

from __future__ import annotations

import argparse

import msgspec
import uvicorn
from litestar import Litestar, post


class Body(msgspec.Struct):
    usage: str | None = None
    email: str | None = None
    phone_number: str | None = None
    client_id: str | None = None


class Answer(msgspec.Struct):
    otp_token: str
    expires_in: int


TOKEN = "x" * 43  # as long as a real otp_token


@post("/bare", status_code=200)
async def bare(data: Body) -> Answer:
    return Answer(otp_token=TOKEN, expires_in=600)


app = Litestar(route_handlers=[bare], debug=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    # As ``ciam-server serve`` runs uvicorn: one worker, no proxy headers, an access log line
    # for every request.
    uvicorn.run(
        app,
        host=arguments.host,
        port=arguments.port,
        workers=1,
        log_level="info",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
