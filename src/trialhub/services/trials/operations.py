"""What a partner does with a trial after the start: provision, change services, extend,
delete, read the timeline, and set up users with full-admin access (rules T1, S4, T3, T9, K3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from trialhub.catalog import Catalog
from trialhub.domain.errors import (
    ErrorCollector,
    InvalidTransition,
    IrreversibleLapse,
    ValidationFailed,
)
from trialhub.domain.model import (
    MeetingsSite,
    Trial,
    TrialService,
    new_id,
)
from trialhub.domain.roles import Action
from trialhub.domain.states import TrialStatus, transition
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.trials.creation import check_eligible, check_site_free, org_of, provision
from trialhub.services.trials.form import validate_services
from trialhub.services.trials.schemas import (
    ChangeServices,
    ExtendTrial,
    ProvisionTrial,
    StartTrial,
    TrialView,
)
from trialhub.services.trials.views import trial_view
from trialhub.store.uow import UnitOfWork


def provision_trial(ctx: Context, actor: Actor, trial_id: str, cmd: ProvisionTrial) -> TrialView:
    """awaiting_provisioning -> active (rules K4, T1). Provisioning-admin access suffices (K3)."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        if trial.status != TrialStatus.AWAITING_PROVISIONING:
            raise InvalidTransition(
                f"Only a trial awaiting provisioning can be provisioned; this one is "
                f"{TrialStatus(trial.status).label.lower()}.",
                rule="K4",
            )
        provision(uow, trial, now)
        if cmd.note:
            trial.event("trial.provision_note", now, note=cmd.note)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def change_services(ctx: Context, actor: Actor, trial_id: str, cmd: ChangeServices) -> TrialView:
    """Rule S4: add services (subject to S3) or remove them; never remove the last one."""
    now = ctx.now()
    errors = ErrorCollector()
    if not cmd.add and not cmd.remove:
        errors.add("add", "Name services to add or to remove.", "S4")
        errors.raise_if_any()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        _require_lapse_free(trial)
        if trial.status not in (TrialStatus.ACTIVE, TrialStatus.AWAITING_PROVISIONING):
            raise InvalidTransition(
                "Services can be changed only while the trial is active (or awaiting "
                "provisioning).",
                rule="S4",
            )
        current = {s.service: s for s in trial.open_services()}
        for i, code in enumerate(cmd.remove):
            if code not in current:
                errors.add(f"remove[{i}]", f"{code!r} is not a service of this trial.", "S4")
        clashes = set(cmd.remove) & {c.code for c in cmd.add}
        if clashes:
            errors.add("add", f"{', '.join(sorted(clashes))}: both added and removed.", "S4")
        remaining = set(current) - set(cmd.remove)
        if cmd.remove and not remaining and not cmd.add:
            errors.add(
                "remove",
                "A trial must keep at least one service; cancel or delete the trial instead.",
                "S4",
            )
        licenses = cmd.user_licenses if cmd.user_licenses is not None else trial.user_licenses
        form = validate_services(
            ctx.catalog,
            ctx.policy,
            StartTrial(
                services=cmd.add,
                user_licenses=licenses if _adds_user_service(ctx, cmd) else None,
                meetings=cmd.meetings,
                duration_days=trial.duration_days,
            ),
            errors,
            require_services=False,
            services_field="add",
        )
        for i, chosen in enumerate(form.services):
            if chosen.definition.code in current:
                errors.add(
                    f"add[{i}].code", f"{chosen.definition.name} is already in the trial.", "S4"
                )
        org = org_of(uow, trial.org_id)
        assert actor.partner_id is not None or actor.is_operator
        check_eligible(uow, trial.partner_id, org, form, errors, field="add")
        check_site_free(uow, form, errors)
        errors.raise_if_any()
        for code in cmd.remove:
            service = current[code]
            service.removed_at = now
            service.is_open = False  # rule S3: the service is free for others again
            if code == "meetings" and trial.site is not None and trial.site.released_at is None:
                trial.site.released_at = now
        for chosen in form.services:
            trial.services.append(
                TrialService(
                    id=new_id("tsv"),
                    trial_id=trial.id,
                    org_id=trial.org_id,
                    service=chosen.definition.code,
                    edition=chosen.edition,
                    quantity=chosen.quantity,
                    is_open=True,
                    added_at=now,
                )
            )
        if form.user_licenses and not trial.user_licenses:
            trial.user_licenses = form.user_licenses
        if form.site_name and form.time_zone:
            _reserve_site(uow, trial, form.site_name, form.time_zone, now)
        trial.updated_at = now
        trial.event("trial.services_changed", now, added=form.codes, removed=list(cmd.remove))
        uow.flush()  # a concurrent S3 winner elsewhere surfaces here as a rule error
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def _adds_user_service(ctx: Context, cmd: ChangeServices) -> bool:
    return any(
        (d := ctx.catalog.services.get(c.code)) is not None and d.license_kind == "user"
        for c in cmd.add
    )


