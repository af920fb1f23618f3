"""Who signs in and for whom: partners, distributors, administrators and their API tokens
(rules P1, P2, V1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from trialhub.domain.events import EventSource
from trialhub.domain.roles import Role


@dataclass(eq=False)
class Distributor(EventSource):
    """Processes conversions for tier-2 partners (rule V1)."""

    SUBJECT_TYPE: ClassVar[str] = "distributor"

    id: str
    name: str
    created_at: datetime


@dataclass(eq=False)
class Partner(EventSource):
    """A reseller organization (rule P1)."""

    SUBJECT_TYPE: ClassVar[str] = "partner"

    id: str
    name: str
    tier: int
    certified: bool
    created_at: datetime
    distributor_id: str | None = None

    def event_owners(self) -> tuple[str | None, str | None, str | None]:
        return self.id, None, None


@dataclass(eq=False)
class Admin(EventSource):
    """A person who signs in: partner administrator, trials-team operator or distributor."""

    SUBJECT_TYPE: ClassVar[str] = "admin"

    id: str
    email: str
    name: str
    roles: list[str]
    created_at: datetime
    partner_id: str | None = None
    distributor_id: str | None = None
    password_hash: str | None = None
    disabled_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles)

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR.value in self.roles


@dataclass(eq=False)
class ApiToken(EventSource):
    """A bearer token; only its hash is stored."""

    SUBJECT_TYPE: ClassVar[str] = "api_token"

    id: str
    admin_id: str
    token_hash: str
    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
