"""A flush of new entities only goes in as one INSERT per table, without SQLAlchemy's flush
planning (issue 11, `store/insert_flush.py`): the same rows, the same entities after, the
same errors; anything it cannot write as SQLAlchemy would is left to SQLAlchemy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session

from tests.conftest import World
from tests.support.factories import new_customer_body
from tests.support.statements import statements
from trialhub.domain.deadlines import trial_deadlines
from trialhub.domain.errors import Conflict
from trialhub.domain.organization import (
    Customer,
    CustomerState,
    OrgAdmin,
    Organization,
    OrgKind,
)
from trialhub.domain.records import OutboxMessage
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store import dialect, insert_flush, tables
from trialhub.store import uow as uow_module
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork

pytestmark = pytest.mark.both_backends


@pytest.fixture
def planned_flushes() -> Iterator[list[int]]:
    """How many flushes SQLAlchemy planned and ran (its `after_flush` event), each with its
    number of entities."""
    seen: list[int] = []

    def after(session: Session, context: Any) -> None:
        seen.append(len(context.states))

    event.listen(Session, "after_flush", after)
    yield seen
    event.remove(Session, "after_flush", after)


def without_insert_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uow_module, "insert_new", lambda session, rows=None, returning=None: False)


def new_org(ctx: Context, name: str = "Initech") -> Organization:
    return Organization.new(
        name=name, kind=OrgKind.CUSTOMER, country="FR", region="EU", at=ctx.now()
    )


def outbox_message(ctx: Context) -> OutboxMessage:
    return OutboxMessage(
        id=None,
        channel="email",
        recipient="ada@initech.example",
        cause="test:1",
        template="welcome",
        payload={"organization": "Initech"},
        created_at=ctx.now(),
        available_at=ctx.now(),
    )


def new_customer_org(ctx: Context, uow: UnitOfWork) -> tuple[Organization, OrgAdmin, OutboxMessage]:
    """A new organization, its full administrator and a welcome email to them, added."""
    org = new_org(ctx)
    uow.organizations.add(org)
    admin = org.add_admin("ada@initech.example", "Ada", full=True, at=ctx.now())
    message = outbox_message(ctx)
    uow.outbox.add(message)
    return org, admin, message


def count(ctx: Context, table: Any) -> int:
    with ctx.db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table)) or 0


# ---- the same rows as SQLAlchemy's flush ---------------------------------------------------


def numbered_ids(monkeypatch: pytest.MonkeyPatch, phase: int) -> None:
    """Every new id of this phase is `<prefix>_<phase, 16 hex><n, 16 hex>`."""
    n = iter(range(1, 10**6))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=(phase << 64) | next(n)))


def rows_written(ctx: Context, work: Callable[[], object]) -> dict[str, list[dict[str, Any]]]:
    """The rows each table gained while `work` ran (ids the database numbers left out)."""

    def dump() -> dict[str, list[str]]:
        with ctx.db.engine.connect() as conn:
            return {
                t.name: [
                    json.dumps(dict(r), default=str, sort_keys=True)
                    for r in conn.execute(select(t)).mappings()
                ]
                for t in tables.metadata.sorted_tables
            }

    before = dump()
    work()
    after = dump()
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in after.items():
        numbered = tables.metadata.tables[name].autoincrement_column is not None
        new = [json.loads(r) for r in rows if r not in set(before[name])]
        out[name] = [{k: v for k, v in r.items() if not (numbered and k == "id")} for r in new]
    return {name: rows for name, rows in out.items() if rows}


@pytest.mark.parametrize("one_service", [False, True])
def test_a_new_customers_start_writes_the_rows_sqlalchemys_flush_writes(
    world: World, monkeypatch: pytest.MonkeyPatch, planned_flushes: list[int], one_service: bool
) -> None:
    """The same request, with fixed ids, once through the insert flush and once through
    SQLAlchemy's: every table gains the same rows, value for value. Two services and a
    site (a table of several rows, from arrays on PostgreSQL), or one service. On
    PostgreSQL the entities, the customer's status rows and the trial's deadlines go in
    as one statement either way (`insert_at_flush`)."""
    ctx, actor = world.ctx, world.sales_full.actor

    def start(phase: int) -> Callable[[], object]:
        numbered_ids(monkeypatch, phase)
        body = new_customer_body()
        body["customer"]["company_name"] = "Acme"
        body["customer"]["admin_email"] = f"admin-{phase:x}@acme.example"
        body["meetings"]["site_url"] = f"acme-{phase:x}.webex.com"
        if one_service:
            body.update(services=[{"code": "messaging"}], meetings=None)
        return lambda: trials.start_trial(ctx, actor, StartTrial.model_validate(body))

    with statements(ctx.db.engine) as sent:
        fast = rows_written(ctx, start(0xA))
    assert planned_flushes == []  # issue 11: no flush planned for a new customer
    one_statement = [s for s in sent if s.startswith("WITH")]
    assert len(one_statement) == (ctx.db.dialect == "postgresql")
    if one_statement:
        for table in ("customer_statuses", "due_events", "trial_services"):
            assert f"INSERT INTO {table} " in one_statement[0], table
    without_insert_flush(monkeypatch)
    planned = rows_written(ctx, start(0xB))
    assert len(planned_flushes) >= 1  # the reference did go through SQLAlchemy's flush

    def same(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        text = json.dumps(rows, sort_keys=True).replace(f"{0xA:016x}", f"{0xB:016x}")
        text = text.replace("admin-a", "admin-b").replace("acme-a", "acme-b")
        return {
            t: sorted(json.dumps(r, sort_keys=True) for r in rs)
            for t, rs in json.loads(text).items()
        }

    assert set(fast) >= {"organizations", "org_admins", "customers", "trials", "trial_services"}
    assert set(fast) >= {"outbox", "due_events", "audit_events"}
    assert ("meetings_sites" in fast) is not one_service
    assert same(fast) == same(planned)


def test_the_entities_are_persistent_after_it_as_after_a_flush(
    ctx: Context, planned_flushes: list[int]
) -> None:
    with ctx.uow(Scope.system()) as uow:
        org, admin, message = new_customer_org(ctx, uow)
        uow.flush()
        assert planned_flushes == []
        assert inspect(org).persistent
        assert inspect(admin).persistent
        assert isinstance(message.id, int)  # numbered by the database, as a flush reads it
        assert uow.created(org)
        assert uow.created(message)
        org.name = "Initrode"  # changed after: an UPDATE, by SQLAlchemy's flush
        uow.commit()
    assert planned_flushes == [1]
    with ctx.uow(Scope.system()) as uow:
        loaded = uow.organizations.get(org.id)
        assert loaded is not None
        assert loaded.name == "Initrode"
        assert [a.email for a in loaded.admins] == ["ada@initech.example"]


@pytest.mark.parametrize("n", [3, dialect.COPY_FROM + 5])
def test_many_new_entities_go_in_by_table_in_order(
    ctx: Context, n: int, planned_flushes: list[int]
) -> None:
    """One statement a table on SQLite; on PostgreSQL one for both (the users from
    arrays), or COPY for a large batch; the rows as added."""
    with ctx.uow(Scope.system()) as uow:
        org = new_org(ctx)
        uow.organizations.add(org)
        users = [org.add_user(f"u{i:03}@initech.example", f"U {i}", ctx.now()) for i in range(n)]
        with statements(ctx.db.engine) as sent:
            uow.flush()
        assert planned_flushes == []
        # PostgreSQL: one statement, or the organization's and a COPY (not a statement)
        assert len(sent) == (2 if ctx.db.dialect == "sqlite" else 1)
        uow.commit()
    with ctx.db.engine.connect() as conn:
        stored = conn.execute(
            select(tables.org_users.c.id, tables.org_users.c.org_id, tables.org_users.c.email)
        ).all()
    assert sorted(stored) == sorted((u.id, org.id, u.email) for u in users)


def test_on_postgresql_one_row_a_table_goes_in_as_one_statement(
    ctx: Context, planned_flushes: list[int]
) -> None:
    """A new organization, its administrator and its welcome email: on PostgreSQL one
    statement (data-modifying CTEs, the email's id returned), on SQLite one a table."""
    with ctx.uow(Scope.system()) as uow:
        org, admin, message = new_customer_org(ctx, uow)
        with statements(ctx.db.engine) as sent:
            uow.flush()
        assert planned_flushes == []
        if ctx.db.dialect == "postgresql":
            assert len(sent) == 1
            assert sent[0].startswith("WITH")
        else:
            assert len(sent) == 3
        uow.commit()
    with ctx.db.engine.connect() as conn:
        o, a = tables.outbox.c, tables.org_admins.c
        assert conn.execute(select(o.id).where(o.recipient == admin.email)).scalar() == message.id
        assert conn.execute(select(a.org_id).where(a.id == admin.id)).scalar() == org.id


def test_several_rows_the_database_numbers_get_their_ids_in_order(
    ctx: Context, planned_flushes: list[int]
) -> None:
    """Two welcome emails and an organization: on PostgreSQL no longer one statement (its
    RETURNING gives one row's id), each table its own, the ids in the rows' order."""
    with ctx.uow(Scope.system()) as uow:
        uow.organizations.add(new_org(ctx))
        first, second = outbox_message(ctx), outbox_message(ctx)
        second.recipient = "bob@initech.example"
        for message in (first, second):
            uow.outbox.add(message)
        with statements(ctx.db.engine) as sent:
            uow.flush()
        assert planned_flushes == []
        assert len(sent) == 2
        uow.commit()
    assert first.id is not None
    assert second.id is not None
    assert first.id < second.id
    with ctx.db.engine.connect() as conn:
        o = tables.outbox.c
        stored = dict(conn.execute(select(o.id, o.recipient)).all())
    assert stored == {first.id: "ada@initech.example", second.id: "bob@initech.example"}


def test_a_rollback_expunges_what_it_inserted(ctx: Context) -> None:
    """As after SQLAlchemy's flush: the transaction rolled back, its new entities are not
    in the session any more (`created` stays exact)."""
    with ctx.uow(Scope.system()) as uow:
        org = new_org(ctx)
        uow.organizations.add(org)
        uow.flush()
        assert inspect(org).persistent
        uow.rollback()
        assert inspect(org).transient
        assert not uow.created(org)
    assert count(ctx, tables.organizations) == 0


def test_a_versioned_entity_starts_at_the_first_version(world: World) -> None:
    """The version a flush would give it; a change then goes from there (a lost update is
    refused by the version, tests/api/test_concurrency)."""
    ctx, actor = world.ctx, world.sales_full.actor
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None)
    trial = trials.start_trial(ctx, actor, StartTrial.model_validate(body))

    def stored() -> int | None:
        with ctx.db.engine.connect() as conn:
            where = tables.trials.c.id == trial.id
            return conn.scalar(select(tables.trials.c.version).where(where))

    assert stored() == 1
    with ctx.uow(Scope.system()) as uow:
        loaded = uow.trials.get(trial.id)
        assert loaded is not None
        assert loaded.version == 1
        loaded.user_licenses = 7
        uow.commit()
    assert stored() == 2


