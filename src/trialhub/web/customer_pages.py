"""The customer list, the portal's home: the same use case as `GET /v1/customers`
(rules P2, P3, A1), with its filters, search and keyset pages as links."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from trialhub.domain.errors import Forbidden, ValidationFailed
from trialhub.domain.states import TrialStatus
from trialhub.services import customers
from trialhub.services.customers.schemas import CustomerPage
from trialhub.web.portal import Signed, ctx_of, home_for, render

router = APIRouter(include_in_schema=False)

# the filter's choices in the seed's words (rule K4); "none": no open trial (paid only, A1)
STATUS_CHOICES = [(s.value, s.label) for s in TrialStatus] + [("none", "No open trial")]
# previous pages are the cursors walked so far, carried in the link (the list is a keyset
# walk forwards); past this many the trail restarts from the first page
TRAIL_MAX = 20
# what the list says after an action that leaves it (Post/Redirect/Get: `?done=<action>`)
DONE = {"cancelled": "The trial request was cancelled; the customer left your list (rule K5)."}


@router.get("/customers")
def customer_list(
    request: Request,
    signed: Signed,
    status: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    trail: Annotated[list[str] | None, Query(max_length=TRAIL_MAX)] = None,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    ctx = ctx_of(request)
    status = status or None
    error = None
    page = CustomerPage(items=[])
    try:
        page = customers.list_customers(
            ctx, signed.actor, status=status, text=q, cursor=cursor or None
        )
    except ValidationFailed as e:
        error = "; ".join(f.message for f in e.errors) or e.message
    except Forbidden as e:
        error = e.message
    elsewhere = None if signed.actor.is_partner_admin else home_for(signed.actor)
    walked = list(trail or [])
    filters = {k: v for k, v in (("status", status), ("q", q)) if v}
    return render(
        request,
        "customers.html",
        page=page,
        error=error,
        status=status or "",
        q=q or "",
        choices=STATUS_CHOICES,
        flash=DONE.get(done),
        elsewhere=elsewhere,  # the trials team has no customer list: where its work is
        services=ctx.catalog.services,
        next_link=_link(filters, page.next_cursor, [*walked, cursor or ""])
        if page.next_cursor
        else None,
        previous_link=_link(filters, walked[-1] or None, walked[:-1]) if walked else None,
    )


def _link(filters: dict[str, str], cursor: str | None, trail: list[str]) -> str:
    params: list[tuple[str, str]] = list(filters.items())
    if cursor:
        params.append(("cursor", cursor))
    params.extend(("trail", c) for c in trail[-TRAIL_MAX:])
    return "/customers?" + urlencode(params) if params else "/customers"
