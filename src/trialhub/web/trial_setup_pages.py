"""After the wizard: adding a trial to a customer of the list ("+" next to Trials, rules A1,
S3), the page a saved trial lands on, and provisioning a trial "Awaiting provisioning
details" (rule T1). The same use cases as `POST /v1/trials` (with `customer_id`),
`GET /v1/trials/{id}` and `POST /v1/trials/{id}/provision`."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from trialhub.domain.errors import FieldError, TrialhubError, ValidationFailed
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus
from trialhub.services import customers, trials
from trialhub.services.kernel import require_partner
from trialhub.services.trials.schemas import ProvisionTrial
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, render
from trialhub.web.wizard_draft import Draft
from trialhub.web.wizard_once import start_once
from trialhub.web.wizard_pages import Errors, form_values

router = APIRouter(include_in_schema=False)
Done = Annotated[str, Query(max_length=20, description="which notice the page shows")]
Note = Annotated[str, Form(max_length=2000)]

# what the landing page says after each kind of action (never text from the request)
NOTICES = {
    "started": "The trial was saved.",
    "requested": "The trial request was sent.",  # an existing organization: consent first
    "provisioned": "Provisioning is complete: the trial is active.",
}


@router.get("/customers/{customer_id}/trials/new")
def add_trial_form(request: Request, signed: Signed, customer_id: str) -> Response:
    require_partner(signed.actor, Action.START_TRIAL)  # rules P1, P2: the use case's check
    draft = Draft(customer_id=customer_id)
    return _add_page(request, signed, draft)


@router.post("/customers/{customer_id}/trials/new", dependencies=[CsrfChecked])
async def add_trial(request: Request, signed: Signed, customer_id: str) -> Response:
    form = await request.form()
    draft = Draft.from_form(form, ctx_of(request).catalog)
    draft.customer_id = customer_id
    answer: Response = await run_in_threadpool(_add, request, signed, draft)
    return answer


def _add(request: Request, signed: Signed, draft: Draft) -> Response:
    ctx = ctx_of(request)
    try:
        trial_id = start_once(ctx, signed.actor, draft)
    except ValidationFailed as error:
        return _add_page(request, signed, draft, error.errors or [FieldError("", error.message)])
    return RedirectResponse(f"/trials/{trial_id}/started?done=started", status_code=303)


def _add_page(request: Request, signed: Signed, draft: Draft, errors: Errors = None) -> Response:
    """The customer, its purchased services and who manages each, and the services it may
    trial, each unavailable one with its reason (rules A1, S3)."""
    ctx = ctx_of(request)
    draft.idempotency_key = draft.idempotency_key or secrets.token_urlsafe(24)  # kept on errors
    detail = customers.get_customer(ctx, signed.actor, draft.customer_id)  # 404: rule P3
    eligible = {s.code: s for s in detail.eligible_services}
    return render(
        request,
        "wizard_add.html",
        detail=detail,
        eligible=eligible,
        preview=None,
        region=detail.organization.region.name,
        **form_values(request, draft, errors),
    )


@router.get("/trials/{trial_id}/started")
def trial_started(request: Request, signed: Signed, trial_id: str, done: Done = "") -> Response:
    """Where a saved trial lands (Post/Redirect/Get): its status and what comes next."""
    ctx = ctx_of(request)
    trial = trials.get_trial(ctx, signed.actor, trial_id)  # 404 for another partner's: P3
    codes = [s.code for s in trial.services if s.removed_at is None]
    return render(
        request,
        "wizard_done.html",
        trial=trial,
        notice=NOTICES.get(done)
        or NOTICES["requested" if trial.status == TrialStatus.PENDING_CONSENT else "started"],
        awaiting=trial.status == TrialStatus.AWAITING_PROVISIONING,
        offers_devices=ctx.catalog.offers_devices(codes),
        services=ctx.catalog.services,
    )


@router.get("/trials/{trial_id}/provision")
def provision_form(request: Request, signed: Signed, trial_id: str) -> Response:
    require_partner(signed.actor, Action.EDIT_TRIAL)  # rule P2: provisioning edits the trial
    return _provision_page(request, signed, trial_id)


@router.post("/trials/{trial_id}/provision", dependencies=[CsrfChecked])
def provision(request: Request, signed: Signed, trial_id: str, note: Note = "") -> Response:
    ctx = ctx_of(request)
    try:
        cmd = ProvisionTrial(note=note.strip() or None)
        trials.provision_trial(ctx, signed.actor, trial_id, cmd)
    except ValidationFailed as error:
        found = error.errors or [FieldError("", error.message, error.rule)]
        return _provision_page(request, signed, trial_id, note, found, 422)
    except TrialhubError as error:
        if error.code != "invalid_transition":
            raise  # 403 for a role that may not (rule P2), 404 for others' trials (P3)
        found = [FieldError("", error.message, error.rule)]
        return _provision_page(request, signed, trial_id, note, found, 409)
    return RedirectResponse(f"/trials/{trial_id}/started?done=provisioned", status_code=303)


def _provision_page(
    request: Request,
    signed: Signed,
    trial_id: str,
    note: str = "",
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = ctx_of(request)
    trial = trials.get_trial(ctx, signed.actor, trial_id)
    values: dict[str, Any] = {
        "note": note,
        "error_list": errors or [],
        "services": ctx.catalog.services,
    }
    return render(
        request,
        "wizard_provision.html",
        status_code=status_code,
        trial=trial,
        awaiting=trial.status == TrialStatus.AWAITING_PROVISIONING,
        **values,
    )