# ---- what it leaves to SQLAlchemy ----------------------------------------------------------


def test_with_a_changed_entity_in_the_session_sqlalchemy_flushes_it_all(
    ctx: Context, planned_flushes: list[int]
) -> None:
    with ctx.uow(Scope.system()) as uow:
        org = new_org(ctx)
        uow.organizations.add(org)
        uow.commit()
    assert planned_flushes == []
    with ctx.uow(Scope.system()) as uow:
        loaded = uow.organizations.get(org.id)
        assert loaded is not None
        loaded.name = "Initrode"
        uow.organizations.add(new_org(ctx, "Hooli"))
        uow.flush()
        assert planned_flushes == [2]  # the UPDATE ordered with the INSERT, as it was
        uow.commit()
    assert count(ctx, tables.organizations) == 2


def test_a_foreign_key_the_domain_left_unset_is_sqlalchemys_to_set(
    world: World, planned_flushes: list[int]
) -> None:
    """A customer whose org_id disagrees with its organization: SQLAlchemy's flush copies
    the organization's id in, as it always did; the insert flush never guesses."""
    ctx = world.ctx
    with ctx.uow(Scope.system()) as uow:
        org = new_org(ctx)
        uow.organizations.add(org)
        customer = Customer.new(
            partner_id=world.partner_id, org=org, state=CustomerState.ACTIVE, at=ctx.now()
        )
        customer.org_id = None  # type: ignore[assignment]
        uow.customers.add(customer)
        uow.flush()
        assert planned_flushes == [2]
        assert customer.org_id == org.id
        uow.rollback()


