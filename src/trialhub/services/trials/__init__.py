"""Starting trials and running them: the form, the three ways a trial starts, operations,
the timeline and the trial's deadlines."""

from __future__ import annotations

from trialhub.services.trials.history import timeline
from trialhub.services.trials.operations import (
    change_services,
    delete_trial,
    extend_trial,
    provision_trial,
)
from trialhub.services.trials.requests import cancel, resend

__all__ = [
    "cancel",
    "change_services",
    "delete_trial",
    "extend_trial",
    "provision_trial",
    "resend",
    "timeline",
]
