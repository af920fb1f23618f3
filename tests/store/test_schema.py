"""The schema is made only by migrations, and the migrations match the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, PG_URL, _pg_reachable
from trialhub.domain.organization import NO_END
from trialhub.store.db import downgrade, upgrade
from trialhub.store.tables import metadata
from trialhub.store.tables.search import made_by_migration


def _not_search(name: str | None, _type: str, _parents: object) -> bool:
    """The text search structures are the database's own, made by migration 0012 only
    (trialhub.store.tables.search); test_search_structures_exist_at_head checks them."""
    return not made_by_migration(name)


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_name": _not_search}
        ctx = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    return list(diff)


@pytest.mark.both_backends  # the migrations are the subject (tests/conftest.py)
def test_migrations_match_models(db_url: str) -> None:
    # db_url is a database upgraded to head (SQLite and PostgreSQL)
    assert _diff(db_url) == []


def test_downgrade_to_base_and_up_again(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
    upgrade(url)
    assert _diff(url) == []


def test_0004_backfills_the_customer_sort_key(tmp_path: object) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path}/k.db"
    upgrade(url, "0003")
    engine = create_engine(url)
    t0 = "2026-03-02 09:00:00.000000"
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into partners (id, name, tier, certified, created_at) "
                "values ('p', 'P', 1, 1, :t)"
            ),
            {"t": t0},
        )
        conn.execute(
            text(
                "insert into organizations (id, name, kind, country, region, created_at) values "
                "('o1', 'Zeta', 'customer', 'FR', 'EU', :t),"
                " ('o2', 'Alpha', 'customer', 'FR', 'EU', :t)"
            ),
            {"t": t0},
        )
        conn.execute(
            text(
                "insert into customers (id, partner_id, org_id, state, created_at) values "
                "('c1', 'p', 'o1', 'active', :t), ('c2', 'p', 'o2', 'active', :t)"
            ),
            {"t": t0},
        )
        conn.execute(
            text(
                "insert into trials (id, partner_id, org_id, customer_id, kind, status,"
                " duration_days, user_licenses, setup, created_at, updated_at, ends_at, version)"
                " values "
                "('t1', 'p', 'o1', 'c1', 'new_customer', 'active', 30, 1, 'now', :t, :t,"
                " '2026-04-01 09:00:00.000000', 1)"
            ),
            {"t": t0},
        )
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("select id, sort_name, sort_end from customers order by id")).all()
    engine.dispose()
    assert [(r[0], r[1], str(r[2])[:10]) for r in rows] == [
        ("c1", "Zeta", "2026-04-01"),
        ("c2", "Alpha", "9999-12-31"),
    ]


def test_0007_takes_raw_consent_tokens_out_of_outbox_payloads(tmp_path: object) -> None:
    """Issue 8 item 8: payloads kept the consent link (a credential) for good. Sent ones
    lose it; an unsent one keeps the token as its secret until it goes."""
    import hashlib
    import json

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path}/c.db"
    upgrade(url, "0006")
    engine = create_engine(url)
    t0 = "2026-03-02 09:00:00.000000"
    with engine.begin() as conn:
        for raw in ("sent-raw", "unsent-raw"):
            conn.execute(
                text(
                    "insert into consent_tokens (id, trial_id, org_id, recipient_email,"
                    " token_hash, created_at) values (:id, 't', 'o', 'a@b.example', :h, :t)"
                ),
                {"id": f"cst_{raw}", "h": hashlib.sha256(raw.encode()).hexdigest(), "t": t0},
            )
            payload = {"consent_url": f"https://th.example/consent/{raw}", "partner": "P"}
            conn.execute(
                text(
                    "insert into outbox (channel, recipient, cause, template, payload,"
                    " created_at, available_at, attempts, sent_at) values ('email',"
                    " 'a@b.example', :c, 'consent_request', :p, :t, :t, 0, :s)"
                ),
                {
                    "c": raw,
                    "p": json.dumps(payload),
                    "t": t0,
                    "s": t0 if raw == "sent-raw" else None,
                },
            )
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("select cause, payload, secret from outbox order by id")).all()
    engine.dispose()
    (sent_cause, sent_payload, sent_secret), (_, unsent_payload, unsent_secret) = rows
    assert "raw" not in sent_payload
    assert sent_secret is None
    assert json.loads(unsent_payload) == {
        "partner": "P",
        "consent_token_id": "cst_unsent-raw",
        "consent_base": "https://th.example/consent/",
    }
    assert unsent_secret == "unsent-raw"
    assert sent_cause == "sent-raw"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, on each backend, for migrations with data in them."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
        return
    problem = _pg_reachable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(problem)
    name = f"trialhub_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _insert_then_upgrade(engine: Engine, url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Writes `rows` with the tables as the database has them now, then migrates to head,
    which must then match the models."""
    meta = MetaData()
    meta.reflect(engine, only=list(rows))
    with engine.begin() as conn:
        for table, values in rows.items():
            conn.execute(meta.tables[table].insert(), values)
    engine.dispose()
    upgrade(url)
    assert _diff(url) == []


