"""The schema is made only by migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from trialhub.store.db import downgrade, upgrade
from trialhub.store.orm import metadata


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    return list(diff)


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
