"""The trial's two forms of their own: edit services (rule S4, with the reason each service
cannot be chosen, S3) and convert, or request conversion (rules V1-V5). Each re-renders
with the error next to its field, keeping what was typed."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from trialhub.domain.conversion import OrderStatus
from trialhub.services import conversion, customers, trials
from trialhub.services.conversion.schemas import ConvertTrial
from trialhub.services.trials.schemas import ChangeServices, TrialView
from trialhub.web.customer_detail_pages import FormErrors, done_redirect, field_errors, parse
from trialhub.web.portal import CsrfChecked, Signed, ctx_of, render

router = APIRouter(include_in_schema=False)

_INDEXED = re.compile(r"^(add|services)[.\[](\d+)\]?(?:\.\w+)?$")


def _number(form: FormData, name: str) -> int | None:
    raw = form.get(name)
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError:
        return -1  # out of every range: the use case names the rule


def _text(form: FormData, name: str) -> str:
    raw = form.get(name)
    return raw.strip() if isinstance(raw, str) else ""


def _by_code(errors: dict[str, str], codes: list[str]) -> dict[str, str]:
    """`add[1].edition` is shown next to the second chosen service: keyed by its code."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        found = _INDEXED.match(field)
        if found and int(found.group(2)) < len(codes):
            out.setdefault(f"{found.group(1)}.{codes[int(found.group(2))]}", message)
        else:
            out.setdefault(field, message)
    return out


# ---- edit services -------------------------------------------------------------------------


def _services_page(
    request: Request, signed: Signed, trial: TrialView, *, status_code: int = 200, **kw: Any
) -> Response:
    ctx = ctx_of(request)
    detail = customers.get_customer(ctx, signed.actor, trial.customer_id)
    current = {s.code for s in trial.services if s.removed_at is None}
    return render(
        request,
        "trial_services.html",
        status_code=status_code,
        trial=trial,
        current=current,
        choices=[e for e in detail.eligible_services if e.code not in current],
        catalog=ctx.catalog,
        form=kw.pop("form", None),
        errors=kw.pop("errors", {}),
    )


@router.get("/trials/{trial_id}/services")
def services_form(request: Request, signed: Signed, trial_id: str) -> Response:
    return _services_page(
        request, signed, trials.get_trial(ctx_of(request), signed.actor, trial_id)
    )


@router.post("/trials/{trial_id}/services", dependencies=[CsrfChecked])
async def change_services(request: Request, signed: Signed, trial_id: str) -> Response:
    """Rule S4: add services (subject to S3) or remove them; never the last one. The
    fields' names carry the service codes: the whole form is read."""
    return await run_in_threadpool(
        _change_services, request, signed, trial_id, await request.form()
    )


def _change_services(request: Request, signed: Signed, trial_id: str, form: FormData) -> Response:
    added = [c for c in form.getlist("add") if isinstance(c, str)]
    site = {"site_url": _text(form, "site_url"), "time_zone": _text(form, "time_zone")}
    body = {
        "add": [
            {
                "code": code,
                "edition": _text(form, f"edition_{code}") or None,
                "quantity": _number(form, f"quantity_{code}"),
            }
            for code in added
        ],
        "remove": [c for c in form.getlist("remove") if isinstance(c, str)],
        "user_licenses": _number(form, "user_licenses"),
        "meetings": site if any(site.values()) else None,
    }
    ctx = ctx_of(request)
    try:
        cmd = parse(ChangeServices, body)
        trial = trials.change_services(ctx, signed.actor, trial_id, cmd)
    except FormErrors as e:
        trial = trials.get_trial(ctx, signed.actor, trial_id)
        errors = _by_code(field_errors(e), added)
        return _services_page(request, signed, trial, status_code=422, form=form, errors=errors)
    return done_redirect(trial.customer_id, "services", f"trial-{trial_id}")


# ---- convert ---------------------------------------------------------------------------------


def _convert_page(
    request: Request, signed: Signed, trial: TrialView, *, status_code: int = 200, **kw: Any
) -> Response:
    return render(
        request,
        "trial_convert.html",
        status_code=status_code,
        trial=trial,
        direct=(signed.actor.partner_tier or 0) == 1,
        form=kw.pop("form", None),
        errors=kw.pop("errors", {}),
        waiting=kw.pop("waiting", None),
    )


@router.get("/trials/{trial_id}/convert")
def convert_form(request: Request, signed: Signed, trial_id: str) -> Response:
    """The form, or the request already waiting for the distributor (rule V1: one at a
    time), which the form would only be refused again for."""
    ctx = ctx_of(request)
    trial = trials.get_trial(ctx, signed.actor, trial_id)
    waiting = conversion.list_orders(
        ctx, signed.actor, status=OrderStatus.REQUESTED.value, trial_id=trial_id
    ).items
    return _convert_page(request, signed, trial, waiting=waiting[-1] if waiting else None)


@router.post("/trials/{trial_id}/convert", dependencies=[CsrfChecked])
async def convert(request: Request, signed: Signed, trial_id: str) -> Response:
    """Rule V1: tier 1 converts at once; tier 2 requests it of its distributor."""
    return await run_in_threadpool(_convert, request, signed, trial_id, await request.form())


def _convert(request: Request, signed: Signed, trial_id: str, form: FormData) -> Response:
    codes = [c for c in form.getlist("services") if isinstance(c, str)]
    body = {
        "services": [{"code": c, "quantity": _number(form, f"quantity_{c}")} for c in codes],
        "provisioning_email": _text(form, "provisioning_email"),
        "confirm_new_organization": form.get("confirm_new_organization") == "yes",
        "confirm_lost_services": form.get("confirm_lost_services") == "yes",
    }
    ctx = ctx_of(request)
    try:
        order = conversion.convert_trial(ctx, signed.actor, trial_id, parse(ConvertTrial, body))
    except FormErrors as e:
        trial = trials.get_trial(ctx, signed.actor, trial_id)
        errors = _by_code(field_errors(e), codes)
        return _convert_page(request, signed, trial, status_code=422, form=form, errors=errors)
    trial = trials.get_trial(ctx, signed.actor, trial_id)
    done = "converted" if order.status == OrderStatus.COMPLETED else "requested"
    return done_redirect(trial.customer_id, done, f"trial-{trial_id}")
