"""Issue 11's start benchmark compares the server with a bare transaction of the rows one
start really writes: its capture must see every one of them, however they were written
(one row or several, with or without RETURNING), or the bare side does less work."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from benchmarks import goal_start, start_setup
from tests.conftest import World
from trialhub.store import tables

ID_PREFIXES = {"org", "oad", "cus", "trl", "tsv", "svc", "site"}


def row_counts(world: World) -> Counter[str]:
    with world.ctx.db.engine.connect() as conn:
        return Counter(
            {
                t.name: conn.scalar(select(func.count()).select_from(t)) or 0
                for t in tables.metadata.sorted_tables
            }
        )


@pytest.mark.both_backends  # PostgreSQL writes a new customer's entities in one statement
def test_the_capture_holds_every_row_a_start_writes(world: World) -> None:
    bench = start_setup.Bench(ctx=world.ctx, actor=world.sales_full.actor, token="unused")
    before = row_counts(world)
    plan, tokens = goal_start.capture(bench)
    written = row_counts(world) - before
    assert {table.name: len(rows) for table, rows in plan} == dict(written)
    assert {"organizations", "outbox", "audit_events", "due_events"} <= set(written)
    assert tokens[0].startswith("x-")  # the email's local part, made fresh in each copy
    # and the new rows' own ids, nothing else (a status is not made fresh)
    assert all(t.split("_")[0] in ID_PREFIXES for t in tokens[1:]), tokens
    own_ids = [row["id"] for _, rows in plan for row in rows if isinstance(row.get("id"), str)]
    assert tokens[1:] == own_ids
