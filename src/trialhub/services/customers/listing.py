"""Use cases that read the customer list, one customer, and the event feed (rules P2, P3)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.roles import Action, Reach
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import days_left
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
    with ctx.reader(actor.scope) as uow:
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
    open_trials = [t for t in row.trials if t.is_open]
    soonest = min(
        open_trials,
        key=lambda t: (t.ends_at is None, t.ends_at or now),
        default=None,
    )
    services = sorted({code for t in open_trials for code in t.services})
    return CustomerSummary(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        admin_email=row.admin_email,
        country=row.country,
        region=region_view(ctx.catalog, row.region),
        state=row.state,
        access=row.access,
        status=soonest.status if soonest else None,
        status_label=TrialStatus(soonest.status).label if soonest else None,
        ends_at=soonest.ends_at if soonest else None,
        days_left=days_left(soonest.ends_at, now)
        if soonest and soonest.status == TrialStatus.ACTIVE
        else None,
        services=services,
        trial_ids=[t.id for t in row.trials],
    )
