"""The JSON log format: one object per record, with the request's id and the audit fields."""

from __future__ import annotations

import calendar
import json
import logging
import sys
import time
from pathlib import Path

import pytest

from ciam_server.logs import REQUEST_ID, JsonFormatter, configure_logging


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("ciam_server.audit", logging.INFO, __file__, 1, "%s", ("x",), None)
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_object_with_its_request_id_and_audit_fields() -> None:
    token = REQUEST_ID.set("req-1")
    try:
        line = JsonFormatter().format(_record(audit={"identifier": "zoë@例え.jp", "reason": None}))
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    assert "zoë@例え.jp" in line  # written as is, not escaped
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "INFO",
        "logger": "ciam_server.audit",
        "message": "x",
        "request_id": "req-1",
        "audit": {"identifier": "zoë@例え.jp", "reason": None},
    }


def test_a_value_json_has_no_type_for_is_written_as_its_str() -> None:
    entry = json.loads(JsonFormatter().format(_record(audit={"path": Path("/var/x")})))
    assert entry["audit"] == {"path": "/var/x"}


def test_an_exception_is_written_with_its_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed"
    assert entry["exception"].startswith("Traceback")
    assert entry["exception"].endswith("RuntimeError: boom")


def test_configured_records_do_not_look_for_their_caller_thread_or_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for switch in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, switch, getattr(logging, switch))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    level = root.level
    records: list[logging.LogRecord] = []

    configure_logging("info", "json")
    try:
        root.handlers.append(_Keep(records))
        logging.getLogger("ciam_server.test").info("made")
    finally:
        root.setLevel(level)

    (record,) = records
    assert (record.pathname, record.lineno, record.funcName) == (
        "(unknown file)",
        0,
        "(unknown function)",
    )
    assert (record.thread, record.threadName, record.process, record.processName) == (
        None,
        None,
        None,
        None,
    )


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append(record)


def test_times_are_utc_to_the_microsecond_and_the_second_is_written_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[float] = []
    strftime = time.strftime

    def counting(pattern: str, moment: time.struct_time) -> str:
        written.append(calendar.timegm(moment))
        return strftime(pattern, moment)

    monkeypatch.setattr(time, "strftime", counting)
    formatter = JsonFormatter()
    times = []
    for created in (1795863709.25, 1795863709.000001, 1795863710.5):
        record = _record()
        record.created = created
        times.append(json.loads(formatter.format(record))["time"])

    assert times == [
        "2026-11-28T11:01:49.250000+00:00",
        "2026-11-28T11:01:49.000001+00:00",
        "2026-11-28T11:01:50.500000+00:00",
    ]
    assert written == [1795863709, 1795863710]
