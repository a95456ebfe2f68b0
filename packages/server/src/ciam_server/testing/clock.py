"""A clock that a test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """The time a test server reckons every lifetime, send interval and limit by. It starts at
    the real time and then stands still until the test moves it, so that a test expires a code
    or passes a send interval at once instead of waiting for it.

    Call it for the current time, as the server does."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = datetime.now(UTC) if start is None else _aware(start)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"

    def __call__(self) -> datetime:
        return self._now

    def advance(self, by: timedelta | float) -> datetime:
        """Move the time on by ``by`` (a timedelta, or seconds); return the new time."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("the clock only moves forward: use set() to go back")
        self._now += step
        return self._now

    def set(self, when: datetime) -> None:
        """Set the time to ``when`` (timezone-aware), forward or back."""
        self._now = _aware(when)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("give a timezone-aware datetime, e.g. datetime(..., tzinfo=UTC)")
    return when.astimezone(UTC)
