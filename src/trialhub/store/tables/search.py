"""The customer list's text search structures (migration 0012), which are the database's own
and so not in the metadata: on SQLite an FTS5 trigram index (`org_search`) over one row per
searchable text (`org_search_terms`: an organization's name, an administrator's email), kept in
step by triggers on `organizations` and `org_admins`; on PostgreSQL pg_trgm GIN indexes on
the same two columns.

A later migration that recreates `organizations` or `org_admins` on SQLite (a batch copy)
drops their triggers and must make them again: tests/store/test_schema.py checks that every
structure named here exists at head.
"""

from __future__ import annotations

SQLITE_TABLES = ("org_search", "org_search_terms")
SQLITE_TRIGGERS = (
    "org_search_terms_ai",
    "org_search_terms_ad",
    "org_search_terms_au",
    "organizations_search_ai",
    "organizations_search_au",
    "organizations_search_ad",
    "org_admins_search_ai",
    "org_admins_search_au",
    "org_admins_search_ad",
)
POSTGRESQL_INDEXES = ("ix_organizations_name_trgm", "ix_org_admins_email_trgm")
# FTS5's shadow tables (org_search_data, ...) belong to it as well
NOT_IN_METADATA_PREFIXES = ("org_search",)
NOT_IN_METADATA = frozenset(POSTGRESQL_INDEXES)


def made_by_migration(name: str | None) -> bool:
    """A name of a search structure (for the schema comparison to leave out)."""
    return bool(name) and (
        str(name).startswith(NOT_IN_METADATA_PREFIXES) or name in NOT_IN_METADATA
    )
