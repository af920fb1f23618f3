"""Column types that keep datetimes aware UTC on every backend (architecture 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from trialhub.store.dialect import keeps_time_zone


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite, which drops the zone, gets it back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("trialhub stores only aware datetimes")
        utc: datetime = value.astimezone(UTC)
        if not keeps_time_zone(dialect.name):
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is UTC:  # PostgreSQL's, in a UTC session: nothing to convert
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
