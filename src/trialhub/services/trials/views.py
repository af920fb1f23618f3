"""The view of a trial: status label, services, dates and days left."""

from __future__ import annotations

from datetime import datetime

from trialhub.catalog import Catalog
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.kernel.views import service_name
from trialhub.services.trials.schemas import ExtensionView, SiteView, TrialServiceView, TrialView


def trial_view(catalog: Catalog, trial: Trial, now: datetime) -> TrialView:
    status = TrialStatus(trial.status)
    return TrialView(
        id=trial.id,
        customer_id=trial.customer_id,
        org_id=trial.org_id,
        partner_id=trial.partner_id,
        kind=trial.kind,
        status=status.value,
        status_label=status.label,
        duration_days=trial.duration_days,
        user_licenses=trial.user_licenses,
        setup=trial.setup,
        created_at=trial.created_at,
        starts_at=trial.starts_at,
        ends_at=trial.ends_at,
        days_left=trial.days_left(now) if status is TrialStatus.ACTIVE else None,
        consent_deadline=trial.consent_deadline,
        services=[
            TrialServiceView(
                code=s.service,
                name=service_name(catalog, s.service),
                edition=s.edition,
                quantity=s.quantity,
                added_at=s.added_at,
                removed_at=s.removed_at,
            )
            for s in trial.services
        ],
        extensions=[
            ExtensionView(
                at=e.at,
                by_admin_id=e.admin_id,
                previous_end=e.previous_end,
                new_end=e.new_end,
                reason=e.reason,
            )
            for e in trial.extensions
        ],
        meetings_site=(
            SiteView(url=trial.site.url, time_zone=trial.site.time_zone)
            if trial.site is not None and trial.site.released_at is None
            else None
        ),
        created_by_admin_id=trial.created_by_admin_id,
    )
