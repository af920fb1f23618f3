"""Bulk seeding for the worker's benchmark (goal 3 of issue 11): trials whose deadlines are
due now, or all in the future. Rows go in with executemany (SQLite) or COPY (PostgreSQL),
not through the use cases: a million trials in a minute or two, not hours."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, select, text

from trialhub.bootstrap import make_context
from trialhub.clock import MovableClock
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.store import tables
from trialhub.store.db import Database, upgrade

CHUNK = 20_000


def seed_due(url: str, n: int, now: datetime, *, users: int = 0) -> None:
    """n active trials whose 7-day expiry notice (rule T4) is due now, a few seconds apart;
    each organization has one administrator (and `users` users), and one partner
    administrator manages them all: each notice is one audit event and two emails. Their
    later deadlines are in the schedule too, in the future, as the schedule hook would have
    written them."""
    partner_id, admin_id, db = _partner(url, now)

    def trial_rows() -> Iterator[dict[str, Any]]:
        for i in range(n):
            yield _trial(i, partner_id, admin_id, now, ends=now + timedelta(days=7, seconds=-i))

    def dues(i: int) -> list[tuple[str, datetime]]:
        ends = now + timedelta(days=7, seconds=-i)
        return [
            ("notice_before_end", ends - timedelta(days=7)),
            ("notice_on_end", ends),
            ("end", ends),
            ("user_notice", ends + timedelta(days=30)),
            ("grace_end", ends + timedelta(days=30)),
        ]

    _insert_all(db, n, trial_rows, dues, now, with_admins=True)
    if users:
        _add_users(url, users, now)


def _add_users(url: str, users: int, now: datetime) -> None:
    """`users` users in every customer organization (the worker must not read them for a
    notice: issue 11)."""
    db = Database.open(url)
    o, u = tables.organizations.c, tables.org_users
    with db.engine.begin() as conn:
        orgs = conn.execute(select(o.id).where(o.kind == "customer")).scalars().all()
        for first in range(0, len(orgs), CHUNK):
            rows = [
                {"id": f"usr_{org}_{k}", "org_id": org, "email": f"user{k}@{org}.example"}
                | {"name": f"User {k}", "created_at": now}
                for org in orgs[first : first + CHUNK]
                for k in range(users)
            ]
            _bulk(conn, u, rows)
    db.dispose()


def seed_idle(url: str, n: int, now: datetime) -> None:
    """n active trials whose deadlines are all weeks away: a pass finds nothing to do."""
    partner_id, admin_id, db = _partner(url, now)

    def trial_rows() -> Iterator[dict[str, Any]]:
        for i in range(n):
            ends = now + timedelta(days=60 + i % 60)
            yield _trial(i, partner_id, admin_id, now, ends=ends)

    def dues(i: int) -> list[tuple[str, datetime]]:
        ends = now + timedelta(days=60 + i % 60)
        return [("notice_before_end", ends - timedelta(days=7)), ("end", ends)]

    _insert_all(db, n, trial_rows, dues, now, with_admins=False)


def _partner(url: str, now: datetime) -> tuple[str, str, Database]:
    upgrade(url)
    db = Database.open(url)
    ctx = make_context(db=db, clock=MovableClock(now))
    partner = accounts.create_partner(ctx, SYSTEM_OPERATOR, CreatePartner(name="Bench"))
    admin = accounts.create_admin(
        ctx,
        SYSTEM_OPERATOR,
        partner.id,
        CreateAdmin(
            email=f"p-{uuid.uuid4().hex[:6]}@partner.example",
            name="P",
            roles=["sales_full_admin"],
            password="bench-password",
        ),
    )
    return partner.id, admin.id, db


def _trial(i: int, partner_id: str, admin_id: str, now: datetime, *, ends: datetime) -> dict:
    start = ends - timedelta(days=90)
    return {
        "org": {
            "id": f"org_w{i:07d}",
            "name": f"Company {i:07d}",
            "kind": "customer",
            "country": "FR",
            "region": "EU",
            "created_at": start,
        },
        "customer": {
            "id": f"cus_w{i:07d}",
            "partner_id": partner_id,
            "org_id": f"org_w{i:07d}",
            "state": "active",
            "access": "full",
            "created_by_admin_id": admin_id,
            "created_at": start,
            "sort_end": ends,
            "sort_name": f"Company {i:07d}",
        },
        "status": {  # the list's status row (decision 0019), as the app keeps it
            "customer_id": f"cus_w{i:07d}",
            "status": "active",
            "partner_id": partner_id,
            "sort_end": ends,
            "sort_name": f"Company {i:07d}",
        },
        "trial": {
            "id": f"trl_w{i:07d}",
            "partner_id": partner_id,
            "org_id": f"org_w{i:07d}",
            "customer_id": f"cus_w{i:07d}",
            "kind": "new_customer",
            "status": "active",
            "duration_days": 90,
            "user_licenses": 5,
            "setup": "now",
            "created_at": start,
            "updated_at": start,
            "starts_at": start,
            "ends_at": ends,
            "active_at": start,
            "version": 1,
        },
        "service": {
            "id": f"tsv_w{i:07d}",
            "trial_id": f"trl_w{i:07d}",
            "org_id": f"org_w{i:07d}",
            "service": "messaging",
            "quantity": 5,
            "is_open": True,
            "added_at": start,
        },
        "admin": {
            "id": f"oad_w{i:07d}",
            "org_id": f"org_w{i:07d}",
            "email": f"admin{i:07d}@customer.example",
            "name": f"Admin {i}",
            "full": True,
            "created_at": start,
        },
    }


def _insert_all(
    db: Database,
    n: int,
    trial_rows: Any,
    dues: Any,
    now: datetime,
    *,
    with_admins: bool,
) -> None:
    parts = [
        ("org", tables.organizations),
        ("customer", tables.customers),
        ("status", tables.customer_statuses),
        ("trial", tables.trials),
        ("service", tables.trial_services),
    ]
    if with_admins:
        parts.append(("admin", tables.org_admins))
    rows = trial_rows()
    for first in range(0, n, CHUNK):
        chunk = [next(rows) for _ in range(min(CHUNK, n - first))]
        due_rows = [
            {"trial_id": t["trial"]["id"], "kind": k, "due_at": at, "created_at": now}
            for i, t in enumerate(chunk, start=first)
            for k, at in dues(i)
        ]
        with db.engine.begin() as conn:
            for key, table in parts:
                _bulk(conn, table, [t[key] for t in chunk])
            _bulk(conn, tables.due_events, due_rows)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))
    db.dispose()


def _bulk(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (ten times executemany), executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        cols = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for row in _values(rows, columns):
                copy.write_row(row)


def _values(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield tuple(row[c] for c in columns)
