"""The unit of work knows what its transaction inserted (issue 11): the commit hooks skip
reading back what cannot exist yet, so `created()` must be exact, savepoints included."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trialhub.domain.events import DomainEvent
from trialhub.domain.organization import Organization, OrgKind
from trialhub.services.kernel.context import Context
from trialhub.store import dialect
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
    Times, JSON (an empty `before` stays empty) and text come back as they went in."""
    seen: list[WrittenEvent] = []
    uow = UnitOfWork(
        ctx.db.session_factory, Scope.system("test"), after_audit=[lambda _u, e: seen.extend(e)]
    )
    at = ctx.now()
    with uow:
        for i in range(n):
            after = {"i": i, "name": "Zoë \t'quoted' \\ back", "when": at}
            uow.record(
                DomainEvent(
                    "test.happened", "thing", f"t{i}", at + timedelta(seconds=i), after=after
                )
            )
        uow.commit()
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
