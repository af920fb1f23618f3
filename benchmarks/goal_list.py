"""Issue 11, goal 2: the customer list's p99 within 2 x the bare SQL of the same page, and
under 50 ms, at 100,000 customers and 1,000,000 trials (size "full"; "smoke" is small).

For each backend and each case (first page, a page half-way down, `status=`,
`expiring_within_days=`, a text search), side by side in one run:

- the app: `GET /v1/customers` through the whole app in-process (FastAPI's TestClient:
  middleware, bearer token, use case, JSON), as the seeded full administrator;
- use case: `list_customers` called directly (no HTTP, no token), to tell the two apart;
- bare: the same rows the page shows (the customers, their organizations, the open trials'
  status, end and services, the full administrator's email, every trial id), fetched by hand
  with SQLAlchemy Core on a plain connection: what the database itself needs.

p50 and p99 of `SAMPLES` requests after a warm-up, interleaved (app, bare, app, ...), so that
a noisy neighbour hurts both alike. `python benchmarks/goal_list.py [smoke|full]` runs it alone.
The objects made at start-up are frozen out of the collector's reach first, as `trialhub
serve` does; `BENCH_GC_FREEZE=0` leaves them in (the collector's full passes then walk them).
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, tuple_

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from benchmarks import seed  # noqa: E402
from benchmarks.report import SIZES, Row  # noqa: E402
from trialhub.api.app import create_app  # noqa: E402
from trialhub.bootstrap import make_context  # noqa: E402
from trialhub.clock import MovableClock  # noqa: E402
from trialhub.services import accounts  # noqa: E402
from trialhub.services.customers import listing as customers  # noqa: E402
from trialhub.store import tables  # noqa: E402
from trialhub.store.db import Database  # noqa: E402
from trialhub.store.dialect import make_engine  # noqa: E402
from trialhub.store.repositories.base import encode_cursor  # noqa: E402

OPEN = ("active", "awaiting_provisioning", "expired", "pending_consent")
GOAL_RATIO, GOAL_MS = 2.0, 50.0
# at full size enough for a p99 that is not just the slowest samples: with 50, one stall of
# the machine (these are shared VMs) decided a row's ratio either way; with 200 the p99 was
# the second slowest, and two rows of one run went 1.95 → 2.02 and 1.50 → 2.17 on the same
# code an hour apart (the fifth session); with 500 it is the fifth
SAMPLES = {"smoke": 40, "full": 500}
NEEDLE = "velorin"  # a company-name stem: about 1 customer in 576 (benchmarks/seed.py)


def run(size: str) -> list[Row]:
    customers, per = SIZES[size]
    rows: list[Row] = []
    for backend in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(","):
        try:
            url = seed.dataset(backend, customers, per)
        except Exception as error:  # PostgreSQL not reachable: say so, measure the rest
            print(f"({backend} skipped: {type(error).__name__}: {error})")
            continue
        try:
            rows.extend(_measure(backend, url, SAMPLES[size]))
        finally:
            seed.drop(url)
    return rows


def _cases(conn: Connection) -> dict[str, dict[str, Any]]:
    c = tables.customers.c
    total = conn.scalar(select(text("count(*)")).select_from(tables.customers)) or 0
    middle = conn.execute(
        select(c.sort_end, c.sort_name, c.id)
        .where(c.partner_id == seed.PARTNER_ID)
        .order_by(c.sort_end, c.sort_name, c.id)
        .offset(total // 2)
        .limit(1)
    ).one()
    return {
        "first page": {},
        "deep page (half-way)": {"cursor": encode_cursor(list(middle))},
        "status=pending_consent": {"status": "pending_consent"},
        "expiring_within_days=7": {"expiring_within_days": 7},
        f"text={NEEDLE}": {"text": NEEDLE},
    }


def _measure(backend: str, url: str, samples: int) -> list[Row]:
    ctx = make_context(db=Database.open(url), clock=MovableClock(seed.NOW))
    actor = accounts.actor_for_email(ctx, seed.ADMIN_EMAIL)
    bare_engine = make_engine(url)
    out: list[Row] = []
    headers = {"Authorization": f"Bearer {seed.TOKEN}"}
    with TestClient(create_app(ctx)) as client, bare_engine.connect() as conn:
        cases = _cases(conn)
        conn.rollback()
        if os.environ.get("BENCH_GC_FREEZE", "1") != "0":  # as `serve` does
            gc.collect()
            gc.freeze()
        for name, params in cases.items():

            def app(params: dict[str, Any] = params) -> object:
                response = client.get("/v1/customers", params=params, headers=headers)
                assert response.status_code == 200, response.text
                return response.json()["items"]

            def bare(params: dict[str, Any] = params) -> object:
                with conn.begin():
                    return bare_page(conn, params, now=seed.NOW, limit=50)

            def use_case(params: dict[str, Any] = params) -> object:
                return customers.list_customers(ctx, actor, limit=50, **params)

            assert _ids(app()) == [r["id"] for r in bare()], f"{name}: not the same page"  # type: ignore[attr-defined]
            app_ms, bare_ms, use_case_ms = _timed([app, bare, use_case], samples)
            out.extend(_rows(backend, name, app_ms, bare_ms))
            only = f"{name}: p99, use case only"
            out.append(Row(backend, "2 list", only, p(use_case_ms, 99), "ms", p(bare_ms, 99)))
    bare_engine.dispose()
    ctx.db.dispose()
    return out


def _ids(items: object) -> list[str]:
    return [item["id"] for item in items]  # type: ignore[attr-defined]


def _timed(fns: list[Callable[[], object]], samples: int) -> list[list[float]]:
    """Milliseconds of each function, called in turn `samples` times after a warm-up."""
    for _ in range(5):
        for fn in fns:
            fn()
    out: list[list[float]] = [[] for _ in fns]
    with GcWatch() as watch:
        for _ in range(samples):
            for fn, into in zip(fns, out, strict=True):
                t0 = time.perf_counter()
                fn()
                into.append((time.perf_counter() - t0) * 1000)
    print(f"    {watch}", flush=True)
    return out


class GcWatch:
    """The garbage collector's pauses while the block runs, by generation (the stall that
    makes p99 several times p50 is looked for here)."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def __str__(self) -> str:
        return "gc pauses: " + ", ".join(
            f"gen{g} {len(v)} x (max {max(v, default=0):.1f} ms, total {sum(v):.0f} ms)"
            for g, v in self.pauses.items()
        )


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _rows(backend: str, name: str, app_ms: list[float], bare_ms: list[float]) -> list[Row]:
    app99, bare99 = p(app_ms, 99), p(bare_ms, 99)
    met = app99 <= GOAL_RATIO * bare99 and app99 < GOAL_MS
    print(
        f"  {backend:10} {name:28} app p50 {p(app_ms, 50):6.2f} p99 {app99:6.2f} ms | "
        f"bare p50 {p(bare_ms, 50):6.2f} p99 {bare99:6.2f} ms",
        flush=True,
    )
    return [
        Row(backend, "2 list", f"{name}: p50", p(app_ms, 50), "ms", p(bare_ms, 50)),
        Row(
            backend,
            "2 list",
            f"{name}: p99",
            app99,
            "ms",
            bare99,
            target=f"<= {GOAL_RATIO:g} x bare, < {GOAL_MS:g} ms",
            met=met,
        ),
    ]


