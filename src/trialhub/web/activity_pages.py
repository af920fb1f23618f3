"""Activity: the partner's audit log as a feed, newest first, of one customer and one kind
of action, a page at a time (rule E1): the same use case as `GET /v1/activity`.

The customer filter is a search field, not a list of every customer: the name (or email)
typed is looked up in the customer list (the use case behind `GET /v1/customers?text=`);
one match filters the feed to it, several are offered as links to choose from. The active
filters are shown, each with a link that clears it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.domain.errors import TrialhubError
from trialhub.services import customers
from trialhub.services.customers.schemas import ActivityPage, CustomerSummary
from trialhub.web.portal import Signed, ctx_of, render

router = APIRouter(include_in_schema=False)

# how many customers a search offers to choose from; a longer list asks for a longer name
MATCHES_SHOWN = 10
Find = Annotated[str | None, Query(max_length=200, description="a customer's name or email")]


@router.get("/activity")
def activity(
    request: Request,
    signed: Signed,
    customer: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    find: Find = None,
) -> Response:
    text = (find or "").strip()
    if text:  # a name typed replaces the customer filter; an empty field keeps it
        return _find_customer(request, signed, text, kind or "")
    filters = {k: v for k, v in (("customer", customer), ("kind", kind)) if v}
    page, error = ActivityPage(items=[]), None
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
    return _page(
        request,
        page=page,
        error=error,
        kind=kind or "",
        customer=customer or "",
        older_link=f"/activity?{older}" if older else None,
        newest_link=f"/activity?{urlencode(filters)}" if before else None,
    )


def _find_customer(request: Request, signed: Signed, text: str, kind: str) -> Response:
    """One customer matches: the feed of that customer; several: links to choose one of
    them; none: the field says so (the feed waits for a customer in each case)."""
    found: list[CustomerSummary] = []
    find_error = None
    try:
        found = customers.list_customers(
            ctx_of(request), signed.actor, text=text, limit=MATCHES_SHOWN + 1
        ).items
    except TrialhubError as e:
        find_error = "; ".join(f.message for f in e.errors) or e.message
    if len(found) == 1:
        target = urlencode({"customer": found[0].id, **({"kind": kind} if kind else {})})
        return RedirectResponse(f"/activity?{target}", status_code=303)
    if not found and find_error is None:
        find_error = f"No customer in your list has a name or email containing “{text}”."
    return _page(
        request,
        page=ActivityPage(items=[]),
        kind=kind,
        find=text,
        find_error=find_error,
        matches=[
            (c, "/activity?" + urlencode({"customer": c.id, **({"kind": kind} if kind else {})}))
            for c in found[:MATCHES_SHOWN]
        ],
        more_matches=len(found) > MATCHES_SHOWN,
        choosing=True,
    )


def _page(request: Request, **values: Any) -> Response:
    kind = values.get("kind", "")
    customer_only = urlencode({"customer": values["customer"]}) if values.get("customer") else ""
    defaults: dict[str, Any] = {
        "error": None,
        "customer": "",
        "find_error": None,
        "matches": [],
        "more_matches": False,
        "choosing": False,
        "older_link": None,
        "newest_link": None,
        # the links that clear one filter and keep the other
        "clear_customer": "/activity" + (f"?{urlencode({'kind': kind})}" if kind else ""),
        "clear_kind": "/activity" + (f"?{customer_only}" if customer_only else ""),
    }
    return render(
        request, "activity.html", kinds=customers.ACTIVITY_KINDS, **{**defaults, **values}
    )