def _reserve_site(uow: UnitOfWork, trial: Trial, name: str, time_zone: str, now: datetime) -> None:
    if trial.site is not None:
        # one site row per trial: a re-added Meetings takes the (new) name again
        trial.site.name = name
        trial.site.time_zone = time_zone
        trial.site.reserved_at = now
        trial.site.released_at = None
        return
    trial.site = MeetingsSite(
        id=new_id("site"),
        name=name,
        org_id=trial.org_id,
        trial_id=trial.id,
        time_zone=time_zone,
        reserved_at=now,
    )


def extend_trial(ctx: Context, actor: Actor, trial_id: str, cmd: ExtendTrial) -> TrialView:
    """Rule T3: the new end is max(current end, now) + 30 days; every extension is recorded."""
    now = ctx.now()
    policy = ctx.policy
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        _require_lapse_free(trial)
        status = TrialStatus(trial.status)
        if status not in (TrialStatus.ACTIVE, TrialStatus.EXPIRED) or trial.ends_at is None:
            raise InvalidTransition(
                f"Only an active trial or one in its grace period can be extended; this one is "
                f"{status.label.lower()}.",
                rule="T3",
            )
        if has_device_services(ctx.catalog, trial):
            raise ValidationFailed(
                "Device services are extended by the trials team, at most 120 days from the "
                "start: file a device extension request instead "
                f"(POST /v1/trials/{trial.id}/device-extension-requests).",
                field="trial",
                rule="D6",
                code="device_extension_required",
            )
        if policy.max_extensions is not None and len(trial.extensions) >= policy.max_extensions:
            raise ValidationFailed(
                f"This trial was already extended {len(trial.extensions)} times, the most allowed.",
                field="trial",
                rule="T3",
            )
        previous = trial.ends_at
        new_end = max(previous, now) + timedelta(days=policy.extension_days)
        if policy.max_total_days is not None and trial.starts_at is not None:
            cap = trial.starts_at + timedelta(days=policy.max_total_days)
            if new_end > cap:
                raise ValidationFailed(
                    f"A trial may last at most {policy.max_total_days} days in all.",
                    field="trial",
                    rule="T3",
                )
        trial.extend_to(new_end, now, admin_id=actor.admin_id, reason=cmd.reason, rule="T3")
        if status is TrialStatus.EXPIRED:
            transition(trial, TrialStatus.ACTIVE, now, reason="extended in grace period")
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def delete_trial(ctx: Context, actor: Actor, trial_id: str, *, confirm: bool) -> TrialView:
    """Rule T9: with explicit confirmation the trial ends at once and releases what it held;
    Calling numbers are kept 15 days first."""
    now = ctx.now()
    if not confirm:
        raise ValidationFailed(
            "Deleting a trial ends it at once and cannot be undone; repeat with confirm=true.",
            field="confirm",
            rule="T9",
        )
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        _require_lapse_free(trial)
        if trial.status == TrialStatus.PENDING_CONSENT:
            raise InvalidTransition(
                "A request pending customer consent is cancelled, not deleted.", rule="K5"
            )
        keeps_numbers = _keeps_numbers(ctx, trial)
        transition(trial, TrialStatus.DELETED, now)
        for service in trial.services:
            if service.removed_at is None:
                service.removed_at = now
        if trial.site is not None and trial.site.released_at is None:
            trial.site.released_at = now  # rule S2: the site name is free again
        if keeps_numbers:
            trial.numbers_release_at = now + ctx.policy.number_retention
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def has_device_services(catalog: Catalog, trial: Trial) -> bool:
    """Rule T3: device services follow D5 and D6 instead of the 30-day extension."""
    return any(
        (d := catalog.services.get(s.service)) is not None and d.license_kind == "device"
        for s in trial.open_services()
    )


def _keeps_numbers(ctx: Context, trial: Trial) -> bool:
    return any(
        (d := ctx.catalog.services.get(s.service)) is not None and d.keeps_numbers
        for s in trial.open_services()
    )


def _require_lapse_free(trial: Trial) -> None:
    if trial.status == TrialStatus.LAPSED:
        raise IrreversibleLapse(
            "The trial lapsed after its grace period: its users moved to the free organization "
            "and what it held was released. This cannot be reversed.",
            rule="T7",
        )
