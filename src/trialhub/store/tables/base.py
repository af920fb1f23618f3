"""The schema's shared parts: the metadata with its naming convention, and the key types."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData, String

from trialhub.store.dialect import SQLITE

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(40)
# an autoincrementing 64-bit key that SQLite also numbers by itself
BigId = BigInteger().with_variant(Integer(), SQLITE)
