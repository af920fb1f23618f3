"""Opening a database: engine, session factory, and schema upgrades through Alembic only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from trialhub.store.dialect import SQLITE, make_engine
from trialhub.store.mapping import start_mappers


def alembic_config(url: str) -> Config:
    """Alembic's configuration pointing at the migrations that ship inside the package."""
    location = resources.files("trialhub.store").joinpath("migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; the schema is only ever created this way."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@dataclass
class Database:
    """One database: its engine and a session factory, and the same for reading only."""

    url: str
    engine: Engine
    session_factory: sessionmaker[Session]

    @classmethod
    def open(cls, url: str, *, echo: bool = False) -> Database:
        start_mappers()
        engine = make_engine(url, echo=echo)
        return cls(
            url=url, engine=engine, session_factory=sessionmaker(engine, expire_on_commit=False)
        )

    @cached_property
    def read_engine(self) -> Engine:
        """The engine's pool in autocommit on PostgreSQL: each statement its own
        transaction, with no BEGIN and ROLLBACK around them (a round trip each: a read-only
        request sent three where it needs one, issue 11); READ COMMITTED gives each
        statement its own snapshot anyway. SQLite's driver runs a SELECT outside any
        transaction already (it begins one only before a write), and SQLAlchemy's autocommit
        there costs a PRAGMA each time a connection goes back to the pool: the engine as is."""
        if self.engine.dialect.name == SQLITE:
            return self.engine
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @cached_property
    def read_session_factory(self) -> sessionmaker[Session]:
        return sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
