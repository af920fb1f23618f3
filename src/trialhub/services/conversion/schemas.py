"""Commands and views of conversion orders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from trialhub.services.kernel.fields import Rule
from trialhub.services.kernel.schemas import Command, Decision, View


class OrderLineInput(Command):
    rule = "V5"
    code: str = Field(description="A service of the trial")
    quantity: Annotated[int | None, Rule("S1", "licenses")] = Field(
        default=None, description="Licenses to buy; default: what the trial has"
    )


class ConvertTrial(Command):
    """The paid order a trial becomes (rules V1-V5)."""

    services: Annotated[list[OrderLineInput], Rule("V5")] = Field(min_length=1, max_length=20)
    provisioning_email: Annotated[str, Rule("V2")] = Field(
        description="A partner administrator of the managing partner or a customer "
        "administrator (rule V2)"
    )
    confirm_new_organization: Annotated[bool, Rule("V2")] = Field(
        default=False,
        description="The provisioning email is intended to create a new organization (V2)",
    )
    confirm_lost_services: Annotated[bool, Rule("V3")] = Field(
        default=False, description="The trial's services the order leaves out will be lost (V3)"
    )


class DecideConversion(Decision):
    """The distributor processes or declines a tier-2 partner's conversion request (V1)."""

    rule = "V1"


class OrderLineView(View):
    code: str
    name: str
    quantity: int


class OrderView(View):
    id: str
    trial_id: str
    org_id: str
    partner_id: str
    status: str
    path: str
    services: list[OrderLineView]
    provisioning_email: str
    new_organization_confirmed: bool
    lost_services: list[str]
    created_at: datetime
    created_by_admin_id: str | None
    distributor_id: str | None
    processed_at: datetime | None
    note: str | None


class OrderPage(View):
    items: list[OrderView]
    next_cursor: str | None = None
