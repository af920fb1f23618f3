"""Use cases that read the customer list, one customer, and the event feed (rules P2, P3)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.roles import Action, Reach
from trialhub.domain.states import OPEN_STATUSES, TrialStatus
from trialhub.services.customers.schemas import (
    CustomerPage,
    CustomerSummary,
)
from trialhub.services.kernel import paging
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.views import region_view
from trialhub.store.repositories import NO_OPEN_TRIAL, CustomerFilter, CustomerRow

STATUS_FILTERS = frozenset({s.value for s in TrialStatus} | {NO_OPEN_TRIAL})


def list_customers(
    ctx: Context,
    actor: Actor,
    *,
    status: str | None = None,
    text: str | None = None,
    expiring_within_days: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> CustomerPage:
    """The partner's customer list, soonest-ending trial first (rules P2, P3)."""
    got = require_partner(actor, Action.READ_CUSTOMERS)
    errors = ErrorCollector()
    if status is not None and status not in STATUS_FILTERS:
        errors.add("status", f"Unknown status; one of: {', '.join(sorted(STATUS_FILTERS))}.")
    if expiring_within_days is not None and not 0 <= expiring_within_days <= 3650:
        errors.add("expiring_within_days", "Give a number of days from 0 to 3650.")
    size = paging.page_size(ctx.policy, limit, errors)
    errors.raise_if_any()
    now = ctx.now()
    flt = CustomerFilter(
        status=status,
        text=(text or "").strip() or None,
        expiring_within_days=expiring_within_days,
        reach_admin_id=actor.admin_id if got is Reach.OWN else None,
    )
    with ctx.uow(actor.scope) as uow:
        try:
            rows, next_cursor = uow.customers.search(flt, now=now, limit=size, cursor=cursor)
        except (ValueError, TypeError, KeyError) as error:
            errors.add("cursor", "The cursor is not valid; start again without it.")
            errors.raise_if_any()
            raise AssertionError from error
        return CustomerPage(
            items=[_summary(ctx, row, now) for row in rows], next_cursor=next_cursor
        )


def _summary(ctx: Context, row: CustomerRow, now: datetime) -> CustomerSummary:
    org, cu = row.organization, row.customer
    open_trials = [t for t in row.trials if TrialStatus(t.status) in OPEN_STATUSES]
    soonest = min(
        open_trials,
        key=lambda t: (t.ends_at is None, t.ends_at or now),
        default=None,
    )
    services = sorted({s.service for t in open_trials for s in t.open_services()})
    full_admin = next((a.email for a in org.admins if a.full), None)
    return CustomerSummary(
        id=cu.id,
        org_id=org.id,
        name=org.name,
        admin_email=full_admin,
        country=org.country,
        region=region_view(ctx.catalog, org.region),
        state=cu.state,
        access=cu.access,
        status=soonest.status if soonest else None,
        status_label=TrialStatus(soonest.status).label if soonest else None,
        ends_at=soonest.ends_at if soonest else None,
        days_left=soonest.days_left(now)
        if soonest and soonest.status == TrialStatus.ACTIVE
        else None,
        services=services,
        trial_ids=[t.id for t in row.trials],
    )
