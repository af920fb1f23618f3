"""The sandbox clock: a clock that runs with real time but can be moved forward, so that
anyone can watch a trial's whole life in minutes. Moving it applies every deadline due up
to the new time, in due order, each stamped with its own instant; the worker delivers the
emails and webhooks they queued, as it always does."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from trialhub.domain.errors import NotFound, ValidationFailed
from trialhub.services.kernel.actor import Actor, require_operator
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle.registry import tick
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
            # another process may have moved it since the last refresh: never move it back
            stored = load_offset(self._db)
            self._offset = self._offset if stored is None else stored
            real = datetime.now(UTC)
            current = real + self._offset
            target = max(instant, current)
            self._offset = target - real
            save_offset(self._db, self._offset, real)
            self._loaded = time.monotonic()
            return target


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `2w`, or ISO 8601 (`P7D`, `PT12H`)."""
    try:
        match = _SHORT.match(text)
        if match:
            return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
        return TypeAdapter(timedelta).validate_python(text.strip())
    except (ValidationError, OverflowError) as error:  # "99999999999d" is no duration either
        raise ValidationFailed(
            "Give a duration like 7d, 12h, 30m or P7D.", field="advance"
        ) from error


@dataclass
class ClockReport:
    now: datetime
    applied: int = 0  # deadlines applied on the way
    obsolete: int = 0  # deadlines that no longer held (closed without effect)
    failed: int = 0  # deadlines whose handler failed: they wait for a retry
    steps: int = 0  # transactions the deadlines were applied in
    waiting: int = 0  # messages in the outbox, for the worker to deliver


def _sandbox_clock(ctx: Context) -> SandboxClock:
    if not ctx.sandbox or not isinstance(ctx.clock, SandboxClock):
        raise NotFound("The sandbox clock exists only on a server started with --sandbox.")
    return ctx.clock


def read_clock(ctx: Context, actor: Actor | None = None) -> ClockReport:
    """Any signed-in caller may read the sandbox clock."""
    return ClockReport(now=_sandbox_clock(ctx).now())


def move_clock(
    ctx: Context, actor: Actor, *, advance: str | None = None, to: datetime | None = None
) -> ClockReport:
    """Moves the clock forward (by `advance`, or to the instant `to`) and applies every
    deadline due up to the new time (rule T10). Only the trials team may (rule P2): it fires
    every partner's deadlines. Nothing is delivered here; the worker does that."""
    clock = _sandbox_clock(ctx)
    require_operator(actor)
    target = clock.now() + _delta(clock.now(), advance, to)
    clock.move_to(target)  # one write; every process on the database follows
    report = tick(ctx)
    with ctx.uow(Scope.system("sandbox")) as uow:
        waiting = uow.outbox.pending_count()
    return ClockReport(
        now=clock.now(),
        applied=report.applied,
        obsolete=report.obsolete,
        failed=report.failed,
        steps=report.batches,
        waiting=waiting,
    )


def _delta(now: datetime, advance: str | None, to: datetime | None) -> timedelta:
    if (advance is None) == (to is None):
        raise ValidationFailed("Give either advance or to.", field="advance")
    if to is not None:
        if to.tzinfo is None:
            raise ValidationFailed("Give the instant with its time zone.", field="to")
        delta, field = to - now, "to"
    else:
        assert advance is not None
        delta, field = parse_duration(advance), "advance"
    if delta <= timedelta(0) or delta > MAX_ADVANCE:
        raise ValidationFailed(
            "Move the clock forward by a positive duration of at most 10 years.", field=field
        )
    return delta


def enable_sandbox(db: Database) -> None:
    """Marks the database as a sandbox (offset 0) if it is not one yet."""
    if load_offset(db) is None:
        save_offset(db, timedelta(0), datetime.now(UTC))


def is_sandbox(db: Database) -> bool:
    return load_offset(db) is not None
