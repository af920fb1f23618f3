"""Benchmark data sets, seeded in bulk and cached between runs (issue 11).

    url = dataset("sqlite", customers=100_000, trials_per_customer=10)   # 1M trials
    ...                                  # call the API with TOKEN, or sign in as ADMIN_EMAIL
    drop(url)                            # the copy, not the cached original

One partner ("Bench", `PARTNER_ID`) with `customers` customers and `trials_per_customer`
trials each, a realistic mix: the older trials ended (lapsed mostly, some converted or
cancelled), and about one open trial per customer in varied states (pending consent,
awaiting provisioning, active, expired in grace) with its services and due events; one
customer in ten is also a paid customer (a subscription), one in twenty has no open trial.
Every customer's list sort key (soonest open end, name) and status rows are set as the app
keeps them.

Seeding goes around the app (executemany on SQLite, COPY on PostgreSQL) and is cached, keyed
by the migration head, a digest of the migrations' text, `SEED_VERSION` and the size: an
SQLite file under `var/bench/`, a PostgreSQL template database. Each call returns a fresh
copy (a file copy; `CREATE DATABASE ... TEMPLATE ...`), so that a benchmark may write. Bump
`SEED_VERSION` when the data changes.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Table, create_engine, insert, text
from sqlalchemy.engine import Connection, make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trialhub.domain.organization import NO_END  # noqa: E402
from trialhub.services.kernel.security import hash_password, hash_token  # noqa: E402
from trialhub.store import tables  # noqa: E402
from trialhub.store.db import alembic_config, upgrade  # noqa: E402

SEED_VERSION = 1
CACHE = ROOT / "var" / "bench"
PG_BASE = os.environ.get(
    "TRIALHUB_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# the world's clock at the time of the data: benchmarks pin their clock here
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PARTNER_ID = "ptn_bench"
ADMIN_ID = "adm_bench"
ADMIN_EMAIL = "admin@bench.example"
PASSWORD = "bench-password"
TOKEN = "th_bench-token-for-the-benchmarks-only-000000000"  # a full administrator's
BATCH = 10_000  # customers per insert batch

SYLLABLES = [
    "vel", "orin", "cas", "tor", "mira", "lum", "zen", "quar", "bel", "dax", "fen", "gor",
    "hal", "ix", "jun", "kel", "lor", "mon", "nex", "pal", "ryn", "sol", "tam", "ul",
]  # fmt: skip
TRADES = ["Logistics", "Health", "Retail", "Foods", "Energy", "Labs", "Legal", "Travel"]
SERVICES = ["messaging", "meetings", "calling"]
ENDED = ["lapsed"] * 8 + ["converted", "cancelled"]
# the open trial's status per customer: None is a customer with no open trial
OPEN = (
    ["active"] * 12
    + ["pending_consent"] * 3
    + ["awaiting_provisioning"] * 2
    + ["expired"] * 2
    + [None]
)


def name_of(i: int) -> str:
    """A company name; each two-syllable stem is shared by about 1 in 576 customers, so a
    search for one ("velorin") is selective and one for a trade ("Retail") is not."""
    rng = random.Random(i)
    stem = rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
    return f"{stem.capitalize()} {rng.choice(TRADES)} {i:06d}"


def migration_head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def schema_digest() -> str:
    """The migrations' own text: branches that share a head number (and a PostgreSQL
    server) but not a schema get different caches."""
    versions = Path(alembic_config("sqlite://").get_main_option("script_location") or "")
    digest = hashlib.sha256()
    for path in sorted((versions / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def cache_key(customers: int, trials_per_customer: int) -> str:
    return (
        f"seed_{migration_head()}_{schema_digest()}_v{SEED_VERSION}"
        f"_{customers}x{trials_per_customer}"
    )


def dataset(backend: str, customers: int, trials_per_customer: int) -> str:
    """The URL of a fresh copy of the cached data set (seeded on first use)."""
    key = cache_key(customers, trials_per_customer)
    if backend == "sqlite":
        return _sqlite_copy(key, customers, trials_per_customer)
    if backend == "postgresql":
        return _pg_copy(key, customers, trials_per_customer)
    raise ValueError(f"backend must be sqlite or postgresql, not {backend!r}")


def drop(url: str) -> None:
    """Removes a copy made by `dataset` (never the cached original)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", ".writer-lock"):  # the last: store/writer_queue.py
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def _sqlite_copy(key: str, customers: int, per: int) -> str:
    original = CACHE / f"{key}.db"
    if not original.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        building = CACHE / f"{key}.building-{os.getpid()}.db"
        _seed(f"sqlite:///{building}", customers, per)
        engine = create_engine(f"sqlite:///{building}")
        with engine.connect() as conn:  # one file: fold the WAL in before copying
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        building.rename(original)
        Path(f"{building}.writer-lock").unlink(missing_ok=True)
    copy = CACHE / f"run-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(original, copy)
    return f"sqlite:///{copy}"