# ---- the bare SQL of the same page -------------------------------------------------------


def bare_page(
    conn: Connection, params: dict[str, Any], *, now: datetime, limit: int
) -> list[dict[str, Any]]:
    """The page's rows by hand: the keyset page of customers with their organizations, then
    the page's trials (open ones with their open services) and full administrators."""
    c, o, t = tables.customers.c, tables.organizations.c, tables.trials.c
    stmt = (
        select(c.id, c.org_id, c.state, c.access, c.sort_end, o.name, o.country, o.region)
        .join(tables.organizations, o.id == c.org_id)
        .where(c.partner_id == seed.PARTNER_ID, c.state != "removed")
    )
    if "cursor" in params:
        end, name, cid = _middle(conn, params["cursor"])
        stmt = stmt.where(
            tuple_(c.sort_end, c.sort_name, c.id)
            > tuple_(bindparam(None, end, type_=c.sort_end.type), name, cid)
        )
    keys: tuple[Any, ...] = (c.sort_end, c.sort_name, c.id)
    if "status" in params or "expiring_within_days" in params:
        # the customers with a trial in the status (active: one that can end soon), in list
        # order: their index in the schema (decision 0019)
        s = tables.customer_statuses.c
        keys = (s.sort_end, s.sort_name, s.customer_id)
        stmt = stmt.join(tables.customer_statuses, s.customer_id == c.id).where(
            s.partner_id == seed.PARTNER_ID, s.status == params.get("status", "active")
        )
    if "expiring_within_days" in params:
        horizon = now + timedelta(days=params["expiring_within_days"])
        ending = select(t.id).where(
            t.customer_id == c.id, t.status == "active", t.ends_at <= horizon, t.ends_at >= now
        )
        stmt = stmt.where(keys[0] <= horizon, ending.limit(1).scalar_subquery().is_not(None))
    if "text" in params:
        stmt = stmt.where(c.org_id.in_(_text_matches(conn, params["text"])))
    page = [dict(r._mapping) for r in conn.execute(stmt.order_by(*keys).limit(limit + 1))]
    _details(conn, page[:limit])
    return page[:limit]


