"""The view of a customer organization: its admins, users and purchased services."""

from __future__ import annotations

from trialhub.catalog import Catalog
from trialhub.domain.organization import Organization
from trialhub.services.customers.schemas import (
    OrgAdminView,
    OrganizationView,
    OrgUserView,
    SubscriptionView,
)
from trialhub.services.kernel.views import region_view, service_name
from trialhub.store.uow import UnitOfWork


def organization_view(catalog: Catalog, org: Organization, uow: UnitOfWork) -> OrganizationView:
    subs = []
    for s in org.subscriptions:
        partner = uow.partners.get_any_partner(s.partner_id) if s.partner_id else None
        subs.append(
            SubscriptionView(
                id=s.id,
                service=s.service,
                service_name=service_name(catalog, s.service),
                quantity=s.quantity,
                managing_partner_id=s.partner_id,
                managing_partner_name=partner.name if partner else None,
                started_at=s.started_at,
            )
        )
    return OrganizationView(
        id=org.id,
        name=org.name,
        kind=org.kind,
        country=org.country,
        region=region_view(catalog, org.region),
        business_vertical=org.business_vertical,
        created_at=org.created_at,
        admins=[OrgAdminView.model_validate(a) for a in org.admins],
        users=[OrgUserView.model_validate(u) for u in org.users],
        subscriptions=subs,
    )
