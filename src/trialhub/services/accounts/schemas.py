"""Commands and views of partners, administrators and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from trialhub.services.kernel.fields import Name, Rule
from trialhub.services.kernel.schemas import Command, View


class CreatePartner(Command):
    name: Name = Field(min_length=1, max_length=200)
    tier: Annotated[Literal[1, 2], Rule("V1")] = 1
    certified: Annotated[bool, Rule("P1")] = True
    distributor_id: Annotated[str | None, Rule("V1")] = None
    distributor_name: Annotated[Name | None, Rule("V1")] = Field(
        default=None, max_length=200, description="Creates a distributor for a tier-2 partner"
    )


# a password's length, wherever one is chosen (a new administrator, a reset)
PASSWORD_MIN = 8
PASSWORD_MAX = 200


class CreateAdmin(Command):
    email: str
    name: Name = Field(min_length=1, max_length=200)
    roles: Annotated[list[str], Rule("P2")] = Field(min_length=1)
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    distributor_id: Annotated[str | None, Rule("V1")] = Field(
        default=None, description="For the distributor role: the distributor it acts for (V1)"
    )


class IssueToken(Command):
    label: Name = Field(default="api", min_length=1, max_length=100)


class PartnerView(View):
    id: str
    name: str
    tier: int
    certified: bool
    distributor_id: str | None = None
    created_at: datetime


class AdminView(View):
    id: str
    email: str
    name: str
    roles: list[str]
    partner_id: str | None = None
    distributor_id: str | None = None
    created_at: datetime


class TokenView(View):
    id: str
    admin_id: str
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    token: str | None = Field(default=None, description="Shown once, at creation")


class MeView(View):
    admin: AdminView
    partner: PartnerView | None = None
    roles: list[str]
    can_start_trials: bool
    reach: dict[str, str | None]
