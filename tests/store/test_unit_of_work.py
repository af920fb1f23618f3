"""The unit of work knows what its transaction inserted (issue 11): the commit hooks skip
reading back what cannot exist yet, so `created()` must be exact, savepoints included."""

from __future__ import annotations

import pytest

from trialhub.domain.organization import Organization, OrgKind
from trialhub.services.kernel.context import Context
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork


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
