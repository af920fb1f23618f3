"""Benchmarks, reported as ratios measured side by side in one run (these machines are noisy).

    make bench-flat    # SQLite, and PostgreSQL when TRIALHUB_BENCH_PG_URL answers

What it measures, at N and 10 x N customers with one open trial each:
- the first page of the customer list, and a page deep in the cursor chain (keyset
  pagination should make both independent of N);
- one worker pass with the same 5 deadlines due (it should cost what is due, not what
  exists, rule T10);
- starting one trial through the service layer;
- the portal's pages rendered by the app in-process, signed in (issue 10 asks under 100 ms
  each with 10,000 customers): the customer list, a customer's page, the activity feed.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from trialhub.api.app import create_app  # noqa: E402
from trialhub.bootstrap import make_context  # noqa: E402
from trialhub.clock import MovableClock  # noqa: E402
from trialhub.services import accounts  # noqa: E402
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner  # noqa: E402
from trialhub.services.customers import listing as customers  # noqa: E402
from trialhub.services.demo import SYSTEM_OPERATOR  # noqa: E402
from trialhub.services.kernel.context import Context  # noqa: E402
from trialhub.services.lifecycle import registry as lifecycle  # noqa: E402
from trialhub.services.trials import start as trials  # noqa: E402
from trialhub.services.trials.schemas import StartTrial  # noqa: E402
from trialhub.store import tables  # noqa: E402
from trialhub.store.db import Database, upgrade  # noqa: E402

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = int(os.environ.get("TRIALHUB_BENCH_N", "1000"))
PASSWORD = "bench-password"


def seed(ctx: Context, n: int) -> tuple[object, str]:
    """n customers of one partner, each with an active 90-day trial, inserted in bulk."""
    partner = accounts.create_partner(ctx, SYSTEM_OPERATOR, CreatePartner(name="Bench"))
    admin = accounts.create_admin(
        ctx,
        SYSTEM_OPERATOR,
        partner.id,
        CreateAdmin(
            email=f"b-{uuid.uuid4().hex[:6]}@x.example",
            name="B",
            roles=["sales_full_admin"],
            password=PASSWORD,
        ),
    )
    actor = accounts.actor_for_email(ctx, admin.email)
    orgs, custs, statuses, tris, svcs, dues = [], [], [], [], [], []
    for i in range(n):
        org, cus, trl = (f"org_b{i:07d}", f"cus_b{i:07d}", f"trl_b{i:07d}")
        ends = START + timedelta(days=90 + i % 60)
        orgs.append(
            {
                "id": org,
                "name": f"Company {i:07d}",
                "kind": "customer",
                "country": "FR",
                "region": "EU",
                "created_at": START,
            }
        )
        custs.append(
            {
                "id": cus,
                "partner_id": partner.id,
                "org_id": org,
                "state": "active",
                "access": "full",
                "created_by_admin_id": admin.id,
                "created_at": START,
                "sort_end": ends,
                "sort_name": f"Company {i:07d}",
            }
        )
        statuses.append(  # the list's status row (decision 0019), as the app keeps it
            {"customer_id": cus, "status": "active", "partner_id": partner.id}
            | {"sort_end": ends, "sort_name": f"Company {i:07d}"}
        )
        tris.append(
            {
                "id": trl,
                "partner_id": partner.id,
                "org_id": org,
                "customer_id": cus,
                "kind": "new_customer",
                "status": "active",
                "duration_days": 90,
                "user_licenses": 5,
                "setup": "now",
                "created_at": START,
                "updated_at": START,
                "starts_at": START,
                "ends_at": ends,
                "active_at": START,
                "version": 1,
            }
        )
        svcs.append(
            {
                "id": f"tsv_b{i:07d}",
                "trial_id": trl,
                "org_id": org,
                "service": "messaging",
                "quantity": 5,
                "is_open": True,
                "added_at": START,
            }
        )
        for kind, at in (("notice_before_end", ends - timedelta(days=7)), ("end", ends)):
            dues.append({"trial_id": trl, "kind": kind, "due_at": at, "created_at": START})
    with ctx.db.engine.begin() as conn:
        for table, rows in (
            (tables.organizations, orgs),
            (tables.customers, custs),
            (tables.customer_statuses, statuses),
            (tables.trials, tris),
            (tables.trial_services, svcs),
            (tables.due_events, dues),
        ):
            conn.execute(insert(table), rows)
        if ctx.db.dialect == "postgresql":
            conn.execute(text("ANALYZE"))
    return actor, partner.id


def timed(fn: Callable[[], object], repeat: int = 15) -> float:
    """Median seconds of `repeat` runs after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def measure(url: str, n: int) -> dict[str, float]:
    upgrade(url)
    clock = MovableClock(START)
    ctx = make_context(db=Database.open(url), clock=clock)
    actor, _ = seed(ctx, n)
    out: dict[str, float] = {}
    out["list first page"] = timed(lambda: customers.list_customers(ctx, actor, limit=50))  # type: ignore[arg-type]
    cursor = None
    for _ in range(min(20, n // 50 - 1)):
        cursor = customers.list_customers(ctx, actor, limit=50, cursor=cursor).next_cursor  # type: ignore[arg-type]
    out["list deep page"] = timed(
        lambda: customers.list_customers(ctx, actor, limit=50, cursor=cursor)  # type: ignore[arg-type]
    )

    # five deadlines due: one pass applies them (fresh rows each repeat)
    def one_pass() -> None:
        with ctx.db.engine.begin() as conn:
            conn.execute(
                text(
                    "update due_events set done_at = null, outcome = null where id in "
                    "(select id from due_events where kind = 'notice_before_end'"
                    " order by id limit 5)"
                )
            )
            conn.execute(text("delete from outbox"))
            conn.execute(text("delete from audit_events where action = 'trial.notice_before_end'"))
        clock.set(max(clock.now(), START + timedelta(days=90)))
        lifecycle.tick(ctx)

    out["worker pass, 5 due"] = timed(one_pass, repeat=7)
    body = {
        "customer": {
            "company_name": "Bench",
            "admin_email": "",
            "business_vertical": "retail",
            "country": "FR",
            "supported_location_ack": True,
        },
        "services": [{"code": "messaging"}],
        "user_licenses": 5,
    }

    def start_one() -> None:
        body["customer"]["admin_email"] = f"a-{uuid.uuid4().hex}@bench.example"  # type: ignore[index]
        trials.start_trial(ctx, actor, StartTrial.model_validate(body))  # type: ignore[arg-type]

    out["start a trial"] = timed(start_one, repeat=15)
    out.update(portal_pages(ctx, actor.email))  # type: ignore[attr-defined]
    ctx.db.dispose()
    return out


def portal_pages(ctx: Context, email: str) -> dict[str, float]:
    """The portal's pages through the whole app in-process (middleware, session, template),
    signed in as the partner's administrator; a page that is not there is left out."""
    signed = accounts.sign_in(ctx, email, PASSWORD, address="127.0.0.1")
    out: dict[str, float] = {}
    with TestClient(create_app(ctx)) as client:
        client.cookies.set("trialhub_session", signed.token)
        for name, path in (
            ("page /customers", "/customers"),
            ("page /customers/{id}", "/customers/cus_b0000000"),
            ("page /activity", "/activity"),
        ):
            if client.get(path).status_code == 200:
                out[name] = timed(lambda path=path: client.get(path), repeat=15)  # type: ignore[misc]
            else:
                print(f"({path} answered {client.get(path).status_code}: left out)")
    return out


def pg_database(base_url: str) -> tuple[str, Callable[[], None]] | None:
    try:
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        name = f"trialhub_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        print(f"(PostgreSQL skipped: {type(error).__name__})")
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(base_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (BASE, BASE * 10):
            results[("sqlite", n)] = measure(f"sqlite:///{tmp}/bench-{n}.db", n)
    pg_base = os.environ.get(
        "TRIALHUB_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    for n in (BASE, BASE * 10):
        made = pg_database(pg_base)
        if made is None:
            break
        url, drop = made
        try:
            results[("postgresql", n)] = measure(url, n)
        finally:
            drop()
    print(f"\n| backend | measure | {BASE} customers | {BASE * 10} customers | ratio 10x/1x |")
    print("|---|---|---|---|---|")
    for backend in ("sqlite", "postgresql"):
        if (backend, BASE) not in results:
            continue
        small, large = results[(backend, BASE)], results[(backend, BASE * 10)]
        for key in small:
            print(
                f"| {backend} | {key} | {small[key] * 1000:.1f} ms | {large[key] * 1000:.1f} ms "
                f"| {large[key] / small[key]:.2f} |"
            )


if __name__ == "__main__":
    main()
