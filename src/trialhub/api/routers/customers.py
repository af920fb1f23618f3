"""The customer list, one customer, and the event feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from trialhub.api.deps import ContextDep, CurrentActor, IdempotentDep
from trialhub.api.params import AfterId, BeforeId, Days, PageSize
from trialhub.services import customers
from trialhub.services.customers.schemas import (
    AssignCustomer,
    CustomerDetail,
    CustomerPage,
    EventPage,
)

router = APIRouter(prefix="/v1", tags=["customers"])


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    ctx: ContextDep,
    actor: CurrentActor,
    status: Annotated[
        str | None, Query(description="A trial status, or `none` for no open trial")
    ] = None,
    text: Annotated[
        str | None, Query(max_length=200, description="Matches the name or admin email")
    ] = None,
    expiring_within_days: Days = None,
    limit: PageSize = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> CustomerPage:
    """Your customers, soonest-ending trial first (rules P2, P3)."""
    return customers.list_customers(
        ctx,
        actor,
        status=status,
        text=text,
        expiring_within_days=expiring_within_days,
        limit=limit,
        cursor=cursor,
    )


@router.get("/customers/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: str, ctx: ContextDep, actor: CurrentActor) -> CustomerDetail:
    """A customer with its purchased services, managing partners, trials and eligibility."""
    return customers.get_customer(ctx, actor, customer_id)


@router.get("/events", response_model=EventPage)
def list_events(
    ctx: ContextDep,
    actor: CurrentActor,
    after: AfterId = None,
    limit: PageSize = None,
    trial_id: Annotated[str | None, Query(max_length=40)] = None,
) -> EventPage:
    """The audit log of your scope, oldest first (rule E1)."""
    return customers.list_events(ctx, actor, after=after, limit=limit, trial_id=trial_id)


@router.get("/activity", response_model=EventPage)
def activity(
    ctx: ContextDep,
    actor: CurrentActor,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=40, description="An action prefix")] = None,
    before: BeforeId = None,
    limit: PageSize = None,
) -> EventPage:
    """Your partner's audit log, newest first, of one customer or kind (rule E1)."""
    return customers.activity(
        ctx, actor, before=before, limit=limit, customer_id=customer_id, kind=kind
    )


@router.post("/customers/{customer_id}/assignments", response_model=CustomerDetail)
def assign(customer_id: str, cmd: AssignCustomer, run: IdempotentDep) -> JSONResponse:
    """Assign the customer to one of your administrators (full administrators, rule P2)."""
    return run.run(
        lambda: customers.assign_customer(run.ctx, run.actor, customer_id, cmd.admin_id),
        body=lambda: cmd.model_dump(),
    )


@router.delete("/customers/{customer_id}/assignments/{admin_id}", response_model=CustomerDetail)
def unassign(customer_id: str, admin_id: str, run: IdempotentDep) -> JSONResponse:
    """Take the customer away from that administrator."""
    return run.run(lambda: customers.unassign_customer(run.ctx, run.actor, customer_id, admin_id))