def test_in_a_savepoint_sqlalchemy_flushes(ctx: Context, planned_flushes: list[int]) -> None:
    """A failed flush in a savepoint rolls back to the savepoint alone: SQLAlchemy's."""
    with ctx.uow(Scope.system()) as uow:
        with uow.savepoint():
            uow.organizations.add(new_org(ctx))
            uow.flush()
        assert planned_flushes == [1]
        uow.commit()
    assert count(ctx, tables.organizations) == 1


def test_a_value_left_to_a_column_default_is_sqlalchemys_to_read(
    ctx: Context, planned_flushes: list[int]
) -> None:
    """A None where the column has a default: the database fills it, and SQLAlchemy's flush
    reads it back; the insert flush declines rather than write NULL."""
    with ctx.uow(Scope.system()) as uow:
        org = new_org(ctx)
        uow.organizations.add(org)
        uow.flush()
        assert planned_flushes == []
        message = outbox_message(ctx)
        message.attempts = None  # type: ignore[assignment]
        uow.outbox.add(message)
        uow.flush()
        assert planned_flushes == [1]
        assert message.attempts == 0
        uow.rollback()


# ---- errors --------------------------------------------------------------------------------


def test_a_constraint_it_breaks_is_a_rule_error_and_nothing_is_written(
    ctx: Context, planned_flushes: list[int]
) -> None:
    with ctx.uow(Scope.system()) as uow:
        for name in ("Initech", "Initrode"):
            org = new_org(ctx, name)
            uow.organizations.add(org)
            org.add_admin("ada@initech.example", "Ada", full=True, at=ctx.now())
        with pytest.raises(Conflict) as raised:
            uow.flush()
        assert raised.value.rule == "C3"
        assert planned_flushes == []
    assert count(ctx, tables.organizations) == 0
    assert count(ctx, tables.org_admins) == 0


