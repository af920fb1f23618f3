"""What one start sends to the database (issue 11): the commit hooks compute from what the
transaction holds, so a new trial's due rows, shipments and customer are never read back,
the outbox is not asked about a cause the transaction created, and the email's owner is
one query. Pinned as statement counts, so that they do not grow."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import World, new_customer_body
from tests.support.statements import statements
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store import tables


def selects(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s]


def test_a_new_customer_start_reads_nothing_back(world: World) -> None:
    cmd = StartTrial.model_validate(new_customer_body())
    with statements(world.ctx.db.engine) as sent:
        trials.start_trial(world.ctx, world.sales_full.actor, cmd)
    tables = ("due_events", "device_shipments", "customers", "customer_assignments")
    for table in (*tables, "customer_statuses"):  # a new customer's status rows: from memory
        assert selects(sent, table) == [], table
    assert selects(sent, "outbox") == []  # the welcome's cause is a new organization's
    assert len(selects(sent, "org_admins")) == 1  # the email's owner: one query (rule C3)
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    # the owner, the site name (rule S2) and the webhook endpoints (rule E1)
    assert len(reads) == 3, reads


def test_adding_a_trial_reads_the_customer_once(world: World) -> None:
    ctx, actor = world.ctx, world.sales_full.actor
    first = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    cmd = StartTrial.model_validate(
        {"customer_id": first.customer_id, "services": [{"code": "calling"}], "user_licenses": 5}
    )
    with statements(ctx.db.engine) as sent:
        trials.start_trial(ctx, actor, cmd)
    assert len(selects(sent, "customers")) == 1  # classify's; the sort-key hook reuses it
    assert selects(sent, "due_events") == []  # the new trial's rows are not read back
    assert len(selects(sent, "customer_statuses")) == 1  # the list's status rows (0019)
    assert len(selects(sent, "trials")) == 1  # the soonest open end: the only one it needs


@pytest.mark.both_backends  # PostgreSQL checks each foreign key as the row goes in
def test_a_new_customer_start_writes_each_table_in_one_statement(world: World) -> None:
    """Issue 11: the organization, its administrator, the customer, the trial and its parts
    go in at commit in one flush, ordered by the mapping; a trial's deadlines and the audit
    rows go in one statement each, however many (the ORM sent one INSERT a row on SQLite);
    the customer's sort key is set before its row is written, not by an UPDATE after. On
    PostgreSQL every row is one statement: the customer's status rows and the trial's
    deadlines join the entities' (`insert_at_flush`), and the audit rows come last, their
    ids returned (decision 0021)."""
    ctx = world.ctx
    cmd = StartTrial.model_validate(new_customer_body())
    with statements(ctx.db.engine) as sent:
        view = trials.start_trial(ctx, world.sales_full.actor, cmd)
    writes = [s for s in sent if not s.lstrip().upper().startswith("SELECT")]
    if ctx.db.dialect == "postgresql":
        assert len(writes) == 1, writes
        assert writes[0].startswith("WITH")
        assert " INSERT INTO audit_events " in writes[0]
    else:
        assert all(s.lstrip().upper().startswith("INSERT INTO") for s in writes), writes
        assert writes[-1].startswith("INSERT INTO audit_events"), writes
    written = [t for s in writes for t in re.findall(r"INSERT INTO (\w+)", s)]
    assert len(written) == len(set(written)), written  # no table twice
    wanted = {"organizations", "customers", "trials", "trial_services", "due_events"}
    assert wanted | {"customer_statuses", "audit_events"} <= set(written)
    assert len(writes) == (1 if ctx.db.dialect == "postgresql" else len(written))
    with ctx.db.engine.connect() as conn:
        deadlines = conn.execute(
            select(func.count()).where(tables.due_events.c.trial_id == view.id)
        ).scalar_one()
        events = conn.execute(
            select(func.count()).where(tables.audit_events.c.trial_id == view.id)
        ).scalar_one()
        customer = conn.execute(
            select(tables.customers.c.sort_end, tables.customers.c.sort_name).where(
                tables.customers.c.id == view.customer_id
            )
        ).one()
    assert deadlines >= 3  # many rows, one statement
    assert events >= 2
    assert customer.sort_end == view.ends_at  # the key went in with the row
    assert customer.sort_name == cmd.customer.company_name  # type: ignore[union-attr]