def _pg_copy(key: str, customers: int, per: int) -> str:
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("select 1 from pg_database where datname = :n"), {"n": key})
            if not exists:
                building = f"{key}_building"
                conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{building}"'))
                _seed(_pg_url(building), customers, per)
                conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{key}"'))
            copy = f"bench_run_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{key}"'))
    finally:
        admin.dispose()
    return _pg_url(copy)


def _pg_url(name: str) -> str:
    return make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)


def _seed(url: str, customers: int, per: int) -> None:
    started = time.perf_counter()
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        _insert(conn, tables.partners, [_partner()])
        _insert(conn, tables.admins, [_admin()])
        _insert(conn, tables.api_tokens, [_token()])
        for first in range(0, customers, BATCH):
            batch = _rows(range(first, min(first + BATCH, customers)), per)
            for table, rows in batch.items():
                _insert(conn, table, rows)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    took = time.perf_counter() - started
    print(f"(seeded {customers:,} customers x {per} trials in {took:.0f} s: {url})", flush=True)


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    names = list(rows[0])
    raw = conn.connection.dbapi_connection
    assert raw is not None
    columns = ", ".join(f'"{n}"' for n in names)
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({columns}) FROM STDIN") as cp:  # type: ignore[attr-defined]
        for row in rows:
            cp.write_row(tuple(_pg_value(row[n]) for n in names))


def _pg_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):  # JSON columns
        import json

        return json.dumps(value)
    return value


def _partner() -> dict[str, Any]:
    return {"id": PARTNER_ID, "name": "Bench", "tier": 1, "certified": True, "created_at": NOW}


def _admin() -> dict[str, Any]:
    return {
        "id": ADMIN_ID,
        "email": ADMIN_EMAIL,
        "name": "Bench Admin",
        "roles": ["sales_full_admin"],
        "partner_id": PARTNER_ID,
        "password_hash": hash_password(PASSWORD),
        "created_at": NOW - timedelta(days=1000),
    }


def _token() -> dict[str, Any]:
    return {
        "id": "tok_bench",
        "admin_id": ADMIN_ID,
        "token_hash": hash_token(TOKEN),
        "prefix": TOKEN[:10],
        "label": "bench",
        "created_at": NOW - timedelta(days=1000),
    }


def _rows(numbers: range, per: int) -> dict[Table, list[dict[str, Any]]]:
    out: dict[Table, list[dict[str, Any]]] = {
        t: []
        for t in (
            tables.organizations,
            tables.org_admins,
            tables.subscriptions,
            tables.customers,
            tables.customer_statuses,
            tables.trials,
            tables.trial_services,
            tables.due_events,
        )
    }
    for i in numbers:
        for table, rows in _customer(i, per):
            out[table].extend(rows)
    return out


def _customer(i: int, per: int) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    rng = random.Random(i * 7919)
    org, cus, name = f"org_b{i:07d}", f"cus_b{i:07d}", name_of(i)
    since = NOW - timedelta(days=100 * per + rng.randrange(60))
    yield tables.organizations, [_org(org, name, since)]
    yield tables.org_admins, _org_admins(i, org, name, since)
    if i % 10 == 3:  # a paid customer too
        yield tables.subscriptions, [_subscription(i, org, since)]
    open_status = OPEN[rng.randrange(len(OPEN))]
    trials, services, dues = [], [], []
    for n in range(per):
        is_last = n == per - 1
        status = open_status if is_last and open_status else ENDED[rng.randrange(len(ENDED))]
        created = since + timedelta(days=100 * n)
        trial = _trial(f"trl_b{i:07d}{n:02d}", org, cus, status, created, rng)
        trials.append(trial)
        services.extend(_services(trial, rng))
        dues.extend(_due_events(trial))
    ends = [t["ends_at"] for t in trials if t["status"] in _OPEN and t["ends_at"] is not None]
    end = min(ends, default=NO_END)
    yield tables.customers, [_customer_row(cus, org, name, since, end)]
    # decision 0019: a row per status its trials are in, with the sort key copied
    statuses = sorted({t["status"] for t in trials})
    keys = {"partner_id": PARTNER_ID, "sort_end": end, "sort_name": name}
    yield tables.customer_statuses, [{"customer_id": cus, "status": s} | keys for s in statuses]
    yield tables.trials, trials
    yield tables.trial_services, services
    yield tables.due_events, dues


