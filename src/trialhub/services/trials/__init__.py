"""Starting trials and running them: the form, the three ways a trial starts, operations,
the timeline and the trial's deadlines."""

from __future__ import annotations

from trialhub.services.trials.catalog_view import CatalogOut, catalog_view
from trialhub.services.trials.history import customer_timelines, timeline
from trialhub.services.trials.operations import (
    change_services,
    delete_trial,
    extend_trial,
    provision_trial,
)
from trialhub.services.trials.requests import cancel, resend
from trialhub.services.trials.schedule import schedule_hook
from trialhub.services.trials.start import get_trial, preview_trial, start_trial

__all__ = [
    "CatalogOut",
    "cancel",
    "catalog_view",
    "change_services",
    "customer_timelines",
    "delete_trial",
    "extend_trial",
    "get_trial",
    "preview_trial",
    "provision_trial",
    "resend",
    "schedule_hook",
    "start_trial",
    "timeline",
]
