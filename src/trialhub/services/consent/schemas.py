"""Commands and views of the customer's consent page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from trialhub.services.kernel.fields import Rule
from trialhub.services.kernel.schemas import Command, View


class ConsentDecision(Command):
    rule = "K2"
    decision: Literal["accept", "decline"]
    grant_full_admin: Annotated[bool, Rule("K3")] = Field(
        default=True,
        description="Rule K3: full administrator access for the partner; false: provisioning only",
    )


class PendingRequestView(View):
    trial_id: str
    partner_name: str
    services: list[str]
    expires_at: datetime | None = None


class ConsentView(View):
    trial_id: str
    status: str
    status_label: str
    organization: str
    partner_name: str
    recipient_email: str
    recipient_is_full_admin: bool
    services: list[str]
    expires_at: datetime | None = None
    decision: str | None = None
    pending_requests: list[PendingRequestView] = Field(default_factory=list)