_OPEN = {"pending_consent", "awaiting_provisioning", "active", "expired"}
_STAMPS = [f"{s}_at" for s in (*_OPEN, "lapsed", "converted", "cancelled")]


def _org(org: str, name: str, since: datetime) -> dict[str, Any]:
    return {
        "id": org,
        "name": name,
        "kind": "customer",
        "country": "FR",
        "region": "EU",
        "business_vertical": "retail",
        "created_by_partner_id": PARTNER_ID,
        "created_at": since,
    }


def _org_admins(i: int, org: str, name: str, since: datetime) -> list[dict[str, Any]]:
    domain = name.split()[0].lower()
    rows = [
        {
            "id": f"oad_b{i:07d}",
            "org_id": org,
            "email": f"it{i}@{domain}-{i}.example",
            "name": "IT",
            "full": True,
            "created_at": since,
        }
    ]
    if i % 4 == 0:  # some have a second, limited administrator
        rows.append({**rows[0], "id": f"oad_c{i:07d}", "email": f"desk{i}@{domain}-{i}.example"})
        rows[-1]["full"] = False
    return rows


def _subscription(i: int, org: str, since: datetime) -> dict[str, Any]:
    return {
        "id": f"sub_b{i:07d}",
        "org_id": org,
        "service": "calling",
        "quantity": 20,
        "partner_id": PARTNER_ID,
        "started_at": since,
    }


def _customer_row(cus: str, org: str, name: str, since: datetime, end: datetime) -> dict[str, Any]:
    return {
        "id": cus,
        "partner_id": PARTNER_ID,
        "org_id": org,
        "state": "active",
        "access": "full",
        "created_by_admin_id": ADMIN_ID,
        "created_at": since,
        "sort_end": end,
        "sort_name": name,
    }


def _trial(
    tid: str, org: str, cus: str, status: str, created: datetime, rng: random.Random
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": tid,
        "partner_id": PARTNER_ID,
        "org_id": org,
        "customer_id": cus,
        "kind": "new_customer",
        "status": status,
        "duration_days": 90,
        "user_licenses": 5,
        "setup": "now",
        "created_by_admin_id": ADMIN_ID,
        "created_at": created,
        "updated_at": created,
        "starts_at": None,
        "ends_at": None,
        "consent_deadline": None,
        "consent_email": None,
        **dict.fromkeys(_STAMPS),
        "version": 3,
    }
    row[f"{status}_at"] = created
    if status == "pending_consent":
        row["created_at"] = row["updated_at"] = row["pending_consent_at"] = NOW - timedelta(
            days=rng.randrange(1, 10)
        )
        row["consent_deadline"] = row["created_at"] + timedelta(days=14)
        row["consent_email"] = "it@example.example"
        return row
    if status == "awaiting_provisioning":
        row["created_at"] = row["updated_at"] = NOW - timedelta(days=rng.randrange(1, 5))
        row["awaiting_provisioning_at"] = row["created_at"]
        return row
    if status == "active":  # ends between tomorrow and 90 days on
        ends = NOW + timedelta(days=rng.randrange(1, 90), hours=rng.randrange(24))
    elif status == "expired":  # in its grace period
        ends = NOW - timedelta(days=rng.randrange(1, 14))
    else:
        ends = created + timedelta(days=90)
    row["starts_at"] = row["active_at"] = ends - timedelta(days=90)
    row["ends_at"] = ends
    row["created_at"] = row["updated_at"] = row["starts_at"] - timedelta(hours=1)
    return row


def _services(trial: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    open_ = trial["status"] in _OPEN
    chosen = SERVICES[: 1 + rng.randrange(2)]
    return [
        {
            "id": f"tsv_{trial['id'][4:]}{n}",
            "trial_id": trial["id"],
            "org_id": trial["org_id"],
            "service": code,
            "quantity": 5,
            "is_open": open_,
            "added_at": trial["created_at"],
        }
        for n, code in enumerate(chosen)
    ]


def _due_events(trial: dict[str, Any]) -> list[dict[str, Any]]:
    status, ends = trial["status"], trial["ends_at"]
    if status == "pending_consent":
        due = [("consent_expiry", trial["consent_deadline"])]
    elif status == "active":
        due = [("notice_before_end", ends - timedelta(days=7)), ("end", ends)]
    elif status == "expired":
        due = [("grace_end", ends + timedelta(days=30))]
    else:
        return []
    return [
        {"trial_id": trial["id"], "kind": k, "due_at": at, "created_at": trial["created_at"]}
        for k, at in due
    ]


if __name__ == "__main__":  # python benchmarks/seed.py sqlite 1000 2
    url = dataset(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print(url)
