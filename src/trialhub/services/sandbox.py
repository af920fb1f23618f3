"""The sandbox clock: a clock that runs with real time but can be moved forward, so that
anyone can watch a trial's whole life in minutes. Moving it runs the worker up to the new
time, deadline by deadline, so every effect is stamped with its own instant."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from trialhub.domain.errors import NotFound, ValidationFailed
from trialhub.services.context import Actor, Context
from trialhub.services.delivery import DeliveryReport, deliver
from trialhub.services.lifecycle import TickReport, tick
from trialhub.store.db import Database
from trialhub.store.repositories import Scope
from trialhub.store.sandbox import load_offset, save_offset

_SHORT = re.compile(r"^\s*(\d+)\s*([dhms]|w)\s*$", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
MAX_ADVANCE = timedelta(days=3650)


class SandboxClock:
    """Real time plus an offset kept in the database, shared by every process on it."""

    def __init__(self, db: Database, *, refresh: float = 0.5) -> None:
        self._db = db
        self._refresh = refresh
        self._lock = threading.Lock()
        self._offset = load_offset(db) or timedelta(0)
        self._loaded = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            if time.monotonic() - self._loaded > self._refresh:
                self._offset = load_offset(self._db) or timedelta(0)
                self._loaded = time.monotonic()
            return datetime.now(UTC) + self._offset

    def move_to(self, instant: datetime) -> datetime:
        """Moves forward to `instant` (never back)."""
        with self._lock:
            real = datetime.now(UTC)
            current = real + self._offset
            target = max(instant, current)
            self._offset = target - real
            save_offset(self._db, self._offset, real)
            self._loaded = time.monotonic()
            return target


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `2w`, or ISO 8601 (`P7D`, `PT12H`)."""
    match = _SHORT.match(text)
    if match:
        return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    try:
        return TypeAdapter(timedelta).validate_python(text.strip())
    except ValidationError as error:
        raise ValidationFailed(
            "Give a duration like 7d, 12h, 30m or P7D.", field="advance"
        ) from error


@dataclass
class ClockReport:
    now: datetime
    applied: int
    delivered: int
    steps: int


def _sandbox_clock(ctx: Context) -> SandboxClock:
    if not ctx.sandbox or not isinstance(ctx.clock, SandboxClock):
        raise NotFound("The sandbox clock exists only on a server started with --sandbox.")
    return ctx.clock


def read_clock(ctx: Context, actor: Actor | None = None) -> ClockReport:
    clock = _sandbox_clock(ctx)
    return ClockReport(now=clock.now(), applied=0, delivered=0, steps=0)


def advance(ctx: Context, actor: Actor | None, delta: timedelta) -> ClockReport:
    """Moves the clock forward by `delta`, stopping at every due deadline on the way."""
    clock = _sandbox_clock(ctx)
    if delta <= timedelta(0) or delta > MAX_ADVANCE:
        raise ValidationFailed(
            "Move the clock forward by a positive duration of at most 10 years.", field="advance"
        )
    target = clock.now() + delta
    applied = delivered = steps = 0
    while True:
        with ctx.uow(Scope.system("sandbox")) as uow:
            next_due = uow.due.next_due_at()
        if next_due is None or next_due > target:
            break
        clock.move_to(next_due)
        report, sent = _run_worker(ctx)
        applied += report.applied
        delivered += sent.sent
        steps += 1
        if report.processed == 0:  # nothing could be applied (a failing handler): stop here
            break
    clock.move_to(target)
    report, sent = _run_worker(ctx)
    return ClockReport(
        now=clock.now(),
        applied=applied + report.applied,
        delivered=delivered + sent.sent,
        steps=steps + 1,
    )


def _run_worker(ctx: Context) -> tuple[TickReport, DeliveryReport]:
    return tick(ctx), deliver(ctx)


def enable(db: Database) -> None:
    """Marks the database as a sandbox (offset 0) if it is not one yet."""
    if load_offset(db) is None:
        save_offset(db, timedelta(0), datetime.now(UTC))


def is_sandbox(db: Database) -> bool:
    return load_offset(db) is not None