def test_0010_makes_managed_organizations_customers_of_their_partner(empty_url: str) -> None:
    # rule A1: a subscription a partner manages puts the organization in that partner's list
    upgrade(empty_url, "0006")
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    engine = create_engine(empty_url)
    rows = {
        "partners": [
            {"id": p, "name": p, "tier": 1, "certified": True, "created_at": t0}
            for p in ("pa", "pb", "pc")
        ],
        "organizations": [
            {
                "id": o,
                "name": o.title(),
                "kind": kind,
                "country": "FR",
                "region": "EU",
                "created_at": t0,
            }
            for o, kind in (("new", "customer"), ("gone", "customer"), ("free", "free"))
        ],
        "subscriptions": [
            {
                "id": "s1",
                "org_id": "new",
                "service": "meetings",
                "quantity": 5,
                "partner_id": "pa",
                "started_at": t0,
            },
            {
                "id": "s2",
                "org_id": "new",
                "service": "calling",
                "quantity": 5,
                "partner_id": "pa",
                "started_at": t0 + timedelta(days=1),
            },
            {
                "id": "s3",
                "org_id": "gone",
                "service": "meetings",
                "quantity": 5,
                "partner_id": "pb",
                "started_at": t0,
            },
            {
                "id": "s4",
                "org_id": "gone",
                "service": "calling",
                "quantity": 5,
                "partner_id": None,
                "started_at": t0,
            },
            {
                "id": "s5",
                "org_id": "free",
                "service": "messaging",
                "quantity": 5,
                "partner_id": "pc",
                "started_at": t0,
            },
        ],
        "customers": [
            # removed after a declined request; pc's entry of "new" stays pc's (rule P3)
            {
                "id": "c_gone",
                "partner_id": "pb",
                "org_id": "gone",
                "state": "removed",
                "access": None,
                "created_at": t0,
                "removed_at": t0,
                "sort_end": NO_END,
                "sort_name": "Gone",
            },
            {
                "id": "c_other",
                "partner_id": "pc",
                "org_id": "new",
                "state": "active",
                "access": "provisioning",
                "created_at": t0,
                "removed_at": None,
                "sort_end": NO_END,
                "sort_name": "New",
            },
        ],
    }
    _insert_then_upgrade(engine, empty_url, rows)
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        found = conn.execute(
            text("select partner_id, org_id, state, access from customers order by 1, 2")
        ).all()
        audit = conn.execute(
            text("select partner_id, org_id, action, actor_label from audit_events order by 1")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in found] == [
        ("pa", "new", "active", "full"),
        ("pb", "gone", "active", "full"),
        ("pc", "new", "active", "provisioning"),  # the customer's own choice stands (K3)
    ]
    assert [tuple(r) for r in audit] == [
        ("pa", "new", "customer.added", "migration 0010"),
        ("pb", "gone", "customer.added", "migration 0010"),
    ]


def test_0013_fills_the_list_status_rows_from_the_trials(empty_url: str) -> None:
    """Decision 0019: the status rows of existing data, one per customer and status its
    trials are in, with the customer's sort key as it stood; a customer without trials has
    none. Then the rows follow the app's hook (tests/support/list_keys.py checks both)."""
    upgrade(empty_url, "0012")
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    end = t0 + timedelta(days=30)
    engine = create_engine(empty_url)
    trial = {"partner_id": "pa", "kind": "new_customer", "duration_days": 30}
    trial |= {"user_licenses": 1, "setup": "now", "created_at": t0, "updated_at": t0}
    trial |= {"version": 1, "ends_at": end}
    rows = {
        "partners": [{"id": "pa", "name": "A", "tier": 1, "certified": True, "created_at": t0}],
        "organizations": [
            {"id": o, "name": o.title(), "kind": "customer", "country": "FR", "region": "EU"}
            | {"created_at": t0}
            for o in ("one", "two", "bare")
        ],
        "customers": [
            {"id": f"c_{o}", "partner_id": "pa", "org_id": o, "state": "active"}
            | {"access": "full", "created_at": t0, "sort_end": e, "sort_name": o.title()}
            for o, e in (("one", end), ("two", NO_END), ("bare", NO_END))
        ],
        "trials": [
            trial | {"id": "t1", "org_id": "one", "customer_id": "c_one", "status": "active"},
            trial | {"id": "t2", "org_id": "one", "customer_id": "c_one", "status": "lapsed"},
            trial | {"id": "t3", "org_id": "one", "customer_id": "c_one", "status": "lapsed"},
            trial | {"id": "t4", "org_id": "two", "customer_id": "c_two", "status": "converted"},
        ],
    }
    _insert_then_upgrade(engine, empty_url, rows)
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "select customer_id, status, partner_id, sort_end, sort_name"
                " from customer_statuses order by 1, 2"
            )
        ).all()
    engine.dispose()
    assert [(r[0], r[1], r[2], str(r[3])[:10], r[4]) for r in found] == [
        ("c_one", "active", "pa", "2026-04-01", "One"),
        ("c_one", "lapsed", "pa", "2026-04-01", "One"),
        ("c_two", "converted", "pa", "9999-12-31", "Two"),
    ]
    downgrade(empty_url, "0012")
    engine = create_engine(empty_url)
    assert "customer_statuses" not in inspect(engine).get_table_names()
    engine.dispose()
