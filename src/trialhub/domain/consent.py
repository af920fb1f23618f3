"""Consent links of existing customers: who gets one (rule K1), and the single-use token
each carries (rule K2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trialhub.domain.organization import Organization


@dataclass(eq=False)
class ConsentToken:
    """One consent link sent to one recipient; only its hash is stored (rules K1, K2)."""

    id: str
    trial_id: str
    org_id: str
    recipient_email: str
    token_hash: str
    created_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None


def consent_recipients(org: Organization, given_email: str) -> list[str]:
    """Rule K1: a full administrator alone, or the given person and every full administrator."""
    full = [a.email for a in org.full_admins()]
    if given_email in full:
        return [given_email]
    return [given_email, *(e for e in full if e != given_email)]
