"""The unit of work knows what its transaction inserted (issue 11): the commit hooks skip
reading back what cannot exist yet, so `created()` must be exact, savepoints included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import World
from tests.support.lifecycle import start_trials
from tests.support.statements import statements
from trialhub.domain.events import DomainEvent
from trialhub.domain.organization import Organization, OrgKind
from trialhub.services.accounts import authenticate_token
from trialhub.services.customers import list_customers
from trialhub.services.kernel.context import Context
from trialhub.store import dialect, tables
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork, WrittenEvent


def new_org(ctx: Context) -> Organization:
    return Organization.new(
        name="Initech", kind=OrgKind.CUSTOMER, country="FR", region="EU", at=ctx.now()
    )


def fail_in_savepoint(uow: UnitOfWork, org: Organization) -> None:
    with uow.savepoint():
        uow.organizations.add(org)
        uow.flush()
        raise RuntimeError("the part fails")


def test_created_is_what_this_transaction_inserted(ctx: Context) -> None:
    with ctx.uow(Scope.system()) as uow:
        kept, undone = new_org(ctx), new_org(ctx)
        uow.organizations.add(kept)
        assert uow.created(kept)  # pending
        uow.flush()
        assert uow.created(kept)  # flushed, still this transaction's
        with pytest.raises(RuntimeError, match="the part fails"):
            fail_in_savepoint(uow, undone)
        assert not uow.created(undone)  # rolled back with its savepoint
        uow.commit()
    with ctx.uow(Scope.system()) as uow:
        loaded = uow.organizations.get(kept.id)
        assert loaded is not None
        assert not uow.created(loaded)  # an earlier transaction's row


# ---- the audit rows of a commit (rule E1; issue 11) -------------------------------------


@pytest.mark.both_backends  # PostgreSQL writes a batch by COPY, SQLite by INSERT
@pytest.mark.parametrize("n", [3, dialect.COPY_FROM + 10])
def test_the_audit_rows_of_a_commit_come_back_with_their_ids_in_order(ctx: Context, n: int) -> None:
    """The after-audit hooks (webhook fan-out) see each event with the id of its row, in
    the order recorded, whichever way the rows went in: a few by INSERT, a batch by COPY.
    Times, JSON (an empty `before` stays empty) and text come back as they went in. The
    rows go in one statement on both databases: SQLAlchemy sent one INSERT a row on SQLite
    when asked for the ids in order (it has no sentinel there), four more for a start."""
    seen: list[WrittenEvent] = []
    uow = UnitOfWork(
        ctx.db.session_factory, Scope.system("test"), after_audit=[lambda _u, e: seen.extend(e)]
    )
    at = ctx.now()
    with uow, statements(ctx.db.engine) as sent:
        for i in range(n):
            after = {"i": i, "name": "Zoë \t'quoted' \\ back", "when": at}
            uow.record(
                DomainEvent(
                    "test.happened", "thing", f"t{i}", at + timedelta(seconds=i), after=after
                )
            )
        uow.commit()
    writes = [s for s in sent if "audit_events" in s and not s.startswith("SELECT")]
    copied = ctx.db.dialect == dialect.POSTGRESQL and n >= dialect.COPY_FROM
    assert len(writes) == (0 if copied else 1), writes  # COPY is not a cursor statement
    assert [e.event.subject_id for e in seen] == [f"t{i}" for i in range(n)]
    assert [e.id for e in seen] == sorted({e.id for e in seen})  # distinct, increasing
    with ctx.uow(Scope.system()) as reader:
        rows = {e.id: e for e in reader.audit.since(after=None, limit=1000)}
        for written in seen:
            row = rows[written.id]
            i = int(row.subject_id[1:])
            assert (row.action, row.at, row.actor_label) == (
                "test.happened",
                at + timedelta(seconds=i),
                "test",
            )
            assert row.after == {"i": i, "name": "Zoë \t'quoted' \\ back", "when": at.isoformat()}
            assert row.before is None
            assert row.partner_id is None


def _in_a_transaction(dbapi_connection: object) -> bool:
    """Whether the statement about to go runs inside a transaction: psycopg wraps every
    statement of a non-autocommit connection in one (BEGIN ... ROLLBACK: two more round
    trips); Python's sqlite3 begins one only before a write."""
    if hasattr(dbapi_connection, "autocommit"):  # psycopg
        return not dbapi_connection.autocommit
    return bool(dbapi_connection.in_transaction)  # type: ignore[attr-defined]  # sqlite3


