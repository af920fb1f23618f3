"""What a partner does with one trial from the customer page: extend it, resend or cancel
its consent request, delete it (a confirmation dialog, or this page without script), each
through the same use case as the API (rules T3, K5, T9); a domain error is shown in the
trial's card next to the action, in the rule's words."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from trialhub.domain.errors import TrialhubError
from trialhub.services import trials
from trialhub.services.trials.schemas import ExtendTrial, TrialView
from trialhub.web.customer_detail_pages import (
    FormErrors,
    customer_page,
    done_redirect,
    field_errors,
    parse,
)
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, render

router = APIRouter(include_in_schema=False)

Reason = Annotated[str, Form(max_length=5000)]  # the command says how long it may be


def _in_card(
    request: Request, signed: Signed, trial_id: str, action: str, e: TrialhubError
) -> Response:
    """The customer page again, the error in the trial's card next to the action's form."""
    trial = trials.get_trial(ctx_of(request), signed.actor, trial_id)
    errors = {trial_id: {action: " ".join(field_errors(e).values())}}
    return customer_page(request, signed, trial.customer_id, status_code=422, trial_errors=errors)


def _act(
    request: Request,
    signed: Signed,
    trial_id: str,
    action: str,
    run: Callable[[], TrialView],
    done: str | None,
) -> Response:
    """Runs the use case; back to the customer page (or the list, `done` None) on success,
    its error in the trial's card next to the action's form otherwise."""
    try:
        trial = run()
    except FormErrors as e:
        return _in_card(request, signed, trial_id, action, e)
    if done is None:  # the customer left the list (rule K5): the list says so
        return RedirectResponse("/customers?done=cancelled", status_code=303)
    return done_redirect(trial.customer_id, done, f"trial-{trial_id}")


@router.post("/trials/{trial_id}/extend", dependencies=[CsrfChecked])
def extend(request: Request, signed: Signed, trial_id: str, reason: Reason = "") -> Response:
    """Rule T3: extend by the policy's extension."""
    ctx = ctx_of(request)
    return _act(
        request,
        signed,
        trial_id,
        "extend",
        lambda: trials.extend_trial(
            ctx, signed.actor, trial_id, parse(ExtendTrial, {"reason": reason.strip() or None})
        ),
        "extended",
    )


@router.post("/trials/{trial_id}/resend", dependencies=[CsrfChecked])
def resend(request: Request, signed: Signed, trial_id: str) -> Response:
    """Rule K5: new consent links to the same people."""
    run = partial(trials.resend, ctx_of(request), signed.actor, trial_id)
    return _act(request, signed, trial_id, "resend", run, "resent")


@router.post("/trials/{trial_id}/cancel", dependencies=[CsrfChecked])
def cancel(request: Request, signed: Signed, trial_id: str) -> Response:
    """Rule K5: cancel a request pending consent; the customer leaves the list."""
    run = partial(trials.cancel, ctx_of(request), signed.actor, trial_id)
    return _act(request, signed, trial_id, "cancel", run, None)


@router.get("/trials/{trial_id}/delete")
def delete_page(request: Request, signed: Signed, trial_id: str) -> Response:
    """The confirmation without script: the same question the dialog asks (rule T9)."""
    trial = trials.get_trial(ctx_of(request), signed.actor, trial_id)
    return render(
        request, "trial_delete.html", trial=trial, services=ctx_of(request).catalog.services
    )


@router.post("/trials/{trial_id}/delete", dependencies=[CsrfChecked])
def delete(
    request: Request, signed: Signed, trial_id: str, confirm: Annotated[str, Form()] = ""
) -> Response:
    """Rule T9: "Click the trash icon. Click Yes." — deleted only when confirmed."""
    ctx, yes = ctx_of(request), confirm == "yes"
    run = partial(trials.delete_trial, ctx, signed.actor, trial_id, confirm=yes)
    return _act(request, signed, trial_id, "delete", run, "deleted")
