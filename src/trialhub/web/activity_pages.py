"""Activity: the partner's audit log as a feed, newest first, of one customer and one kind
of action, a page at a time (rule E1): the same use case as `GET /v1/activity`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from trialhub.domain.errors import TrialhubError
from trialhub.services import customers
from trialhub.services.customers.schemas import EventPage
from trialhub.web.portal import Signed, ctx_of, render

router = APIRouter(include_in_schema=False)


@router.get("/activity")
def activity(
    request: Request,
    signed: Signed,
    customer: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> Response:
    filters = {k: v for k, v in (("customer", customer), ("kind", kind)) if v}
    page, error = EventPage(items=[]), None
    try:
        page = customers.activity(
            ctx_of(request),
            signed.actor,
            before=before,
            customer_id=customer or None,
            kind=kind or None,
        )
    except TrialhubError as e:
        error = "; ".join(f.message for f in e.errors) or e.message
    older = urlencode({**filters, "before": page.next_cursor}) if page.next_cursor else None
    return render(
        request,
        "activity.html",
        page=page,
        error=error,
        kinds=customers.ACTIVITY_KINDS,
        kind=kind or "",
        customer=customer or "",
        older_link=f"/activity?{older}" if older else None,
        newest_link=f"/activity?{urlencode(filters)}" if before else None,
    )
