"""the customer list's filters by index: trials by customer and status, and a text search
of organization names and administrator emails (FTS5 trigram on SQLite, pg_trgm on
PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

The search structures are the database's own (a virtual table and triggers, an extension's
index); they are made here only, listed in `trialhub.store.tables.search`, and kept out of
the metadata comparison (tests/store/test_schema.py checks them on their own).
"""

from __future__ import annotations

import logging

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# SQLite: one row per searchable text (an organization's name, an administrator's email),
# keyed by its source row's id, and an FTS5 trigram index over it as external content;
# triggers keep both in step with every write, whichever code makes it.
SQLITE_UP = [
    """CREATE TABLE org_search_terms (
        id INTEGER PRIMARY KEY,
        source_id VARCHAR(40) NOT NULL UNIQUE,
        org_id VARCHAR(40) NOT NULL,
        term TEXT NOT NULL
    )""",
    "CREATE INDEX ix_org_search_terms_org_id ON org_search_terms (org_id)",
    """CREATE VIRTUAL TABLE org_search USING fts5(
        term, content='org_search_terms', content_rowid='id', tokenize='trigram'
    )""",
    # the index follows the terms table (FTS5's external content triggers)
    """CREATE TRIGGER org_search_terms_ai AFTER INSERT ON org_search_terms BEGIN
        INSERT INTO org_search (rowid, term) VALUES (new.id, new.term);
    END""",
    """CREATE TRIGGER org_search_terms_ad AFTER DELETE ON org_search_terms BEGIN
        INSERT INTO org_search (org_search, rowid, term) VALUES ('delete', old.id, old.term);
    END""",
    """CREATE TRIGGER org_search_terms_au AFTER UPDATE ON org_search_terms BEGIN
        INSERT INTO org_search (org_search, rowid, term) VALUES ('delete', old.id, old.term);
        INSERT INTO org_search (rowid, term) VALUES (new.id, new.term);
    END""",
    # the terms follow organizations and their administrators
    """CREATE TRIGGER organizations_search_ai AFTER INSERT ON organizations BEGIN
        INSERT INTO org_search_terms (source_id, org_id, term) VALUES (new.id, new.id, new.name);
    END""",
    """CREATE TRIGGER organizations_search_au AFTER UPDATE OF id, name ON organizations BEGIN
        UPDATE org_search_terms SET source_id = new.id, org_id = new.id, term = new.name
        WHERE source_id = old.id;
    END""",
    """CREATE TRIGGER organizations_search_ad AFTER DELETE ON organizations BEGIN
        DELETE FROM org_search_terms WHERE source_id = old.id;
    END""",
    """CREATE TRIGGER org_admins_search_ai AFTER INSERT ON org_admins BEGIN
        INSERT INTO org_search_terms (source_id, org_id, term)
        VALUES (new.id, new.org_id, new.email);
    END""",
    """CREATE TRIGGER org_admins_search_au AFTER UPDATE OF id, org_id, email ON org_admins
    BEGIN
        UPDATE org_search_terms SET source_id = new.id, org_id = new.org_id, term = new.email
        WHERE source_id = old.id;
    END""",
    """CREATE TRIGGER org_admins_search_ad AFTER DELETE ON org_admins BEGIN
        DELETE FROM org_search_terms WHERE source_id = old.id;
    END""",
    # what is there already
    """INSERT INTO org_search_terms (source_id, org_id, term)
        SELECT id, id, name FROM organizations""",
    """INSERT INTO org_search_terms (source_id, org_id, term)
        SELECT id, org_id, email FROM org_admins""",
]
SQLITE_DOWN = [
    *(
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "org_admins_search_ad",
            "org_admins_search_au",
            "org_admins_search_ai",
            "organizations_search_ad",
            "organizations_search_au",
            "organizations_search_ai",
            "org_search_terms_au",
            "org_search_terms_ad",
            "org_search_terms_ai",
        )
    ),
    "DROP TABLE IF EXISTS org_search",
    "DROP TABLE IF EXISTS org_search_terms",
]
# PostgreSQL: trigram GIN indexes answer ILIKE '%...%' (three characters or more); the
# index follows every write by itself
PG_UP = [
    "CREATE INDEX ix_organizations_name_trgm ON organizations USING gin (name gin_trgm_ops)",
    "CREATE INDEX ix_org_admins_email_trgm ON org_admins USING gin (email gin_trgm_ops)",
]
PG_DOWN = [
    "DROP INDEX IF EXISTS ix_org_admins_email_trgm",
    "DROP INDEX IF EXISTS ix_organizations_name_trgm",
]


def upgrade() -> None:
    # the status and expiring filters probe a customer's trials by status (both backends)
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trials_customer_status", ["customer_id", "status", "ends_at"], unique=False
        )
        # and a rare status's customers are found by it
        batch_op.create_index(
            "ix_trials_partner_status", ["partner_id", "status", "customer_id"], unique=False
        )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        _pg_trigram_indexes()


def _pg_trigram_indexes() -> None:
    """pg_trgm ships with PostgreSQL (contrib) and is a trusted extension (13+): a database
    owner may create it. Where it cannot be had, the list still searches, by a scan."""
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # not installed, or not allowed: no index, same answers
        savepoint.rollback()
        log.warning("pg_trgm is not available (%s): text search scans", error)
        return
    savepoint.commit()
    for statement in PG_UP:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in PG_DOWN:
            op.execute(statement)
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_index("ix_trials_partner_status")
        batch_op.drop_index("ix_trials_customer_status")
