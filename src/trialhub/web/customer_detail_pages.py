"""The customer page: company, region, purchased services with their managing partner
(rule A1), the trials with their status, days left and timeline (the use cases behind
`GET /v1/customers/{id}` and `GET /v1/trials/{id}/timeline`), the actions each role may take
(rule P2), and assigning the customer to administrators or removing an assignment."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from trialhub.domain.conversion import OrderStatus
from trialhub.domain.errors import (
    Conflict,
    ConsentUnavailable,
    FieldError,
    InvalidTransition,
    IrreversibleLapse,
    NotFound,
    TrialhubError,
    ValidationFailed,
)
from trialhub.services import conversion, customers, trials
from trialhub.services.conversion.schemas import OrderView
from trialhub.services.customers.schemas import CustomerDetail
from trialhub.services.trials.schemas import TimelineView
from trialhub.web.portal import CsrfChecked, Signed, can, ctx_of, render

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

# the errors a form shows next to its field; Forbidden and NotFound stay pages (403, 404)
FormErrors = (ValidationFailed, Conflict, InvalidTransition, ConsentUnavailable, IrreversibleLapse)

# what the page says after an action (Post/Redirect/Get: `?done=<action>`)
DONE = {
    "extended": "The trial was extended.",
    "resent": "The consent request was sent again.",
    "deleted": "The trial was deleted.",
    "services": "The trial's services were changed.",
    "converted": "The trial was converted to a paid order.",
    "requested": "Conversion requested: the order is requested until your distributor "
    "processes it.",
    "assigned": "The customer was assigned.",
    "unassigned": "The assignment was removed.",
}


def field_errors(error: TrialhubError) -> dict[str, str]:
    """The error's messages by field (its own message under "" when it names none), with
    the rule they come from."""
    out: dict[str, str] = {}
    found = error.errors or []
    for e in found:
        text = f"{e.message} (rule {e.rule})" if e.rule else e.message
        out.setdefault(e.field or "", text)
    if not found:
        out[error.field or ""] = (
            f"{error.message} (rule {error.rule})" if error.rule else error.message
        )
    return out


def parse(model: type[M], body: dict[str, Any]) -> M:
    """The command the API would read from the same body; its errors as the API's."""
    try:
        return model.model_validate(body)
    except PydanticError as e:
        raise ValidationFailed(
            "Check the fields marked.",
            errors=[
                FieldError(".".join(str(p) for p in err["loc"]), err["msg"]) for err in e.errors()
            ],
        ) from None


def customer_page(
    request: Request, signed: Signed, customer_id: str, *, status_code: int = 200, **extra: Any
) -> Response:
    """The customer page, with `extra` (an action's errors, keyed by trial and field)."""
    ctx, actor = ctx_of(request), signed.actor
    detail = customers.get_customer(ctx, actor, customer_id)
    timelines = {t.trial_id: t for t in trials.customer_timelines(ctx, actor, customer_id)}
    admins = customers.assignable_admins(ctx, actor) if can(actor, "manage_admins") else []
    done = request.query_params.get("done")
    device_trials = {
        t.id
        for t in detail.trials
        if ctx.catalog.has_device_service(s.code for s in t.services if s.removed_at is None)
    }
    return render(
        request,
        "customer.html",
        status_code=status_code,
        c=detail,
        org=detail.organization,
        timelines=timelines,
        admins=admins,
        assigned={a.id: a for a in admins if a.id in detail.assigned_admin_ids},
        services=ctx.catalog.services,
        countries=ctx.catalog.countries,
        device_trials=device_trials,
        conversion_requests=_waiting_requests(request, signed, detail, timelines),
        tier=actor.partner_tier,
        flash=DONE.get(done or ""),
        trial_errors=extra.pop("trial_errors", {}),
        **extra,
    )


# the trial statuses a conversion may be requested in (rule V4)
CONVERTIBLE = ("active", "expired")


def _waiting_requests(
    request: Request, signed: Signed, detail: CustomerDetail, timelines: dict[str, TimelineView]
) -> dict[str, tuple[OrderView, str | None]]:
    """Each convertible trial's conversion request waiting for the distributor (rule V1: one
    at a time), with who filed it (the label of its `order.created` event, if shown)."""
    out: dict[str, tuple[OrderView, str | None]] = {}
    for t in detail.trials:
        events = timelines[t.id].events if t.id in timelines else []
        # a trial without an order in its log (rule E1) is not asked: the page's cost
        # grows only with the trials that have orders
        if t.status not in CONVERTIBLE or not any(e.subject_type == "order" for e in events):
            continue
        waiting = conversion.list_orders(
            ctx_of(request), signed.actor, status=OrderStatus.REQUESTED.value, trial_id=t.id
        ).items
        if waiting:
            order = waiting[-1]
            by = next((e.actor_label for e in events if e.subject_id == order.id), None)
            out[t.id] = (order, by)
    return out


@router.get("/customers/{customer_id}")
def customer_detail(request: Request, signed: Signed, customer_id: str) -> Response:
    return customer_page(request, signed, customer_id)


@router.post("/customers/{customer_id}/assignments", dependencies=[CsrfChecked])
def assign(
    request: Request,
    signed: Signed,
    customer_id: str,
    admin_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Rule P2: a full administrator assigns the customer to one of its administrators."""
    try:
        customers.assign_customer(ctx_of(request), signed.actor, customer_id, admin_id)
    except (*FormErrors, NotFound) as e:
        if isinstance(e, NotFound) and e.field != "admin_id":
            raise
        return customer_page(
            request, signed, customer_id, status_code=422, assign_error=field_errors(e)["admin_id"]
        )
    return done_redirect(customer_id, "assigned")


@router.post("/customers/{customer_id}/assignments/{admin_id}/remove", dependencies=[CsrfChecked])
def unassign(request: Request, signed: Signed, customer_id: str, admin_id: str) -> Response:
    """Rule P2: a full administrator removes an assignment (the use case behind `DELETE
    /v1/customers/{id}/assignments/{admin_id}`); 403 for a role that may not."""
    customers.unassign_customer(ctx_of(request), signed.actor, customer_id, admin_id)
    return done_redirect(customer_id, "unassigned", "assign-head")


def done_redirect(customer_id: str, done: str, anchor: str = "") -> Response:
    target = f"/customers/{customer_id}?done={done}" + (f"#{anchor}" if anchor else "")
    return RedirectResponse(target, status_code=303)