def test_a_listener_of_a_mappers_inserts_is_called_by_sqlalchemys_flush(
    ctx: Context, planned_flushes: list[int]
) -> None:
    heard: list[str] = []

    def before_insert(_mapper: Any, _connection: Any, target: Organization) -> None:
        heard.append(target.name)

    event.listen(Organization, "before_insert", before_insert)
    try:
        with ctx.uow(Scope.system()) as uow:
            uow.organizations.add(new_org(ctx))
            uow.flush()
            uow.rollback()
    finally:
        event.remove(Organization, "before_insert", before_insert)
    assert heard == ["Initech"]
    assert planned_flushes == [1]


def status_rows(world: World, customer_id: str, statuses: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": customer_id,
            "status": status,
            "partner_id": world.sales_full.actor.partner_id,
            "sort_end": world.ctx.now(),
            "sort_name": "Initrode",
        }
        for status in statuses
    ]


def stored_statuses(ctx: Context) -> list[tuple[str, str]]:
    c = tables.customer_statuses.c
    with ctx.db.engine.connect() as conn:
        return sorted(
            (r.customer_id, r.status) for r in conn.execute(select(c.customer_id, c.status))
        )


def test_rows_held_for_the_flush_go_in_after_the_entities_they_refer_to(
    world: World, planned_flushes: list[int]
) -> None:
    """Rows held for the flush (`insert_at_flush`) wait for it, then go in after the new
    entities they refer to: on PostgreSQL in their statement. Nothing is written before."""
    ctx, actor = world.ctx, world.sales_full.actor
    first = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    with ctx.uow(Scope.system()) as uow:
        customer = uow.customers.get(first.customer_id)
        assert customer is not None
        org = new_org(ctx, "Initrode")
        uow.organizations.add(org)
        with statements(ctx.db.engine) as sent:
            insert_flush.insert_at_flush(
                uow_module.UnitOfWork._live(uow),
                tables.customer_statuses,
                status_rows(world, customer.id, ["zz_one", "zz_two"]),
            )
        assert sent == []  # held
        with statements(ctx.db.engine) as sent:
            uow.flush()
        assert len(sent) == (1 if ctx.db.dialect == "postgresql" else 2)
        assert "INSERT INTO customer_statuses" in sent[-1]
        uow.commit()
    assert {("zz_one", "zz_two")} <= {
        tuple(s for c, s in stored_statuses(ctx) if c == customer.id and s.startswith("zz_"))
    }


