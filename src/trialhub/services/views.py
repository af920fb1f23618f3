"""Builds the views the interfaces render from loaded entities (inside the unit of work)."""

from __future__ import annotations

from datetime import datetime

from trialhub.catalog import Catalog
from trialhub.domain.model import Admin, Organization, Partner, Trial
from trialhub.domain.states import TrialStatus
from trialhub.services.schemas import (
    AdminView,
    ExtensionView,
    OrgAdminView,
    OrganizationView,
    OrgUserView,
    PartnerView,
    RegionView,
    SiteView,
    SubscriptionView,
    TrialServiceView,
    TrialView,
)
from trialhub.store.uow import UnitOfWork


def region_view(catalog: Catalog, code: str) -> RegionView:
    region = catalog.regions[code]
    return RegionView(code=region.code, name=region.name)


def partner_view(p: Partner) -> PartnerView:
    return PartnerView.model_validate(p)


def admin_view(a: Admin) -> AdminView:
    return AdminView(
        id=a.id,
        email=a.email,
        name=a.name,
        roles=list(a.roles),
        partner_id=a.partner_id,
        distributor_id=a.distributor_id,
        created_at=a.created_at,
    )


def service_name(catalog: Catalog, code: str) -> str:
    s = catalog.services.get(code)
    return s.name if s else code


def organization_view(catalog: Catalog, org: Organization, uow: UnitOfWork) -> OrganizationView:
    subs = []
    for s in org.subscriptions:
        partner = uow.session.get(Partner, s.partner_id) if s.partner_id else None
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


def trial_view(catalog: Catalog, trial: Trial, now: datetime) -> TrialView:
    status = TrialStatus(trial.status)
    return TrialView(
        id=trial.id,
        customer_id=trial.customer_id,
        org_id=trial.org_id,
        partner_id=trial.partner_id,
        kind=trial.kind,
        status=status.value,
        status_label=status.label,
        duration_days=trial.duration_days,
        user_licenses=trial.user_licenses,
        setup=trial.setup,
        created_at=trial.created_at,
        starts_at=trial.starts_at,
        ends_at=trial.ends_at,
        days_left=trial.days_left(now) if status is TrialStatus.ACTIVE else None,
        consent_deadline=trial.consent_deadline,
        services=[
            TrialServiceView(
                code=s.service,
                name=service_name(catalog, s.service),
                edition=s.edition,
                quantity=s.quantity,
                added_at=s.added_at,
                removed_at=s.removed_at,
            )
            for s in trial.services
        ],
        extensions=[
            ExtensionView(
                at=e.at,
                by_admin_id=e.admin_id,
                previous_end=e.previous_end,
                new_end=e.new_end,
                reason=e.reason,
            )
            for e in trial.extensions
        ],
        meetings_site=(
            SiteView(url=trial.site.url, time_zone=trial.site.time_zone)
            if trial.site is not None and trial.site.released_at is None
            else None
        ),
        created_by_admin_id=trial.created_by_admin_id,
    )
