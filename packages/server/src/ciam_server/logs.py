"""Logging: one JSON object per line (or plain text), each carrying the request's id.

Nothing logged here holds a secret: request bodies are never logged, and the flows log only
fixed sentences, codes of the registry and normalized addresses.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Literal

import msgspec

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being served, set for the handler's task."""

LogFormat = Literal["json", "text"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record, encoded by msgspec (``json.dumps`` with options builds an
    encoder for every call, and a request makes two records).
    Values JSON has no type for are written as their ``str``."""

    _encoder = msgspec.json.Encoder(enc_hook=str)

    def __init__(self) -> None:
        super().__init__()
        self._last_second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        """``created`` in ISO 8601, UTC, to the microsecond. The date and time to the second
        are written once a second and kept, with the second, in one attribute (so threads
        sharing the formatter never pair one second with another's text): ``datetime``'s
        ``fromtimestamp`` and ``isoformat`` were much of a record's formatting."""
        second, microsecond = divmod(int(created * 1_000_000), 1_000_000)
        last, text = self._last_second
        if second != last:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._last_second = (second, text)
        return f"{text}.{microsecond:06d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        audit = getattr(record, "audit", None)
        if isinstance(audit, dict):
            entry["audit"] = audit
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.request_id = REQUEST_ID.get() or "-"
        return super().format(record)


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Send every logger's records, uvicorn's included, to standard error.

    Neither format shows where a record was made, nor its thread or process, so records do
    not collect them (the logging HOWTO's "Optimization"): finding the caller's frame alone is
    a good part of a record's cost, and an API request makes two records."""
    logging._srcfile = None  # the switch the HOWTO names
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