def _middle(conn: Connection, cursor: str) -> tuple[Any, ...]:
    from trialhub.store.repositories.base import decode_key

    return decode_key(cursor, str, str)


def _text_matches(conn: Connection, needle: str) -> Any:
    """Organizations whose name or an administrator's email contains the needle: through the
    search structure when the schema has one (FTS5 trigram on SQLite, pg_trgm on
    PostgreSQL), a scan otherwise."""
    pattern = f"%{needle.lower()}%"
    o, a = tables.organizations.c, tables.org_admins.c
    if conn.dialect.name == "sqlite" and _has(conn, "org_search"):
        found = conn.execute(
            text(
                "select t.org_id from org_search f join org_search_terms t on t.id = f.rowid"
                " where org_search match :q"
            ),
            {"q": '"' + needle.replace('"', '""') + '"'},
        )
        return [r[0] for r in found]
    names = select(o.id).where(
        o.name.ilike(pattern) if conn.dialect.name != "sqlite" else o.name.like(pattern)
    )
    emails = select(a.org_id).where(
        a.email.ilike(pattern) if conn.dialect.name != "sqlite" else a.email.like(pattern)
    )
    return names.union(emails)


def _has(conn: Connection, table: str) -> bool:
    return bool(
        conn.scalar(text("select count(*) from sqlite_master where name = :n"), {"n": table})
    )


def _details(conn: Connection, page: list[dict[str, Any]]) -> None:
    t, s, a = tables.trials.c, tables.trial_services.c, tables.org_admins.c
    ids = [r["id"] for r in page]
    trials = conn.execute(
        select(t.customer_id, t.id, t.status, t.ends_at)
        .where(t.customer_id.in_(ids))
        .order_by(t.created_at)
    ).all()
    open_ids = [r.id for r in trials if r.status in OPEN]
    services = conn.execute(
        select(s.trial_id, s.service).where(s.trial_id.in_(open_ids), s.removed_at.is_(None))
    ).all()
    admins = conn.execute(
        select(a.org_id, a.email)
        .where(a.org_id.in_([r["org_id"] for r in page]), a.full.is_(True))
        .order_by(a.created_at)
    ).all()
    by_customer: dict[str, list[Any]] = {}
    for row in trials:
        by_customer.setdefault(row.customer_id, []).append(row)
    by_trial: dict[str, set[str]] = {}
    for srv in services:
        by_trial.setdefault(srv.trial_id, set()).add(srv.service)
    first_admin: dict[str, str] = {}
    for adm in admins:
        first_admin.setdefault(adm.org_id, adm.email)
    for r in page:
        mine = by_customer.get(r["id"], [])
        r["trial_ids"] = [row.id for row in mine]
        r["services"] = sorted(set().union(*(by_trial.get(row.id, set()) for row in mine)))
        r["admin_email"] = first_admin.get(r["org_id"])


if __name__ == "__main__":
    from benchmarks.report import markdown

    print(markdown(run(sys.argv[1] if len(sys.argv) > 1 else "smoke")))
