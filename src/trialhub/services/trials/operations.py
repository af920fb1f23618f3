"""What a partner does with a trial after the start: provision, change services, extend and
delete it (rules T1, T2, S4, T3, T9); the trial itself decides, these load and save it."""

from __future__ import annotations

from trialhub.domain.errors import ErrorCollector, ValidationFailed
from trialhub.domain.roles import Action
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.trials.creation import check_eligible, check_site_free, org_of, welcome
from trialhub.services.trials.form import validate_services
from trialhub.services.trials.schemas import (
    ChangeServices,
    ExtendTrial,
    ProvisionTrial,
    StartTrial,
    TrialView,
)
from trialhub.services.trials.views import trial_view


def provision_trial(ctx: Context, actor: Actor, trial_id: str, cmd: ProvisionTrial) -> TrialView:
    """awaiting_provisioning -> active (rules K4, T1). Provisioning-admin access suffices (K3)."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        trial.provision(now)
        welcome(uow, trial, now)
        if cmd.note:
            trial.record_event("trial.provision_note", now, note=cmd.note)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def change_services(ctx: Context, actor: Actor, trial_id: str, cmd: ChangeServices) -> TrialView:
    """Rule S4: add services (subject to S3) or remove them; never remove the last one."""
    now = ctx.now()
    errors = ErrorCollector()
    if not cmd.add and not cmd.remove:
        errors.add("add", "Name services to add or to remove.", "S4")
        errors.raise_if_any()
    added = [c.code for c in cmd.add]
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        trial.require_services_changeable()
        trial.check_removals(cmd.remove, added, errors)
        licenses = cmd.user_licenses if cmd.user_licenses is not None else trial.user_licenses
        form = validate_services(
            ctx.catalog,
            ctx.policy,
            StartTrial(
                services=cmd.add,
                user_licenses=licenses if ctx.catalog.has_user_service(added) else None,
                meetings=cmd.meetings,
                duration_days=trial.duration_days,
            ),
            errors,
            require_services=False,
            services_field="add",
        )
        current = set(trial.open_service_codes())
        for i, chosen in enumerate(form.services):
            if chosen.definition.code in current:
                errors.add(
                    f"add[{i}].code", f"{chosen.definition.name} is already in the trial.", "S4"
                )
        check_eligible(uow, trial.partner_id, org_of(uow, trial.org_id), form, errors, field="add")
        check_site_free(uow, form, errors)
        errors.raise_if_any()
        trial.change_services(
            now,
            ctx.catalog,
            add=form.choices,
            remove=cmd.remove,
            user_licenses=form.user_licenses,
            site=form.site,
        )
        uow.flush()  # a concurrent S3 winner elsewhere surfaces here as a rule error
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def extend_trial(ctx: Context, actor: Actor, trial_id: str, cmd: ExtendTrial) -> TrialView:
    """Rule T3: the new end is max(current end, now) plus the policy's extension; every
    extension is recorded."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        trial.extend(now, ctx.policy, ctx.catalog, by=actor.admin_id, reason=cmd.reason)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)


def delete_trial(ctx: Context, actor: Actor, trial_id: str, *, confirm: bool) -> TrialView:
    """Rule T9: with explicit confirmation the trial ends at once and releases what it held;
    Calling numbers are kept for the policy's retention first."""
    now = ctx.now()
    if not confirm:
        raise ValidationFailed(
            "Deleting a trial ends it at once and cannot be undone; repeat with confirm=true.",
            field="confirm",
            rule="T9",
        )
    with ctx.uow(actor.scope) as uow:
        trial = load_trial(uow, actor, trial_id, Action.EDIT_TRIAL)
        trial.delete(now, ctx.policy, ctx.catalog)
        uow.commit()
        return trial_view(ctx.catalog, trial, now)