def test_rows_held_for_the_flush_are_dropped_by_a_rollback_and_not_held_in_a_savepoint(
    world: World,
) -> None:
    """A rollback drops what was held (it never happened); inside a savepoint the rows go
    in at once, so that the savepoint's rollback takes them along."""
    ctx, actor = world.ctx, world.sales_full.actor
    first = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    before = stored_statuses(ctx)
    with ctx.uow(Scope.system()) as uow:
        session = uow_module.UnitOfWork._live(uow)
        insert_flush.insert_at_flush(
            session, tables.customer_statuses, status_rows(world, first.customer_id, ["zz_gone"])
        )
        uow.rollback()
        sent: list[str] = []

        def fail_in_a_savepoint() -> None:
            with uow.savepoint(), statements(ctx.db.engine) as seen:
                insert_flush.insert_at_flush(
                    session,
                    tables.customer_statuses,
                    status_rows(world, first.customer_id, ["zz_undone"]),
                )
                sent.extend(seen)
                raise RuntimeError("the savepoint fails")

        with pytest.raises(RuntimeError):
            fail_in_a_savepoint()
        assert "INSERT INTO customer_statuses" in sent[-1]  # at once
        insert_flush.insert_at_flush(
            session, tables.customer_statuses, status_rows(world, first.customer_id, ["zz_kept"])
        )
        uow.commit()
    after = stored_statuses(ctx)
    assert [r for r in after if r not in before] == [(first.customer_id, "zz_kept")]


def test_a_new_trials_deadlines_are_numbered_in_their_order(world: World) -> None:
    """The worker takes deadlines due at one instant by id (rule T10): a new trial's rows,
    written from arrays on PostgreSQL, are numbered in the deadlines' order."""
    ctx, actor = world.ctx, world.sales_full.actor
    view = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    d = tables.due_events.c
    with ctx.db.engine.connect() as conn:
        stored = conn.execute(
            select(d.kind, d.due_at).where(d.trial_id == view.id).order_by(d.id)
        ).all()
    with ctx.reader(Scope.system()) as uow:
        trial = uow.trials.get(view.id)
        assert trial is not None
        expected = [
            d.kind.value for d in trial_deadlines(trial, ctx.policy, ctx.catalog, shipments=[])
        ]
    assert len(stored) >= 3
    assert [kind for kind, _ in stored] == expected