@pytest.mark.both_backends  # the round trips saved are PostgreSQL's
def test_reading_requests_run_without_a_transaction_around_them(world: World) -> None:
    """Issue 11: authenticating a bearer token and the customer list only read; their
    statements go in autocommit (no BEGIN and ROLLBACK around them), while a use case
    that writes keeps its transaction."""
    ctx = world.ctx
    seen: list[tuple[str, bool]] = []

    def note(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement.split()[0], _in_a_transaction(conn.connection.dbapi_connection)))

    event.listen(ctx.db.engine, "before_cursor_execute", note)
    try:
        start_trials(ctx, world.sales_full.actor, 1)
        writes = list(seen)
        seen.clear()
        token = world.sales_full.headers["Authorization"].split()[1]
        authenticate_token(ctx, token, address="198.51.100.9")
        list_customers(ctx, world.sales_full.actor, status="active", limit=5)
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", note)
    if ctx.db.dialect == "postgresql":  # the start writes in one transaction, reads included
        assert all(in_transaction for _, in_transaction in writes)
    selects = [in_transaction for s, in_transaction in seen if s.upper() == "SELECT"]
    assert len(selects) == 3  # the limits' counts with the token, the page, its trials
    assert not any(selects)
    # the token's first use is written in a transaction of its own (once a minute at most);
    # sqlite3 begins it as the UPDATE goes, so only PostgreSQL shows it before
    touched = [t for s, t in seen if s.upper() != "SELECT"]
    assert touched == [ctx.db.dialect == "postgresql"]


def test_a_read_only_unit_of_work_refuses_to_write(ctx: Context) -> None:
    """A reader has no transaction to undo a write with: it refuses one before sending it."""

    def organizations() -> int:
        with ctx.db.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(tables.organizations)) or 0

    before = organizations()
    with ctx.reader(Scope.system()) as uow:
        uow.organizations.add(new_org(ctx))
        with pytest.raises(RuntimeError, match="read-only"):
            uow.flush()
    with ctx.reader(Scope.system()) as uow, pytest.raises(RuntimeError, match="read-only"):
        uow.commit()
    assert organizations() == before


def test_untouched_is_nothing_added_changed_or_deleted_flushed_or_not(world: World) -> None:
    """Issue 11: the worker skips computing a trial's deadlines again when nothing they come
    from was touched; a change flushed early (a query's autoflush) still counts."""
    ctx = world.ctx
    a, b, c = start_trials(ctx, world.sales_full.actor, 3)
    with ctx.uow(Scope.system()) as uow:
        trial_a, trial_b, trial_c = (uow.trials.get(i) for i in (a, b, c))
        assert trial_a is not None
        assert trial_b is not None
        assert trial_c is not None
        service = trial_a.services[0]
        assert uow.untouched(trial_a, service, trial_b, trial_c)
        trial_b.user_licenses = 7
        assert not uow.untouched(trial_b)  # changed, not flushed
        assert uow.untouched(trial_a, service, trial_c)
        uow.flush()
        assert not uow.untouched(trial_b)  # still: flushed, not undone
        service.quantity = 3
        assert not uow.untouched(service)
        assert uow.untouched(trial_a)  # a part's change is the part's
        org = new_org(ctx)
        uow.organizations.add(org)
        assert not uow.untouched(org)  # added
        uow.flush()
        assert not uow.untouched(org)
        uow.deadlines.delete(uow.deadlines.for_trial(c)[0])
        row = next(iter(uow._live().deleted))
        assert not uow.untouched(row)  # deleted, not flushed
        uow.flush()
        assert not uow.untouched(row)
        assert uow.untouched(trial_c)
        # the objects touched are held, so their ids are theirs for the transaction; a
        # deleted one is not: were its id among theirs, a new object that came to reuse it
        # would be missed by `touched()` and by the commit hooks reading it
        assert uow._touched_ids == {id(o) for o in uow._touched}
        assert id(row) not in uow._touched_ids
