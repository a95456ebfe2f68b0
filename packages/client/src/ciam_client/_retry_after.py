"""Parsing of the ``Retry-After`` response header (RFC 9110 §10.2.3)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from a ``Retry-After`` value in seconds or as an HTTP-date.

    A date in the past gives ``0.0``; a missing, negative or unreadable value gives ``None``.
    ``now`` defaults to the current time and exists so that tests need not race the clock.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now or datetime.now(UTC))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": a UTC time whose source zone is unknown
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
