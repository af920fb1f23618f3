"""The only place that reads the wall clock; everything else takes a Clock (architecture 3),
the sandbox clock too (services/lifecycle/sandbox.py adds its offset to a real one)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current instant as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """A clock that only moves when told to: tests and the sandbox use it."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("MovableClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("MovableClock needs an aware datetime")
        with self._lock:
            instant = instant.astimezone(UTC)
            if instant < self._now:
                raise ValueError("the clock only moves forward")
            self._now = instant
            return self._now
