"""Views of partners and administrators."""

from __future__ import annotations

from trialhub.domain.accounts import Admin, Partner
from trialhub.services.accounts.schemas import AdminView, PartnerView


def partner_view(p: Partner) -> PartnerView:
    return PartnerView.model_validate(p)


def admin_view(a: Admin) -> AdminView:
    return AdminView.model_validate(a)
