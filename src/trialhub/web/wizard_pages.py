"""The Start Trial wizard (`/trials/new`): customer details, the existing organization's
confirmation, services, the Meetings site, devices, review; then "Save and set up now" or
"later" (rules C1-C4, S1-S3, T1, D1). Each Next asks the same preview use case as
`POST /v1/trials/preview`; the start is the use case of `POST /v1/trials`, run once per
idempotency key issued with the review page, as the API's `Idempotency-Key` (a double click
starts one trial)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from trialhub.domain.errors import FieldError, TrialhubError, ValidationFailed
from trialhub.domain.roles import Action
from trialhub.services import trials
from trialhub.services.kernel import require_partner
from trialhub.services.trials.schemas import PreviewView
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, render
from trialhub.web.wizard_draft import STEP_TITLES, STEPS, Draft, step_of_field
from trialhub.web.wizard_once import start_once

router = APIRouter(include_in_schema=False)
Errors = list[FieldError] | None

# the seed's words for the review page's buttons, by the way the trial starts
SAVE_BUTTONS = {
    "new_customer": [("now", "Save and set up now"), ("later", "Save and set up later")],
    "existing_customer": [("later", "Send trial request")],
}


@router.get("/trials/new")
def wizard_start(request: Request, signed: Signed) -> Response:
    require_partner(signed.actor, Action.START_TRIAL)  # rules P1, P2: the use case's check
    return _step(request, signed, Draft(), "customer")


@router.get("/trials/new/region")
def wizard_region(
    request: Request, signed: Signed, country: Annotated[str, Query(max_length=8)] = ""
) -> Response:
    """The data-residency region of a country (rule C2), for htmx as the country changes."""
    return render(request, "_wizard_region.html", region=_region_name(request, country))


@router.post("/trials/new", dependencies=[CsrfChecked])
async def wizard_step(request: Request, signed: Signed) -> Response:
    require_partner(signed.actor, Action.START_TRIAL)  # Back too: nothing for other roles
    form = await request.form()
    catalog = ctx_of(request).catalog
    draft = Draft.from_form(form, catalog)
    step = str(form.get("step") or "customer")
    step = step if step in STEPS else "customer"
    if form.get("go") == "back":  # Back keeps what was typed on this step too
        return _step(request, signed, draft, draft.next_step(step, catalog, -1))
    return await _run(request, _next, request, signed, draft, step)


@router.post("/trials/new/start", dependencies=[CsrfChecked])
async def wizard_save(request: Request, signed: Signed) -> Response:
    form = await request.form()
    draft = Draft.from_form(form, ctx_of(request).catalog)
    setup = "later" if form.get("setup") == "later" else "now"
    return await _run(request, _save, request, signed, draft, setup)


async def _run(request: Request, fn: Any, *args: Any) -> Response:
    """The use cases read the database: in the thread pool, not on the event loop."""
    result: Response = await run_in_threadpool(fn, *args)
    return result


def _save(request: Request, signed: Signed, draft: Draft, setup: str) -> Response:
    ctx = ctx_of(request)
    try:
        trial_id = start_once(ctx, signed.actor, draft, setup)
    except ValidationFailed as error:
        return _back_to_owner(request, signed, draft, error)
    return RedirectResponse(f"/trials/{trial_id}/started", status_code=303)


def _back_to_owner(
    request: Request, signed: Signed, draft: Draft, error: TrialhubError
) -> Response:
    """A refused start shows its errors on the step that owns their field."""
    found = error.errors or [FieldError("", error.message, error.rule)]
    owner = min((step_of_field(e.field) for e in found), key=STEPS.index)
    return _step(request, signed, draft, owner, found)


def _next(request: Request, signed: Signed, draft: Draft, step: str) -> Response:
    """Checks this step with the preview use case; on to the next step, or back with errors."""
    ctx = ctx_of(request)
    if step == "existing" and draft.confirm_existing_org_id != draft.found_org_id:
        message = "Confirm that this is the customer organization you mean, or go Back."
        unconfirmed = FieldError("confirm_existing_org_id", message, "C3")
        return _step(request, signed, draft, step, [unconfirmed])
    try:
        view = trials.preview_trial(ctx, signed.actor, draft.command(ctx.catalog, upto=step))
    except ValidationFailed as error:
        mine = [e for e in error.errors if STEPS.index(step_of_field(e.field)) <= STEPS.index(step)]
        if mine or not error.errors:
            return _back_to_owner(request, signed, draft, error)
        view = None
    if step == "customer":
        _note_found_org(draft, view)
    return _step(request, signed, draft, draft.next_step(step, ctx.catalog, 1))


def _note_found_org(draft: Draft, view: PreviewView | None) -> None:
    """Rule C3: the email belongs to an organization: the next step shows it for confirmation."""
    org = view.existing_organization if view else None
    draft.found_org_id = org.id if org else ""
    if draft.confirm_existing_org_id != draft.found_org_id:
        draft.confirm_existing_org_id = ""  # a different email: confirm again


def _step(request: Request, me: Signed, draft: Draft, step: str, errors: Errors = None) -> Response:
    """A step of the wizard; with errors, they show next to their fields (422)."""
    ctx = ctx_of(request)
    values: dict[str, Any] = {}
    if step != "customer":
        preview = values["preview"] = _preview(request, me, draft, step)
        values["eligible"] = {s.code: s for s in preview.services} if preview else {}
    if step == "review" and not draft.idempotency_key:
        draft.idempotency_key = secrets.token_urlsafe(24)
    return render(
        request,
        "wizard.html",
        step=step,
        steps=[(s, STEP_TITLES[s]) for s in STEPS if draft.applies(s, ctx.catalog)],
        hidden=draft.hidden(step),
        region=_region_name(request, draft.country),
        save_buttons=SAVE_BUTTONS,
        **form_values(request, draft, errors),
        **values,
    )


def form_values(request: Request, draft: Draft, errors: Errors) -> dict[str, Any]:
    """What every form of the wizard's fields shows: the draft, the catalog and policy, and
    the errors, each by its field and all of them at the top (422 when there are any)."""
    ctx = ctx_of(request)
    return {
        "status_code": 422 if errors else 200,
        "draft": draft,
        "errors": errors_by_field(draft, errors or []),
        "error_list": errors or [],
        "catalog": ctx.catalog,
        "policy": ctx.policy,
    }


def _preview(request: Request, signed: Signed, draft: Draft, step: str) -> PreviewView | None:
    """What the use case says of the draft so far (region, organization, eligibility)."""
    ctx = ctx_of(request)
    upto = "customer" if step in ("existing", "services") else step
    try:
        return trials.preview_trial(ctx, signed.actor, draft.command(ctx.catalog, upto=upto))
    except TrialhubError:
        return None


def errors_by_field(draft: Draft, errors: list[FieldError]) -> dict[str, list[str]]:
    """Errors by the form field they belong to: `services[1].quantity` is the quantity of
    the second chosen service."""
    out: dict[str, list[str]] = {}
    for e in errors:
        name = e.field
        if name.startswith("services[") and "]" in name:
            index = name[len("services[") : name.index("]")]
            if index.isdigit() and int(index) < len(draft.services):
                name = f"services.{draft.services[int(index)]}"
        said = f"{e.message} (rule {e.rule})" if e.rule else e.message
        out.setdefault(name, []).append(said)
    return out


def _region_name(request: Request, country: str) -> str | None:
    """Rule C2: the region a country's data lives in, by the catalog's map."""
    catalog = ctx_of(request).catalog
    known = catalog.countries.get(country.strip().upper())
    return catalog.regions[known.region].name if known and known.supported else None
