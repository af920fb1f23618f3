"""The customer list's keys as the trials say they should be, for tests: the sort key (the
soonest end of an open trial, else NO_END) and the status rows (decision 0019), derived
here in plain Python from the trials, to compare with what the unit-of-work hook keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from trialhub.domain.organization import NO_END
from trialhub.store import tables
from trialhub.store.repositories.customer_list import OPEN_VALUES

StatusRow = tuple[str, str, str, datetime, str]  # customer, status, partner, end, name


def derived(conn: Connection) -> tuple[dict[str, datetime], set[StatusRow]]:
    """Each customer's sort end, and the status rows, as the trials say."""
    c, t = tables.customers.c, tables.trials.c
    customers = {r.id: r for r in conn.execute(select(c.id, c.partner_id, c.sort_name))}
    ends: dict[str, datetime] = dict.fromkeys(customers, NO_END)
    statuses: set[tuple[str, str]] = set()
    for customer_id, status, end in conn.execute(select(t.customer_id, t.status, t.ends_at)):
        statuses.add((customer_id, status))
        if status in OPEN_VALUES and end is not None:
            ends[customer_id] = min(ends[customer_id], end)
    rows = {
        (cid, status, customers[cid].partner_id, ends[cid], customers[cid].sort_name)
        for cid, status in statuses
    }
    return ends, rows


def stored(conn: Connection) -> tuple[dict[str, datetime], set[StatusRow]]:
    """Each customer's sort end, and the status rows, as the database holds them."""
    c, s = tables.customers.c, tables.customer_statuses.c
    ends = {r.id: r.sort_end for r in conn.execute(select(c.id, c.sort_end))}
    found = conn.execute(select(s.customer_id, s.status, s.partner_id, s.sort_end, s.sort_name))
    rows: set[StatusRow] = {tuple(r) for r in found}  # type: ignore[misc]
    return ends, rows


def assert_keys_follow_trials(engine: Engine) -> None:
    """The hook's keys equal the derived ones, customer by customer and row by row."""
    with engine.connect() as conn:
        want_ends, want_rows = derived(conn)
        have_ends, have_rows = stored(conn)
    assert have_ends == want_ends
    assert have_rows == want_rows, (
        f"missing: {sorted(want_rows - have_rows)}; extra: {sorted(have_rows - want_rows)}"
    )


def fill_status_rows(conn: Connection) -> None:
    """Writes the status rows anew from trials and the customers' sort keys as they stand,
    for data a test seeded by hand around the app (what migration 0013 does once)."""
    c, t = tables.customers.c, tables.trials.c
    found = conn.execute(
        select(t.customer_id, t.status, c.partner_id, c.sort_end, c.sort_name)
        .distinct()
        .join(tables.customers, c.id == t.customer_id)
    )
    keys = ("customer_id", "status", "partner_id", "sort_end", "sort_name")
    rows: list[dict[str, Any]] = [dict(zip(keys, r, strict=True)) for r in found]
    conn.execute(delete(tables.customer_statuses))
    if rows:
        conn.execute(insert(tables.customer_statuses), rows)
