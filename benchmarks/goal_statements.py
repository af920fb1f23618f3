"""Goal 4 of issue 11: every page and API list answers with a bounded statement count.

The census of the tests (`tests/support/census.py`: customers with trials, history,
shipments, device requests, orders, administrators, tokens, webhook deliveries, emails)
is grown to S units and counted, then grown to 10 x S and counted again, on SQLite and
PostgreSQL. A row per page or list: the count at 10 x S (measured) beside the count at S
(bare); met when they are equal.

    make bench GOALS=goal_statements
    TRIALHUB_BENCH_SIZE=smoke make bench GOALS=goal_statements
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pwdlib import PasswordHash  # noqa: E402
from pwdlib.hashers.argon2 import Argon2Hasher  # noqa: E402
from tests.support.census import count_api, count_pages, grow, open_census  # noqa: E402

from benchmarks.flat import pg_database  # noqa: E402
from benchmarks.report import Row  # noqa: E402
from trialhub.bootstrap import make_context  # noqa: E402
from trialhub.clock import MovableClock  # noqa: E402
from trialhub.services.kernel import security  # noqa: E402
from trialhub.store.db import Database, upgrade  # noqa: E402

# units of the census (each: a customer and its trial, shipment, request, order, admin,
# token, delivery...) at S; the second count is at 10 x S
UNITS = {"smoke": 3, "full": 10}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run(size: str) -> list[Row]:
    # statements, not time, are measured: passwords hashed at the smallest cost (as in tests)
    security._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    s = UNITS[size]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += _measure("sqlite", f"sqlite:///{tmp}/statements.db", s)
    with _pg_database() as url:
        if url is not None:
            rows += _measure("postgresql", url, s)
    return rows


def _measure(backend: str, url: str, s: int) -> list[Row]:
    upgrade(url)
    db = Database.open(url)
    try:
        census = open_census(make_context(db=db, clock=MovableClock(START)))
        grow(census, s)
        small = {**count_api(census), **count_pages(census)}
        grow(census, 9 * s)
        large = {**count_api(census), **count_pages(census)}
    finally:
        db.dispose()
    print(f"  {backend}: {len(small)} pages and lists at {s} and {10 * s} units", flush=True)
    return [
        Row(
            backend=backend,
            goal="4 statements",
            measure=f"{name} ({s} -> {10 * s} units)",
            measured=large[name],
            unit="statements",
            bare=small[name],
            target="= count at S",
            met=large[name] == small[name],
        )
        for name in small
    ]


@contextmanager
def _pg_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database, dropped afterwards; None when the server does not answer."""
    made = pg_database(PG_BASE)
    if made is None:
        yield None
        return
    url, drop = made
    try:
        yield url
    finally:
        drop()
