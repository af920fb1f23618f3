"""The view of a trial: status label, services, dates and days left."""

from __future__ import annotations

from datetime import datetime

from trialhub.catalog import Catalog
from trialhub.domain.states import TrialStatus
from trialhub.domain.trial import Trial
from trialhub.services.kernel.views import service_name, view_of
from trialhub.services.trials.schemas import ExtensionView, SiteView, TrialServiceView, TrialView


def trial_view(catalog: Catalog, trial: Trial, now: datetime) -> TrialView:
    status = TrialStatus(trial.status)
    return view_of(
        TrialView,
        trial,
        status=status.value,
        status_label=status.label,
        days_left=trial.days_left(now) if status is TrialStatus.ACTIVE else None,
        services=[
            view_of(TrialServiceView, s, code=s.service, name=service_name(catalog, s.service))
            for s in trial.services
        ],
        extensions=[view_of(ExtensionView, e, by_admin_id=e.admin_id) for e in trial.extensions],
        meetings_site=(
            SiteView.model_validate(trial.site)
            if trial.site is not None and trial.site.released_at is None
            else None
        ),
    )
